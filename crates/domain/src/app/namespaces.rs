//! Namespaces and their workloads: create, list, read, delete, deploy from
//! a manifest, and the operations (start, stop, restart, scale, delete),
//! each a run of the internal job kind `workload` (see
//! [`crate::workloads::OperationKind`]). Permissions are the namespace's
//! project's: view to see, modify to create, change, operate and delete.

use super::permissions::On;
use super::{App, Caller, DomainError, Result, check_name, new_id};
use crate::access::Permission;
use crate::catalog::{Page, PageRequest};
use crate::error::OrNotFound;
use crate::workloads::{
    Manifest, Namespace, OPERATION_KIND, Operation, Workload, WorkloadKind, Workloads, is_dns_label,
};
use chrono::Utc;
use slipway_core::{
    InstanceInfo, Job, Plan, Problem, RunRecord, RunRequest, RuntimeError, Stage, Trigger,
    WorkloadKey,
};

/// The most instances a workload may ask for.
pub const MAX_INSTANCES: u32 = 256;

/// A workload with its namespace and, as the runtime sees them, its
/// instances.
#[derive(Debug, Clone)]
pub struct WorkloadDetail {
    /// The namespace.
    pub namespace: Namespace,
    /// The workload.
    pub workload: Workload,
    /// Its instances now.
    pub instances: Vec<InstanceInfo>,
}

/// Run trigger details of an operation.
pub mod detail {
    /// The namespace's name.
    pub const NAMESPACE: &str = "namespace";
    /// The workload's name.
    pub const WORKLOAD: &str = "workload";
    /// The workload's id.
    pub const WORKLOAD_ID: &str = "workload_id";
    /// The operation.
    pub const OPERATION: &str = "operation";
}

fn check_namespace_name(name: &str, problems: &mut Vec<Problem>) {
    if !is_dns_label(name) {
        problems.push(Problem::new(
            "name",
            "must be 1 to 63 lower-case letters, digits or `-`, not starting or ending with `-`",
        ));
    }
}

impl App {
    /// Sets what runs workloads (namespaces and workloads are refused
    /// without it).
    pub fn with_workloads(mut self, workloads: Workloads) -> Self {
        self.workloads = Some(workloads);
        self
    }

    pub(crate) fn workloads(&self) -> Result<&Workloads> {
        self.workloads
            .as_ref()
            .ok_or_else(|| DomainError::Internal("no workload runtime is configured".into()))
    }

    /// Creates a namespace in a project, for a caller who may modify the
    /// project's objects.
    pub async fn create_namespace(
        &self,
        by: &Caller,
        project_id: &str,
        name: Option<String>,
    ) -> Result<Namespace> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Modify,
            &project.id,
            On::Workflow,
            "the namespaces of this project",
        )?;
        let name = name.unwrap_or_default();
        let mut problems = Vec::new();
        check_name("name", &name, &mut problems);
        if problems.is_empty() {
            check_namespace_name(&name, &mut problems);
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        self.insert_namespace(by, &project.id, &name).await
    }

    async fn insert_namespace(
        &self,
        by: &Caller,
        project_id: &str,
        name: &str,
    ) -> Result<Namespace> {
        let ns = Namespace {
            id: new_id(),
            name: name.to_owned(),
            project_id: project_id.to_owned(),
            created_by: Some(by.name.clone()),
            created_at: Utc::now(),
        };
        self.workloads()?
            .store()
            .insert_namespace(&ns)
            .await
            .map_err(|e| match DomainError::from(e) {
                DomainError::Conflict(m) => DomainError::Taken(Problem::new("name", m)),
                other => other,
            })?;
        Ok(ns)
    }

    async fn find_namespace(&self, name: &str) -> Result<Namespace> {
        self.workloads()?
            .store()
            .namespace_by_name(name)
            .await?
            .or_not_found("namespace", name)
    }

    /// A namespace, for a caller who may do `what` on its project's
    /// objects.
    async fn namespace_for(&self, by: &Caller, what: Permission, name: &str) -> Result<Namespace> {
        let ns = self.find_namespace(name).await?;
        self.check(by, what, &ns.project_id, On::Workflow, "this namespace")?;
        Ok(ns)
    }

    /// A namespace by name, for a caller who may view it.
    pub async fn namespace(&self, by: &Caller, name: &str) -> Result<Namespace> {
        self.namespace_for(by, Permission::View, name).await
    }

    /// A page of the namespaces the caller may view.
    pub async fn namespaces(&self, by: &Caller, page: &PageRequest) -> Result<Page<Namespace>> {
        let only = (!by.is_admin).then(|| {
            by.project_ids()
                .into_iter()
                .filter(|p| by.may(Permission::View, p, On::Workflow))
                .collect::<Vec<_>>()
        });
        Ok(self
            .workloads()?
            .store()
            .namespaces(page, only.as_deref())
            .await?)
    }

    /// Deletes a namespace: stops and deletes its workloads, then the
    /// namespace; refused while an operation of one of them is active.
    /// For a caller who may modify its project's objects. Once called, it
    /// finishes even if its future is dropped.
    pub async fn delete_namespace(&self, by: &Caller, name: &str) -> Result<()> {
        let (name, by) = (name.to_owned(), by.clone());
        self.detached(|app| async move { app.delete_namespace_here(&by, &name).await })
            .await
    }

    async fn delete_namespace_here(&self, by: &Caller, name: &str) -> Result<()> {
        let ns = self.namespace_for(by, Permission::Modify, name).await?;
        let ws = self.workloads()?;
        let all = ws.store().all_workloads(Some(&ns.id)).await?;
        let ids: Vec<String> = all.iter().map(|w| w.id.clone()).collect();
        self.refuse_active(&ids, "namespace").await?;
        for w in &all {
            let key = WorkloadKey::new(&ns.name, &w.name);
            match ws.runtime().remove(&key).await {
                Ok(()) | Err(RuntimeError::NotFound(_)) => {}
                Err(e) => {
                    return Err(DomainError::Internal(format!("stopping {key}: {e}")));
                }
            }
            ws.store().delete_workload(&w.id).await?;
        }
        ws.store()
            .delete_namespace(&ns.id)
            .await?
            .or_not_found("namespace", name)
    }

    /// A page of a namespace's workloads, for a caller who may view it.
    pub async fn workloads_of(
        &self,
        by: &Caller,
        namespace: &str,
        page: &PageRequest,
    ) -> Result<(Namespace, Page<Workload>)> {
        let ns = self.namespace(by, namespace).await?;
        let found = self.workloads()?.store().workloads(&ns.id, page).await?;
        Ok((ns, found))
    }

    async fn find_workload(&self, ns: &Namespace, name: &str) -> Result<Workload> {
        self.workloads()?
            .store()
            .workload_named(&ns.id, name)
            .await?
            .or_not_found("workload", format!("{}/{name}", ns.name))
    }

    /// A workload with its instances, for a caller who may view its
    /// namespace.
    pub async fn workload(
        &self,
        by: &Caller,
        namespace: &str,
        name: &str,
    ) -> Result<WorkloadDetail> {
        let ns = self.namespace(by, namespace).await?;
        let workload = self.find_workload(&ns, name).await?;
        let instances = self
            .workloads()?
            .runtime()
            .instances(&WorkloadKey::new(&ns.name, &workload.name));
        Ok(WorkloadDetail {
            namespace: ns,
            workload,
            instances,
        })
    }

    /// Deploys a manifest into a namespace (made in the default project
    /// when it does not exist): creates the workload, or changes it (a
    /// rolling replacement when what its instances run changes). Checks
    /// everything first (every problem of the manifest with its path, the
    /// service port, the directory) and changes nothing when something is
    /// wrong; then records the desired state and starts the operation.
    /// For a caller who may modify the namespace's project's objects.
    /// Once called, it finishes even if its future is dropped.
    pub async fn deploy_manifest(
        &self,
        by: &Caller,
        namespace: &str,
        manifest: serde_json::Value,
    ) -> Result<(Namespace, Workload, RunRecord)> {
        let (namespace, by) = (namespace.to_owned(), by.clone());
        self.detached(|app| async move { app.deploy_here(&by, &namespace, manifest).await })
            .await
    }

    async fn deploy_here(
        &self,
        by: &Caller,
        namespace: &str,
        value: serde_json::Value,
    ) -> Result<(Namespace, Workload, RunRecord)> {
        let mut problems = Vec::new();
        if !is_dns_label(namespace) {
            problems.push(Problem::new(
                "namespace",
                "must be 1 to 63 lower-case letters, digits or `-`, not starting or ending with `-`",
            ));
        }
        let manifest = match Manifest::from_value(&value) {
            Ok(m) => Some(m),
            Err(p) => {
                problems.extend(p);
                None
            }
        };
        if let Some(m) = &manifest
            && !m.kind.long_running()
        {
            problems.push(Problem::new(
                "kind",
                "jobs and cronjobs are not run by workloads yet: deploy a deployment or a service",
            ));
        }
        if let Some(n) = manifest.as_ref().and_then(|m| m.instances)
            && n > MAX_INSTANCES
        {
            problems.push(Problem::new(
                "instances",
                format!("at most {MAX_INSTANCES} on this runtime"),
            ));
        }
        let (Some(manifest), true) = (manifest, problems.is_empty()) else {
            return Err(DomainError::Invalid(problems));
        };
        let ws = self.workloads()?.clone();
        let found = ws.store().namespace_by_name(namespace).await?;
        if let Some(ns) = &found {
            self.check(
                by,
                Permission::Modify,
                &ns.project_id,
                On::Workflow,
                "this namespace",
            )?;
        }
        let existing = match &found {
            Some(ns) => ws.store().workload_named(&ns.id, &manifest.name).await?,
            None => None,
        };
        let key = WorkloadKey::new(namespace, &manifest.name);
        let port = match manifest.kind {
            WorkloadKind::Service => manifest.port,
            _ => None,
        };
        if let Some(port) = port {
            if let Some(other) = ws.store().workload_on_port(port).await?
                && existing.as_ref().is_none_or(|e| e.id != other.id)
            {
                return Err(DomainError::Taken(Problem::new(
                    "port",
                    format!("port {port} is the service port of another workload"),
                )));
            }
            ws.runtime().check_port(&key, port).map_err(|e| match e {
                RuntimeError::PortTaken { .. } => DomainError::Taken(Problem::new(
                    "port",
                    format!("port {port} is in use on this machine"),
                )),
                other => DomainError::Internal(other.to_string()),
            })?;
        }
        let workdir = ws
            .resolve_workdir(namespace, &manifest.name, manifest.workdir.as_deref())
            .map_err(|p| DomainError::Invalid(vec![p]))?;
        // Everything checked: the namespace is made now if it is new.
        let ns = match found {
            Some(ns) => ns,
            None => {
                let (project, _) = self.project_named_or_new(by, ws.default_project()).await?;
                self.check(
                    by,
                    Permission::Modify,
                    &project.id,
                    On::Workflow,
                    "the namespaces of this project",
                )?;
                match self.insert_namespace(by, &project.id, namespace).await {
                    Ok(ns) => ns,
                    // Another deploy made it meanwhile.
                    Err(DomainError::Taken(_)) => self.find_namespace(namespace).await?,
                    Err(e) => return Err(e),
                }
            }
        };
        let now = Utc::now();
        let instances = manifest.instances.unwrap_or(1);
        let workload = match existing {
            Some(mut w) => {
                let same = w.kind == manifest.kind
                    && w.workdir == workdir
                    && w.manifest.command == manifest.command
                    && w.manifest.args == manifest.args
                    && w.manifest.env == manifest.env
                    && w.manifest.port == manifest.port;
                if !same {
                    w.revision += 1;
                }
                w.kind = manifest.kind;
                w.manifest = manifest;
                w.workdir = workdir;
                w.instances = instances;
                w.port = port;
                w.updated_by = Some(by.name.clone());
                w.updated_at = now;
                ws.store()
                    .update_workload(&w)
                    .await
                    .map_err(|e| taken(e, &w))?
                    .or_not_found("workload", key.to_string())?;
                w
            }
            None => {
                let w = Workload {
                    id: new_id(),
                    namespace_id: ns.id.clone(),
                    name: manifest.name.clone(),
                    kind: manifest.kind,
                    manifest,
                    workdir,
                    instances,
                    port,
                    revision: 1,
                    log_run: None,
                    created_by: Some(by.name.clone()),
                    created_at: now,
                    updated_by: Some(by.name.clone()),
                    updated_at: now,
                };
                ws.store()
                    .insert_workload(&w)
                    .await
                    .map_err(|e| taken(e, &w))?;
                w
            }
        };
        let run = self
            .submit_operation(by, &ns, &workload, Operation::Deploy)
            .await?;
        Ok((ns, workload, run))
    }

    /// Starts operation `op` (not a deploy) of a workload: records the
    /// desired state it asks for (a stop: no instance; a start: the
    /// manifest's count; a scale: `instances`) and starts its run. For a
    /// caller who may modify the namespace's project's objects. Once
    /// called, it finishes even if its future is dropped.
    pub async fn operate(
        &self,
        by: &Caller,
        namespace: &str,
        name: &str,
        op: Operation,
        instances: Option<u32>,
    ) -> Result<RunRecord> {
        let (namespace, name, by) = (namespace.to_owned(), name.to_owned(), by.clone());
        self.detached(move |app| async move {
            app.operate_here(&by, &namespace, &name, op, instances)
                .await
        })
        .await
    }

    async fn operate_here(
        &self,
        by: &Caller,
        namespace: &str,
        name: &str,
        op: Operation,
        instances: Option<u32>,
    ) -> Result<RunRecord> {
        let ns = self
            .namespace_for(by, Permission::Modify, namespace)
            .await?;
        let mut w = self.find_workload(&ns, name).await?;
        let wanted = match op {
            Operation::Deploy => {
                return Err(DomainError::Invalid(vec![Problem::new(
                    "operation",
                    "a deploy takes a manifest",
                )]));
            }
            Operation::Stop => Some(0),
            Operation::Start => Some(w.manifest.instances.unwrap_or(1)),
            Operation::Scale => {
                let n = instances.ok_or_else(|| {
                    DomainError::Invalid(vec![Problem::new("instances", "required")])
                })?;
                if n > MAX_INSTANCES {
                    return Err(DomainError::Invalid(vec![Problem::new(
                        "instances",
                        format!("must be 0 to {MAX_INSTANCES}"),
                    )]));
                }
                if !w.kind.long_running() {
                    return Err(DomainError::Invalid(vec![Problem::new(
                        "instances",
                        "only deployments and services are scaled",
                    )]));
                }
                if n > 0 {
                    w.manifest.instances = Some(n);
                }
                Some(n)
            }
            Operation::Restart | Operation::Delete => None,
        };
        if let Some(n) = wanted {
            w.instances = n;
            w.updated_by = Some(by.name.clone());
            w.updated_at = Utc::now();
            self.workloads()?
                .store()
                .update_workload(&w)
                .await?
                .or_not_found("workload", format!("{}/{name}", ns.name))?;
        }
        self.submit_operation(by, &ns, &w, op).await
    }

    /// Starts the run of one operation of `w`: a plan of one job of the
    /// internal kind, keyed by the workload's id (one operation of a
    /// workload runs at a time, in order).
    async fn submit_operation(
        &self,
        by: &Caller,
        ns: &Namespace,
        w: &Workload,
        op: Operation,
    ) -> Result<RunRecord> {
        let spec = serde_json::json!({"operation": op.as_str(), "workload": w.id});
        let mut plan = Plan::new(
            format!("{} {}/{}", op.as_str(), ns.name, w.name),
            vec![Stage::new(
                "operation",
                false,
                vec![Job::new(op.as_str(), OPERATION_KIND, spec)],
            )],
        );
        plan.concurrency_limit = 1;
        let mut trigger = Trigger::new("workload");
        trigger.by = Some(by.name.clone());
        trigger.by_id = by.actor().map(|a| a.id);
        let d = &mut trigger.detail;
        d.insert(detail::NAMESPACE.into(), ns.name.clone());
        d.insert(detail::WORKLOAD.into(), w.name.clone());
        d.insert(detail::WORKLOAD_ID.into(), w.id.clone());
        d.insert(detail::OPERATION.into(), op.as_str().into());
        let secrets = self.run_secrets(&ns.project_id, None).await?;
        let request = RunRequest {
            plan,
            params: Default::default(),
            trigger,
            workflow_key: Some(w.id.clone()),
            secrets,
        };
        let id = self.engine.submit(request).await?;
        Ok(self.engine.get(&id).await?)
    }

    /// The project of workload `id`, for the permissions of its runs.
    pub(crate) async fn workload_project(&self, id: &str) -> Result<Option<String>> {
        let Some(ws) = &self.workloads else {
            return Ok(None);
        };
        let Some(w) = ws.store().workload(id).await? else {
            return Ok(None);
        };
        Ok(ws
            .store()
            .namespace(&w.namespace_id)
            .await?
            .map(|ns| ns.project_id))
    }

    /// Refuses to delete project `id` while it has namespaces.
    pub(crate) async fn refuse_namespaces(&self, project_id: &str) -> Result<()> {
        let Some(ws) = &self.workloads else {
            return Ok(());
        };
        let n = ws.store().count_namespaces(project_id).await?;
        if n > 0 {
            return Err(DomainError::Conflict(format!(
                "the project has {n} namespace(s); delete them first"
            )));
        }
        Ok(())
    }
}

/// A clash on insert or update: the name, or (a race) the port.
fn taken(e: crate::catalog::CatalogStoreError, w: &Workload) -> DomainError {
    match DomainError::from(e) {
        DomainError::Conflict(m) => {
            let field = if w.port.is_some() && m.contains("port") {
                "port"
            } else {
                "name"
            };
            DomainError::Taken(Problem::new(field, m))
        }
        other => other,
    }
}
