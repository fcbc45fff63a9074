//! Applications end to end, through the real binary and a real git
//! repository: a bare repository whose `post-receive` hook sends a signed
//! GitHub push event to the server (the hook runs this test binary again
//! as the sender, see `hook_sender`); a push to main starts a run at
//! exactly the pushed commit whose job sees the pushed file; a push to
//! another branch starts nothing; the same delivery twice starts one run;
//! a tampered body is refused with nothing started; dispatch at a tag;
//! redeploy of an older run runs that run's commit; cancel; a secret is
//! in the job's environment and in no log or response; a newer push
//! cancels the older run of the same branch when asked to.

#![allow(clippy::unwrap_used)]

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use slipway_store::testing::TestDb;
use slipway_testkit::git::{commit, git, origin_and_work};
use slipway_testkit::webhook::form_encode;
use slipway_tests::hooks;
use slipway_tests::server::{Server, read_with_header};
use slipway_tests::wait_until;
use std::path::Path;

const HOOK_SECRET: &str = "hook-secret-for-tests";
const DEPLOY_TOKEN: &str = "tok-0123456789";
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
                echo "commit: $SLIPWAY_COMMIT"
                echo "ref: $SLIPWAY_REF"
                echo "author: $SLIPWAY_COMMIT_AUTHOR"
                echo "token: $DEPLOY_TOKEN"
                echo "token length: ${#DEPLOY_TOKEN}"
                sleep ${{ params.pause }}
                if [ -f pause.txt ]; then sleep "$(cat pause.txt)"; fi
"#;

/// The `post-receive` hook's work when this binary is run by the hook
/// (see `slipway_tests::hooks`); a no-op in a normal test run.
#[test]
fn hook_sender() {
    hooks::sender();
}

/// `git push` with the hook sending to `app`'s webhook route.
fn push(work: &Path, server: &Server, app: &str, args: &[&str]) {
    let url = server.url(&format!("/api/v1/hooks/github/{app}"));
    hooks::push(work, &url, HOOK_SECRET, args);
}

fn sign(body: &[u8]) -> String {
    hooks::sign(HOOK_SECRET, body)
}

fn runs_of(server: &Server, app: &str) -> Vec<Value> {
    let (code, list) = server.call(
        "GET",
        &format!("/api/v1/runs?workflow_id={app}&per_page=100&order=asc"),
        None,
    );
    assert_eq!(code, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

fn log_text(server: &Server, run: &str) -> String {
    let res = server
        .client()
        .get(server.url(&format!("/api/v1/runs/{run}/jobs/show/log")))
        .header(
            "Authorization",
            format!("Bearer {}", slipway_tests::server::ADMIN),
        )
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.text().unwrap()
}

fn finished(server: &Server, run: &str) -> Value {
    server.wait_run(run, 60, |r| {
        !["queued", "running", "created"].contains(&r["status"].as_str().unwrap_or(""))
    })
}

fn scenario(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (bare, work) = origin_and_work(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let first = commit(
        &work,
        &[(".slipway/workflow.yaml", TEMPLATE), ("hello.txt", "v1")],
        "first version",
    );
    git(&work, &["tag", "v1"]);
    git(&work, &["push", "-q", "origin", "main", "v1"]);

    let server = Server::start(&data, db, &["--git-allow-local", "true"]);
    let (code, project) = server.call("POST", "/api/v1/projects", Some(json!({"name": "acme"})));
    assert_eq!(code, 201, "{project}");
    let pid = project["id"].as_str().unwrap().to_owned();
    let (code, app) = server.call(
        "POST",
        &format!("/api/v1/projects/{pid}/applications"),
        Some(json!({
            "name": "api",
            "repository": {"provider": "github", "owner": "acme", "name": "api",
                           "url": format!("file://{}", bare.display()), "provider_repo_id": "4242"},
            "default_branch": "main",
            "triggers": [{"event": "push", "filter": "body.ref in [\"refs/heads/main\"]", "template": ""}],
            "webhook_secret": HOOK_SECRET
        })),
    );
    assert_eq!(code, 201, "{app}");
    assert!(!app.to_string().contains(HOOK_SECRET), "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let (code, body) = server.call(
        "PUT",
        &format!("/api/v1/projects/{pid}/secrets/DEPLOY_TOKEN"),
        Some(json!({"value": DEPLOY_TOKEN})),
    );
    assert_eq!(code, 201, "{body}");
    hooks::install(&bare);

    // A push to main starts a run at exactly the pushed commit.
    let second = commit(&work, &[("hello.txt", "v2")], "second version");
    push(&work, &server, &app_id, &["-q", "origin", "main"]);
    let runs = runs_of(&server, &app_id);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run1 = runs[0]["id"].as_str().unwrap().to_owned();
    let done = finished(&server, &run1);
    assert_eq!(done["status"], "passed", "{done}");
    let detail = &done["trigger"]["detail"];
    assert_eq!(done["trigger"]["kind"], "webhook");
    assert_eq!(detail["commit"], second.as_str());
    assert_eq!(detail["ref"], "refs/heads/main");
    assert_eq!(detail["message"], "second version");
    assert_eq!(detail["author"], "Ada Lovelace <ada@example.com>");
    let log = log_text(&server, &run1);
    assert!(log.contains("file: v2"), "{log}");
    assert!(log.contains(&format!("commit: {second}")), "{log}");
    assert!(log.contains("ref: refs/heads/main"), "{log}");
    assert!(
        log.contains("author: Ada Lovelace <ada@example.com>"),
        "{log}"
    );
    // The secret is in the job's environment, never in its log.
    assert!(
        log.contains(&format!("token length: {}", DEPLOY_TOKEN.len())),
        "{log}"
    );
    assert!(!log.contains(DEPLOY_TOKEN), "{log}");
    assert!(log.contains("token: ******"), "{log}");
    // The application shows it as its latest run.
    let (_, shown) = server.call("GET", &format!("/api/v1/applications/{app_id}"), None);
    assert_eq!(shown["last_run"]["run_id"], run1.as_str(), "{shown}");
    assert_eq!(shown["last_run"]["commit"], second.as_str());
    assert_eq!(shown["last_run"]["completed"], true);

    // A push to another branch starts nothing (the filter).
    git(&work, &["checkout", "-q", "-b", "feature"]);
    commit(&work, &[("hello.txt", "feature")], "feature work");
    push(&work, &server, &app_id, &["-q", "origin", "feature"]);
    git(&work, &["checkout", "-q", "main"]);
    assert_eq!(runs_of(&server, &app_id).len(), 1);

    // The same delivery twice starts one run; a tampered body none.
    let hook_url = server.url(&format!("/api/v1/hooks/github/{app_id}"));
    let body = serde_json::to_vec(&hooks::push_event(
        &bare,
        &first,
        &second,
        "refs/heads/main",
    ))
    .unwrap();
    let (code, answer) = hooks::send(&hook_url, "delivery-1", &body, &sign(&body));
    assert_eq!(
        (code, answer["result"].as_str()),
        (200, Some("started")),
        "{answer}"
    );
    let (code, answer) = hooks::send(&hook_url, "delivery-1", &body, &sign(&body));
    assert_eq!(
        (code, answer["result"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
    assert_eq!(runs_of(&server, &app_id).len(), 2);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let (code, answer) = hooks::send(&hook_url, "delivery-2", &tampered, &sign(&body));
    assert_eq!(code, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "unauthorized", "{answer}");
    let (code, _) = hooks::send(&hook_url, "delivery-3", &body, "sha256=00");
    assert_eq!(code, 401);
    assert_eq!(runs_of(&server, &app_id).len(), 2);
    let run2 = runs_of(&server, &app_id)[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    finished(&server, &run2);

    // Dispatch at a tag runs the tagged content.
    let (code, run) = server.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/dispatch"),
        Some(json!({"ref": "v1"})),
    );
    assert_eq!(code, 201, "{run}");
    let tagged = finished(&server, run["id"].as_str().unwrap());
    assert_eq!(tagged["status"], "passed", "{tagged}");
    assert_eq!(tagged["trigger"]["detail"]["commit"], first.as_str());
    assert_eq!(tagged["trigger"]["detail"]["ref"], "refs/tags/v1");
    assert!(log_text(&server, run["id"].as_str().unwrap()).contains("file: v1"));

    // Main moves on; redeploying the first run runs its commit again.
    commit(&work, &[("hello.txt", "v3")], "third version");
    push(&work, &server, &app_id, &["-q", "origin", "main"]);
    let latest = runs_of(&server, &app_id).last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        log_text(&server, finished(&server, &latest)["id"].as_str().unwrap()).contains("file: v3")
    );
    let (code, again) = server.call("POST", &format!("/api/v1/runs/{run1}/redeploy"), None);
    assert_eq!(code, 201, "{again}");
    let again_id = again["id"].as_str().unwrap().to_owned();
    let again = finished(&server, &again_id);
    assert_eq!(again["status"], "passed", "{again}");
    assert_eq!(again["trigger"]["kind"], "redeploy");
    assert_eq!(again["trigger"]["detail"]["repeats"], run1.as_str());
    assert_eq!(again["trigger"]["detail"]["commit"], second.as_str());
    assert!(log_text(&server, &again_id).contains("file: v2"));

    // A rotated secret reaches the next run.
    let (code, _) = server.call(
        "PUT",
        &format!("/api/v1/projects/{pid}/secrets/DEPLOY_TOKEN"),
        Some(json!({"value": "rotated"})),
    );
    assert_eq!(code, 200);
    let (code, listed) = server.call("GET", &format!("/api/v1/projects/{pid}/secrets"), None);
    assert_eq!(code, 200);
    assert_eq!(listed["items"][0]["name"], "DEPLOY_TOKEN", "{listed}");
    assert!(!listed.to_string().contains("rotated"), "{listed}");

    // Cancel a running dispatch.
    let (code, slow) = server.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/dispatch"),
        Some(json!({"ref": "main", "inputs": {"pause": 30}})),
    );
    assert_eq!(code, 201, "{slow}");
    let slow_id = slow["id"].as_str().unwrap().to_owned();
    server.wait_run(&slow_id, 30, |r| r["status"] == "running");
    wait_until("the slow job's log", 30, || {
        log_text(&server, &slow_id).contains("token length")
    });
    assert!(log_text(&server, &slow_id).contains("token length: 7"));
    let (code, body) = server.call("POST", &format!("/api/v1/runs/{slow_id}/cancel"), None);
    assert_eq!(code, 202, "{body}");
    let cancelled = finished(&server, &slow_id);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    // Cancel superseded: a newer push to main cancels the older run.
    let (code, body) = server.call(
        "PATCH",
        &format!("/api/v1/applications/{app_id}"),
        Some(json!({"cancel_superseded": true})),
    );
    assert_eq!(code, 200, "{body}");
    commit(&work, &[("pause.txt", "30")], "slow deploy");
    push(&work, &server, &app_id, &["-q", "origin", "main"]);
    let older = runs_of(&server, &app_id).last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.wait_run(&older, 30, |r| r["status"] == "running");
    commit(&work, &[("pause.txt", "0")], "fast deploy");
    push(&work, &server, &app_id, &["-q", "origin", "main"]);
    let newer = runs_of(&server, &app_id).last().unwrap().clone();
    let newer_id = newer["id"].as_str().unwrap().to_owned();
    assert_ne!(newer_id, older);
    let older = finished(&server, &older);
    assert_eq!(older["status"], "cancelled", "{older}");
    assert!(
        older["error"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("superseded by run {newer_id}")),
        "{older}"
    );
    let newer = finished(&server, &newer_id);
    assert_eq!(newer["status"], "passed", "{newer}");
    assert_eq!(
        newer["trigger"]["detail"]["supersedes"],
        older["id"].as_str().unwrap()
    );

    // No response ever carried the secret's value.
    for path in [
        format!("/api/v1/applications/{app_id}"),
        format!("/api/v1/runs/{run1}"),
        format!("/api/v1/runs?workflow_id={app_id}"),
    ] {
        let (_, body) = server.call("GET", &path, None);
        let text = body.to_string();
        assert!(
            !text.contains(DEPLOY_TOKEN) && !text.contains("rotated"),
            "{path}: {text}"
        );
        assert!(!text.contains(HOOK_SECRET), "{path}: {text}");
    }
}

#[test]
fn applications_end_to_end_sqlite() {
    scenario(None);
}

#[test]
fn applications_end_to_end_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario(Some(&db.url));
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/domain/tests/fixtures/webhooks")
            .join(name),
    )
    .unwrap()
}

fn hmac_bytes(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn post_hook(
    server: &Server,
    provider: &str,
    app: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut req = server
        .client()
        .post(server.url(&format!("/api/v1/hooks/{provider}/{app}")))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    slipway_tests::server::read(req.send().unwrap())
}

/// The documented payloads of GitLab, Gitee and the generic scheme, signed
/// here, through the real endpoint: verified, parsed and filtered (rules
/// that match nothing: the commits are not in any local repository), and
/// refused with 401 when the credential or the signed body is wrong.
#[test]
fn provider_payloads_are_verified_parsed_and_filtered() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (_, project) = server.call("POST", "/api/v1/projects", Some(json!({"name": "p"})));
    let pid = project["id"].as_str().unwrap().to_owned();
    let make = |provider: &str| -> String {
        let (code, app) = server.call(
            "POST",
            &format!("/api/v1/projects/{pid}/applications"),
            Some(json!({
                "name": provider,
                "repository": {"provider": provider, "owner": "o", "name": "r",
                               "url": "https://git.example.com/o/r.git"},
                "triggers": [
                    {"event": "push", "filter": "body.ref == \"refs/heads/never\"", "template": ""},
                    {"event": "tag_push", "filter": "body.ref.startsWith(\"refs/tags/never\")", "template": ""}
                ],
                "webhook_secret": HOOK_SECRET
            })),
        );
        assert_eq!(code, 201, "{app}");
        app["id"].as_str().unwrap().to_owned()
    };
    let ignored = |answer: &Value| {
        answer["result"] == "ignored"
            && answer["reason"]
                .as_str()
                .unwrap_or("")
                .contains("no trigger rule matched")
    };

    // GitLab: the secret token in X-Gitlab-Token.
    let gitlab = make("gitlab");
    for (file, event) in [
        ("gitlab_push.json", "Push Hook"),
        ("gitlab_tag_push.json", "Tag Push Hook"),
    ] {
        let body = fixture(file);
        let good = [
            ("X-Gitlab-Event", event.to_owned()),
            ("X-Gitlab-Token", HOOK_SECRET.to_owned()),
            ("X-Gitlab-Event-UUID", format!("uuid-{file}")),
        ];
        let (code, answer) = post_hook(&server, "gitlab", &gitlab, &good, &body);
        assert_eq!(code, 200, "{file}: {answer}");
        assert!(ignored(&answer), "{file}: {answer}");
        let bad = [
            ("X-Gitlab-Event", event.to_owned()),
            ("X-Gitlab-Token", "wrong".to_owned()),
        ];
        let (code, answer) = post_hook(&server, "gitlab", &gitlab, &bad, &body);
        assert_eq!(code, 401, "{file}: {answer}");
    }

    // Gitee: the password itself, or a timestamp signature.
    let gitee = make("gitee");
    for (file, event) in [
        ("gitee_push.json", "Push Hook"),
        ("gitee_tag_push.json", "Tag Push Hook"),
    ] {
        let body = fixture(file);
        let password = [
            ("X-Gitee-Event", event.to_owned()),
            ("X-Gitee-Token", HOOK_SECRET.to_owned()),
        ];
        let (code, answer) = post_hook(&server, "gitee", &gitee, &password, &body);
        assert_eq!(code, 200, "{file}: {answer}");
        assert!(
            ignored(&answer) || answer["result"] == "duplicate",
            "{answer}"
        );
        let millis = chrono::Utc::now().timestamp_millis();
        let to_sign = format!("{millis}\n{HOOK_SECRET}");
        let signature = base64::engine::general_purpose::STANDARD
            .encode(hmac_bytes(HOOK_SECRET, &[to_sign.as_bytes()]));
        let signed = [
            ("X-Gitee-Event", event.to_owned()),
            ("X-Gitee-Token", signature),
            ("X-Gitee-Timestamp", millis.to_string()),
            ("X-Gitee-Delivery", format!("signed-{file}")),
        ];
        let (code, answer) = post_hook(&server, "gitee", &gitee, &signed, &body);
        assert_eq!(code, 200, "{file}: {answer}");
        assert!(ignored(&answer), "{file}: {answer}");
        let stale = [
            ("X-Gitee-Event", event.to_owned()),
            ("X-Gitee-Token", "bm90IGl0".to_owned()),
            ("X-Gitee-Timestamp", millis.to_string()),
        ];
        let (code, _) = post_hook(&server, "gitee", &gitee, &stale, &body);
        assert_eq!(code, 401, "{file}");
    }

    // Generic: HMAC over "<timestamp>." + body; a tampered body is refused.
    let generic = make("generic");
    let body = fixture("github_push.json");
    let ts = chrono::Utc::now().timestamp().to_string();
    let mac = hmac_bytes(HOOK_SECRET, &[format!("{ts}.").as_bytes(), &body]);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let headers = [
        ("X-Slipway-Signature", format!("sha256={hex}")),
        ("X-Slipway-Timestamp", ts.clone()),
        ("X-Slipway-Event", "push".to_owned()),
    ];
    let (code, answer) = post_hook(&server, "generic", &generic, &headers, &body);
    assert_eq!(code, 200, "{answer}");
    assert!(ignored(&answer), "{answer}");
    let mut tampered = body.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 1;
    let (code, answer) = post_hook(&server, "generic", &generic, &headers, &tampered);
    assert_eq!(code, 401, "{answer}");

    // Nothing ran.
    for app in [&gitlab, &gitee, &generic] {
        assert!(runs_of(&server, app).is_empty());
    }
}

/// GitHub's default content type (`application/x-www-form-urlencoded`, the
/// JSON event in the `payload` field, the signature over the form body as
/// sent) is accepted like a JSON delivery; a form signed over the JSON
/// inside it is not.
#[test]
fn form_encoded_github_delivery_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (_, project) = server.call("POST", "/api/v1/projects", Some(json!({"name": "p"})));
    let pid = project["id"].as_str().unwrap().to_owned();
    let (code, app) = server.call(
        "POST",
        &format!("/api/v1/projects/{pid}/applications"),
        Some(json!({
            "name": "api",
            "repository": {"provider": "github", "owner": "acme", "name": "api",
                           "url": "https://git.example.com/acme/api.git"},
            "triggers": [{"event": "push", "filter": "body.ref == \"refs/heads/never\"", "template": ""}],
            "webhook_secret": HOOK_SECRET
        })),
    );
    assert_eq!(code, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let json_body = fixture("github_push.json");
    let form = format!("payload={}", form_encode(&json_body)).into_bytes();
    let send = |body: &[u8], signature: String, delivery: &str| {
        slipway_tests::server::read(
            server
                .client()
                .post(server.url(&format!("/api/v1/hooks/github/{app_id}")))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-GitHub-Event", "push")
                .header("X-GitHub-Delivery", delivery)
                .header("X-Hub-Signature-256", signature)
                .body(body.to_vec())
                .send()
                .unwrap(),
        )
    };
    // Verified, decoded and filtered: the rule's filter read `body.ref`.
    let (code, answer) = send(&form, sign(&form), "form-1");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["result"], "ignored", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no trigger rule matched this `push` event"),
        "{answer}"
    );
    // A ping in form encoding is answered too.
    let ping = format!(
        "payload={}",
        form_encode(br#"{"zen": "Keep it logically awesome."}"#)
    );
    let (code, answer) = slipway_tests::server::read(
        server
            .client()
            .post(server.url(&format!("/api/v1/hooks/github/{app_id}")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-GitHub-Event", "ping")
            .header("X-Hub-Signature-256", sign(ping.as_bytes()))
            .body(ping.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(
        (code, answer["result"].as_str()),
        (200, Some("pong")),
        "{answer}"
    );
    // The signature must cover the form body as sent.
    let (code, answer) = send(&form, sign(&json_body), "form-2");
    assert_eq!(code, 401, "{answer}");
    // A form without a payload field is unreadable.
    let (code, answer) = send(b"zen=hi", sign(b"zen=hi"), "form-3");
    assert_eq!(code, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["path"], "body", "{answer}");
}

/// A delivery for an application id that does not exist (or for one without
/// a webhook secret) gets exactly the answer of a wrong signature, so the
/// hook route does not tell outsiders which ids exist.
#[test]
fn unknown_application_is_answered_as_a_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &[]);
    let (_, project) = server.call("POST", "/api/v1/projects", Some(json!({"name": "p"})));
    let pid = project["id"].as_str().unwrap().to_owned();
    let make = |name: &str, secret: Option<&str>| -> String {
        let mut body = json!({
            "name": name,
            "repository": {"provider": "github", "owner": "acme", "name": name,
                           "url": "https://git.example.com/acme/api.git"},
        });
        if let Some(s) = secret {
            body["webhook_secret"] = json!(s);
        }
        let (code, app) = server.call(
            "POST",
            &format!("/api/v1/projects/{pid}/applications"),
            Some(body),
        );
        assert_eq!(code, 201, "{app}");
        app["id"].as_str().unwrap().to_owned()
    };
    let real = make("with-secret", Some(HOOK_SECRET));
    let unsecured = make("without-secret", None);
    let body = fixture("github_push.json");
    let wrong = {
        let mut other = body.clone();
        other.push(b' ');
        sign(&other)
    };
    let ask = |app: &str, headers: &[(&str, String)]| {
        let mut req = server
            .client()
            .post(server.url(&format!("/api/v1/hooks/github/{app}")))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .body(body.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        read_with_header(req.send().unwrap(), "www-authenticate")
    };
    for headers in [
        vec![("X-Hub-Signature-256", wrong.clone())],
        vec![],
        vec![("X-Hub-Signature-256", "sha1=abc".to_owned())],
    ] {
        let bad_signature = ask(&real, &headers);
        assert_eq!(bad_signature.0, 401, "{:?}", bad_signature.1);
        for app in ["no-such-application", unsecured.as_str(), "x"] {
            assert_eq!(ask(app, &headers), bad_signature, "{app} with {headers:?}");
        }
    }
    // The real application still accepts the right signature.
    let (code, answer, _) = ask(&real, &[("X-Hub-Signature-256", sign(&body))]);
    assert_eq!(code, 200, "{answer}");
}
