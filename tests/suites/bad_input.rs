//! Bad input for every route: missing, wrong and revoked tokens get 401;
//! malformed bodies, wrong types, unknown enum words, unknown ids and
//! oversize bodies get the right 4xx; every error has the one shape and
//! nothing answers 500. Also: every route is in the OpenAPI document, and
//! every route in the document answers; secret values and webhook secrets
//! are never shown; webhooks need the right signature.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_testkit::plan::shell_workflow;
use slipway_tests::server::{ADMIN, Server, read_with_header};
use std::collections::BTreeSet;

/// Every route of the server: method and path template.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/projects"),
    ("GET", "/api/v1/projects"),
    ("GET", "/api/v1/projects/{id}"),
    ("PATCH", "/api/v1/projects/{id}"),
    ("DELETE", "/api/v1/projects/{id}"),
    ("POST", "/api/v1/projects/{id}/workflows"),
    ("GET", "/api/v1/projects/{id}/workflows"),
    ("GET", "/api/v1/workflows/{id}"),
    ("PUT", "/api/v1/workflows/{id}"),
    ("DELETE", "/api/v1/workflows/{id}"),
    ("GET", "/api/v1/workflows/{id}/versions"),
    ("POST", "/api/v1/workflows/{id}/runs"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{id}"),
    ("POST", "/api/v1/runs/{id}/cancel"),
    ("POST", "/api/v1/runs/{id}/retry"),
    ("POST", "/api/v1/runs/{id}/stages/{stage}/approve"),
    ("POST", "/api/v1/runs/{id}/stages/{stage}/reject"),
    ("GET", "/api/v1/runs/{id}/jobs/{job}/log"),
    ("GET", "/api/v1/runs/{id}/jobs/{job}/log/stream"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("POST", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions"),
    ("POST", "/api/v1/runs/{id}/redeploy"),
    ("POST", "/api/v1/projects/{id}/applications"),
    ("GET", "/api/v1/projects/{id}/applications"),
    ("GET", "/api/v1/applications"),
    ("GET", "/api/v1/applications/{id}"),
    ("PATCH", "/api/v1/applications/{id}"),
    ("DELETE", "/api/v1/applications/{id}"),
    ("POST", "/api/v1/applications/{id}/dispatch"),
    ("POST", "/api/v1/projects/{id}/repositories"),
    ("GET", "/api/v1/projects/{id}/repositories"),
    ("GET", "/api/v1/repositories"),
    ("GET", "/api/v1/repositories/{id}"),
    ("PATCH", "/api/v1/repositories/{id}"),
    ("DELETE", "/api/v1/repositories/{id}"),
    ("POST", "/api/v1/projects/{id}/namespaces"),
    ("GET", "/api/v1/namespaces"),
    ("GET", "/api/v1/namespaces/{namespace}"),
    ("DELETE", "/api/v1/namespaces/{namespace}"),
    ("PUT", "/api/v1/namespaces/{namespace}/workloads"),
    ("GET", "/api/v1/namespaces/{namespace}/workloads"),
    ("GET", "/api/v1/namespaces/{namespace}/workloads/{name}"),
    ("DELETE", "/api/v1/namespaces/{namespace}/workloads/{name}"),
    (
        "POST",
        "/api/v1/namespaces/{namespace}/workloads/{name}/start",
    ),
    (
        "POST",
        "/api/v1/namespaces/{namespace}/workloads/{name}/stop",
    ),
    (
        "POST",
        "/api/v1/namespaces/{namespace}/workloads/{name}/restart",
    ),
    (
        "POST",
        "/api/v1/namespaces/{namespace}/workloads/{name}/scale",
    ),
    ("GET", "/api/v1/projects/{id}/secrets"),
    ("PUT", "/api/v1/projects/{id}/secrets/{name}"),
    ("DELETE", "/api/v1/projects/{id}/secrets/{name}"),
    ("GET", "/api/v1/applications/{id}/secrets"),
    ("PUT", "/api/v1/applications/{id}/secrets/{name}"),
    ("DELETE", "/api/v1/applications/{id}/secrets/{name}"),
    ("GET", "/api/v1/workflows/{id}/schedules"),
    ("POST", "/api/v1/workflows/{id}/schedules"),
    ("GET", "/api/v1/applications/{id}/schedules"),
    ("POST", "/api/v1/applications/{id}/schedules"),
    ("GET", "/api/v1/schedules/{id}"),
    ("PATCH", "/api/v1/schedules/{id}"),
    ("DELETE", "/api/v1/schedules/{id}"),
    ("POST", "/api/v1/hooks/{provider}/{application_id}"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/{id}"),
    ("PATCH", "/api/v1/users/{id}"),
    ("GET", "/api/v1/user"),
    ("GET", "/api/v1/projects/{id}/members"),
    ("PUT", "/api/v1/projects/{id}/members/{user}"),
    ("DELETE", "/api/v1/projects/{id}/members/{user}"),
    ("GET", "/api/v1/applications/{id}/permissions"),
    ("PUT", "/api/v1/applications/{id}/permissions"),
    ("DELETE", "/api/v1/applications/{id}/permissions"),
    ("PUT", "/api/v1/applications/{id}/follow"),
    ("DELETE", "/api/v1/applications/{id}/follow"),
];

/// Routes under `/api/v1` that take no bearer token (the webhook route is
/// authenticated by the sender's signature).
const PUBLIC: &[&str] = &["/api/v1/hooks/{provider}/{application_id}"];

/// The workflow the fixtures and the YAML bodies use.
fn workflow() -> String {
    shell_workflow("tiny", "echo hi")
}

fn fill(template: &str) -> String {
    template
        .replace("{id}", "x")
        .replace("{stage}", "x")
        .replace("{job}", "x")
        .replace("{name}", "X")
        .replace("{provider}", "x")
        .replace("{application_id}", "x")
        .replace("{user}", "x")
}

/// An application body for the fixture project.
fn application(name: &str, provider: &str) -> Value {
    json!({
        "name": name,
        "repository": {
            "provider": provider,
            "owner": "acme",
            "name": "shop",
            "url": "https://git.example.com/acme/shop.git"
        },
        "triggers": [{"event": "push", "filter": "body.ref == \"refs/heads/main\""}]
    })
}

/// An application body with one value set (`at` is a JSON pointer; the
/// last key is added when absent).
fn application_with(at: &str, value: Value) -> String {
    let mut body = application("other", "github");
    let (parent, key) = at.rsplit_once('/').unwrap();
    match body.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("cannot set {at} in {other}"),
    }
    body.to_string()
}

/// The same, without the value at `at` (a top-level key).
fn application_without(key: &str) -> String {
    let mut body = application("other", "github");
    body.as_object_mut().unwrap().remove(key);
    body.to_string()
}

fn assert_shape(what: &str, code: u16, body: &Value) {
    assert!(code < 500, "{what}: server error {code}: {body}");
    let err = &body["error"];
    assert!(err["code"].is_string(), "{what}: no error code in {body}");
    assert!(err["message"].is_string(), "{what}: no message in {body}");
    assert!(err["details"].is_array(), "{what}: no details in {body}");
}

struct Case {
    name: &'static str,
    token: Option<String>,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    detail: Option<&'static str>,
}

fn case(name: &'static str, method: &'static str, path: String, status: u16) -> Case {
    Case {
        name,
        token: Some(ADMIN.to_owned()),
        method,
        path,
        content_type: None,
        body: Vec::new(),
        headers: Vec::new(),
        status,
        detail: None,
    }
}

impl Case {
    fn json(mut self, body: &str) -> Case {
        self.content_type = Some("application/json");
        self.body = body.as_bytes().to_vec();
        self
    }
    fn body(mut self, ct: &'static str, body: Vec<u8>) -> Case {
        self.content_type = Some(ct);
        self.body = body;
        self
    }
    fn token(mut self, t: &str) -> Case {
        self.token = Some(t.to_owned());
        self
    }
    fn header(mut self, k: &'static str, v: &'static str) -> Case {
        self.headers.push((k, v));
        self
    }
    fn at(mut self, path: &'static str) -> Case {
        self.detail = Some(path);
        self
    }
}

#[test]
fn bad_input_for_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &["--body-limit", "65536"]);

    // Fixtures: a project, a workflow, a finished run, a plain token and a
    // revoked one.
    let wf = server.workflow("fixtures", &workflow());
    let (_, w) = server.call("GET", &format!("/api/v1/workflows/{wf}"), None);
    let project = w["project_id"].as_str().unwrap().to_owned();
    let run = server.start_run(&wf);
    server.wait_run(&run, 30, |r| r["status"] == "passed");
    let (code, plain) = server.call("POST", "/api/v1/tokens", Some(json!({"name": "plain"})));
    assert_eq!(code, 201, "{plain}");
    let plain_secret = plain["secret"].as_str().unwrap().to_owned();
    let (code, gone) = server.call("POST", "/api/v1/tokens", Some(json!({"name": "gone"})));
    assert_eq!(code, 201);
    let gone_secret = gone["secret"].as_str().unwrap().to_owned();
    let (code, _) = server.call_as(Some(&gone_secret), "GET", "/api/v1/projects", None);
    assert_eq!(code, 200, "the token works before it is revoked");
    let (code, app) = server.call(
        "POST",
        &format!("/api/v1/projects/{project}/applications"),
        Some(application("shop", "github")),
    );
    assert_eq!(code, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    // A named repository, and an application that uses it.
    let (code, named) = server.call(
        "POST",
        &format!("/api/v1/projects/{project}/repositories"),
        Some(json!({"name": "shop-repo", "url": "https://git.example.com/acme/shop.git"})),
    );
    assert_eq!(code, 201, "{named}");
    let (code, user) = server.call(
        "POST",
        &format!("/api/v1/projects/{project}/applications"),
        Some(json!({"name": "shop-user", "repository_ref": "shop-repo"})),
    );
    assert_eq!(code, 201, "{user}");
    assert_eq!(user["repository_ref"], named["id"], "{user}");
    assert_eq!(user["repository"]["url"], named["url"], "{user}");
    let (code, schedule) = server.call(
        "POST",
        &format!("/api/v1/workflows/{wf}/schedules"),
        Some(json!({"expression": "0 0 1 1 *", "timezone": "Europe/Berlin"})),
    );
    assert_eq!(code, 201, "{schedule}");
    assert_eq!(schedule["target"], "workflow", "{schedule}");
    assert!(schedule["next_fire_at"].is_string(), "{schedule}");
    assert!(schedule["description"].is_string(), "{schedule}");
    let schedule = schedule["id"].as_str().unwrap().to_owned();
    let gone_id = gone["id"].as_str().unwrap();
    let (code, _) = server.call("DELETE", &format!("/api/v1/tokens/{gone_id}"), None);
    assert_eq!(code, 204);
    let (code, list) = server.call("GET", "/api/v1/tokens", None);
    assert_eq!(code, 200);
    assert!(
        list.to_string().find("secret").is_none(),
        "no secrets in lists"
    );

    // Missing, wrong and revoked tokens on every /api/v1 route.
    for (method, template) in ROUTES
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1") && !PUBLIC.contains(p))
    {
        let path = fill(template);
        for token in [None, Some("slw_wrong"), Some(gone_secret.as_str())] {
            let (code, body) = server.call_as(token, method, &path, None);
            let what = format!("{method} {path} with {token:?}");
            assert_eq!(code, 401, "{what}: {body}");
            assert_shape(&what, code, &body);
            assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        }
    }

    let big = vec![b' '; 70_000];
    let mut big_json = b"{\"name\": \"".to_vec();
    big_json.extend(std::iter::repeat_n(b'a', 70_000));
    big_json.extend(b"\"}");
    let p = |s: &str| format!("/api/v1/projects{s}");
    let w = |s: &str| format!("/api/v1/workflows/{wf}{s}");
    let r = |s: &str| format!("/api/v1/runs/{run}{s}");
    let a = |s: &str| format!("/api/v1/applications/{app}{s}");
    let pa = format!("/api/v1/projects/{project}/applications");
    let pr = format!("/api/v1/projects/{project}/repositories");
    let ns = "/api/v1/namespaces";
    let ps = |s: &str| format!("/api/v1/projects/{project}/secrets{s}");
    let sc = |s: &str| format!("/api/v1/schedules/{schedule}{s}");
    let hook = |provider: &str| format!("/api/v1/hooks/{provider}/{app}");
    let cases = vec![
        // projects
        case("malformed json", "POST", p(""), 400).json("{\"name\":"),
        case("wrong type", "POST", p(""), 400)
            .json("{\"name\": 5}")
            .at("name"),
        case("unknown field", "POST", p(""), 400)
            .json("{\"nme\": \"x\"}")
            .at("nme"),
        case("missing name", "POST", p(""), 400)
            .json("{}")
            .at("name"),
        case("blank name", "POST", p(""), 400)
            .json("{\"name\": \"\"}")
            .at("name"),
        case("not an object", "POST", p(""), 400).json("[1, 2]"),
        case("duplicate name", "POST", p(""), 409).json("{\"name\": \"fixtures\"}"),
        case("oversize body", "POST", p(""), 413).body("application/json", big_json.clone()),
        case("oversize blanks", "POST", p(""), 413).body("application/json", big.clone()),
        case("not json", "POST", p(""), 415).body("text/plain", b"name=x".to_vec()),
        case("page 0", "GET", p("?page=0"), 400).at("page"),
        case("per_page too big", "GET", p("?per_page=101"), 400).at("per_page"),
        case("per_page not a number", "GET", p("?per_page=many"), 400).at("per_page"),
        case("unknown sort", "GET", p("?sort=colour"), 400).at("sort"),
        case("unknown project", "GET", p("/nope"), 404),
        case("update unknown project", "PATCH", p("/nope"), 404).json("{\"name\": \"y\"}"),
        case("update wrong type", "PATCH", p(&format!("/{project}")), 400)
            .json("{\"name\": []}")
            .at("name"),
        case("delete unknown project", "DELETE", p("/nope"), 404),
        // workflows
        case(
            "workflows of unknown project",
            "GET",
            p("/nope/workflows"),
            404,
        ),
        case("bad yaml", "POST", p(&format!("/{project}/workflows")), 400)
            .body("application/yaml", b"name: [".to_vec()),
        case(
            "definition without stages",
            "POST",
            p(&format!("/{project}/workflows")),
            400,
        )
        .body("application/yaml", b"name: empty\n".to_vec())
        .at("stages"),
        case(
            "job name too long to ever run",
            "POST",
            p(&format!("/{project}/workflows")),
            400,
        )
        .body(
            "application/json",
            json!({"name": "long", "stages": [{"name": "s", "jobs": [
                {"name": "j".repeat(250), "kind": "shell", "spec": {"steps": [{"script": "true"}]}}
            ]}]})
            .to_string()
            .into_bytes(),
        )
        .at("stages[0].jobs[0].name"),
        case(
            "definition with a typo",
            "POST",
            p(&format!("/{project}/workflows")),
            400,
        )
        .json("{\"name\": \"t\", \"stagez\": []}"),
        case(
            "workflow in unknown project",
            "POST",
            p("/nope/workflows"),
            404,
        )
        .body("application/yaml", workflow().into_bytes()),
        case(
            "oversize definition",
            "POST",
            p(&format!("/{project}/workflows")),
            413,
        )
        .body("application/yaml", big.clone()),
        case(
            "empty definition",
            "POST",
            p(&format!("/{project}/workflows")),
            400,
        ),
        case(
            "unknown workflow",
            "GET",
            "/api/v1/workflows/nope".into(),
            404,
        ),
        case("unknown version", "GET", w("?version=99"), 404),
        case("version not a number", "GET", w("?version=abc"), 400).at("version"),
        case(
            "update unknown workflow",
            "PUT",
            "/api/v1/workflows/nope".into(),
            404,
        )
        .body("application/yaml", workflow().into_bytes()),
        case("rename through update", "PUT", w(""), 400)
            .body(
                "application/yaml",
                workflow().replace("tiny", "other").into_bytes(),
            )
            .at("name"),
        case(
            "versions of unknown workflow",
            "GET",
            "/api/v1/workflows/nope/versions".into(),
            404,
        ),
        case(
            "delete unknown workflow",
            "DELETE",
            "/api/v1/workflows/nope".into(),
            404,
        ),
        // runs
        case("unknown param", "POST", w("/runs"), 400)
            .json("{\"params\": {\"nope\": 1}}")
            .at("params.nope"),
        case("params not a map", "POST", w("/runs"), 400)
            .json("{\"params\": []}")
            .at("params"),
        case("version wrong type", "POST", w("/runs"), 400)
            .json("{\"version\": \"x\"}")
            .at("version"),
        case("run unknown version", "POST", w("/runs"), 404).json("{\"version\": 7}"),
        case(
            "run unknown workflow",
            "POST",
            "/api/v1/workflows/nope/runs".into(),
            404,
        )
        .json("{}"),
        case(
            "unknown status word",
            "GET",
            "/api/v1/runs?status=done".into(),
            400,
        )
        .at("status"),
        case(
            "unknown order word",
            "GET",
            "/api/v1/runs?order=sideways".into(),
            400,
        )
        .at("order"),
        case("unknown run", "GET", "/api/v1/runs/nope".into(), 404),
        case(
            "cancel unknown run",
            "POST",
            "/api/v1/runs/nope/cancel".into(),
            404,
        ),
        case("cancel finished run", "POST", r("/cancel"), 409),
        case(
            "retry unknown run",
            "POST",
            "/api/v1/runs/nope/retry".into(),
            404,
        ),
        case("retry passed run", "POST", r("/retry"), 409),
        case(
            "approve stage not waiting",
            "POST",
            r("/stages/only/approve"),
            409,
        ),
        case(
            "approve unknown stage",
            "POST",
            r("/stages/nope/approve"),
            404,
        ),
        case(
            "reject unknown run",
            "POST",
            "/api/v1/runs/nope/stages/only/reject".into(),
            404,
        ),
        case("comment wrong type", "POST", r("/stages/only/reject"), 400)
            .json("{\"comment\": 5}")
            .at("comment"),
        // logs
        case("log of unknown job", "GET", r("/jobs/nope/log"), 404),
        case(
            "log of unknown run",
            "GET",
            "/api/v1/runs/nope/jobs/work/log".into(),
            404,
        ),
        case(
            "unknown log format",
            "GET",
            r("/jobs/work/log?format=xml"),
            400,
        )
        .at("format"),
        case(
            "negative tail",
            "GET",
            r("/jobs/work/log/stream?tail=-1"),
            400,
        )
        .at("tail"),
        case("bad Last-Event-ID", "GET", r("/jobs/work/log/stream"), 400)
            .header("Last-Event-ID", "abc")
            .at("Last-Event-ID"),
        case(
            "stream of unknown job",
            "GET",
            r("/jobs/nope/log/stream"),
            404,
        ),
        // tokens
        case(
            "create token, not admin",
            "POST",
            "/api/v1/tokens".into(),
            403,
        )
        .token(&plain_secret)
        .json("{\"name\": \"x\"}"),
        case(
            "list tokens, not admin",
            "GET",
            "/api/v1/tokens".into(),
            403,
        )
        .token(&plain_secret),
        case(
            "revoke token, not admin",
            "DELETE",
            "/api/v1/tokens/x".into(),
            403,
        )
        .token(&plain_secret),
        case(
            "token name wrong type",
            "POST",
            "/api/v1/tokens".into(),
            400,
        )
        .json("{\"name\": 1}")
        .at("name"),
        case(
            "token admin wrong type",
            "POST",
            "/api/v1/tokens".into(),
            400,
        )
        .json("{\"name\": \"x\", \"admin\": \"yes\"}")
        .at("admin"),
        case(
            "revoke unknown token",
            "DELETE",
            "/api/v1/tokens/nope".into(),
            404,
        ),
        // applications
        case("application without repository", "POST", pa.clone(), 400)
            .json(&application_without("repository"))
            .at("repository"),
        case("application without name", "POST", pa.clone(), 400)
            .json(&application_without("name"))
            .at("name"),
        case("application unknown field", "POST", pa.clone(), 400)
            .json(&application_with("/triggers/0/filtr", json!("")))
            .at("triggers[0].filtr"),
        case("application bad provider", "POST", pa.clone(), 400)
            .json(&application_with("/repository/provider", json!("svn")))
            .at("repository.provider"),
        case("application blank owner", "POST", pa.clone(), 400)
            .json(&application_with("/repository/owner", json!(" ")))
            .at("repository.owner"),
        case("application bad url", "POST", pa.clone(), 400)
            .json(&application_with("/repository/url", json!("ftp://x/y")))
            .at("repository.url"),
        case("application bad trigger event", "POST", pa.clone(), 400)
            .json(&application_with("/triggers/0/event", json!("merge")))
            .at("triggers[0].event"),
        case("application filter syntax error", "POST", pa.clone(), 400)
            .json(&application_with(
                "/triggers/0/filter",
                json!("body.ref =="),
            ))
            .at("triggers[0].filter"),
        case("application template path with ..", "POST", pa.clone(), 400)
            .json(&application_with("/template_path", json!("../deploy.yaml")))
            .at("template_path"),
        case(
            "application absolute trigger template",
            "POST",
            pa.clone(),
            400,
        )
        .json(&application_with(
            "/triggers/0/template",
            json!("/etc/x.yaml"),
        ))
        .at("triggers[0].template"),
        case("application bad default branch", "POST", pa.clone(), 400)
            .json(&application_with("/default_branch", json!("a b")))
            .at("default_branch"),
        case("application wrong type", "POST", pa.clone(), 400)
            .json(&application_with("/cancel_superseded", json!("yes")))
            .at("cancel_superseded"),
        case("application triggers not a list", "POST", pa.clone(), 400)
            .json(&application_with("/triggers", json!({})))
            .at("triggers"),
        case("application duplicate name", "POST", pa.clone(), 409)
            .json(&application("shop", "github").to_string()),
        case(
            "application in unknown project",
            "POST",
            p("/nope/applications"),
            404,
        )
        .json(&application("x", "github").to_string()),
        case("application oversize", "POST", pa.clone(), 413)
            .body("application/json", big_json.clone()),
        case("application not json", "POST", pa.clone(), 415)
            .body("text/plain", b"name=x".to_vec()),
        case(
            "applications of unknown project",
            "GET",
            p("/nope/applications"),
            404,
        ),
        case(
            "applications unknown sort",
            "GET",
            "/api/v1/applications?sort=colour".into(),
            400,
        )
        .at("sort"),
        case(
            "applications unknown order",
            "GET",
            format!("{pa}?order=sideways"),
            400,
        )
        .at("order"),
        case(
            "applications unknown last_status",
            "GET",
            "/api/v1/applications?last_status=done".into(),
            400,
        )
        .at("last_status"),
        case(
            "applications per_page too big",
            "GET",
            "/api/v1/applications?per_page=101".into(),
            400,
        )
        .at("per_page"),
        case(
            "unknown application",
            "GET",
            "/api/v1/applications/nope".into(),
            404,
        ),
        case(
            "update unknown application",
            "PATCH",
            "/api/v1/applications/nope".into(),
            404,
        )
        .json("{\"name\": \"y\"}"),
        case("update application wrong type", "PATCH", a(""), 400)
            .json("{\"triggers\": [{\"event\": 1}]}")
            .at("triggers[0].event"),
        case("update application bad provider", "PATCH", a(""), 400)
            .json("{\"repository\": {\"provider\": \"svn\"}}")
            .at("repository.provider"),
        case("update application unknown field", "PATCH", a(""), 400)
            .json("{\"repository\": {\"branch\": \"x\"}}")
            .at("repository.branch"),
        case(
            "delete unknown application",
            "DELETE",
            "/api/v1/applications/nope".into(),
            404,
        ),
        // namespaces and workloads
        case("namespace bad name", "POST", p(&format!("/{project}/namespaces")), 400)
            .json(r#"{"name": "Bad_Name"}"#)
            .at("name"),
        case("namespace without name", "POST", p(&format!("/{project}/namespaces")), 400)
            .json("{}")
            .at("name"),
        case("namespace in unknown project", "POST", p("/nope/namespaces"), 404)
            .json(r#"{"name": "lost"}"#),
        case("unknown namespace", "GET", format!("{ns}/nope"), 404),
        case("delete unknown namespace", "DELETE", format!("{ns}/nope"), 404),
        case("workloads of unknown namespace", "GET", format!("{ns}/nope/workloads"), 404),
        case("deploy a job", "PUT", format!("{ns}/bi-ns/workloads"), 400)
            .json(r#"{"kind": "job", "name": "once", "command": "true"}"#)
            .at("kind"),
        case("deploy a service without port", "PUT", format!("{ns}/bi-ns/workloads"), 400)
            .json(r#"{"kind": "service", "name": "web", "command": "true"}"#)
            .at("port"),
        case("deploy a bad name", "PUT", format!("{ns}/bi-ns/workloads"), 400)
            .json(r#"{"kind": "deployment", "name": "Not A Label", "command": "true"}"#)
            .at("name"),
        case("deploy out of the files", "PUT", format!("{ns}/bi-ns/workloads"), 400)
            .json(r#"{"kind": "deployment", "name": "escape", "command": "true", "workdir": "../up"}"#)
            .at("workdir"),
        case("deploy without command", "PUT", format!("{ns}/bi-ns/workloads"), 400)
            .json(r#"{"kind": "deployment", "name": "nothing"}"#)
            .at("command"),
        case("unknown workload", "GET", format!("{ns}/bi-ns/workloads/nope"), 404),
        case("delete unknown workload", "DELETE", format!("{ns}/bi-ns/workloads/nope"), 404),
        case("start unknown workload", "POST", format!("{ns}/bi-ns/workloads/nope/start"), 404),
        case("stop unknown workload", "POST", format!("{ns}/bi-ns/workloads/nope/stop"), 404),
        case("restart unknown workload", "POST", format!("{ns}/bi-ns/workloads/nope/restart"), 404),
        case("scale without instances", "POST", format!("{ns}/bi-ns/workloads/nope/scale"), 400)
            .json("{}")
            .at("instances"),
        case("scale by a word", "POST", format!("{ns}/bi-ns/workloads/nope/scale"), 400)
            .json(r#"{"instances": "many"}"#)
            .at("instances"),
        // named repositories
        case("repository bad name", "POST", pr.clone(), 400)
            .json(r#"{"name": "Shop_Repo", "url": "https://git.example.com/a.git"}"#)
            .at("name"),
        case("repository named like an id", "POST", pr.clone(), 400)
            .json(r#"{"name": "6f1c2b0e-8d2a-4c1e-9a3b-2f4d5e6a7b8c", "url": "https://x.example.com/a.git"}"#)
            .at("name"),
        case("repository without url", "POST", pr.clone(), 400)
            .json(r#"{"name": "no-url"}"#)
            .at("url"),
        case("repository bad url", "POST", pr.clone(), 400)
            .json(r#"{"name": "bad-url", "url": "ftp://x/y"}"#)
            .at("url"),
        case("repository bad provider", "POST", pr.clone(), 400)
            .json(r#"{"name": "bad-provider", "url": "https://x.example.com/a.git", "provider": "svn"}"#)
            .at("provider"),
        case("repository unknown secret", "POST", pr.clone(), 400)
            .json(r#"{"name": "no-secret", "url": "https://x.example.com/a.git", "credentials_secret": "NOT_SET"}"#)
            .at("credentials_secret"),
        case("repository unknown field", "POST", pr.clone(), 400)
            .json(r#"{"name": "typo", "url": "https://x.example.com/a.git", "branch": "main"}"#)
            .at("branch"),
        case("repository duplicate name", "POST", pr.clone(), 409)
            .json(r#"{"name": "shop-repo", "url": "https://x.example.com/a.git"}"#),
        case("repository in unknown project", "POST", p("/nope/repositories"), 404)
            .json(r#"{"name": "lost", "url": "https://x.example.com/a.git"}"#),
        case("repositories of unknown project", "GET", p("/nope/repositories"), 404),
        case("repositories unknown sort", "GET", "/api/v1/repositories?sort=colour".into(), 400)
            .at("sort"),
        case("unknown repository", "GET", "/api/v1/repositories/nope".into(), 404),
        case("update repository bad branch", "PATCH", "/api/v1/repositories/shop-repo".into(), 400)
            .json(r#"{"default_branch": "a b"}"#)
            .at("default_branch"),
        case("update unknown repository", "PATCH", "/api/v1/repositories/nope".into(), 404)
            .json(r#"{"url": "https://x.example.com/a.git"}"#),
        case("delete unknown repository", "DELETE", "/api/v1/repositories/nope".into(), 404),
        case("delete repository in use", "DELETE", "/api/v1/repositories/shop-repo".into(), 409),
        case("application on unknown repository", "POST", pa.clone(), 400)
            .json(r#"{"name": "lost", "repository_ref": "nope"}"#)
            .at("repository_ref"),
        case("application with url and repository_ref", "POST", pa.clone(), 400)
            .json(r#"{"name": "both", "repository_ref": "shop-repo", "repository": {"provider": "github", "owner": "a", "name": "b", "url": "https://x.example.com/b.git"}}"#)
            .at("repository.url"),
        // dispatch and redeploy
        case("dispatch without ref", "POST", a("/dispatch"), 400)
            .json("{}")
            .at("ref"),
        case("dispatch blank ref", "POST", a("/dispatch"), 400)
            .json("{\"ref\": \" \"}")
            .at("ref"),
        case("dispatch bad commit", "POST", a("/dispatch"), 400)
            .json("{\"ref\": \"main\", \"commit\": \"xyz\"}")
            .at("commit"),
        case("dispatch inputs not a map", "POST", a("/dispatch"), 400)
            .json("{\"ref\": \"main\", \"inputs\": []}")
            .at("inputs"),
        case(
            "dispatch unknown application",
            "POST",
            "/api/v1/applications/nope/dispatch".into(),
            404,
        )
        .json("{\"ref\": \"main\"}"),
        case(
            "redeploy unknown run",
            "POST",
            "/api/v1/runs/nope/redeploy".into(),
            404,
        ),
        // secrets (names and values are checked before the key is used)
        case("secret name in lower case", "PUT", ps("/lower-case"), 400)
            .json("{\"value\": \"v\"}")
            .at("name"),
        case("secret name reserved", "PUT", ps("/SLIPWAY_X"), 400)
            .json("{\"value\": \"v\"}")
            .at("name"),
        case("secret name CI", "PUT", a("/secrets/CI"), 400)
            .json("{\"value\": \"v\"}")
            .at("name"),
        case("secret empty value", "PUT", ps("/TOKEN"), 400)
            .json("{\"value\": \"\"}")
            .at("value"),
        case("secret without value", "PUT", ps("/TOKEN"), 400)
            .json("{}")
            .at("value"),
        case("secret value wrong type", "PUT", ps("/TOKEN"), 400)
            .json("{\"value\": 5}")
            .at("value"),
        case("secret value with a NUL", "PUT", ps("/TOKEN"), 400)
            .json("{\"value\": \"pass\\u0000word\"}")
            .at("value"),
        case("secret unknown field", "PUT", ps("/TOKEN"), 400)
            .json("{\"value\": \"v\", \"note\": \"x\"}")
            .at("note"),
        case(
            "secret of unknown project",
            "PUT",
            p("/nope/secrets/TOKEN"),
            404,
        )
        .json("{\"value\": \"v\"}"),
        case(
            "secret of unknown application",
            "PUT",
            "/api/v1/applications/nope/secrets/TOKEN".into(),
            404,
        )
        .json("{\"value\": \"v\"}"),
        case("secrets of unknown project", "GET", p("/nope/secrets"), 404),
        case(
            "secrets of unknown application",
            "GET",
            "/api/v1/applications/nope/secrets".into(),
            404,
        ),
        case("delete unknown secret", "DELETE", ps("/NOPE"), 404),
        case(
            "delete unknown app secret",
            "DELETE",
            a("/secrets/NOPE"),
            404,
        ),
        // schedules
        case("bad cron expression", "POST", w("/schedules"), 400)
            .json("{\"expression\": \"61 * * * *\"}")
            .at("expression"),
        case("cron with 7 fields", "POST", w("/schedules"), 400)
            .json("{\"expression\": \"* * * * * * *\"}")
            .at("expression"),
        case("cron never fires", "POST", a("/schedules"), 400)
            .json("{\"expression\": \"0 0 30 2 *\"}")
            .at("expression"),
        case("bad timezone", "POST", w("/schedules"), 400)
            .json("{\"expression\": \"@daily\", \"timezone\": \"Mars/Olympus\"}")
            .at("timezone"),
        case("schedule without expression", "POST", w("/schedules"), 400)
            .json("{}")
            .at("expression"),
        case("schedule params not strings", "POST", w("/schedules"), 400)
            .json("{\"expression\": \"@daily\", \"params\": {\"a\": 1}}")
            .at("params.a"),
        case("schedule bad ref", "POST", a("/schedules"), 400)
            .json("{\"expression\": \"@daily\", \"ref\": \"a..b\"}")
            .at("ref"),
        case("schedule unknown field", "POST", w("/schedules"), 400)
            .json("{\"expression\": \"@daily\", \"cron\": \"x\"}")
            .at("cron"),
        case(
            "schedule of unknown workflow",
            "POST",
            "/api/v1/workflows/nope/schedules".into(),
            404,
        )
        .json("{\"expression\": \"@daily\"}"),
        case(
            "schedules of unknown application",
            "GET",
            "/api/v1/applications/nope/schedules".into(),
            404,
        ),
        case(
            "unknown schedule",
            "GET",
            "/api/v1/schedules/nope".into(),
            404,
        ),
        case(
            "update unknown schedule",
            "PATCH",
            "/api/v1/schedules/nope".into(),
            404,
        )
        .json("{\"enabled\": false}"),
        case("update schedule bad cron", "PATCH", sc(""), 400)
            .json("{\"expression\": \"* * * * 8\"}")
            .at("expression"),
        case("update schedule bad timezone", "PATCH", sc(""), 400)
            .json("{\"timezone\": \"Nowhere\"}")
            .at("timezone"),
        case("update schedule wrong type", "PATCH", sc(""), 400)
            .json("{\"enabled\": \"no\"}")
            .at("enabled"),
        case(
            "delete unknown schedule",
            "DELETE",
            "/api/v1/schedules/nope".into(),
            404,
        ),
        // webhooks (no bearer token)
        case("hook to unknown provider", "POST", hook("svn"), 404).json("{}"),
        case(
            "hook to unknown application",
            "POST",
            "/api/v1/hooks/github/nope".into(),
            401,
        )
        .json("{}"),
        case("hook without webhook secret", "POST", hook("github"), 401)
            .json("{}")
            .header("X-Hub-Signature-256", "sha256=00"),
        case("hook oversize", "POST", hook("github"), 413).body("application/json", big.clone()),
        // no such route
        case("unknown route", "GET", "/api/v1/nothing".into(), 404),
        case("unknown top-level route", "GET", "/nothing".into(), 404),
    ];

    let mut failures = Vec::new();
    for c in &cases {
        let mut req = server
            .client()
            .request(c.method.parse().unwrap(), server.url(&c.path))
            .body(c.body.clone());
        // Webhook senders have no token.
        if let Some(t) = c
            .token
            .as_ref()
            .filter(|_| !c.path.starts_with("/api/v1/hooks/"))
        {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = c.content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in &c.headers {
            req = req.header(*k, *v);
        }
        let (code, body) = slipway_tests::server::read(req.send().expect("request"));
        let what = format!("{} ({} {})", c.name, c.method, c.path);
        assert_shape(&what, code, &body);
        if code != c.status {
            failures.push(format!("{what}: expected {}, got {code}: {body}", c.status));
            continue;
        }
        if let Some(path) = c.detail {
            let paths: Vec<&str> = body["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["path"].as_str())
                .collect();
            if !paths.contains(&path) {
                failures.push(format!("{what}: no detail at `{path}`: {body}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing of the above changed the fixtures.
    let (code, got) = server.call("GET", &a(""), None);
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["name"], "shop");
    assert_eq!(got["repository"]["provider"], "github");
    assert_eq!(got["webhook_url"], format!("/api/v1/hooks/github/{app}"));
    assert_eq!(got["webhook_secret_set"], false);
    assert!(got["last_run"].is_null(), "{got}");
    let (code, list) = server.call(
        "GET",
        "/api/v1/applications?sort=last_run_at&order=desc&per_page=5",
        None,
    );
    assert_eq!(code, 200, "{list}");
    // The shop and the application that uses the named repository.
    assert_eq!(list["total"], 2, "{list}");
    let (code, got) = server.call("GET", "/api/v1/repositories/shop-repo", None);
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["default_branch"], "main", "{got}");
    let (code, list) = server.call("GET", &format!("{pa}?last_status=passed"), None);
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["total"], 0, "{list}");
    let (code, got) = server.call("GET", &sc(""), None);
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["expression"], "0 0 1 1 *");
    assert_eq!(got["timezone"], "Europe/Berlin");

    // A redeploy of the finished run repeats it and names it.
    let (code, again) = server.call("POST", &r("/redeploy"), None);
    assert_eq!(code, 201, "{again}");
    assert_eq!(again["trigger"]["kind"], "redeploy", "{again}");
    assert_eq!(
        again["trigger"]["detail"]["repeats"],
        run.as_str(),
        "{again}"
    );
    let again = again["id"].as_str().unwrap().to_owned();
    server.wait_run(&again, 30, |r| r["status"] == "passed");

    // The server is still healthy after all that.
    let (code, _) = server.call_as(None, "GET", "/readyz", None);
    assert_eq!(code, 200);
}

/// Secret values and webhook secrets are write-only, and a webhook is
/// accepted only with the right signature. (Needs the server's secret key.)
#[test]
fn secrets_are_write_only_and_hooks_need_a_signature() {
    use slipway_domain::webhook::generic_signature;

    const VALUE: &str = "hunter2-not-to-be-seen";
    const HOOK_SECRET: &str = "whsec-not-to-be-seen";
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (code, p) = server.call("POST", "/api/v1/projects", Some(json!({"name": "s"})));
    assert_eq!(code, 201, "{p}");
    let project = p["id"].as_str().unwrap().to_owned();
    let mut body = application("hooked", "generic");
    body["webhook_secret"] = json!(HOOK_SECRET);
    let (code, app) = server.call(
        "POST",
        &format!("/api/v1/projects/{project}/applications"),
        Some(body),
    );
    assert_eq!(
        code, 201,
        "creating an application with a webhook secret: {app}"
    );
    assert_eq!(app["webhook_secret_set"], true, "{app}");
    assert!(!app.to_string().contains(HOOK_SECRET), "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    let (code, got) = server.call("GET", &format!("/api/v1/applications/{app}"), None);
    assert_eq!(code, 200);
    assert!(!got.to_string().contains(HOOK_SECRET), "{got}");
    assert!(got.get("webhook_secret").is_none(), "{got}");

    // Secrets: 201 when created, 200 when replaced, never the value.
    for owner in [
        format!("/api/v1/projects/{project}/secrets"),
        format!("/api/v1/applications/{app}/secrets"),
    ] {
        let (code, made) = server.call(
            "PUT",
            &format!("{owner}/API_TOKEN"),
            Some(json!({"value": VALUE})),
        );
        assert_eq!(code, 201, "{owner}: {made}");
        assert_eq!(made["name"], "API_TOKEN");
        assert!(made["created_at"].is_string() && made["updated_at"].is_string());
        let (code, again) = server.call(
            "PUT",
            &format!("{owner}/API_TOKEN"),
            Some(json!({"value": "rotated-value"})),
        );
        assert_eq!(code, 200, "{owner}: {again}");
        assert_eq!(again["created_at"], made["created_at"]);
        let (code, list) = server.call("GET", &owner, None);
        assert_eq!(code, 200, "{list}");
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list["items"][0]["name"], "API_TOKEN");
        for shown in [&made, &again, &list] {
            let text = shown.to_string();
            assert!(!text.contains(VALUE) && !text.contains("rotated-value"));
            assert!(!text.contains("\"value\""), "{text}");
        }
        let (code, _) = server.call("DELETE", &format!("{owner}/API_TOKEN"), None);
        assert_eq!(code, 204);
        let (code, _) = server.call("DELETE", &format!("{owner}/API_TOKEN"), None);
        assert_eq!(code, 404);
    }

    // Webhooks: no, wrong or stale signatures get 401; a signed ping, pong.
    let hook = format!("/api/v1/hooks/generic/{app}");
    let ping = br#"{"zen": "hi"}"#.to_vec();
    let now = chrono::Utc::now().timestamp();
    let send = |headers: &[(&str, String)], body: &[u8]| {
        let mut req = server
            .client()
            .post(server.url(&hook))
            .header("Content-Type", "application/json")
            .header("X-Slipway-Event", "ping")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        slipway_tests::server::read(req.send().unwrap())
    };
    let good = generic_signature(HOOK_SECRET, now, &ping);
    let bad = generic_signature("another secret", now, &ping);
    let stale = generic_signature(HOOK_SECRET, now - 3600, &ping);
    for (what, headers) in [
        ("no signature", vec![]),
        ("no timestamp", vec![("X-Slipway-Signature", good.clone())]),
        (
            "wrong signature",
            vec![
                ("X-Slipway-Signature", bad),
                ("X-Slipway-Timestamp", now.to_string()),
            ],
        ),
        (
            "malformed signature",
            vec![
                ("X-Slipway-Signature", "sha256=zz".to_owned()),
                ("X-Slipway-Timestamp", now.to_string()),
            ],
        ),
        (
            "stale timestamp",
            vec![
                ("X-Slipway-Signature", stale),
                ("X-Slipway-Timestamp", (now - 3600).to_string()),
            ],
        ),
    ] {
        let (code, body) = send(&headers, &ping);
        assert_eq!(code, 401, "{what}: {body}");
        assert_shape(what, code, &body);
    }
    let signed = vec![
        ("X-Slipway-Signature", good.clone()),
        ("X-Slipway-Timestamp", now.to_string()),
    ];
    let (code, body) = send(&signed, b"{\"zen\": \"changed\"}");
    assert_eq!(code, 401, "a changed body: {body}");
    let (code, body) = send(&signed, &ping);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"result": "pong"}));
    // The application's provider is generic: GitHub's scheme is refused.
    let (code, body) = server.call_as(None, "POST", &format!("/api/v1/hooks/github/{app}"), None);
    assert_eq!(code, 401, "{body}");

    // Neither secret reached the server's log.
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(!log.contains(VALUE) && !log.contains("rotated-value"));
    assert!(!log.contains(HOOK_SECRET));
}

#[test]
fn every_route_is_in_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (code, doc) = server.call_as(None, "GET", "/api/v1/openapi.json", None);
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, table, "the document and the route table differ");
    // Routes that need a token say so; the public ones say nothing.
    for (method, template) in &documented {
        let security = &doc["paths"][template][method.to_lowercase()]["security"];
        if PUBLIC.contains(&template.as_str()) {
            assert_eq!(security, &json!([{}]), "{method} {template}");
        } else if (method.as_str(), template.as_str()) == ("POST", "/api/v1/sessions") {
            // A session is made with an API token only.
            assert_eq!(security, &json!([{"bearer": []}]), "{method} {template}");
        } else if template.starts_with("/api/v1") {
            assert_eq!(
                security,
                &json!([{"bearer": []}, {"authtoken": []}]),
                "{method} {template}"
            );
        }
    }
    // Every documented route exists on the server (no "no such route").
    for (method, template) in &documented {
        let (code, body) = server.call_as(None, method, &fill(template), None);
        if PUBLIC.contains(&template.as_str()) {
            // `x` is no webhook provider.
            assert_eq!(code, 404, "{method} {template}: {body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("provider"), "{method} {template}: {body}");
            continue;
        }
        let expected = if template.starts_with("/api/v1") {
            401
        } else {
            200
        };
        assert_eq!(code, expected, "{method} {template}: {body}");
    }
    let res = server
        .client()
        .get(server.url("/api/v1/docs/"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().unwrap().contains("swagger"));
    // The UI loads the document from where the API serves it.
    let init = server
        .client()
        .get(server.url("/api/v1/docs/swagger-initializer.js"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(init.contains("\"url\": \"/api/v1/openapi.json\""), "{init}");
}

/// A known path with a method it does not have answers 405, in the one
/// error shape, with an `Allow` header listing the methods it has; with or
/// without a token. Unknown paths still answer 404.
#[test]
fn unsupported_methods_answer_405_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let mut by_path: std::collections::BTreeMap<&str, BTreeSet<&str>> = Default::default();
    for (method, path) in ROUTES {
        by_path.entry(path).or_default().insert(method);
    }
    by_path.insert("/api/v1/openapi.json", ["GET"].into());
    let mut checked = 0;
    for (template, methods) in &by_path {
        let allow: Vec<&str> = methods.iter().copied().collect();
        let allow = allow.join(", ");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if methods.contains(method) {
                continue;
            }
            for token in [None, Some(ADMIN)] {
                let mut req = server
                    .client()
                    .request(method.parse().unwrap(), server.url(&fill(template)));
                if let Some(t) = token {
                    req = req.header("Authorization", format!("Bearer {t}"));
                }
                let (code, body, allowed) = read_with_header(req.send().unwrap(), "allow");
                let what = format!("{method} {template}");
                assert_eq!(code, 405, "{what}: {body}");
                assert_shape(&what, code, &body);
                assert_eq!(body["error"]["code"], "method_not_allowed", "{what}");
                assert_eq!(allowed.as_deref(), Some(allow.as_str()), "{what}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
    for path in ["/api/v1/nothing", "/api/v1/projects/x/nothing", "/nothing"] {
        let (code, body) = server.call("DELETE", path, None);
        assert_eq!(code, 404, "{path}: {body}");
    }
}

/// The ranges and words the document states for query parameters are the
/// ones the server enforces: each bound and each word is accepted, one past
/// a bound and an unknown word are refused with the parameter named.
#[test]
fn query_constraints_in_the_document_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (code, doc) = server.call_as(None, "GET", "/api/v1/openapi.json", None);
    assert_eq!(code, 200);
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        if path.contains('{') || !path.starts_with("/api/v1") {
            continue;
        }
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "query" {
                continue;
            }
            let name = param["name"].as_str().unwrap();
            let schema = &param["schema"];
            let mut good = Vec::new();
            let mut bad = Vec::new();
            if let (Some(min), Some(max)) = (schema["minimum"].as_i64(), schema["maximum"].as_i64())
            {
                good.extend([min.to_string(), max.to_string()]);
                bad.push((i128::from(min) - 1).to_string());
                bad.push((i128::from(max) + 1).to_string());
            }
            if let Some(words) = schema["enum"].as_array() {
                good.extend(words.iter().map(|w| w.as_str().unwrap().to_owned()));
                bad.extend(["nope".to_owned(), String::new()]);
            }
            for value in good {
                let url = format!("{path}?{name}={value}");
                let (code, body) = server.call("GET", &url, None);
                assert_eq!(code, 200, "{url}: {body}");
                tried += 1;
            }
            for value in bad {
                let url = format!("{path}?{name}={value}");
                let (code, body) = server.call("GET", &url, None);
                assert_eq!(code, 400, "{url}: {body}");
                assert_eq!(body["error"]["details"][0]["path"], name, "{url}: {body}");
                tried += 1;
            }
        }
    }
    assert!(tried >= 30, "only {tried} values tried");
    // The names and words, for the record.
    let list = &doc["paths"]["/api/v1/projects"]["get"]["parameters"];
    let schema_of = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .map(|p| p["schema"].clone())
            .unwrap()
    };
    assert_eq!(schema_of("per_page")["maximum"], 100);
    assert_eq!(schema_of("page")["minimum"], 1);
    assert_eq!(schema_of("sort")["enum"], json!(["name", "created_at"]));
}
