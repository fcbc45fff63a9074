//! Who may call which route of the native API, through the real binary,
//! on SQLite and on PostgreSQL (docs/security.md, "The permission table of
//! the native API").
//!
//! [`TABLE`] is the one list: every route of the native API with the least
//! access it needs and the status it answers on success. Each row is tried
//! as each of seven callers (no membership, viewer, developer, maintainer,
//! owner, system admin, the owner of another project): allowed callers get
//! the row's status, everyone else 403. Rows whose success uses something
//! up or changes it (deletes, cancel, retry, redeploy, decisions, member
//! changes, revokes, matrices) get a fresh object for every attempt, so
//! each attempt is judged on its own, and after a refusal that object is
//! checked to be as it was. The served OpenAPI document is the
//! list of routes the table is checked against: a route served without a
//! row (or a row for a route not served) fails the suite with its name.
//!
//! Besides the table, what a status cannot show: whose projects and runs
//! a list holds, the permission flags of views, an application matrix that
//! takes a developer's `execute` away and gives it back, following,
//! approval gates that list a role or a login, a session with its user's
//! rights and no more, and bad input on members,
//! users and tokens (a 4xx naming the field, and nothing changed).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_store::testing::TestDb;
use slipway_testkit::git::{clone, commit, git};
use slipway_tests::server::{ADMIN, Server};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

// ---- the table ----

/// A role in a project, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Developer,
    Maintainer,
    Owner,
}

/// The least a caller needs to be answered with the row's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Any authenticated user.
    Any,
    /// This role or a higher one in the object's project (P), or a system
    /// admin.
    Role(Role),
    /// System admins alone.
    Admin,
    /// A system admin, or the user the path names (`{user}` is the
    /// viewer).
    AdminOrSelf,
}

/// What an attempt is made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    /// The shared objects (read-only rows, and writes that leave nothing
    /// another attempt would see differently).
    Shared,
    /// A fresh project of `owner`'s with the same members as P.
    Project,
    /// A fresh workflow in P (`{workflow}`, `{workflow_name}`).
    Workflow,
    /// A fresh application in P.
    Application,
    /// A fresh run that is active (its job sleeps).
    ActiveRun,
    /// A fresh run that failed.
    FailedRun,
    /// A fresh run that passed.
    FinishedRun,
    /// A fresh run waiting at a gate that lists no approvers.
    WaitingRun,
    /// A secret name not used yet (`{secret}`).
    NewSecretName,
    /// A fresh secret of P.
    ProjectSecret,
    /// A fresh secret of the shared application.
    ApplicationSecret,
    /// A fresh schedule of the shared workflow.
    Schedule,
    /// A fresh token of user `extra`.
    Token,
    /// A fresh named repository of P (`{repository}`).
    NamedRepository,
    /// A fresh namespace of P (`{namespace}`).
    Namespace,
    /// A fresh workload in the shared namespace (`{workload}`).
    Workload,
}

/// One route and who may call it. A path with a query is a *variant*:
/// another case of the route the same path without its query names, which
/// has a row of its own (`GET /api/v1/audit?project_id=` beside `GET
/// /api/v1/audit`). Placeholders in `path` and `body`:
/// `{project}` (P), `{workflow}`, `{workflow_name}`, `{app}`, `{run}` (a
/// passed run), `{job}`, `{stage}`, `{schedule}`, `{user}` (the viewer's
/// id), `{token}`, `{secret}`, `{repository}`, `{namespace}`, `{workload}`, and in
/// bodies `{new}` (a name used by no other attempt).
#[derive(Debug, Clone, Copy)]
struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    access: Access,
    ok: u16,
    fixture: Fixture,
}

const fn row(
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    access: Access,
    ok: u16,
    fixture: Fixture,
) -> Row {
    Row {
        method,
        path,
        body,
        access,
        ok,
        fixture,
    }
}

/// A new workflow's definition.
const NEW_WORKFLOW: &str = r#"{"name": "wf-{new}", "stages": [{"name": "only", "jobs": [
    {"name": "work", "kind": "shell", "spec": {"steps": [{"script": "echo new"}]}}]}]}"#;
/// A new version of workflow `{workflow_name}`.
const SAME_WORKFLOW: &str = r#"{"name": "{workflow_name}", "stages": [{"name": "only", "jobs": [
    {"name": "work", "kind": "shell", "spec": {"steps": [{"script": "echo again"}]}}]}]}"#;
/// A new application on the fixture repository.
const NEW_APPLICATION: &str = r#"{"name": "app-{new}", "repository": {"provider": "github",
    "owner": "acme", "name": "app", "url": "{repo_url}"}, "default_branch": "main"}"#;
/// A new named repository in P.
const NEW_REPOSITORY: &str =
    r#"{"name": "r-{new}", "url": "https://git.example.com/acme/{new}.git"}"#;
/// A new deployment of one instance: a process that ends by itself within
/// two minutes, even if the suite never gets to stop it (instances are
/// detached from the server).
const NEW_WORKLOAD: &str = r#"{"kind": "deployment", "name": "w-{new}", "command": "sleep",
    "args": ["120"], "instances": 1}"#;
/// A schedule that never fires during the suite.
const NEW_SCHEDULE: &str = r#"{"expression": "0 0 1 1 *", "enabled": false}"#;

use Access::{Admin, AdminOrSelf, Any};
use Fixture::*;
const VIEWER: Access = Access::Role(Role::Viewer);
const DEVELOPER: Access = Access::Role(Role::Developer);
const MAINTAINER: Access = Access::Role(Role::Maintainer);
const OWNER: Access = Access::Role(Role::Owner);

/// Every route of the native API (docs/security.md's table, row by row).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // projects
    row("POST", "/api/v1/projects", Some(r#"{"name": "p-{new}"}"#), Any, 201, Shared),
    row("GET", "/api/v1/projects", None, Any, 200, Shared),
    row("GET", "/api/v1/projects/{project}", None, VIEWER, 200, Shared),
    row("PATCH", "/api/v1/projects/{project}", Some(r#"{"description": "changed"}"#), MAINTAINER, 200, Shared),
    row("DELETE", "/api/v1/projects/{project}", None, OWNER, 204, Project),
    // members
    row("GET", "/api/v1/projects/{project}/members", None, VIEWER, 200, Shared),
    row("PUT", "/api/v1/projects/{project}/members/{user}", Some(r#"{"role": "developer"}"#), OWNER, 200, Project),
    row("DELETE", "/api/v1/projects/{project}/members/{user}", None, OWNER, 204, Project),
    // workflows
    row("POST", "/api/v1/projects/{project}/workflows", Some(NEW_WORKFLOW), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/projects/{project}/workflows", None, VIEWER, 200, Shared),
    row("GET", "/api/v1/workflows/{workflow}", None, VIEWER, 200, Shared),
    row("GET", "/api/v1/workflows/{workflow}/versions", None, VIEWER, 200, Shared),
    row("PUT", "/api/v1/workflows/{workflow}", Some(SAME_WORKFLOW), MAINTAINER, 200, Workflow),
    row("DELETE", "/api/v1/workflows/{workflow}", None, MAINTAINER, 204, Workflow),
    // runs
    row("POST", "/api/v1/workflows/{workflow}/runs", Some("{}"), DEVELOPER, 201, Shared),
    row("GET", "/api/v1/runs", None, Any, 200, Shared),
    row("GET", "/api/v1/runs/{run}", None, VIEWER, 200, Shared),
    row("POST", "/api/v1/runs/{run}/cancel", None, DEVELOPER, 202, ActiveRun),
    row("POST", "/api/v1/runs/{run}/retry", None, DEVELOPER, 202, FailedRun),
    row("POST", "/api/v1/runs/{run}/redeploy", None, DEVELOPER, 201, FinishedRun),
    row("POST", "/api/v1/runs/{run}/stages/{stage}/approve", Some("{}"), DEVELOPER, 200, WaitingRun),
    row("POST", "/api/v1/runs/{run}/stages/{stage}/reject", Some("{}"), DEVELOPER, 200, WaitingRun),
    row("GET", "/api/v1/runs/{run}/jobs/{job}/log", None, DEVELOPER, 200, Shared),
    row("GET", "/api/v1/runs/{run}/jobs/{job}/log/stream", None, DEVELOPER, 200, Shared),
    // applications
    row("POST", "/api/v1/projects/{project}/applications", Some(NEW_APPLICATION), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/projects/{project}/applications", None, VIEWER, 200, Shared),
    row("GET", "/api/v1/applications", None, Any, 200, Shared),
    row("GET", "/api/v1/applications/{app}", None, VIEWER, 200, Shared),
    row("PATCH", "/api/v1/applications/{app}", Some(r#"{"description": "changed"}"#), MAINTAINER, 200, Shared),
    row("DELETE", "/api/v1/applications/{app}", None, MAINTAINER, 204, Application),
    row("POST", "/api/v1/applications/{app}/dispatch", Some(r#"{"ref": "main"}"#), DEVELOPER, 201, Shared),
    row("GET", "/api/v1/applications/{app}/permissions", None, VIEWER, 200, Shared),
    row("PUT", "/api/v1/applications/{app}/permissions", Some(r#"{"roles": {"developer": ["view"]}}"#), OWNER, 200, Application),
    row("DELETE", "/api/v1/applications/{app}/permissions", None, OWNER, 200, Application),
    row("PUT", "/api/v1/applications/{app}/follow", None, VIEWER, 204, Shared),
    row("DELETE", "/api/v1/applications/{app}/follow", None, VIEWER, 204, Shared),
    // named repositories
    row("POST", "/api/v1/projects/{project}/repositories", Some(NEW_REPOSITORY), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/projects/{project}/repositories", None, VIEWER, 200, Shared),
    row("GET", "/api/v1/repositories", None, Any, 200, Shared),
    row("GET", "/api/v1/repositories/{repository}", None, VIEWER, 200, Shared),
    row("PATCH", "/api/v1/repositories/{repository}", Some(r#"{"default_branch": "trunk"}"#), MAINTAINER, 200, Shared),
    row("DELETE", "/api/v1/repositories/{repository}", None, MAINTAINER, 204, NamedRepository),
    // namespaces and workloads
    row("POST", "/api/v1/projects/{project}/namespaces", Some(r#"{"name": "ns-{new}"}"#), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/namespaces", None, Any, 200, Shared),
    row("GET", "/api/v1/namespaces/{namespace}", None, VIEWER, 200, Shared),
    row("DELETE", "/api/v1/namespaces/{namespace}", None, MAINTAINER, 204, Namespace),
    row("PUT", "/api/v1/namespaces/{namespace}/workloads", Some(NEW_WORKLOAD), MAINTAINER, 202, Shared),
    row("GET", "/api/v1/namespaces/{namespace}/workloads", None, VIEWER, 200, Shared),
    row("GET", "/api/v1/namespaces/{namespace}/workloads/{workload}", None, VIEWER, 200, Shared),
    row("DELETE", "/api/v1/namespaces/{namespace}/workloads/{workload}", None, MAINTAINER, 202, Workload),
    row("POST", "/api/v1/namespaces/{namespace}/workloads/{workload}/start", None, MAINTAINER, 202, Shared),
    row("POST", "/api/v1/namespaces/{namespace}/workloads/{workload}/stop", None, MAINTAINER, 202, Shared),
    row("POST", "/api/v1/namespaces/{namespace}/workloads/{workload}/restart", None, MAINTAINER, 202, Shared),
    row("POST", "/api/v1/namespaces/{namespace}/workloads/{workload}/scale", Some(r#"{"instances": 1}"#), MAINTAINER, 202, Shared),
    // secrets
    row("GET", "/api/v1/projects/{project}/secrets", None, VIEWER, 200, Shared),
    row("PUT", "/api/v1/projects/{project}/secrets/{secret}", Some(r#"{"value": "s3cret-{new}"}"#), MAINTAINER, 201, NewSecretName),
    row("DELETE", "/api/v1/projects/{project}/secrets/{secret}", None, MAINTAINER, 204, ProjectSecret),
    row("GET", "/api/v1/applications/{app}/secrets", None, VIEWER, 200, Shared),
    row("PUT", "/api/v1/applications/{app}/secrets/{secret}", Some(r#"{"value": "s3cret-{new}"}"#), MAINTAINER, 201, NewSecretName),
    row("DELETE", "/api/v1/applications/{app}/secrets/{secret}", None, MAINTAINER, 204, ApplicationSecret),
    // schedules
    row("GET", "/api/v1/workflows/{workflow}/schedules", None, VIEWER, 200, Shared),
    row("POST", "/api/v1/workflows/{workflow}/schedules", Some(NEW_SCHEDULE), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/applications/{app}/schedules", None, VIEWER, 200, Shared),
    row("POST", "/api/v1/applications/{app}/schedules", Some(NEW_SCHEDULE), MAINTAINER, 201, Shared),
    row("GET", "/api/v1/schedules/{schedule}", None, VIEWER, 200, Shared),
    row("PATCH", "/api/v1/schedules/{schedule}", Some(r#"{"enabled": false}"#), MAINTAINER, 200, Shared),
    row("DELETE", "/api/v1/schedules/{schedule}", None, MAINTAINER, 204, Schedule),
    // tokens
    row("POST", "/api/v1/tokens", Some(r#"{"name": "t-{new}", "user": "extra"}"#), Admin, 201, Shared),
    row("GET", "/api/v1/tokens", None, Admin, 200, Shared),
    row("DELETE", "/api/v1/tokens/{token}", None, Admin, 204, Token),
    // users
    row("POST", "/api/v1/users", Some(r#"{"login": "u-{new}"}"#), Admin, 201, Shared),
    row("GET", "/api/v1/users", None, Admin, 200, Shared),
    row("GET", "/api/v1/users/{user}", None, AdminOrSelf, 200, Shared),
    row("PATCH", "/api/v1/users/{user}", Some(r#"{"display_name": "The viewer"}"#), Admin, 200, Shared),
    row("GET", "/api/v1/user", None, Any, 200, Shared),
    // the audit trail
    row("GET", "/api/v1/audit", None, Admin, 200, Shared),
    row("GET", "/api/v1/audit?project_id={project}", None, OWNER, 200, Shared),
    // Sessions: any user with an API token makes one (201) and ends one
    // (204; a JWT cannot be recalled, the cookie is cleared).
    row("POST", "/api/v1/sessions", None, Any, 201, Shared),
    row("DELETE", "/api/v1/sessions", None, Any, 204, Shared),
];

/// Routes under `/api/v1/` with no row, and why.
const EXEMPT: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/api/v1/hooks/{provider}/{application_id}",
        "called by repository hosts with a signature, not by users (triggers.rs)",
    ),
    (
        "GET",
        "/api/v1/openapi.json",
        "the document itself: needs no token and holds no data",
    ),
];

// ---- callers ----

/// The seven columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Stranger,
    Viewer,
    Developer,
    Maintainer,
    Owner,
    Admin,
    Other,
}

const CALLERS: [Who; 7] = [
    Who::Stranger,
    Who::Viewer,
    Who::Developer,
    Who::Maintainer,
    Who::Owner,
    Who::Admin,
    Who::Other,
];

impl Who {
    fn login(self) -> &'static str {
        match self {
            Who::Stranger => "stranger",
            Who::Viewer => "viewer",
            Who::Developer => "developer",
            Who::Maintainer => "maintainer",
            Who::Owner => "owner",
            Who::Admin => "admin",
            Who::Other => "other",
        }
    }

    /// The role in project P.
    fn role(self) -> Option<Role> {
        match self {
            Who::Viewer => Some(Role::Viewer),
            Who::Developer => Some(Role::Developer),
            Who::Maintainer => Some(Role::Maintainer),
            Who::Owner => Some(Role::Owner),
            Who::Stranger | Who::Admin | Who::Other => None,
        }
    }
}

fn allowed(access: Access, who: Who) -> bool {
    who == Who::Admin
        || match access {
            Access::Any => true,
            Access::Role(min) => who.role().is_some_and(|r| r >= min),
            Access::Admin => false,
            Access::AdminOrSelf => who == Who::Viewer,
        }
}

// ---- placeholders and routes ----

type Vars = BTreeMap<&'static str, String>;

/// `template` with each `{name}` of `vars` replaced (other braces stay).
fn fill(template: &str, vars: &Vars) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after
            .find('}')
            .and_then(|j| Some((j, vars.get(&after[..j])?)))
        {
            Some((j, value)) => {
                out.push_str(value);
                rest = &after[j + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `{word}` (letters and `_`) of `text`.
fn placeholders(text: &str) -> Vec<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(w, _)| w))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
        .collect()
}

const KNOWN: &[&str] = &[
    "project",
    "workflow",
    "workflow_name",
    "app",
    "run",
    "job",
    "stage",
    "schedule",
    "user",
    "token",
    "secret",
    "new",
    "repo_url",
    "repository",
    "namespace",
    "workload",
];

/// A route as the document names it, path parameters blanked:
/// `GET /api/v1/runs/{}/jobs/{}/log`.
fn route_key(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect();
    format!("{} {}", method.to_ascii_uppercase(), segments.join("/"))
}

#[test]
fn the_table_is_well_formed() {
    let mut seen = BTreeSet::new();
    let primary: BTreeSet<String> = TABLE
        .iter()
        .filter(|r| !r.path.contains('?'))
        .map(|r| route_key(r.method, r.path))
        .collect();
    for r in TABLE {
        assert!(
            seen.insert((
                route_key(r.method, r.path),
                r.path.split_once('?').map(|(_, q)| q)
            )),
            "two rows for {} {}",
            r.method,
            r.path
        );
        assert!(
            primary.contains(&route_key(r.method, r.path)),
            "{} {}: a variant without the row of its route",
            r.method,
            r.path
        );
        for text in [Some(r.path), r.body].into_iter().flatten() {
            for p in placeholders(text) {
                assert!(
                    KNOWN.contains(&p),
                    "{} {}: unknown placeholder {{{p}}}",
                    r.method,
                    r.path
                );
            }
        }
        if r.body.is_some() {
            assert!(
                r.method != "GET",
                "{} {}: a GET with a body",
                r.method,
                r.path
            );
        }
        assert!(
            (200..300).contains(&r.ok),
            "{} {}: success is 2xx",
            r.method,
            r.path
        );
    }
    let vars: Vars = KNOWN.iter().map(|k| (*k, "x".to_owned())).collect();
    for r in TABLE {
        if let Some(b) = r.body {
            let filled = fill(b, &vars);
            assert!(
                serde_json::from_str::<Value>(&filled).is_ok(),
                "{} {}: the body is not JSON once filled: {filled}",
                r.method,
                r.path
            );
        }
    }
    assert!(allowed(AdminOrSelf, Who::Viewer) && !allowed(AdminOrSelf, Who::Owner));
    assert!(allowed(MAINTAINER, Who::Owner) && !allowed(MAINTAINER, Who::Developer));
    assert!(!allowed(VIEWER, Who::Other) && !allowed(VIEWER, Who::Stranger));
}

// ---- the world the rows run in ----

const APP_TEMPLATE: &str = "name: deploy
stages:
  - name: only
    jobs:
      - name: work
        kind: shell
        spec:
          steps:
            - script: echo deployed
";

/// The YAML of workflow `name`: one stage (`gate` when it has an approval
/// gate, listing `approvers`) whose job `work` runs `script`.
fn workflow_yaml(name: &str, script: &str, gate: Option<&[&str]>) -> String {
    let (stage, approval) = match gate {
        None => ("only", String::new()),
        Some(list) => (
            "gate",
            format!(
                "    approval:\n      approvers: [{}]\n      needed: 1\n",
                list.iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    format!(
        "name: {name}
stages:
  - name: {stage}
{approval}    jobs:
      - name: work
        kind: shell
        spec:
          steps:
            - script: {script}
"
    )
}

/// The users besides `admin`; `extra` has no token and no membership
/// (the token rows make and revoke tokens of its, not of a caller).
const USERS: [&str; 7] = [
    "viewer",
    "developer",
    "maintainer",
    "owner",
    "stranger",
    "other",
    "extra",
];

/// Failures, gathered so that one run shows every disagreement.
#[derive(Debug, Default)]
struct Report {
    failures: Vec<String>,
    requests: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }
}

struct World {
    server: Server,
    /// Login → token secret.
    tokens: BTreeMap<&'static str, String>,
    /// Login → user id.
    ids: BTreeMap<&'static str, String>,
    /// The shared objects, by placeholder.
    vars: Vars,
    /// Workflow name → id.
    workflows: BTreeMap<&'static str, String>,
    next: Cell<u32>,
}

impl World {
    fn token(&self, who: Who) -> &str {
        if who == Who::Admin {
            ADMIN
        } else {
            &self.tokens[who.login()]
        }
    }

    fn call(&self, who: Who, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.server
            .call_as(Some(self.token(who)), method, path, body)
    }

    /// As admin; panics unless the answer is `want`.
    fn must(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let (code, answer) = self.server.call(method, path, body);
        assert_eq!(code, want, "{method} {path}: {answer}");
        answer
    }

    fn unique(&self) -> u32 {
        let n = self.next.get() + 1;
        self.next.set(n);
        n
    }

    fn var(&self, name: &str) -> &str {
        &self.vars[name]
    }

    fn project_path(&self) -> String {
        format!("/api/v1/projects/{}", self.var("project"))
    }

    fn start(&self, workflow: &str) -> String {
        let run = self.must(
            "POST",
            &format!("/api/v1/workflows/{}/runs", self.workflows[workflow]),
            Some(json!({})),
            201,
        );
        run["id"].as_str().unwrap().to_owned()
    }

    fn wait_status(&self, run: &str, status: &str) {
        self.server.wait_run(run, 60, |r| {
            let now = r["status"].as_str().unwrap_or("");
            assert!(
                now == status || !["passed", "failed", "cancelled", "timed_out"].contains(&now),
                "run {run} ended {now}, not {status}: {r}"
            );
            now == status
        });
    }

    /// `n` fresh runs of `workflow`, each once it is in `status` (`None`:
    /// as soon as started).
    fn runs(&self, n: usize, workflow: &str, status: Option<&str>) -> Vec<String> {
        let ids: Vec<String> = (0..n).map(|_| self.start(workflow)).collect();
        if let Some(s) = status {
            for id in &ids {
                self.wait_status(id, s);
            }
        }
        ids
    }

    /// A project of `owner`'s with the viewer, developer and maintainer at
    /// their roles; its id.
    fn project(&self, name: &str) -> String {
        let (code, p) = self.call(
            Who::Owner,
            "POST",
            "/api/v1/projects",
            Some(json!({ "name": name })),
        );
        assert_eq!(code, 201, "{p}");
        let id = p["id"].as_str().unwrap().to_owned();
        for (login, role) in [
            ("viewer", "viewer"),
            ("developer", "developer"),
            ("maintainer", "maintainer"),
        ] {
            let (code, m) = self.call(
                Who::Owner,
                "PUT",
                &format!("/api/v1/projects/{id}/members/{login}"),
                Some(json!({ "role": role })),
            );
            assert_eq!(code, 200, "{m}");
        }
        id
    }

    /// A new application in P; its id.
    fn application(&self) -> String {
        let body = fill(NEW_APPLICATION, &self.with_new());
        let app = self.must(
            "POST",
            &format!("{}/applications", self.project_path()),
            Some(serde_json::from_str(&body).unwrap()),
            201,
        );
        app["id"].as_str().unwrap().to_owned()
    }

    /// The shared vars with a fresh `{new}`.
    fn with_new(&self) -> Vars {
        let mut v = self.vars.clone();
        v.insert("new", format!("n{}", self.unique()));
        v
    }

    /// The vars of `n` attempts on `fixture`.
    fn fixtures(&self, fixture: Fixture, n: usize) -> Vec<Vars> {
        let with = |key: &'static str, values: Vec<String>| -> Vec<Vars> {
            values
                .into_iter()
                .map(|value| {
                    let mut v = self.with_new();
                    v.insert(key, value);
                    v
                })
                .collect()
        };
        let each = |make: &dyn Fn() -> String| (0..n).map(|_| make()).collect::<Vec<_>>();
        match fixture {
            Shared => (0..n).map(|_| self.with_new()).collect(),
            Project => with(
                "project",
                each(&|| self.project(&format!("fresh-{}", self.unique()))),
            ),
            Workflow => {
                let names = each(&|| format!("wf-fresh-{}", self.unique()));
                names
                    .into_iter()
                    .map(|name| {
                        let yaml = workflow_yaml(&name, "echo fresh", None);
                        let (code, w) = self.server.raw(
                            Some(ADMIN),
                            "POST",
                            &format!("{}/workflows", self.project_path()),
                            Some("application/yaml"),
                            yaml.into_bytes(),
                        );
                        assert_eq!(code, 201, "{w}");
                        let mut v = self.with_new();
                        v.insert("workflow", w["id"].as_str().unwrap().to_owned());
                        v.insert("workflow_name", name);
                        v
                    })
                    .collect()
            }
            Application => with("app", each(&|| self.application())),
            ActiveRun => with("run", self.runs(n, "slow", None)),
            FailedRun => with("run", self.runs(n, "failing", Some("failed"))),
            FinishedRun => with("run", self.runs(n, "quick", Some("passed"))),
            WaitingRun => with("run", self.runs(n, "gated", Some("waiting_approval"))),
            NewSecretName => with("secret", each(&|| format!("NEW_{}", self.unique()))),
            ProjectSecret | ApplicationSecret => {
                let owner = if fixture == ProjectSecret {
                    self.project_path()
                } else {
                    format!("/api/v1/applications/{}", self.var("app"))
                };
                with(
                    "secret",
                    each(&|| {
                        let name = format!("OLD_{}", self.unique());
                        self.must(
                            "PUT",
                            &format!("{owner}/secrets/{name}"),
                            Some(json!({"value": "to-be-deleted"})),
                            201,
                        );
                        name
                    }),
                )
            }
            Schedule => with(
                "schedule",
                each(&|| {
                    let s = self.must(
                        "POST",
                        &format!("/api/v1/workflows/{}/schedules", self.var("workflow")),
                        Some(serde_json::from_str(NEW_SCHEDULE).unwrap()),
                        201,
                    );
                    s["id"].as_str().unwrap().to_owned()
                }),
            ),
            NamedRepository => with(
                "repository",
                each(&|| {
                    let body = fill(NEW_REPOSITORY, &self.with_new());
                    let r = self.must(
                        "POST",
                        &format!("{}/repositories", self.project_path()),
                        Some(serde_json::from_str(&body).unwrap()),
                        201,
                    );
                    r["id"].as_str().unwrap().to_owned()
                }),
            ),
            Namespace => with(
                "namespace",
                each(&|| {
                    let name = format!("ns-fresh-{}", self.unique());
                    self.must(
                        "POST",
                        &format!("{}/namespaces", self.project_path()),
                        Some(json!({ "name": name })),
                        201,
                    );
                    name
                }),
            ),
            Workload => with(
                "workload",
                each(&|| {
                    let name = format!("w-fresh-{}", self.unique());
                    let mut manifest: Value =
                        serde_json::from_str(&fill(NEW_WORKLOAD, &self.with_new())).unwrap();
                    manifest["name"] = json!(name);
                    self.must(
                        "PUT",
                        &format!("/api/v1/namespaces/{}/workloads", self.var("namespace")),
                        Some(manifest),
                        202,
                    );
                    name
                }),
            ),
            Token => with(
                "token",
                each(&|| {
                    let t = self.must(
                        "POST",
                        "/api/v1/tokens",
                        Some(json!({"name": format!("rev-{}", self.unique()), "user": "extra"})),
                        201,
                    );
                    t["id"].as_str().unwrap().to_owned()
                }),
            ),
        }
    }

    /// After a refused attempt on a fresh object: what changed about it
    /// (`None`: nothing). A redeploy's refusal is seen in the table (no
    /// new run is answered); shared objects are not looked at.
    fn changed(&self, fixture: Fixture, v: &Vars) -> Option<String> {
        let get = |path: String| {
            let (code, answer) = self.server.call("GET", &path, None);
            if code == 200 {
                Ok(answer)
            } else {
                Err(format!("GET {path}: {code} {answer}"))
            }
        };
        let run_is = |want: &[&str]| {
            get(format!("/api/v1/runs/{}", v["run"])).and_then(|r| {
                if want.contains(&r["status"].as_str().unwrap_or("")) {
                    Ok(())
                } else {
                    Err(format!("the run is {}", r["status"]))
                }
            })
        };
        let listed = |list: Result<Value, String>, key: &str, value: &str| {
            list.and_then(|l| {
                let found = l["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| i[key] == value && i["revoked_at"].is_null());
                if found {
                    Ok(())
                } else {
                    Err(format!("{value} is gone: {l}"))
                }
            })
        };
        let outcome = match fixture {
            Shared | NewSecretName | FinishedRun => Ok(()),
            Project => get(format!("/api/v1/projects/{}/members", v["project"])).and_then(|m| {
                let roles: BTreeSet<(String, String)> = m["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| (i["login"].to_string(), i["role"].to_string()))
                    .collect();
                let want: BTreeSet<(String, String)> =
                    ["owner", "viewer", "developer", "maintainer"]
                        .iter()
                        .map(|r| (format!("\"{r}\""), format!("\"{r}\"")))
                        .collect();
                if roles == want {
                    Ok(())
                } else {
                    Err(format!("the members are now {m}"))
                }
            }),
            Workflow => get(format!("/api/v1/workflows/{}", v["workflow"])).and_then(|w| {
                if w["latest_version"] == 1 {
                    Ok(())
                } else {
                    Err(format!("the workflow is now {w}"))
                }
            }),
            Application => {
                get(format!("/api/v1/applications/{}/permissions", v["app"])).and_then(|m| {
                    if m["custom"] == false {
                        Ok(())
                    } else {
                        Err(format!("the matrix is now {m}"))
                    }
                })
            }
            ActiveRun => run_is(&["queued", "running"]),
            FailedRun => run_is(&["failed"]),
            WaitingRun => run_is(&["waiting_approval"]),
            ProjectSecret => listed(
                get(format!("/api/v1/projects/{}/secrets", v["project"])),
                "name",
                &v["secret"],
            ),
            ApplicationSecret => listed(
                get(format!("/api/v1/applications/{}/secrets", v["app"])),
                "name",
                &v["secret"],
            ),
            Schedule => get(format!("/api/v1/schedules/{}", v["schedule"])).map(|_| ()),
            Token => listed(get("/api/v1/tokens".into()), "id", &v["token"]),
            NamedRepository => get(format!("/api/v1/repositories/{}", v["repository"])).map(|_| ()),
            Namespace => get(format!("/api/v1/namespaces/{}", v["namespace"])).map(|_| ()),
            Workload => get(format!(
                "/api/v1/namespaces/{}/workloads/{}",
                v["namespace"], v["workload"]
            ))
            .map(|_| ()),
        };
        outcome.err()
    }

    /// Settles what a row's attempts left behind that would cost the rest
    /// of the suite (sleeping runs).
    fn tidy(&self, fixture: Fixture, attempts: &[Vars]) {
        if fixture == ActiveRun {
            for v in attempts {
                let _ =
                    self.server
                        .call("POST", &format!("/api/v1/runs/{}/cancel", v["run"]), None);
            }
        }
    }
}

fn setup(dir: &Path, db: Option<&str>) -> World {
    // The applications' repository: a bare one with the template on main.
    let bare = dir.join("origin.git");
    let work = dir.join("work");
    git(dir, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    clone(dir, &bare, &work, false);
    git(&work, &["checkout", "-q", "-b", "main"]);
    commit(
        &work,
        &[(".slipway/workflow.yaml", APP_TEMPLATE)],
        "template",
    );
    git(&work, &["push", "-q", "origin", "main"]);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start(&data, db, &["--git-allow-local", "true"]);

    let mut w = World {
        server,
        tokens: BTreeMap::new(),
        ids: BTreeMap::new(),
        vars: Vars::new(),
        workflows: BTreeMap::new(),
        next: Cell::new(0),
    };
    let me = w.must("GET", "/api/v1/user", None, 200);
    w.ids.insert("admin", me["id"].as_str().unwrap().to_owned());
    for login in USERS {
        let u = w.must(
            "POST",
            "/api/v1/users",
            Some(json!({ "login": login })),
            201,
        );
        w.ids.insert(login, u["id"].as_str().unwrap().to_owned());
        if login != "extra" {
            let t = w.must(
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": format!("{login}-cli"), "user": login})),
                201,
            );
            w.tokens
                .insert(login, t["secret"].as_str().unwrap().to_owned());
        }
    }
    // P, owned by `owner` (its only owner), and Q, owned by `other`.
    let p = w.project("p");
    let (code, q) = w.call(
        Who::Other,
        "POST",
        "/api/v1/projects",
        Some(json!({"name": "q"})),
    );
    assert_eq!(code, 201, "{q}");
    w.vars.insert("project", p.clone());
    w.vars.insert("q", q["id"].as_str().unwrap().to_owned());
    w.vars
        .insert("repo_url", format!("file://{}", bare.display()));

    let definitions: [(&str, &str, Option<&[&str]>); 6] = [
        ("quick", "echo hello", None),
        ("slow", "sleep 30", None),
        ("failing", "exit 1", None),
        ("gated", "echo shipped", Some(&[])),
        ("gate-role", "echo shipped", Some(&["role:maintainer"])),
        ("gate-login", "echo shipped", Some(&["developer"])),
    ];
    for (name, script, gate) in definitions {
        let (code, wf) = w.server.raw(
            Some(ADMIN),
            "POST",
            &format!("/api/v1/projects/{p}/workflows"),
            Some("application/yaml"),
            workflow_yaml(name, script, gate).into_bytes(),
        );
        assert_eq!(code, 201, "{name}: {wf}");
        w.workflows
            .insert(name, wf["id"].as_str().unwrap().to_owned());
    }
    let quick = w.workflows["quick"].clone();
    w.vars.insert("workflow", quick.clone());
    w.vars.insert("workflow_name", "quick".into());
    w.vars.insert("job", "work".into());
    w.vars.insert("stage", "gate".into());
    w.vars.insert("user", w.ids["viewer"].clone());
    let run = w.start("quick");
    w.wait_status(&run, "passed");
    w.vars.insert("run", run);
    let app = w.application();
    w.vars.insert("app", app);
    let s = w.must(
        "POST",
        &format!("/api/v1/workflows/{quick}/schedules"),
        Some(serde_json::from_str(NEW_SCHEDULE).unwrap()),
        201,
    );
    w.vars
        .insert("schedule", s["id"].as_str().unwrap().to_owned());
    let body = fill(NEW_REPOSITORY, &w.with_new());
    let r = w.must(
        "POST",
        &format!("/api/v1/projects/{p}/repositories"),
        Some(serde_json::from_str(&body).unwrap()),
        201,
    );
    w.vars
        .insert("repository", r["id"].as_str().unwrap().to_owned());
    w.must(
        "POST",
        &format!("/api/v1/projects/{p}/namespaces"),
        Some(json!({"name": "ns-shared"})),
        201,
    );
    w.vars.insert("namespace", "ns-shared".into());
    let mut manifest: Value = serde_json::from_str(&fill(NEW_WORKLOAD, &w.with_new())).unwrap();
    manifest["name"] = json!("w-shared");
    w.must(
        "PUT",
        "/api/v1/namespaces/ns-shared/workloads",
        Some(manifest),
        202,
    );
    w.vars.insert("workload", "w-shared".into());
    w
}

/// Deletes every namespace (which stops its workloads' processes, which
/// outlive the server otherwise), once their operations are done.
fn remove_namespaces(w: &World) {
    let list = w.must("GET", "/api/v1/namespaces?per_page=100", None, 200);
    for ns in list["items"].as_array().unwrap() {
        let path = format!("/api/v1/namespaces/{}", ns["name"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (code, body) = w.server.call("DELETE", &path, None);
            if code == 204 || code == 404 {
                break;
            }
            assert!(
                code == 409 && Instant::now() < deadline,
                "{path}: {code} {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

// ---- coverage ----

/// Every (method, path) of the served document under `/api/v1/` has
/// exactly one row or an exemption, and every row is served.
fn coverage(w: &World, report: &mut Report) {
    let doc = w.must("GET", "/api/v1/openapi.json", None, 200);
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                served.insert(route_key(method, path));
            }
        }
    }
    assert!(
        served.len() > 40,
        "the document lists too few routes: {served:?}"
    );
    let exempt: BTreeSet<String> = EXEMPT.iter().map(|(m, p, _)| route_key(m, p)).collect();
    let rows: Vec<String> = TABLE
        .iter()
        .filter(|r| !r.path.contains('?'))
        .map(|r| route_key(r.method, r.path))
        .collect();
    for route in &served {
        let n = rows.iter().filter(|r| *r == route).count();
        report.check(n == 1 || (n == 0 && exempt.contains(route)), || {
            format!(
                "coverage: the served route {route} has {n} rows in tests/suites/permissions.rs \
                 (TABLE needs exactly one: who may call it, and its success status)"
            )
        });
    }
    for route in &rows {
        report.check(served.contains(route), || {
            format!("coverage: TABLE has a row for {route}, which the server does not serve")
        });
    }
}

// ---- the table, run ----

fn run_table(w: &World, report: &mut Report) {
    for r in TABLE {
        let attempts = w.fixtures(r.fixture, CALLERS.len());
        for (who, vars) in CALLERS.iter().zip(&attempts) {
            let path = fill(r.path, vars);
            let body = r.body.map(|b| {
                serde_json::from_str::<Value>(&fill(b, vars))
                    .unwrap_or_else(|e| panic!("{} {}: body: {e}", r.method, r.path))
            });
            let (code, answer) = w.call(*who, r.method, &path, body);
            report.requests += 1;
            let want = if allowed(r.access, *who) { r.ok } else { 403 };
            let login = who.login();
            report.check(code == want, || {
                format!(
                    "{} {} as {login}: expected {want}, got {code}: {answer}",
                    r.method, r.path
                )
            });
            if code == 403 && want == 403 {
                report.check(answer["error"]["code"] == "forbidden", || {
                    format!("{} {} as {login}: 403 body {answer}", r.method, r.path)
                });
                if let Some(change) = w.changed(r.fixture, vars) {
                    report.failures.push(format!(
                        "{} {} as {login} was refused, but changed its object: {change}",
                        r.method, r.path
                    ));
                }
                // A refusal of a project's object names who was refused.
                if matches!(r.access, Access::Role(_)) {
                    let message = answer["error"]["message"].as_str().unwrap_or("");
                    report.check(message.contains(&format!("`{login}`")), || {
                        format!(
                            "{} {} as {login}: the 403 does not name the caller: {message}",
                            r.method, r.path
                        )
                    });
                }
            }
        }
        w.tidy(r.fixture, &attempts);
    }
}

// ---- what the table cannot show ----

fn ids_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Who sees which projects and runs in the lists.
fn lists(w: &World, report: &mut Report) {
    let (p, q) = (w.var("project"), w.var("q"));
    let (code, list) = w.call(Who::Viewer, "GET", "/api/v1/projects?per_page=100", None);
    let ids = ids_of(&list);
    report.check(
        code == 200 && ids.contains(&p.to_owned()) && !ids.contains(&q.to_owned()),
        || format!("the viewer's project list should hold P and not Q: {code} {list}"),
    );
    let (code, list) = w.call(Who::Other, "GET", "/api/v1/projects?per_page=100", None);
    report.check(code == 200 && ids_of(&list) == [q.to_owned()], || {
        format!("the other owner's project list should be Q alone: {code} {list}")
    });
    let (code, list) = w.call(Who::Stranger, "GET", "/api/v1/projects", None);
    report.check(
        code == 200 && list["total"] == 0 && ids_of(&list).is_empty(),
        || format!("a stranger's project list should be empty: {code} {list}"),
    );
    let (code, list) = w.call(Who::Stranger, "GET", "/api/v1/runs", None);
    report.check(
        code == 200 && list["total"] == 0 && ids_of(&list).is_empty(),
        || format!("a stranger's run list should be empty: {code} {list}"),
    );
    let (code, list) = w.call(Who::Viewer, "GET", "/api/v1/runs?per_page=100", None);
    report.check(
        code == 200 && ids_of(&list).contains(&w.var("run").to_owned()),
        || format!("the viewer's run list should hold P's run: {code} {list}"),
    );
    let (code, list) = w.call(Who::Admin, "GET", "/api/v1/projects?per_page=100", None);
    let ids = ids_of(&list);
    report.check(
        code == 200 && ids.contains(&p.to_owned()) && ids.contains(&q.to_owned()),
        || format!("an admin's project list should hold P and Q: {code} {list}"),
    );
}

const ALL_FLAGS: [&str; 7] = [
    "view",
    "modify",
    "delete",
    "execute",
    "copy",
    "manage",
    "create_env",
];

/// The flags `who` should see on an object of P (`project`: P itself,
/// whose deletion is the owners' alone).
fn expected_flags(who: Who, project: bool) -> BTreeSet<&'static str> {
    let names: &[&str] = match who.role() {
        _ if who == Who::Admin => &ALL_FLAGS,
        Some(Role::Viewer) => &["view"],
        Some(Role::Developer) => &["view", "execute"],
        Some(Role::Maintainer) if project => &["view", "execute", "modify", "copy", "create_env"],
        Some(Role::Maintainer) => &["view", "execute", "modify", "delete", "copy", "create_env"],
        Some(Role::Owner) => &ALL_FLAGS,
        None => &[],
    };
    names.iter().copied().collect()
}

fn flags_of(view: &Value) -> BTreeSet<&'static str> {
    ALL_FLAGS
        .into_iter()
        .filter(|f| view["permissions"][format!("can_{f}")] == true)
        .collect()
}

/// Views of a project, a workflow and an application carry the caller's
/// flags, and a project view the caller's role.
fn flags(w: &World, report: &mut Report) {
    for who in [
        Who::Viewer,
        Who::Developer,
        Who::Maintainer,
        Who::Owner,
        Who::Admin,
    ] {
        let objects = [
            ("project", w.project_path(), true),
            (
                "workflow",
                format!("/api/v1/workflows/{}", w.var("workflow")),
                false,
            ),
            (
                "application",
                format!("/api/v1/applications/{}", w.var("app")),
                false,
            ),
        ];
        for (what, path, project) in objects {
            let (code, view) = w.call(who, "GET", &path, None);
            let want = expected_flags(who, project);
            report.check(code == 200 && flags_of(&view) == want, || {
                format!(
                    "the {what} view's flags for {}: want {want:?}, got {code} {}",
                    who.login(),
                    view["permissions"]
                )
            });
            if project {
                let role = who.role().map(|r| format!("{r:?}").to_lowercase());
                report.check(view["role"].as_str().map(str::to_owned) == role, || {
                    format!(
                        "the project view's role for {}: {}",
                        who.login(),
                        view["role"]
                    )
                });
            }
        }
    }
}

/// `following` flips with PUT and DELETE `follow`, for the caller alone.
fn following(w: &World, report: &mut Report) {
    let app = format!("/api/v1/applications/{}", w.var("app"));
    let follows = |who: Who| w.call(who, "GET", &app, None).1["following"].clone();
    report.check(follows(Who::Viewer) == false, || {
        "the viewer follows the application before asking to".into()
    });
    let (code, body) = w.call(Who::Viewer, "PUT", &format!("{app}/follow"), None);
    report.check(code == 204, || format!("follow: {code} {body}"));
    report.check(follows(Who::Viewer) == true, || {
        "after PUT follow, the viewer's view should say following".into()
    });
    report.check(follows(Who::Developer) == false, || {
        "the viewer's follow shows in the developer's view".into()
    });
    let (code, body) = w.call(Who::Viewer, "DELETE", &format!("{app}/follow"), None);
    report.check(code == 204, || format!("unfollow: {code} {body}"));
    report.check(follows(Who::Viewer) == false, || {
        "after DELETE follow, the viewer's view should not say following".into()
    });
}

/// An application matrix takes the developer's `execute` away; dropping
/// it gives it back.
fn matrix(w: &World, report: &mut Report) {
    let app = format!("/api/v1/applications/{}", w.application());
    let dispatch = |who: Who| {
        w.call(
            who,
            "POST",
            &format!("{app}/dispatch"),
            Some(json!({"ref": "main"})),
        )
    };
    let executes = |who: Who| {
        let (code, view) = w.call(who, "GET", &app, None);
        (
            code,
            view["permissions"]["can_execute"].clone(),
            view["permissions"]["can_view"].clone(),
        )
    };
    let (code, m) = w.call(
        Who::Owner,
        "PUT",
        &format!("{app}/permissions"),
        Some(json!({"roles": {"developer": ["view"]}})),
    );
    report.check(
        code == 200 && m["custom"] == true && m["roles"]["developer"] == json!(["view"]),
        || format!("setting the matrix: {code} {m}"),
    );
    let (code, body) = dispatch(Who::Developer);
    report.check(code == 403, || {
        format!("a developer whose role the matrix took `execute` from dispatched: {code} {body}")
    });
    report.check(
        executes(Who::Developer) == (200, json!(false), json!(true)),
        || {
            format!(
                "the developer's flags under the matrix: {:?}",
                executes(Who::Developer)
            )
        },
    );
    let (code, body) = dispatch(Who::Maintainer);
    report.check(code == 201, || {
        format!(
            "the matrix names only the developer, but the maintainer's dispatch got {code} {body}"
        )
    });
    let (code, m) = w.call(Who::Owner, "DELETE", &format!("{app}/permissions"), None);
    report.check(
        code == 200
            && m["custom"] == false
            && words(&m["roles"]["developer"]) == words(&json!(["view", "execute"])),
        || format!("dropping the matrix: {code} {m}"),
    );
    let (code, body) = dispatch(Who::Developer);
    report.check(code == 201, || {
        format!("after the matrix was dropped, the developer's dispatch got {code} {body}")
    });
    report.check(
        executes(Who::Developer) == (200, json!(true), json!(true)),
        || {
            format!(
                "the developer's flags after the matrix: {:?}",
                executes(Who::Developer)
            )
        },
    );
    let run = body["id"].as_str().unwrap_or("").to_owned();

    // A matrix that takes `view` hides the application and its runs; no
    // matrix takes the owners' `view` and `manage`.
    let (code, m) = w.call(
        Who::Owner,
        "PUT",
        &format!("{app}/permissions"),
        Some(json!({"roles": {"viewer": [], "owner": []}})),
    );
    report.check(
        code == 200
            && words(&m["roles"]["viewer"]).is_empty()
            && words(&m["roles"]["owner"]) == words(&json!(["view", "manage"])),
        || format!("a matrix taking `view` from viewers and everything from owners: {code} {m}"),
    );
    let id = app.rsplit('/').next().unwrap_or("").to_owned();
    let (code, body) = w.call(Who::Viewer, "GET", &app, None);
    report.check(code == 403, || {
        format!("a viewer whose `view` the matrix took read the application: {code} {body}")
    });
    let (_, list) = w.call(
        Who::Viewer,
        "GET",
        "/api/v1/applications?per_page=100",
        None,
    );
    report.check(!ids_of(&list).contains(&id), || {
        format!("the viewer's application list shows an application hidden from viewers: {list}")
    });
    let (_, list) = w.call(Who::Viewer, "GET", "/api/v1/runs?per_page=100", None);
    report.check(!run.is_empty() && !ids_of(&list).contains(&run), || {
        format!(
            "the viewer's run list shows run {run} of an application hidden from viewers: {list}"
        )
    });
    let (code, view) = w.call(Who::Owner, "GET", &app, None);
    report.check(
        code == 200
            && view["permissions"]["can_view"] == true
            && view["permissions"]["can_manage"] == true
            && view["permissions"]["can_execute"] == false,
        || {
            format!(
                "the owner under a matrix giving owners nothing: {code} {}",
                view["permissions"]
            )
        },
    );
    let (code, m) = w.call(Who::Owner, "DELETE", &format!("{app}/permissions"), None);
    report.check(code == 200, || {
        format!("an owner dropping the matrix: {code} {m}")
    });
}

/// The strings of a JSON list, as a set.
fn words(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|w| w.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Gates that list a role or a login take their decisions alone.
fn gates(w: &World, report: &mut Report) {
    let approve = |who: Who, run: &str| {
        w.call(
            who,
            "POST",
            &format!("/api/v1/runs/{run}/stages/gate/approve"),
            Some(json!({"comment": "ok"})),
        )
    };
    let cases = [
        ("gate-role", Who::Developer, Who::Maintainer),
        ("gate-login", Who::Maintainer, Who::Developer),
    ];
    for (workflow, refused, taken) in cases {
        let run = w.runs(1, workflow, Some("waiting_approval")).remove(0);
        let (code, body) = approve(refused, &run);
        report.check(code == 403 && body["error"]["code"] == "forbidden", || {
            format!(
                "{workflow}: {} is not an approver but got {code} {body}",
                refused.login()
            )
        });
        let (code, body) = approve(taken, &run);
        report.check(code == 200, || {
            format!(
                "{workflow}: {} is an approver but got {code} {body}",
                taken.login()
            )
        });
        if code == 200 {
            w.wait_status(&run, "passed");
            let r = w.must("GET", &format!("/api/v1/runs/{run}"), None, 200);
            let by = &r["stages"][0]["approvals"][0];
            report.check(
                by["by"] == taken.login() && by["by_id"] == w.ids[taken.login()].as_str(),
                || {
                    format!(
                        "{workflow}: the decision should record {}: {by}",
                        taken.login()
                    )
                },
            );
        }
    }
}

/// A session acts with its user's rights, no more, and cannot make
/// another session.
fn sessions(w: &World, report: &mut Report) {
    let (code, made) = w.call(Who::Viewer, "POST", "/api/v1/sessions", Some(json!({})));
    report.check(code == 201 && made["user"]["login"] == "viewer", || {
        format!("the viewer's session: {code} {made}")
    });
    let Some(jwt) = made["token"].as_str() else {
        return;
    };
    let project = w.project_path();
    let (code, body) = w.server.call_as(Some(jwt), "GET", &project, None);
    report.check(code == 200 && body["role"] == "viewer", || {
        format!("the viewer's session reading P: {code} {body}")
    });
    let (code, body) = w.server.call_as(
        Some(jwt),
        "PATCH",
        &project,
        Some(json!({"description": "by a session"})),
    );
    report.check(code == 403, || {
        format!("the viewer's session changing P: {code} {body}")
    });
    let (code, body) = w
        .server
        .call_as(Some(jwt), "POST", "/api/v1/sessions", Some(json!({})));
    report.check(code == 403, || {
        format!("a session making another session: {code} {body}")
    });
}

/// The paths of an error answer's details.
fn detail_paths(answer: &Value) -> Vec<String> {
    answer["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Unknown users, roles that do not exist, the last owner, taken logins:
/// each a 4xx naming the field, and nothing changed.
fn bad_input(w: &World, report: &mut Report) {
    let members = format!("{}/members", w.project_path());
    let before = w.call(Who::Owner, "GET", &members, None).1;
    let cases: [(&str, String, Option<Value>, u16, &str); 4] = [
        (
            "PUT",
            format!("{members}/nobody"),
            Some(json!({"role": "viewer"})),
            400,
            "user",
        ),
        (
            "PUT",
            format!("{members}/extra"),
            Some(json!({"role": "admin"})),
            400,
            "role",
        ),
        (
            "PUT",
            format!("{members}/owner"),
            Some(json!({"role": "maintainer"})),
            409,
            "owner",
        ),
        ("DELETE", format!("{members}/owner"), None, 409, "owner"),
    ];
    for (method, path, body, want, field) in cases {
        let (code, answer) = w.call(Who::Owner, method, &path, body.clone());
        named(
            report,
            &format!("{method} {path} {body:?}"),
            code,
            &answer,
            want,
            field,
        );
    }
    let after = w.call(Who::Owner, "GET", &members, None).1;
    report.check(before == after && before["total"] == 4, || {
        format!("refused member changes changed the members: {before} → {after}")
    });

    let users_before = w.must("GET", "/api/v1/users", None, 200)["total"].clone();
    let tokens_before = w.must("GET", "/api/v1/tokens", None, 200)["total"].clone();
    let (code, answer) = w
        .server
        .call("POST", "/api/v1/users", Some(json!({"login": "viewer"})));
    named(
        report,
        "POST /api/v1/users with a taken login",
        code,
        &answer,
        409,
        "login",
    );
    let (code, answer) = w.server.call(
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "t-nobody", "user": "nobody"})),
    );
    named(
        report,
        "POST /api/v1/tokens for an unknown user",
        code,
        &answer,
        400,
        "user",
    );
    let (code, answer) = w
        .server
        .call("POST", "/api/v1/tokens", Some(json!({"name": "viewer"})));
    named(
        report,
        "POST /api/v1/tokens making an account of a taken login",
        code,
        &answer,
        409,
        "viewer",
    );
    let users_after = w.must("GET", "/api/v1/users", None, 200)["total"].clone();
    let tokens_after = w.must("GET", "/api/v1/tokens", None, 200)["total"].clone();
    report.check(
        users_before == users_after && tokens_before == tokens_after,
        || {
            format!(
                "refused user and token requests changed the counts: users {users_before} → \
             {users_after}, tokens {tokens_before} → {tokens_after}"
            )
        },
    );
}

/// Checks a refusal: status `want`, and `field` named (in the details'
/// paths for a 400, in the message for a 409).
fn named(report: &mut Report, what: &str, code: u16, answer: &Value, want: u16, field: &str) {
    report.check(code == want, || {
        format!("{what}: expected {want}, got {code}: {answer}")
    });
    if code != want {
        return;
    }
    let ok = if want == 400 {
        detail_paths(answer).iter().any(|p| p == field)
    } else {
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(field))
    };
    report.check(ok, || {
        format!("{what}: the answer does not name `{field}`: {answer}")
    });
}

fn scenario(backend: &str, db: Option<&str>) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let world = setup(dir.path(), db);
    let set_up = started.elapsed();
    let mut report = Report::default();
    coverage(&world, &mut report);
    assert!(
        report.failures.is_empty(),
        "{backend}:\n{}",
        report.failures.join("\n")
    );
    // The facts first: the table's rows make projects (and so owners) of
    // every caller.
    lists(&world, &mut report);
    flags(&world, &mut report);
    following(&world, &mut report);
    matrix(&world, &mut report);
    gates(&world, &mut report);
    sessions(&world, &mut report);
    bad_input(&world, &mut report);
    let table_started = Instant::now();
    run_table(&world, &mut report);
    remove_namespaces(&world);
    eprintln!(
        "{backend}: {} rows × {} callers ({} requests) in {:.1} s; set-up {:.1} s; whole suite {:.1} s",
        TABLE.len(),
        CALLERS.len(),
        report.requests,
        table_started.elapsed().as_secs_f64(),
        set_up.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.failures.is_empty(),
        "{backend}: {} disagreement(s) with docs/security.md:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
}

#[test]
fn every_route_for_every_role_sqlite() {
    scenario("sqlite", None);
}

#[test]
fn every_route_for_every_role_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario("postgres", Some(&db.url));
}
