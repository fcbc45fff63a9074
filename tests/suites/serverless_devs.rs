//! Conformance of the Serverless Devs CD dialect (seed
//! `000_54a3158805d61b2b.txt`, docs/dialects/serverless-devs.md) through
//! the real binary, on SQLite and on PostgreSQL.
//!
//! Every endpoint is sent the seed's own example bodies
//! (`tests/fixtures/serverless-devs/`, its README says which are verbatim
//! and which were composed from the seed's tables), and its answers are
//! compared with the seed's example answers key for key and JSON type for
//! type. The story: an application created with the seed's body; a real
//! `git push` whose `post-receive` hook sends a GitHub delivery signed
//! with the webhook secret of the seed's `trigger_spec`, producing the run
//! that `latest_task` then shows; manual dispatch, cancel and redeploy;
//! the seed's curl sample. Then, per endpoint, bad input answered in the
//! dialect's error shape (`{"success": false, "code", "message"}`, never a
//! 5xx): an unknown id, a missing field, a wrong type, no token, a token
//! without the right; secrets that never come back; and the dialect's
//! switch and project option.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use slipway_store::testing::TestDb;
use slipway_testkit::git::{commit, git, origin_and_work};
use slipway_tests::hooks;
use slipway_tests::server::{ADMIN, Server, read};
use slipway_tests::wait_until;
use std::path::Path;

/// The template both the push and the dispatches run, in Slipway's
/// workflow format, under the names the seed's examples use.
const TEMPLATE: &str = r#"
name: deploy
params:
  - name: pause
    type: number
    default: 0
stages:
  - name: ship
    jobs:
      - name: show
        kind: shell
        spec:
          steps:
            - script: |
                echo "file: $(cat hello.txt)"
                echo "token length: ${#DEPLOY_TOKEN}"
                sleep ${{ params.pause }}
"#;

/// A secret value that must never come back.
const DEPLOY_TOKEN: &str = "tok-never-shown-0123456789";

#[test]
fn hook_sender() {
    hooks::sender();
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/serverless-devs")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A dialect request with `cd_token: token` (none when `None`).
fn sd(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = server
        .client()
        .request(method.parse().unwrap(), server.url(path));
    if let Some(t) = token {
        req = req.header("cd_token", t);
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    read(req.send().unwrap())
}

fn admin(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    sd(server, Some(ADMIN), method, path, body)
}

/// Where `actual` departs from the shape of the seed's `expected`: the
/// same keys in every object (an empty object in the seed stands for any
/// keys), the same JSON type of every value (integers stay integers),
/// every element of an array shaped like the seed's first.
fn shape_problems(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if e.is_empty() {
                return;
            }
            for key in e.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{at}.{key}: missing"));
            }
            for key in a.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{at}.{key}: not in the seed"));
            }
            for (key, ev) in e {
                if let Some(av) = a.get(key) {
                    shape_problems(ev, av, &format!("{at}.{key}"), out);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                for (i, av) in a.iter().enumerate() {
                    shape_problems(first, av, &format!("{at}[{i}]"), out);
                }
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.is_i64() != a.is_i64() {
                out.push(format!("{at}: {a} is not the seed's kind of number ({e})"));
            }
        }
        (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_)) => {}
        (Value::Null, Value::Null) => {}
        (e, a) => out.push(format!("{at}: {a} where the seed has {e}")),
    }
}

#[track_caller]
fn assert_shape(expected: &Value, actual: &Value) {
    let mut problems = Vec::new();
    shape_problems(expected, actual, "$", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}\nanswer: {actual:#}");
}

/// The dialect's error shape, with the code word and a status of 4xx.
#[track_caller]
fn assert_refused(answer: (u16, Value), status: u16, code: &str, names: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(names),
        "the message should name `{names}`: {body}"
    );
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "message", "success"], "{body}");
}

/// The application's `latest_task` once `done` holds for it.
fn latest_task(server: &Server, app: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut task = Value::Null;
    wait_until("latest_task", 60, || {
        let (code, answer) = admin(
            server,
            "GET",
            &format!("/api/flow/application/detail?id={app}"),
            None,
        );
        assert_eq!(code, 200, "{answer}");
        task = answer["data"]["latest_task"].clone();
        !task.is_null() && done(&task)
    });
    task
}

/// A user with a token of their own; the token.
fn user_token(server: &Server, login: &str) -> String {
    let (code, user) = server.call("POST", "/api/v1/users", Some(json!({ "login": login })));
    assert_eq!(code, 201, "{user}");
    let (code, token) = server.call(
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": format!("{login}-token"), "user": login})),
    );
    assert_eq!(code, 201, "{token}");
    token["secret"].as_str().unwrap().to_owned()
}

fn scenario(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (bare, work) = origin_and_work(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let first = commit(
        &work,
        &[("serverless-pipeline.yaml", TEMPLATE), ("hello.txt", "v1")],
        "Update serverless-pipeline.yaml",
    );
    git(&work, &["tag", "0.0.1"]);
    git(&work, &["push", "-q", "origin", "main", "0.0.1"]);
    let repo_url = format!("file://{}", bare.display());

    let server = Server::start(&data, db, &["--git-allow-local", "true"]);

    // Create, with the seed's body (only `repo_url` made real).
    let mut body = fixture("create.request.json");
    body["repo_url"] = json!(repo_url);
    let (code, created) = admin(&server, "POST", "/api/flow/application/create", Some(&body));
    assert_eq!(code, 200, "{created}");
    assert_shape(&fixture("create.response.json"), &created);
    let app = created["data"]["id"].as_str().unwrap().to_owned();
    // It joined the dialect's project, `default`, made on first use.
    let (_, native) = server.call("GET", &format!("/api/v1/applications/{app}"), None);
    let (_, project) = server.call(
        "GET",
        &format!(
            "/api/v1/projects/{}",
            native["project_id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(project["name"], "default", "{project}");
    assert_eq!(native["name"], "owner/template-s-fc-express", "{native}");

    // Before any run: the seed's detail, with `latest_task` null and the
    // webhook secret masked.
    let detail_path = format!("/api/flow/application/detail?id={app}");
    let (code, detail) = admin(&server, "GET", &detail_path, None);
    assert_eq!(code, 200, "{detail}");
    assert!(detail["data"]["latest_task"].is_null(), "{detail}");
    let mut expected = fixture("detail.response.json");
    expected["data"]["latest_task"] = Value::Null;
    assert_shape(&expected, &detail);
    let data = &detail["data"];
    assert_eq!(data["repo_name"], "template-s-fc-express");
    assert_eq!(data["owner"], "owner");
    assert_eq!(data["provider"], "github");
    assert_eq!(data["provider_repo_id"], "provider_repo_id");
    assert_eq!(data["repo_url"], repo_url.as_str());
    // The seed's trigger_spec as sent, with the webhook secret masked.
    let mut spec = body["trigger_spec"].clone();
    spec["github"]["secret"] = json!("******");
    assert_eq!(data["trigger_spec"], spec);
    assert_eq!(data["secrets"], json!({}));
    assert_eq!(data["created_time"], data["updated_time"]);
    let created_ms = data["created_time"].as_i64().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(
        (now_ms - 120_000..=now_ms).contains(&created_ms),
        "{created_ms} is not epoch ms"
    );
    let (_, me) = server.call("GET", "/api/v1/users/me", None);
    assert_eq!(data["user_id"], me["id"], "{me}");

    // A push to main through a real hook, signed with the seed's webhook
    // secret (`secret`), is the run `latest_task` then shows.
    hooks::install(&bare);
    let second = commit(&work, &[("hello.txt", "v2")], "second version");
    hooks::push(
        &work,
        &server.url(&format!("/api/v1/hooks/github/{app}")),
        "secret",
        &["-q", "origin", "main"],
    );
    let task = latest_task(&server, &app, |t| t["completed"] == true);
    assert_eq!(task["commit"], second.as_str(), "{task}");
    assert_eq!(task["ref"], "refs/heads/main");
    assert_eq!(task["message"], "second version");
    assert_eq!(task["status"], "success", "{task}");
    let pushed = task["taskId"].as_str().unwrap().to_owned();
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{pushed}"), None);
    assert_eq!(run["trigger"]["kind"], "webhook", "{run}");
    let (_, detail) = admin(&server, "GET", &detail_path, None);
    assert_shape(&fixture("detail.response.json"), &detail);

    // The list, and the seed's curl sample asking for it.
    let (code, list) = admin(&server, "GET", "/api/flow/application/list", None);
    assert_eq!(code, 200, "{list}");
    assert_shape(&fixture("list.response.json"), &list);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0], detail["data"]);
    let (code, same) = admin(
        &server,
        "POST",
        "/api/application/list",
        Some(&fixture("curl-sample.request.json")),
    );
    assert_eq!(code, 200, "{same}");
    assert_eq!(same, list);

    // Manual dispatch with the seed's body at the tag's commit: a task
    // in the platform's words, which then succeeds.
    let mut manual = fixture("manual.request.json");
    manual["appId"] = json!(app);
    manual["commitId"] = json!(first);
    manual["ref"] = json!("refs/tags/0.0.1");
    let (code, started) = admin(&server, "POST", "/api/flow/dispatch/manual", Some(&manual));
    assert_eq!(code, 200, "{started}");
    let shown = &started["data"];
    let task_shape =
        json!({"success": true, "data": fixture("detail.response.json")["data"]["latest_task"]});
    assert_shape(&task_shape, &started);
    assert_eq!(shown["commit"], first.as_str());
    assert_eq!(shown["ref"], "refs/tags/0.0.1");
    assert_eq!(shown["message"], "Update serverless-pipeline.yaml");
    assert_eq!(shown["completed"], false);
    let tagged = shown["taskId"].as_str().unwrap().to_owned();
    let task = latest_task(&server, &app, |t| {
        t["taskId"] == tagged.as_str() && t["completed"] == true
    });
    assert_eq!(task["status"], "success", "{task}");

    // Dispatch → cancel: a long one at main's head, cancelled.
    let long = json!({"appId": app, "ref": "refs/heads/main", "inputs": {"pause": 60}});
    let (code, started) = admin(&server, "POST", "/api/flow/dispatch/manual", Some(&long));
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["data"]["commit"], second.as_str(), "{started}");
    let long_id = started["data"]["taskId"].as_str().unwrap().to_owned();
    latest_task(&server, &app, |t| {
        t["taskId"] == long_id.as_str() && t["status"] == "running"
    });
    let mut cancel = fixture("cancel.request.json");
    cancel["taskId"] = json!(long_id);
    let (code, cancelled) = admin(&server, "POST", "/api/flow/dispatch/cancel", Some(&cancel));
    assert_eq!(code, 200, "{cancelled}");
    assert_shape(&task_shape, &cancelled);
    assert_eq!(cancelled["data"]["taskId"], long_id.as_str());
    let task = latest_task(&server, &app, |t| {
        t["taskId"] == long_id.as_str() && t["completed"] == true
    });
    assert_eq!(task["status"], "cancelled", "{task}");
    // Cancelling it again: it has finished.
    assert_refused(
        admin(&server, "POST", "/api/flow/dispatch/cancel", Some(&cancel)),
        409,
        "Conflict",
        &long_id,
    );

    // Redeploy the tagged task: a new task at the tag's commit (a
    // rollback from main's head).
    let mut redeploy = fixture("redeploy.request.json");
    redeploy["taskId"] = json!(tagged);
    let (code, again) = admin(
        &server,
        "POST",
        "/api/flow/dispatch/redeploy",
        Some(&redeploy),
    );
    assert_eq!(code, 200, "{again}");
    assert_shape(&task_shape, &again);
    let again_id = again["data"]["taskId"].as_str().unwrap().to_owned();
    assert_ne!(again_id, tagged);
    assert_eq!(again["data"]["commit"], first.as_str(), "{again}");
    assert_eq!(again["data"]["ref"], "refs/tags/0.0.1", "{again}");
    let task = latest_task(&server, &app, |t| {
        t["taskId"] == again_id.as_str() && t["completed"] == true
    });
    assert_eq!(task["status"], "success", "{task}");
    // An unfinished task cannot be redeployed.
    let (_, busy) = admin(&server, "POST", "/api/flow/dispatch/manual", Some(&long));
    let busy_id = busy["data"]["taskId"].as_str().unwrap().to_owned();
    assert_refused(
        admin(
            &server,
            "POST",
            "/api/flow/dispatch/redeploy",
            Some(&json!({"taskId": busy_id})),
        ),
        409,
        "Conflict",
        "finished",
    );
    admin(
        &server,
        "POST",
        "/api/flow/dispatch/cancel",
        Some(&json!({"taskId": busy_id})),
    );

    // The audit trail names what each request did, with the ids its body
    // carried; the list alias, a read, is not in it.
    let (code, trail) = server.call("GET", "/api/v1/audit?per_page=100", None);
    assert_eq!(code, 200, "{trail}");
    let entries = trail["items"].as_array().unwrap();
    for (action, kind, id) in [
        ("create", "application", &app),
        ("dispatch", "application", &app),
        ("cancel", "run", &long_id),
        ("redeploy", "run", &tagged),
    ] {
        assert!(
            entries.iter().any(|e| e["api"] == "serverless_devs"
                && e["action"] == action
                && e["object_kind"] == kind
                && e["object_id"] == id.as_str()
                && e["outcome"] == "ok"),
            "no `{action} {kind} {id}` in {trail:#}"
        );
    }
    assert!(
        entries
            .iter()
            .all(|e| e["route"] != "/api/application/list"),
        "{trail:#}"
    );

    secrets_are_all_or_nothing_and_never_shown(&server, &repo_url);
    bad_input_in_the_dialects_shape(&server, &app, &tagged);
    callers_without_the_right(&server, &app, &tagged, &repo_url);
}

/// Secrets are stored with the application and never shown in clear; a
/// bad secret name leaves no application behind.
fn secrets_are_all_or_nothing_and_never_shown(server: &Server, repo_url: &str) {
    let mut body = fixture("create.request.json");
    body["repo_url"] = json!(repo_url);
    body["repo"] = json!("with-secrets");
    body["secrets"] = json!({"DEPLOY_TOKEN": DEPLOY_TOKEN});
    body["trigger_spec"]["github"]["secret"] = json!("webhook-secret-never-shown");
    let (code, created) = admin(server, "POST", "/api/flow/application/create", Some(&body));
    assert_eq!(code, 200, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let (_, detail) = admin(
        server,
        "GET",
        &format!("/api/flow/application/detail?id={id}"),
        None,
    );
    assert_eq!(
        detail["data"]["secrets"],
        json!({"DEPLOY_TOKEN": "******"}),
        "{detail}"
    );
    assert_eq!(detail["data"]["trigger_spec"]["github"]["secret"], "******");
    // The job gets the value.
    let (code, started) = admin(
        server,
        "POST",
        "/api/flow/dispatch/manual",
        Some(&json!({"appId": id, "ref": "refs/heads/main"})),
    );
    assert_eq!(code, 200, "{started}");
    let run = started["data"]["taskId"].as_str().unwrap().to_owned();
    let done = server.wait_run(&run, 60, |r| {
        r["status"] == "passed" || r["status"] == "failed"
    });
    assert_eq!(done["status"], "passed", "{done}");
    let log = server.text(&format!("/api/v1/runs/{run}/jobs/show/log"));
    assert!(
        log.contains(&format!("token length: {}", DEPLOY_TOKEN.len())),
        "{log}"
    );
    let (_, list) = admin(server, "GET", "/api/flow/application/list", None);
    for shown in [detail.to_string(), list.to_string(), log] {
        assert!(!shown.contains(DEPLOY_TOKEN), "{shown}");
        assert!(!shown.contains("webhook-secret-never-shown"), "{shown}");
    }

    // A bad secret name: 400 naming it, and no application made.
    let (_, before) = admin(server, "GET", "/api/flow/application/list", None);
    let mut bad = body.clone();
    bad["repo"] = json!("bad-secrets");
    bad["secrets"] = json!({"GOOD": "x", "lower": "y"});
    assert_refused(
        admin(server, "POST", "/api/flow/application/create", Some(&bad)),
        400,
        "Invalid",
        "secrets.lower",
    );
    let (_, after) = admin(server, "GET", "/api/flow/application/list", None);
    assert_eq!(
        before["data"].as_array().unwrap().len(),
        after["data"].as_array().unwrap().len()
    );
    // The same repository twice in the project: 409.
    assert_refused(
        admin(server, "POST", "/api/flow/application/create", Some(&body)),
        409,
        "Conflict",
        "owner/with-secrets",
    );
}

/// Per endpoint: an unknown id, a missing field, a wrong type and no
/// token, each in the dialect's error shape; unknown paths and methods
/// under its prefixes too.
fn bad_input_in_the_dialects_shape(server: &Server, app: &str, task: &str) {
    let none =
        |method: &str, path: &str, body: Option<&Value>| sd(server, None, method, path, body);
    let create = fixture("create.request.json");
    let manual = json!({"appId": app, "ref": "refs/heads/main"});
    let task_body = json!({ "taskId": task });
    // No token, a wrong token: 401 naming the header.
    for (method, path, body) in [
        ("GET", "/api/flow/application/list".to_owned(), None),
        ("POST", "/api/application/list".to_owned(), Some(&json!({}))),
        (
            "GET",
            format!("/api/flow/application/detail?id={app}"),
            None,
        ),
        (
            "POST",
            "/api/flow/application/create".to_owned(),
            Some(&create),
        ),
        (
            "POST",
            "/api/flow/dispatch/manual".to_owned(),
            Some(&manual),
        ),
        (
            "POST",
            "/api/flow/dispatch/redeploy".to_owned(),
            Some(&task_body),
        ),
        (
            "POST",
            "/api/flow/dispatch/cancel".to_owned(),
            Some(&task_body),
        ),
    ] {
        assert_refused(none(method, &path, body), 401, "NeedLogin", "cd_token");
        assert_refused(
            sd(
                server,
                Some("slw_0000000000000000000000000000000000000000000000000000000000000000"),
                method,
                &path,
                body,
            ),
            401,
            "NeedLogin",
            "cd_token",
        );
    }
    // Unknown ids: 404.
    assert_refused(
        admin(server, "GET", "/api/flow/application/detail?id=nope", None),
        404,
        "NotFound",
        "nope",
    );
    assert_refused(
        admin(
            server,
            "POST",
            "/api/flow/dispatch/manual",
            Some(&json!({"appId": "nope", "ref": "main"})),
        ),
        404,
        "NotFound",
        "nope",
    );
    for route in ["redeploy", "cancel"] {
        assert_refused(
            admin(
                server,
                "POST",
                &format!("/api/flow/dispatch/{route}"),
                Some(&json!({"taskId": "nope"})),
            ),
            404,
            "NotFound",
            "nope",
        );
    }
    // Missing fields: 400 naming them.
    assert_refused(
        admin(server, "GET", "/api/flow/application/detail", None),
        400,
        "Invalid",
        "id",
    );
    for field in [
        "repo",
        "owner",
        "repo_url",
        "provider_repo_id",
        "provider",
        "trigger_spec",
    ] {
        let mut body = create.clone();
        body.as_object_mut().unwrap().remove(field);
        assert_refused(
            admin(server, "POST", "/api/flow/application/create", Some(&body)),
            400,
            "Invalid",
            field,
        );
    }
    for (field, body) in [
        ("appId", json!({"ref": "main"})),
        ("ref", json!({ "appId": app })),
        ("appId", json!({"appId": "", "ref": "main"})),
    ] {
        assert_refused(
            admin(server, "POST", "/api/flow/dispatch/manual", Some(&body)),
            400,
            "Invalid",
            field,
        );
    }
    for route in ["redeploy", "cancel"] {
        for body in [json!({}), json!({"taskId": ""})] {
            assert_refused(
                admin(
                    server,
                    "POST",
                    &format!("/api/flow/dispatch/{route}"),
                    Some(&body),
                ),
                400,
                "Invalid",
                "taskId",
            );
        }
    }
    // Wrong types and bad values: 400 naming the field.
    for (field, value) in [
        ("trigger_spec", json!("github")),
        ("secrets", json!(["A"])),
        ("repo", json!(5)),
        ("provider", json!("codeup")),
        ("repo_url", json!("repo_url")),
    ] {
        let mut body = create.clone();
        body[field] = value.clone();
        if field == "provider" {
            body["trigger_spec"] = json!({ "codeup": body["trigger_spec"]["github"] });
        }
        assert_refused(
            admin(server, "POST", "/api/flow/application/create", Some(&body)),
            400,
            "Invalid",
            field,
        );
    }
    let mut two = create.clone();
    two["trigger_spec"]["gitee"] = json!({"events": []});
    assert_refused(
        admin(server, "POST", "/api/flow/application/create", Some(&two)),
        400,
        "Invalid",
        "trigger_spec",
    );
    let mut filter = create.clone();
    filter["trigger_spec"]["github"]["events"][0]["filter"] = json!("body.ref in [");
    assert_refused(
        admin(
            server,
            "POST",
            "/api/flow/application/create",
            Some(&filter),
        ),
        400,
        "Invalid",
        "trigger_spec.github.events[0].filter",
    );
    let mut event = create.clone();
    event["trigger_spec"]["github"]["events"][0]["eventName"] = json!("release");
    assert_refused(
        admin(server, "POST", "/api/flow/application/create", Some(&event)),
        400,
        "Invalid",
        "trigger_spec.github.events[0].eventName",
    );
    for (field, body) in [
        (
            "inputs",
            json!({"appId": app, "ref": "main", "inputs": "x"}),
        ),
        (
            "commitId",
            json!({"appId": app, "ref": "main", "commitId": "zz"}),
        ),
        ("ref", json!({"appId": app, "ref": "refs/heads/nope"})),
        ("appId", json!({"appId": 5, "ref": "main"})),
    ] {
        assert_refused(
            admin(server, "POST", "/api/flow/dispatch/manual", Some(&body)),
            400,
            "Invalid",
            field,
        );
    }
    for route in ["redeploy", "cancel"] {
        assert_refused(
            admin(
                server,
                "POST",
                &format!("/api/flow/dispatch/{route}"),
                Some(&json!({"taskId": 5})),
            ),
            400,
            "Invalid",
            "taskId",
        );
    }
    // A body that is not JSON.
    let res = server
        .client()
        .post(server.url("/api/flow/dispatch/cancel"))
        .header("cd_token", ADMIN)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_refused(read(res), 400, "Invalid", "malformed");
    // Unknown paths and methods under the dialect's prefixes.
    assert_refused(
        admin(server, "GET", "/api/flow/nothing", None),
        404,
        "NotFound",
        "serverless-devs.json",
    );
    assert_refused(
        admin(server, "GET", "/api/application/other", None),
        404,
        "NotFound",
        "serverless-devs.json",
    );
    let res = server
        .client()
        .get(server.url("/api/flow/application/create"))
        .header("cd_token", ADMIN)
        .send()
        .unwrap();
    assert_eq!(res.headers().get("allow").unwrap(), "POST");
    assert_refused(read(res), 405, "MethodNotAllowed", "POST");
}

/// The same tokens and the same permissions as the native API: a user
/// who is no member sees nothing and changes nothing; a viewer of the
/// dialect's project sees but may not create, dispatch, redeploy or
/// cancel. Each refusal is 403 in the dialect's shape.
fn callers_without_the_right(server: &Server, app: &str, task: &str, repo_url: &str) {
    let stranger = user_token(server, "stranger");
    let viewer = user_token(server, "viewer");
    let (_, native) = server.call("GET", &format!("/api/v1/applications/{app}"), None);
    let project = native["project_id"].as_str().unwrap();
    let (code, m) = server.call(
        "PUT",
        &format!("/api/v1/projects/{project}/members/viewer"),
        Some(json!({"role": "viewer"})),
    );
    assert_eq!(code, 200, "{m}");

    // The stranger's list is empty; the application is refused.
    let (code, list) = sd(
        server,
        Some(&stranger),
        "GET",
        "/api/flow/application/list",
        None,
    );
    assert_eq!((code, list), (200, json!({"success": true, "data": []})));
    let detail = format!("/api/flow/application/detail?id={app}");
    assert_refused(
        sd(server, Some(&stranger), "GET", &detail, None),
        403,
        "NoPermission",
        "stranger",
    );
    // The viewer sees it, the same as the admin does.
    let (code, seen) = sd(server, Some(&viewer), "GET", &detail, None);
    assert_eq!(code, 200, "{seen}");
    assert_eq!(seen, admin(server, "GET", &detail, None).1);

    let mut create = fixture("create.request.json");
    create["repo_url"] = json!(repo_url);
    create["repo"] = json!("by-a-viewer");
    let manual = json!({"appId": app, "ref": "refs/heads/main"});
    let task_body = json!({ "taskId": task });
    for token in [&stranger, &viewer] {
        for (path, body) in [
            ("/api/flow/application/create", &create),
            ("/api/flow/dispatch/manual", &manual),
            ("/api/flow/dispatch/redeploy", &task_body),
            ("/api/flow/dispatch/cancel", &task_body),
        ] {
            let (code, answer) = sd(server, Some(token), "POST", path, Some(body));
            assert_refused((code, answer), 403, "NoPermission", "may not");
        }
    }
    // Nothing was made by the refused requests.
    let (_, list) = admin(server, "GET", "/api/flow/application/list", None);
    assert!(!list.to_string().contains("by-a-viewer"), "{list}");
}

#[test]
fn serverless_devs_conformance_sqlite() {
    scenario(None);
}

#[test]
fn serverless_devs_conformance_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario(Some(&db.url));
}

/// The switch turns the dialect off (its paths get the native 404, its
/// document is gone); the project option sends created applications to
/// another project; the document lists exactly the routes served.
#[test]
fn the_dialect_can_be_configured_and_documents_what_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("slipway.toml");
    std::fs::write(
        &config,
        "[dialects.serverless_devs]\nproject = \"from-serverless-devs\"\n",
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let server = Server::start(&data, None, &["--config", &config_arg]);
    let (code, doc) = server.call("GET", "/api/v1/openapi/serverless-devs.json", None);
    assert_eq!(code, 200, "{doc}");
    let mut paths: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "GET /api/flow/application/detail",
            "GET /api/flow/application/list",
            "POST /api/application/list",
            "POST /api/flow/application/create",
            "POST /api/flow/dispatch/cancel",
            "POST /api/flow/dispatch/manual",
            "POST /api/flow/dispatch/redeploy",
        ]
    );
    // The first creator is a user who is no admin: the project is made,
    // and they own it.
    let ada = user_token(&server, "ada");
    let mut body = fixture("create.request.json");
    body["repo_url"] = json!("https://example.com/owner/repo.git");
    let (code, created) = sd(
        &server,
        Some(&ada),
        "POST",
        "/api/flow/application/create",
        Some(&body),
    );
    assert_eq!(code, 200, "{created}");
    let id = created["data"]["id"].as_str().unwrap();
    let (code, mine) = sd(
        &server,
        Some(&ada),
        "GET",
        &format!("/api/flow/application/detail?id={id}"),
        None,
    );
    assert_eq!(code, 200, "{mine}");
    let (_, me) = server.call_as(Some(&ada), "GET", "/api/v1/users/me", None);
    assert_eq!(mine["data"]["user_id"], me["id"], "{mine}");
    let (_, native) = server.call(
        "GET",
        &format!(
            "/api/v1/applications/{}",
            created["data"]["id"].as_str().unwrap()
        ),
        None,
    );
    let (_, project) = server.call(
        "GET",
        &format!(
            "/api/v1/projects/{}",
            native["project_id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(project["name"], "from-serverless-devs");
    let (_, members) = server.call(
        "GET",
        &format!(
            "/api/v1/projects/{}/members",
            project["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(members["items"][0]["login"], "ada", "{members}");
    assert_eq!(members["items"][0]["role"], "owner", "{members}");
    drop(server);

    std::fs::write(&config, "[dialects.serverless_devs]\nenabled = false\n").unwrap();
    let server = Server::start(&data, None, &["--config", &config_arg]);
    let (code, answer) = admin(&server, "GET", "/api/flow/application/list", None);
    assert_eq!(code, 404, "{answer}");
    assert!(
        answer["error"]["code"].is_string(),
        "the native 404: {answer}"
    );
    let (code, _) = server.call("GET", "/api/v1/openapi/serverless-devs.json", None);
    assert_eq!(code, 404);
}
