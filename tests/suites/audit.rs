//! The audit trail, through the real binary: every mutating route of the
//! native API (as the served OpenAPI document lists them, so that a new
//! route fails here until it is walked) called with valid input leaves
//! exactly one entry with the right action, object, project and outcome;
//! failing calls are recorded with their outcome; requests without a
//! known caller, webhook deliveries and reads leave none; a secret's value
//! is in neither `GET /api/v1/audit`, the audit table (read through the
//! store, and the SQLite files byte by byte) nor the server's log; a token
//! that is not an admin's gets 403 from `GET /api/v1/audit`. On SQLite,
//! and on PostgreSQL when one is available (required with `CI=true`).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_domain::AuditFilter;
use slipway_domain::catalog::{CatalogStore, Order, PageRequest};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog};
use slipway_testkit::git::{commit, init};
use slipway_tests::server::{ADMIN, Server};
use std::collections::BTreeSet;
use std::path::Path;

/// A workflow whose second stage waits for one approval.
fn gated(version: &str) -> String {
    format!(
        r#"
name: gated
stages:
  - name: build
    jobs:
      - name: compile
        kind: shell
        spec:
          steps:
            - script: echo "built {version}"
  - name: ship
    approval:
      needed: 1
    jobs:
      - name: deploy
        kind: shell
        spec:
          steps:
            - script: echo shipped
"#
    )
}

/// The template of the application's repository.
const TEMPLATE: &str = r#"
name: site
stages:
  - name: only
    jobs:
      - name: show
        kind: shell
        spec:
          steps:
            - script: echo "deployed"
"#;

/// A cron expression that does not fire while the test runs.
const YEARLY: &str = "0 0 1 1 *";

/// What a request sends.
#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Yaml(String),
}

/// What the one new entry must say.
#[derive(Debug, Clone)]
struct Expect<'a> {
    action: &'a str,
    kind: &'a str,
    /// The object's id (`None`: the entry has none).
    object: Option<&'a str>,
    /// The project, checked when given (a project the route does not
    /// name may be filled in later by the permission code).
    project: Option<&'a str>,
    outcome: &'a str,
    /// Who sent it.
    user: &'a str,
}

fn expect<'a>(action: &'a str, kind: &'a str, object: Option<&'a str>) -> Expect<'a> {
    Expect {
        action,
        kind,
        object,
        project: None,
        outcome: "ok",
        user: "admin",
    }
}

impl<'a> Expect<'a> {
    fn in_project(mut self, project: &'a str) -> Self {
        self.project = Some(project);
        self
    }

    fn outcome(mut self, outcome: &'a str) -> Self {
        self.outcome = outcome;
        self
    }

    fn by(mut self, user: &'a str) -> Self {
        self.user = user;
        self
    }
}

/// The walk: calls, each checked against the trail.
struct Walk<'s> {
    server: &'s Server,
    /// Entries in the trail so far.
    entries: u64,
    /// The routes called with valid input (answered 2xx): (method,
    /// template).
    covered: BTreeSet<(String, String)>,
}

impl<'s> Walk<'s> {
    fn new(server: &'s Server) -> Self {
        let mut walk = Walk {
            server,
            entries: 0,
            covered: BTreeSet::new(),
        };
        walk.entries = walk.total();
        walk
    }

    fn page(&self, query: &str) -> Value {
        let (code, body) = self
            .server
            .call("GET", &format!("/api/v1/audit?{query}"), None);
        assert_eq!(code, 200, "{body}");
        body
    }

    fn total(&self) -> u64 {
        self.page("per_page=1")["total"].as_u64().unwrap()
    }

    /// Sends a request (as `token`) and returns its status and body.
    fn send(&self, token: Option<&str>, method: &str, path: &str, body: &Body) -> (u16, Value) {
        match body {
            Body::None => self.server.call_as(token, method, path, None),
            Body::Json(v) => self.server.call_as(token, method, path, Some(v.clone())),
            Body::Yaml(text) => self.server.raw(
                token,
                method,
                path,
                Some("application/yaml"),
                text.as_bytes().to_vec(),
            ),
        }
    }

    /// Calls `method path` (an instance of `template`) with the admin
    /// token, expects `status`, and checks that exactly one entry was
    /// added and that it says `want`. Returns the answer's body.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Body,
        status: u16,
        want: Expect<'_>,
    ) -> Value {
        self.call_as(ADMIN, method, template, path, body, status, want)
    }

    #[allow(clippy::too_many_arguments)]
    fn call_as(
        &mut self,
        token: &str,
        method: &str,
        template: &str,
        path: &str,
        body: Body,
        status: u16,
        want: Expect<'_>,
    ) -> Value {
        let (code, answer) = self.send(Some(token), method, path, &body);
        assert_eq!(code, status, "{method} {path}: {answer}");
        let trail = self.page("per_page=1");
        let total = trail["total"].as_u64().unwrap();
        assert_eq!(
            total,
            self.entries + 1,
            "{method} {path} must leave exactly one entry"
        );
        self.entries = total;
        let e = &trail["items"][0];
        let what = format!("{method} {path}: {e}");
        assert_eq!(e["method"], method, "{what}");
        assert_eq!(e["route"], template, "{what}");
        assert_eq!(e["status"], status, "{what}");
        assert_eq!(e["outcome"], want.outcome, "{what}");
        assert_eq!(e["action"], want.action, "{what}");
        assert_eq!(e["object_kind"], want.kind, "{what}");
        assert_eq!(e["object_id"], json!(want.object), "{what}");
        if let Some(project) = want.project {
            assert_eq!(e["project_id"], project, "{what}");
        }
        assert_eq!(e["user_name"], want.user, "{what}");
        assert!(e["user_id"].is_string(), "{what}");
        assert!(e["token_id"].is_string(), "{what}");
        assert_eq!(e["api"], "native", "{what}");
        let at: chrono::DateTime<chrono::Utc> = serde_json::from_value(e["at"].clone()).unwrap();
        assert!((chrono::Utc::now() - at).num_seconds().abs() < 60, "{what}");
        if (200..300).contains(&status) {
            self.covered
                .insert((method.to_owned(), template.to_owned()));
        }
        answer
    }

    /// Sends a request that must leave no entry.
    fn unrecorded(&self, token: Option<&str>, method: &str, path: &str, body: Body, status: u16) {
        let (code, answer) = self.send(token, method, path, &body);
        assert_eq!(code, status, "{method} {path}: {answer}");
        assert_eq!(
            self.total(),
            self.entries,
            "{method} {path} must leave no entry"
        );
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Every operation of the served document that is not a read.
fn mutating_routes(server: &Server) -> BTreeSet<(String, String)> {
    let (code, doc) = server.call_as(None, "GET", "/api/v1/openapi.json", None);
    assert_eq!(code, 200);
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            if !["GET", "HEAD", "OPTIONS", "PARAMETERS"].contains(&method.as_str()) {
                routes.insert((method, path.clone()));
            }
        }
    }
    routes
}

/// Every byte of the SQLite database's files in `data` (the database, its
/// write-ahead log and shared memory), lossily as text.
fn sqlite_files(data: &Path) -> String {
    let mut all = Vec::new();
    for name in ["slipway.db", "slipway.db-wal", "slipway.db-shm"] {
        if let Ok(bytes) = std::fs::read(data.join(name)) {
            all.extend(bytes);
        }
    }
    assert!(!all.is_empty(), "no SQLite files in {}", data.display());
    String::from_utf8_lossy(&all).into_owned()
}

/// The whole audit table, read through the store, as JSON text.
fn audit_table(url: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let catalog = SqlCatalog::new(Db::open(url, &DbOptions::default()).unwrap());
        let page = PageRequest {
            page: 1,
            per_page: PageRequest::MAX_PER_PAGE,
            sort: String::new(),
            order: Order::Desc,
        };
        let mut rows = Vec::new();
        loop {
            let mut this = page.clone();
            this.page = u32::try_from(rows.len()).unwrap() / this.per_page + 1;
            let found = catalog
                .audit_entries(&AuditFilter::default(), &this)
                .await
                .unwrap();
            let done = found.items.len() < this.per_page as usize;
            rows.extend(found.items);
            if done {
                break;
            }
        }
        serde_json::to_string(&rows).unwrap()
    })
}

fn scenario(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&data).unwrap();
    init(&repo);
    commit(&repo, &[(".slipway/workflow.yaml", TEMPLATE)], "first");
    let server = Server::start(&data, db, &["--git-allow-local", "true"]);
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let project_value = format!("audit-secret-{stamp}-of-project");
    let rotated_value = format!("audit-secret-{stamp}-rotated");
    let app_value = format!("audit-secret-{stamp}-of-application");
    let missing = format!("missing-{stamp}");
    let mut w = Walk::new(&server);

    // Projects.
    let project = w.call(
        "POST",
        "/api/v1/projects",
        "/api/v1/projects",
        Body::Json(json!({"name": "audited"})),
        201,
        expect("create", "project", None),
    );
    let pid = id(&project);
    let p = pid.as_str();
    w.call(
        "PATCH",
        "/api/v1/projects/{id}",
        &format!("/api/v1/projects/{pid}"),
        Body::Json(json!({"description": "watched"})),
        200,
        expect("update", "project", Some(p)).in_project(p),
    );

    // Workflows.
    let workflow = w.call(
        "POST",
        "/api/v1/projects/{id}/workflows",
        &format!("/api/v1/projects/{pid}/workflows"),
        Body::Yaml(gated("v1")),
        201,
        expect("create", "workflow", None).in_project(p),
    );
    let wid = id(&workflow);
    w.call(
        "PUT",
        "/api/v1/workflows/{id}",
        &format!("/api/v1/workflows/{wid}"),
        Body::Yaml(gated("v2")),
        200,
        expect("update", "workflow", Some(&wid)),
    );

    // Runs: three waiting for approval.
    let start = |w: &mut Walk<'_>| {
        let run = w.call(
            "POST",
            "/api/v1/workflows/{id}/runs",
            &format!("/api/v1/workflows/{wid}/runs"),
            Body::Json(json!({})),
            201,
            expect("start", "run", None),
        );
        let rid = id(&run);
        server.wait_run(&rid, 60, |r| r["status"] == "waiting_approval");
        rid
    };
    let (a, b, c) = (start(&mut w), start(&mut w), start(&mut w));
    w.call(
        "POST",
        "/api/v1/runs/{id}/stages/{stage}/approve",
        &format!("/api/v1/runs/{a}/stages/ship/approve"),
        Body::Json(json!({"comment": "go"})),
        200,
        expect("approve", "stage", Some("ship")),
    );
    w.call(
        "POST",
        "/api/v1/runs/{id}/stages/{stage}/reject",
        &format!("/api/v1/runs/{b}/stages/ship/reject"),
        Body::Json(json!({})),
        200,
        expect("reject", "stage", Some("ship")),
    );
    w.call(
        "POST",
        "/api/v1/runs/{id}/cancel",
        &format!("/api/v1/runs/{c}/cancel"),
        Body::None,
        202,
        expect("cancel", "run", Some(&c)),
    );
    server.wait_run(&c, 60, |r| r["status"] == "cancelled");
    w.call(
        "POST",
        "/api/v1/runs/{id}/retry",
        &format!("/api/v1/runs/{c}/retry"),
        Body::None,
        202,
        expect("retry", "run", Some(&c)),
    );
    server.wait_run(&a, 60, |r| r["status"] == "passed");
    let again = w.call(
        "POST",
        "/api/v1/runs/{id}/redeploy",
        &format!("/api/v1/runs/{a}/redeploy"),
        Body::None,
        201,
        expect("redeploy", "run", Some(&a)),
    );
    let d = id(&again);
    // A failing call is recorded with its outcome.
    w.call(
        "POST",
        "/api/v1/runs/{id}/cancel",
        &format!("/api/v1/runs/{a}/cancel"),
        Body::None,
        409,
        expect("cancel", "run", Some(&a)).outcome("conflict"),
    );

    // Applications.
    let application = w.call(
        "POST",
        "/api/v1/projects/{id}/applications",
        &format!("/api/v1/projects/{pid}/applications"),
        Body::Json(json!({
            "name": "site",
            "repository": {"provider": "github", "owner": "acme", "name": "site",
                           "url": format!("file://{}", repo.display())},
            "default_branch": "main",
        })),
        201,
        expect("create", "application", None).in_project(p),
    );
    let aid = id(&application);
    w.call(
        "PATCH",
        "/api/v1/applications/{id}",
        &format!("/api/v1/applications/{aid}"),
        Body::Json(json!({"description": "the site"})),
        200,
        expect("update", "application", Some(&aid)),
    );
    let dispatched = w.call(
        "POST",
        "/api/v1/applications/{id}/dispatch",
        &format!("/api/v1/applications/{aid}/dispatch"),
        Body::Json(json!({"ref": "main"})),
        201,
        expect("dispatch", "application", Some(&aid)),
    );
    let e = id(&dispatched);

    // Named repositories: by id, or by name on the routes that take either.
    let named = w.call(
        "POST",
        "/api/v1/projects/{id}/repositories",
        &format!("/api/v1/projects/{pid}/repositories"),
        Body::Json(json!({"name": "audited", "url": "https://git.example.com/acme/audited.git"})),
        201,
        expect("create", "repository", None).in_project(p),
    );
    let rid = id(&named);
    w.call(
        "PATCH",
        "/api/v1/repositories/{id}",
        &format!("/api/v1/repositories/{rid}"),
        Body::Json(json!({"default_branch": "trunk"})),
        200,
        expect("update", "repository", Some(&rid)).in_project(p),
    );
    w.call(
        "DELETE",
        "/api/v1/repositories/{id}",
        "/api/v1/repositories/audited",
        Body::None,
        204,
        expect("delete", "repository", Some("audited")).in_project(p),
    );

    // Namespaces and workloads: operations are named by their verb, the
    // workload by its name.
    w.call(
        "POST",
        "/api/v1/projects/{id}/namespaces",
        &format!("/api/v1/projects/{pid}/namespaces"),
        Body::Json(json!({"name": "audited"})),
        201,
        expect("create", "namespace", None).in_project(p),
    );
    let manifest = json!({"kind": "deployment", "name": "sleeper", "command": "sleep",
                          "args": ["120"], "instances": 1});
    w.call(
        "PUT",
        "/api/v1/namespaces/{namespace}/workloads",
        "/api/v1/namespaces/audited/workloads",
        Body::Json(manifest),
        202,
        expect("update", "workload", None).in_project(p),
    );
    for verb in ["stop", "start", "restart"] {
        w.call(
            "POST",
            &format!("/api/v1/namespaces/{{namespace}}/workloads/{{name}}/{verb}"),
            &format!("/api/v1/namespaces/audited/workloads/sleeper/{verb}"),
            Body::None,
            202,
            expect(verb, "workload", Some("sleeper")).in_project(p),
        );
    }
    w.call(
        "POST",
        "/api/v1/namespaces/{namespace}/workloads/{name}/scale",
        "/api/v1/namespaces/audited/workloads/sleeper/scale",
        Body::Json(json!({"instances": 2})),
        202,
        expect("scale", "workload", Some("sleeper")).in_project(p),
    );
    w.call(
        "DELETE",
        "/api/v1/namespaces/{namespace}/workloads/{name}",
        "/api/v1/namespaces/audited/workloads/sleeper",
        Body::None,
        202,
        expect("delete", "workload", Some("sleeper")).in_project(p),
    );
    // The namespace goes once the workload's operations are done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while w
        .send(
            Some(ADMIN),
            "GET",
            "/api/v1/namespaces/audited/workloads",
            &Body::None,
        )
        .1["total"]
        != 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the workload was not deleted"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    w.call(
        "DELETE",
        "/api/v1/namespaces/{namespace}",
        "/api/v1/namespaces/audited",
        Body::None,
        204,
        expect("delete", "namespace", Some("audited")).in_project(p),
    );

    // Secrets: names are recorded, values never.
    w.call(
        "PUT",
        "/api/v1/projects/{id}/secrets/{name}",
        &format!("/api/v1/projects/{pid}/secrets/AUDITED_VALUE"),
        Body::Json(json!({"value": project_value})),
        201,
        expect("create", "secret", Some("AUDITED_VALUE")).in_project(p),
    );
    w.call(
        "PUT",
        "/api/v1/projects/{id}/secrets/{name}",
        &format!("/api/v1/projects/{pid}/secrets/AUDITED_VALUE"),
        Body::Json(json!({"value": rotated_value})),
        200,
        expect("update", "secret", Some("AUDITED_VALUE")).in_project(p),
    );
    w.call(
        "DELETE",
        "/api/v1/projects/{id}/secrets/{name}",
        &format!("/api/v1/projects/{pid}/secrets/AUDITED_VALUE"),
        Body::None,
        204,
        expect("delete", "secret", Some("AUDITED_VALUE")).in_project(p),
    );
    w.call(
        "PUT",
        "/api/v1/applications/{id}/secrets/{name}",
        &format!("/api/v1/applications/{aid}/secrets/APP_VALUE"),
        Body::Json(json!({"value": app_value})),
        201,
        expect("create", "secret", Some("APP_VALUE")),
    );
    w.call(
        "DELETE",
        "/api/v1/applications/{id}/secrets/{name}",
        &format!("/api/v1/applications/{aid}/secrets/APP_VALUE"),
        Body::None,
        204,
        expect("delete", "secret", Some("APP_VALUE")),
    );

    // Schedules.
    let on_workflow = w.call(
        "POST",
        "/api/v1/workflows/{id}/schedules",
        &format!("/api/v1/workflows/{wid}/schedules"),
        Body::Json(json!({"expression": YEARLY})),
        201,
        expect("create", "schedule", None),
    );
    let on_application = w.call(
        "POST",
        "/api/v1/applications/{id}/schedules",
        &format!("/api/v1/applications/{aid}/schedules"),
        Body::Json(json!({"expression": YEARLY})),
        201,
        expect("create", "schedule", None),
    );
    let (s1, s2) = (id(&on_workflow), id(&on_application));
    w.call(
        "PATCH",
        "/api/v1/schedules/{id}",
        &format!("/api/v1/schedules/{s1}"),
        Body::Json(json!({"enabled": false})),
        200,
        expect("update", "schedule", Some(&s1)),
    );
    w.call(
        "DELETE",
        "/api/v1/schedules/{id}",
        &format!("/api/v1/schedules/{s2}"),
        Body::None,
        204,
        expect("delete", "schedule", Some(&s2)),
    );

    // Tokens; a token that is not an admin's may not read the trail, and
    // its refused change is recorded as its own.
    let token = w.call(
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        Body::Json(json!({"name": "reader"})),
        201,
        expect("create", "token", None),
    );
    let reader = token["secret"].as_str().unwrap().to_owned();
    let (code, body) = server.call_as(Some(&reader), "GET", "/api/v1/audit", None);
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (code, body) = server.call_as(
        Some(&reader),
        "GET",
        &format!("/api/v1/audit?project_id={pid}"),
        None,
    );
    assert_eq!(code, 403, "{body}");
    w.call_as(
        &reader,
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        Body::Json(json!({"name": "sneaky"})),
        403,
        expect("create", "token", None)
            .outcome("denied")
            .by("reader"),
    );
    // Sessions: a login, a refused one, a logout.
    w.call(
        "POST",
        "/api/v1/sessions",
        "/api/v1/sessions",
        Body::Json(json!({"ttl_secs": 300})),
        201,
        expect("login", "session", None),
    );
    w.call(
        "POST",
        "/api/v1/sessions",
        "/api/v1/sessions",
        Body::Json(json!({"ttl_secs": 1})),
        400,
        expect("login", "session", None).outcome("invalid"),
    );
    w.call(
        "DELETE",
        "/api/v1/sessions",
        "/api/v1/sessions",
        Body::None,
        204,
        expect("logout", "session", None),
    );
    let tid = id(&token);
    w.call(
        "DELETE",
        "/api/v1/tokens/{id}",
        &format!("/api/v1/tokens/{tid}"),
        Body::None,
        204,
        expect("delete", "token", Some(&tid)),
    );

    // Users, members, application matrices and follows.
    let user = w.call(
        "POST",
        "/api/v1/users",
        "/api/v1/users",
        Body::Json(json!({"login": "audited-user", "email": "au@example.com"})),
        201,
        expect("create", "user", None),
    );
    let uid = id(&user);
    w.call(
        "PATCH",
        "/api/v1/users/{id}",
        &format!("/api/v1/users/{uid}"),
        Body::Json(json!({"display_name": "Audited"})),
        200,
        expect("update", "user", Some(&uid)),
    );
    w.call(
        "PUT",
        "/api/v1/projects/{id}/members/{user}",
        &format!("/api/v1/projects/{pid}/members/{uid}"),
        Body::Json(json!({"role": "viewer"})),
        200,
        expect("update", "member", Some(&uid)).in_project(&pid),
    );
    w.call(
        "DELETE",
        "/api/v1/projects/{id}/members/{user}",
        &format!("/api/v1/projects/{pid}/members/{uid}"),
        Body::None,
        204,
        expect("delete", "member", Some(&uid)).in_project(&pid),
    );
    w.call(
        "PUT",
        "/api/v1/applications/{id}/permissions",
        &format!("/api/v1/applications/{aid}/permissions"),
        Body::Json(json!({"roles": {"developer": ["view"]}})),
        200,
        expect("update", "application_permissions", Some(&aid)).in_project(&pid),
    );
    w.call(
        "DELETE",
        "/api/v1/applications/{id}/permissions",
        &format!("/api/v1/applications/{aid}/permissions"),
        Body::None,
        200,
        expect("delete", "application_permissions", Some(&aid)).in_project(&pid),
    );
    w.call(
        "PUT",
        "/api/v1/applications/{id}/follow",
        &format!("/api/v1/applications/{aid}/follow"),
        Body::None,
        204,
        expect("update", "application_follow", Some(&aid)).in_project(&pid),
    );
    w.call(
        "DELETE",
        "/api/v1/applications/{id}/follow",
        &format!("/api/v1/applications/{aid}/follow"),
        Body::None,
        204,
        expect("delete", "application_follow", Some(&aid)).in_project(&pid),
    );

    // More failing calls, recorded with their outcomes.
    w.call(
        "POST",
        "/api/v1/projects",
        "/api/v1/projects",
        Body::Json(json!({"name": 7})),
        400,
        expect("create", "project", None).outcome("invalid"),
    );
    w.call(
        "DELETE",
        "/api/v1/projects/{id}",
        &format!("/api/v1/projects/{missing}"),
        Body::None,
        404,
        expect("delete", "project", Some(&missing))
            .in_project(&missing)
            .outcome("not_found"),
    );

    // Requests that leave no entry: no caller, a webhook delivery, no
    // route, reads.
    w.unrecorded(
        None,
        "POST",
        "/api/v1/projects",
        Body::Json(json!({"name": "nobody"})),
        401,
    );
    w.unrecorded(
        Some("slw_not_a_token"),
        "DELETE",
        &format!("/api/v1/projects/{pid}"),
        Body::None,
        401,
    );
    w.unrecorded(
        None,
        "POST",
        &format!("/api/v1/hooks/github/{aid}"),
        Body::Json(json!({"ref": "refs/heads/main"})),
        401,
    );
    w.unrecorded(Some(ADMIN), "POST", "/api/v1/nowhere", Body::None, 404);
    w.unrecorded(
        Some(ADMIN),
        "GET",
        &format!("/api/v1/projects/{pid}"),
        Body::None,
        200,
    );

    // Wind down: stop what waits, then delete what was made.
    for run in [&c, &d] {
        server.wait_run(run, 60, |r| r["status"] == "waiting_approval");
        w.call(
            "POST",
            "/api/v1/runs/{id}/cancel",
            &format!("/api/v1/runs/{run}/cancel"),
            Body::None,
            202,
            expect("cancel", "run", Some(run)),
        );
    }
    for run in [&c, &d] {
        server.wait_run(run, 60, |r| r["status"] == "cancelled");
    }
    server.wait_run(&e, 60, |r| r["status"] == "passed");
    w.call(
        "DELETE",
        "/api/v1/applications/{id}",
        &format!("/api/v1/applications/{aid}"),
        Body::None,
        204,
        expect("delete", "application", Some(&aid)),
    );
    w.call(
        "DELETE",
        "/api/v1/workflows/{id}",
        &format!("/api/v1/workflows/{wid}"),
        Body::None,
        204,
        expect("delete", "workflow", Some(&wid)),
    );
    w.call(
        "DELETE",
        "/api/v1/projects/{id}",
        &format!("/api/v1/projects/{pid}"),
        Body::None,
        204,
        expect("delete", "project", Some(p)).in_project(p),
    );

    // Every mutating route of the document was walked with valid input
    // (the webhook route is signed by the host, never recorded).
    let mut wanted = mutating_routes(&server);
    wanted.remove(&(
        "POST".to_owned(),
        "/api/v1/hooks/{provider}/{application_id}".to_owned(),
    ));
    let missed: Vec<_> = wanted.difference(&w.covered).collect();
    assert!(
        missed.is_empty(),
        "mutating routes the walk does not cover yet: {missed:?}"
    );

    // Filters through the API.
    let by_project = w.page(&format!("project_id={pid}&per_page=100"));
    // Those whose route names the project (more once the permission code
    // reports the project it checked).
    assert!(by_project["total"].as_u64().unwrap() >= 7, "{by_project}");
    assert!(
        by_project["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["project_id"] == pid.as_str()),
        "{by_project}"
    );
    let denied = w.page("outcome=denied");
    assert_eq!(denied["total"], 1, "{denied}");
    assert_eq!(denied["items"][0]["user_name"], "reader");
    let secrets = w.page("object_kind=secret&order=asc");
    let actions: Vec<&str> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "delete", "create", "delete"]);
    let (code, body) = server.call("GET", "/api/v1/audit?since=yesterday", None);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "since");
    let (code, body) = server.call("GET", "/api/v1/audit?outcome=fine", None);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "outcome");

    // No secret value anywhere in the trail: not in what the API shows,
    // not in the table, not in the database's files, not in the log.
    let values = [&project_value, &rotated_value, &app_value];
    let mut shown = String::new();
    for n in 1.. {
        let page = w.page(&format!("per_page=100&page={n}"));
        let items = page["items"].as_array().unwrap().len();
        shown.push_str(&page.to_string());
        if items < 100 {
            break;
        }
    }
    assert!(shown.contains("AUDITED_VALUE") && shown.contains(&missing));
    let url = db.map_or_else(
        || format!("sqlite://{}", data.join("slipway.db").display()),
        str::to_owned,
    );
    let table = audit_table(&url);
    assert!(
        table.contains("AUDITED_VALUE") && table.contains(&missing),
        "{table}"
    );
    let log = std::fs::read_to_string(data.join("server.log")).unwrap();
    for value in values {
        assert!(
            !shown.contains(value.as_str()),
            "the API shows a secret value"
        );
        assert!(
            !table.contains(value.as_str()),
            "the table holds a secret value"
        );
        assert!(
            !log.contains(value.as_str()),
            "the log holds a secret value"
        );
    }
    if db.is_none() {
        let files = sqlite_files(&data);
        assert!(files.contains(&missing), "the trail is in the files read");
        for value in values {
            assert!(
                !files.contains(value.as_str()),
                "the database holds a secret value in clear"
            );
        }
    }
}

#[test]
fn every_change_is_audited_once_sqlite() {
    scenario(None);
}

#[test]
fn every_change_is_audited_once_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario(Some(&db.url));
}
