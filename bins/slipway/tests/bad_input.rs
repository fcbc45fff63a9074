//! Bad input for every route: missing, wrong and revoked tokens get 401;
//! malformed bodies, wrong types, unknown enum words, unknown ids and
//! oversize bodies get the right 4xx; every error has the one shape and
//! nothing answers 500. Also: every route is in the OpenAPI document, and
//! every route in the document answers.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN, Server};
use serde_json::{Value, json};
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
];

const WORKFLOW: &str = r#"
name: tiny
stages:
  - name: only
    jobs:
      - name: work
        kind: shell
        spec:
          steps:
            - script: echo hi
"#;

fn fill(template: &str) -> String {
    template
        .replace("{id}", "x")
        .replace("{stage}", "x")
        .replace("{job}", "x")
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
    let wf = server.workflow("fixtures", WORKFLOW);
    let (_, w) = server.call("GET", &format!("/api/v1/workflows/{wf}"), None);
    let project = w["project_id"].as_str().unwrap().to_owned();
    let (code, run) = server.call(
        "POST",
        &format!("/api/v1/workflows/{wf}/runs"),
        Some(json!({})),
    );
    assert_eq!(code, 201, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    server.wait_run(&run, 30, |r| r["status"] == "passed");
    let (code, plain) = server.call("POST", "/api/v1/tokens", Some(json!({"name": "plain"})));
    assert_eq!(code, 201, "{plain}");
    let plain_secret = plain["secret"].as_str().unwrap().to_owned();
    let (code, gone) = server.call("POST", "/api/v1/tokens", Some(json!({"name": "gone"})));
    assert_eq!(code, 201);
    let gone_secret = gone["secret"].as_str().unwrap().to_owned();
    let (code, _) = server.call_as(Some(&gone_secret), "GET", "/api/v1/projects", None);
    assert_eq!(code, 200, "the token works before it is revoked");
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
    for (method, template) in ROUTES.iter().filter(|(_, p)| p.starts_with("/api/v1")) {
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
        .body("application/yaml", WORKFLOW.as_bytes().to_vec()),
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
        .body("application/yaml", WORKFLOW.as_bytes().to_vec()),
        case("rename through update", "PUT", w(""), 400)
            .body(
                "application/yaml",
                WORKFLOW.replace("tiny", "other").into_bytes(),
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
        if let Some(t) = &c.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = c.content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in &c.headers {
            req = req.header(*k, *v);
        }
        let (code, body) = common::read(req.send().expect("request"));
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

    // The server is still healthy after all that.
    let (code, _) = server.call_as(None, "GET", "/readyz", None);
    assert_eq!(code, 200);
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
    // Every documented route exists on the server (no "no such route").
    for (method, template) in &documented {
        let (code, body) = server.call_as(None, method, &fill(template), None);
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
}
