//! Namespaces, workloads and their instances.

use super::{FlagsView, RunView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_core::{InstanceInfo, RunRecord};
use slipway_domain::app::WorkloadDetail;
use slipway_domain::workloads::{Namespace, Workload};
use slipway_domain::{Caller, On};
use utoipa::ToSchema;

/// A namespace: where workloads live.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceView {
    /// Its id.
    pub id: String,
    /// Its name (a DNS label), unique in the server.
    pub name: String,
    /// The project it belongs to (whose permissions apply).
    pub project_id: String,
    /// Who made it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// What the caller may do on it and its workloads.
    pub permissions: FlagsView,
}

impl From<(Namespace, &Caller)> for NamespaceView {
    fn from((n, by): (Namespace, &Caller)) -> Self {
        NamespaceView {
            permissions: by.flags_on(&n.project_id, On::Workflow).into(),
            id: n.id,
            name: n.name,
            project_id: n.project_id,
            created_by: n.created_by,
            created_at: n.created_at,
        }
    }
}

/// A new namespace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceCreate {
    /// Its name: 1 to 63 lower-case letters, digits or `-`, not starting
    /// or ending with `-`; unique in the server.
    #[schema(max_length = 63, pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
}

/// A manifest (`docs/formats.md`): a `deployment` or a `service` (jobs
/// and cronjobs are refused for now). Every problem is answered with its
/// path.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ManifestBody(pub serde_json::Value);

impl utoipa::PartialSchema for ManifestBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, Type};
        let field = |t: Type, d: &str| ObjectBuilder::new().schema_type(t).description(Some(d));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A manifest (docs/formats.md): a `deployment` or a `service`; unknown fields are errors.",
            ))
            .property(
                "kind",
                field(Type::String, "`deployment` or `service` (`job` and `cronjob` are refused for now)")
                    .enum_values(Some(["job", "cronjob", "deployment", "service"])),
            )
            .required("kind")
            .property(
                "name",
                field(Type::String, "The workload's name, a DNS label")
                    .max_length(Some(63))
                    .pattern(Some("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
            )
            .required("name")
            .property("command", field(Type::String, "The program to start").min_length(Some(1)))
            .required("command")
            .property("args", utoipa::openapi::schema::ArrayBuilder::new().items(field(Type::String, "An argument")))
            .property("env", field(Type::Object, "Extra environment"))
            .property(
                "workdir",
                field(Type::String, "Its directory, relative to the workloads' files directory (no `..`, no way out through a symbolic link); default: its own"),
            )
            .property(
                "instances",
                field(Type::Integer, "How many run (default 1)")
                    .minimum(Some(1))
                    .maximum(Some(256)),
            )
            .property(
                "port",
                field(Type::Integer, "A service's port (required for a service), served by the server")
                    .minimum(Some(1))
                    .maximum(Some(65535)),
            )
            .into()
    }
}

impl ToSchema for ManifestBody {}

/// A new number of instances.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleBody {
    /// How many instances should run (0 to 256).
    #[schema(minimum = 0, maximum = 256)]
    pub instances: u32,
}

/// One instance of a workload, as the runtime sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// Its id (stable across its restarts); its log is the job
    /// `instances/<id>` of the workload's `log_run`.
    pub id: String,
    /// The revision it runs.
    pub revision: String,
    /// Its own port (`PORT`).
    pub port: u16,
    /// Its current process, while it runs.
    pub pid: Option<u32>,
    /// `starting`, `ready`, `restarting`, `crash_loop` or `stopping`.
    pub state: String,
    /// How many times it was restarted after exiting.
    pub restarts: u32,
    /// How its last process ended (`exit 1`, `signal 9`).
    pub last_exit: Option<String>,
    /// When its current process started.
    pub started_at: Option<DateTime<Utc>>,
}

impl From<InstanceInfo> for InstanceView {
    fn from(i: InstanceInfo) -> Self {
        InstanceView {
            state: i.state.as_str().to_owned(),
            id: i.id,
            revision: i.revision,
            port: i.port,
            pid: i.pid,
            restarts: i.restarts,
            last_exit: i.last_exit,
            started_at: i.started_at,
        }
    }
}

/// A workload: its desired state (and, in a detail, its instances).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadView {
    /// Its id (the `workflow_id` of its operations' runs).
    pub id: String,
    /// Its namespace's name.
    pub namespace: String,
    /// Its name, unique in the namespace.
    pub name: String,
    /// `deployment` or `service`.
    pub kind: String,
    /// The manifest it was deployed from.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// Its directory, relative to the workloads' files directory.
    pub workdir: String,
    /// How many instances should run (0: stopped).
    pub instances: u32,
    /// Its service port.
    pub port: Option<u16>,
    /// Its revision (`r<n>`).
    pub revision: String,
    /// The operation run whose log holds its instances' output.
    pub log_run: Option<String>,
    /// Who deployed it first, and when.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: DateTime<Utc>,
    /// Its instances now (only in a workload's detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Vec<InstanceView>>,
    /// What the caller may do on it.
    pub permissions: FlagsView,
}

impl WorkloadView {
    /// The view of `w` of namespace `ns`.
    pub fn of(w: Workload, ns: &Namespace, by: &Caller) -> Self {
        WorkloadView {
            permissions: by.flags_on(&ns.project_id, On::Workflow).into(),
            namespace: ns.name.clone(),
            kind: serde_json::to_value(w.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            manifest: serde_json::to_value(&w.manifest).unwrap_or_default(),
            revision: format!("r{}", w.revision),
            id: w.id,
            name: w.name,
            workdir: w.workdir,
            instances: w.instances,
            port: w.port,
            log_run: w.log_run,
            created_by: w.created_by,
            created_at: w.created_at,
            updated_by: w.updated_by,
            updated_at: w.updated_at,
            running: None,
        }
    }

    /// A workload's detail, with its instances.
    pub fn detail(d: WorkloadDetail, by: &Caller) -> Self {
        let mut v = WorkloadView::of(d.workload, &d.namespace, by);
        v.running = Some(d.instances.into_iter().map(InstanceView::from).collect());
        v
    }
}

/// A deploy: the workload as recorded and the operation's run.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeployView {
    /// The workload's desired state.
    pub workload: WorkloadView,
    /// The operation (poll `/api/v1/runs/{id}`).
    pub operation: RunView,
}

impl DeployView {
    /// The view of a deploy.
    pub fn of(w: Workload, ns: &Namespace, run: RunRecord, by: &Caller) -> Self {
        DeployView {
            workload: WorkloadView::of(w, ns, by),
            operation: RunView::from(run),
        }
    }
}

/// A page of a namespace's workloads, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadPage {
    /// The items of this page.
    pub items: Vec<WorkloadView>,
    /// How many items there are in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}
