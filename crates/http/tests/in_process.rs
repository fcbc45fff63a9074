//! The HTTP application built in process (`actix_web::test`, no binary,
//! no database) over core's in-memory run store and log sink and the
//! domain's in-memory catalog, with a tiny job kind registered here: one
//! request or more per route group, asserting status and key fields. It
//! shows that an API needs `App` and nothing below it.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use slipway_core::{
    Engine, JobContext, JobKind, JobOutcome, Problem, Registry, RunId, Stream, async_trait,
};
use slipway_domain::{App, MemoryCatalog, SecretKey};
use slipway_http::dialect::Switches;
use slipway_http::{Settings, State};
use std::sync::Arc;

/// `say`: writes each of `spec.lines` to its log and sets output `said`.
struct Say;

#[async_trait]
impl JobKind for Say {
    fn name(&self) -> &str {
        "say"
    }

    fn validate(&self, spec: &Value) -> Result<(), Vec<Problem>> {
        match spec.get("lines").and_then(Value::as_array) {
            Some(lines) if lines.iter().all(Value::is_string) => Ok(()),
            _ => Err(vec![Problem::new("lines", "required: a list of strings")]),
        }
    }

    async fn run(&self, ctx: JobContext) -> JobOutcome {
        let lines = ctx.spec["lines"].as_array().cloned().unwrap_or_default();
        for line in &lines {
            if let Err(e) = ctx
                .log
                .line(Stream::Stdout, line.as_str().unwrap_or(""))
                .await
            {
                return JobOutcome::failed(e.to_string());
            }
        }
        ctx.outputs.set("said", lines.len().to_string());
        JobOutcome::Passed
    }
}

struct Fixture {
    app: App,
    engine: Engine,
    admin: String,
    plain: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    registry.register(Arc::new(Say)).unwrap();
    let engine = Engine::builder(registry.clone())
        .workspace_root(dir.path())
        .build();
    let catalog = Arc::new(MemoryCatalog::with_runs(engine.store().clone()));
    let app =
        App::new(catalog, engine.clone(), registry).with_secret_key(SecretKey::generate().unwrap());
    let admin = app.issue_token("admin", true, None).await.unwrap().secret;
    let plain = app.issue_token("dev", false, None).await.unwrap().secret;
    Fixture {
        app,
        engine,
        admin,
        plain,
        _dir: dir,
    }
}

fn state(f: &Fixture, dialects: Switches) -> State {
    let settings = Settings {
        dialects,
        ..Settings::default()
    };
    State::new(f.app.clone(), settings).unwrap()
}

/// Sends a request and answers the status and the body as text.
macro_rules! call {
    ($srv:expr, $req:expr $(,)?) => {{
        let res = test::call_service($srv, $req.to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        (status, String::from_utf8(body.to_vec()).unwrap())
    }};
}

/// Sends a request and answers the status and the body as JSON.
macro_rules! call_json {
    ($srv:expr, $req:expr $(,)?) => {{
        let (status, text) = call!($srv, $req);
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }};
}

fn with(secret: &str, req: TestRequest) -> TestRequest {
    req.insert_header(("Authorization", format!("Bearer {secret}")))
}

const WORKFLOW: &str = r#"{"name": "greet", "stages": [{"name": "s", "jobs": [
    {"name": "hello", "kind": "say", "spec": {"lines": ["one", "two", "three"]}}
]}]}"#;

#[actix_web::test]
async fn every_route_group_answers_in_process() {
    let f = fixture().await;
    let srv = test::init_service(slipway_http::app(state(&f, Switches::all_on()))).await;
    let admin = |req: TestRequest| with(&f.admin, req);

    // health
    let (code, body) = call_json!(&srv, TestRequest::get().uri("/healthz"));
    assert_eq!(
        (code, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (code, body) = call_json!(&srv, TestRequest::get().uri("/readyz"));
    assert_eq!(
        (code, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    // projects
    let (code, project) = call_json!(
        &srv,
        admin(TestRequest::post().uri("/api/v1/projects")).set_json(json!({"name": "shop"})),
    );
    assert_eq!(code, StatusCode::CREATED, "{project}");
    assert_eq!(project["name"], "shop");
    let pid = project["id"].as_str().unwrap().to_owned();
    let (code, page) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/projects")));
    assert_eq!((code, page["total"].as_u64()), (StatusCode::OK, Some(1)));
    // The shared JSON extractor names the field at fault.
    let (code, bad) = call_json!(
        &srv,
        admin(TestRequest::post().uri("/api/v1/projects")).set_json(json!({"name": 7})),
    );
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["details"][0]["path"], "name");
    // A bad token wins over a bad body: 401, not 400.
    let (code, _) = call_json!(
        &srv,
        with("slw_wrong", TestRequest::post().uri("/api/v1/projects")).set_json(json!({"name": 7})),
    );
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // No token: 401 in the native shape.
    let (code, body) = call_json!(&srv, TestRequest::get().uri("/api/v1/projects"));
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");

    // workflows
    let (code, wf) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/projects/{pid}/workflows")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(WORKFLOW),
    );
    assert_eq!(code, StatusCode::CREATED, "{wf}");
    assert_eq!(wf["name"], "greet");
    assert_eq!(wf["version"]["version"], 1);
    let wid = wf["id"].as_str().unwrap().to_owned();

    // runs: the trigger is the domain's, made from the caller
    let (code, run) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/workflows/{wid}/runs")))
            .set_json(json!({})),
    );
    assert_eq!(code, StatusCode::CREATED, "{run}");
    assert_eq!(run["trigger"]["kind"], "api");
    assert_eq!(run["trigger"]["by"], "admin");
    let rid = run["id"].as_str().unwrap().to_owned();
    let done = f.engine.wait(&RunId(rid.clone())).await.unwrap();
    assert_eq!(done.status, slipway_core::Status::Passed);
    let (code, run) = call_json!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/runs/{rid}")))
    );
    assert_eq!(code, StatusCode::OK);
    assert_eq!(run["status"], "passed");
    assert_eq!(run["stages"][0]["jobs"][0]["outputs"]["said"], "3");
    let (code, page) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/runs")));
    assert_eq!((code, page["total"].as_u64()), (StatusCode::OK, Some(1)));

    // logs: whole, and live (the stream ends by itself: the job is over)
    let (code, text) = call!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/runs/{rid}/jobs/hello/log"))),
    );
    assert_eq!(code, StatusCode::OK);
    assert_eq!(text, "one\ntwo\nthree\n");
    let (code, events) = call!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/runs/{rid}/jobs/hello/log/stream")))
            .insert_header(("Last-Event-ID", "1")),
    );
    assert_eq!(code, StatusCode::OK);
    assert!(!events.contains("\"one\""), "{events}");
    assert!(
        events.contains("id: 2\n") && events.contains("\"text\":\"three\""),
        "{events}"
    );
    assert!(
        events.ends_with("event: end\ndata: {\"status\":\"passed\"}\n\n"),
        "{events}"
    );
    let (code, body) = call_json!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/runs/{rid}/jobs/nope/log"))),
    );
    assert_eq!(
        (code, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );

    // tokens: the permission is the domain's
    let (code, body) = call_json!(
        &srv,
        with(&f.plain, TestRequest::post().uri("/api/v1/tokens")).set_json(json!({"name": "x"})),
    );
    assert_eq!(
        (code, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let (code, _) = call_json!(
        &srv,
        with(&f.plain, TestRequest::get().uri("/api/v1/tokens"))
    );
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, made) = call_json!(
        &srv,
        admin(TestRequest::post().uri("/api/v1/tokens")).set_json(json!({"name": "ci"})),
    );
    assert_eq!(code, StatusCode::CREATED, "{made}");
    assert!(made["secret"].as_str().unwrap().starts_with("slw_"));
    assert_eq!(made["created_by"], "admin");
    let (code, list) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/tokens")));
    assert_eq!((code, list["total"].as_u64()), (StatusCode::OK, Some(3)));
    let tid = made["id"].as_str().unwrap();
    let (code, _) = call!(
        &srv,
        admin(TestRequest::delete().uri(&format!("/api/v1/tokens/{tid}")))
    );
    assert_eq!(code, StatusCode::NO_CONTENT);

    // applications
    let (code, application) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/projects/{pid}/applications"))).set_json(
            json!({"name": "site", "repository": {"provider": "github", "owner": "ops",
                   "name": "site", "url": "https://example.invalid/ops/site.git"}}),
        ),
    );
    assert_eq!(code, StatusCode::CREATED, "{application}");
    assert_eq!(application["template_path"], ".slipway/workflow.yaml");
    let aid = application["id"].as_str().unwrap().to_owned();
    let (code, page) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/applications")));
    assert_eq!((code, page["total"].as_u64()), (StatusCode::OK, Some(1)));
    // With its first secrets: all or nothing, never shown.
    let with_secrets = |secrets: Value| {
        json!({"name": "api", "repository": {"provider": "github", "owner": "ops",
               "name": "api", "url": "https://example.invalid/ops/api.git"},
               "secrets": secrets})
    };
    let (code, refused) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/projects/{pid}/applications")))
            .set_json(with_secrets(json!({"GOOD": "s3cr3t-a", "bad name": "x"}))),
    );
    assert_eq!(code, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"]["details"][0]["path"], "secrets.bad name");
    let (_, page) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/applications")));
    assert_eq!(page["total"].as_u64(), Some(1), "{page}");
    let (code, made) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/projects/{pid}/applications")))
            .set_json(with_secrets(json!({"GOOD": "s3cr3t-a"}))),
    );
    assert_eq!(code, StatusCode::CREATED, "{made}");
    assert!(!made.to_string().contains("s3cr3t-a"), "{made}");
    let (_, list) = call_json!(
        &srv,
        admin(TestRequest::get().uri(&format!(
            "/api/v1/applications/{}/secrets",
            made["id"].as_str().unwrap()
        ))),
    );
    assert_eq!(list["items"][0]["name"], "GOOD", "{list}");
    assert!(!list.to_string().contains("s3cr3t-a"), "{list}");
    let (code, _) = call!(
        &srv,
        admin(TestRequest::delete().uri(&format!(
            "/api/v1/applications/{}",
            made["id"].as_str().unwrap()
        ))),
    );
    assert_eq!(code, StatusCode::NO_CONTENT);

    // secrets: never shown
    let (code, secret) = call_json!(
        &srv,
        admin(TestRequest::put().uri(&format!("/api/v1/applications/{aid}/secrets/DB_PASSWORD")))
            .set_json(json!({"value": "hunter2"})),
    );
    assert_eq!(code, StatusCode::CREATED, "{secret}");
    assert_eq!(secret["name"], "DB_PASSWORD");
    assert!(!secret.to_string().contains("hunter2"));
    let (code, list) = call_json!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/applications/{aid}/secrets"))),
    );
    assert_eq!(
        (code, list["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );

    // schedules: the next fire time is the domain's
    let (code, schedule) = call_json!(
        &srv,
        admin(TestRequest::post().uri(&format!("/api/v1/workflows/{wid}/schedules")))
            .set_json(json!({"expression": "*/5 * * * *"})),
    );
    assert_eq!(code, StatusCode::CREATED, "{schedule}");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(schedule["next_fire_at"].clone()).unwrap();
    assert!(next > chrono::Utc::now());
    assert_eq!(next.timestamp() % 300, 0);
    let (code, list) = call_json!(
        &srv,
        admin(TestRequest::get().uri(&format!("/api/v1/workflows/{wid}/schedules"))),
    );
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["items"][0]["next_fire_at"], schedule["next_fire_at"]);

    // webhooks: no signature, nothing happens
    let (code, _) = call!(
        &srv,
        TestRequest::post()
            .uri(&format!("/api/v1/hooks/github/{aid}"))
            .set_json(json!({})),
    );
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // audit: every change asked with a known caller, none of the reads,
    // the refused token or the webhook; never a secret value
    let (code, trail) = call_json!(
        &srv,
        admin(TestRequest::get().uri("/api/v1/audit?per_page=100")),
    );
    assert_eq!(code, StatusCode::OK, "{trail}");
    assert!(!trail.to_string().contains("hunter2"), "{trail}");
    let said: Vec<(String, String, String)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            let word = |k: &str| e[k].as_str().unwrap_or("-").to_owned();
            (word("action"), word("object_kind"), word("outcome"))
        })
        .collect();
    let expected = [
        ("create", "project", "ok"),
        ("create", "project", "invalid"),
        ("create", "workflow", "ok"),
        ("start", "run", "ok"),
        ("create", "token", "denied"),
        ("create", "token", "ok"),
        ("delete", "token", "ok"),
        ("create", "application", "ok"),
        ("create", "application", "invalid"),
        ("create", "application", "ok"),
        ("delete", "application", "ok"),
        ("create", "secret", "ok"),
        ("create", "schedule", "ok"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, k, o)| (a.to_string(), k.to_string(), o.to_string()))
        .collect();
    assert_eq!(said, expected, "{trail}");
    let secret_entry = &trail["items"][1];
    assert_eq!(secret_entry["object_id"], "DB_PASSWORD");
    assert_eq!(
        secret_entry["route"],
        "/api/v1/applications/{id}/secrets/{name}"
    );
    assert_eq!(secret_entry["user_name"], "admin");
    assert_eq!(secret_entry["api"], "native");
    let (code, body) = call_json!(
        &srv,
        with(&f.plain, TestRequest::get().uri("/api/v1/audit")),
    );
    assert_eq!(
        (code, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    for (query, field) in [("outcome=fine", "outcome"), ("since=yesterday", "since")] {
        let (code, body) = call_json!(
            &srv,
            admin(TestRequest::get().uri(&format!("/api/v1/audit?{query}"))),
        );
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["details"][0]["path"], field, "{body}");
    }

    // metrics count the run through the domain's statistics
    let (code, text) = call!(&srv, TestRequest::get().uri("/metrics"));
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("slipway_runs{status=\"passed\"} 1"), "{text}");

    // the document and an unknown path under the native prefix
    let (code, doc) = call_json!(&srv, TestRequest::get().uri("/api/v1/openapi.json"));
    assert_eq!(code, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/projects"].is_object());
    let (code, body) = call_json!(&srv, admin(TestRequest::get().uri("/api/v1/nowhere")));
    assert_eq!(
        (code, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
}

#[actix_web::test]
async fn a_dialect_turned_off_has_no_routes_but_health_stays() {
    let f = fixture().await;
    let mut off = Switches::all_on();
    off.set("native", false).unwrap();
    let srv = test::init_service(slipway_http::app(state(&f, off))).await;
    let (code, body) = call_json!(
        &srv,
        with(&f.admin, TestRequest::get().uri("/api/v1/projects"))
    );
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Not pointed at a document that is not served.
    assert_eq!(body["error"]["message"], "no such route");
    let (code, _) = call!(&srv, TestRequest::get().uri("/api/v1/openapi.json"));
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = call!(&srv, TestRequest::get().uri("/healthz"));
    assert_eq!(code, StatusCode::OK);
    assert!(Switches::all_on().set("cobol", false).is_err());
}

#[actix_web::test]
async fn sessions_cookies_and_trusted_proxies_in_process() {
    use slipway_domain::{Caller, SessionKey, UserInput};
    use slipway_http::auth::TrustedProxies;
    let f = fixture().await;
    let app = f
        .app
        .clone()
        .with_session_key(SessionKey::generate().unwrap());
    let settings = Settings {
        trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
        ..Settings::default()
    };
    let srv = test::init_service(slipway_http::app(
        State::new(app.clone(), settings).unwrap(),
    ))
    .await;
    app.create_user(
        &Caller::operator(),
        UserInput {
            login: Some("ann".into()),
            email: Some("ann@example.com".into()),
            ..UserInput::default()
        },
    )
    .await
    .unwrap();

    // The document: bearer or cookie everywhere, bearer alone to make a
    // session.
    let (_, doc) = call_json!(&srv, TestRequest::get().uri("/api/v1/openapi.json"));
    assert_eq!(
        doc["paths"]["/api/v1/projects"]["get"]["security"],
        json!([{"bearer": []}, {"authtoken": []}])
    );
    assert_eq!(
        doc["paths"]["/api/v1/sessions"]["post"]["security"],
        json!([{"bearer": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["authtoken"],
        json!({"type": "apiKey", "in": "cookie", "name": "authtoken",
               "description": doc["components"]["securitySchemes"]["authtoken"]["description"]})
    );
    // The body is optional, and may be `null` (as the document allows).
    let (code, body) = call_json!(
        &srv,
        with(&f.admin, TestRequest::post().uri("/api/v1/sessions"))
            .insert_header(("Content-Type", "application/json"))
            .set_payload("null")
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = call_json!(
        &srv,
        with(&f.admin, TestRequest::post().uri("/api/v1/sessions"))
            .set_json(json!({"ttl_secs": 86_401}))
    );
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "ttl_secs");

    // A session of the admin token: body and cookie.
    let res = test::call_service(
        &srv,
        with(&f.admin, TestRequest::post().uri("/api/v1/sessions")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = test::read_body_json(res).await;
    let jwt = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["login"], "admin");
    assert_eq!(
        cookie,
        format!("authtoken={jwt}; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600")
    );
    let by_cookie = |req: TestRequest| req.insert_header(("Cookie", format!("authtoken={jwt}")));

    // Bearer and cookie read; the cookie alone changes nothing cross-site.
    let (code, _) = call!(&srv, with(&jwt, TestRequest::get().uri("/api/v1/projects")));
    assert_eq!(code, StatusCode::OK);
    let (code, _) = call!(&srv, by_cookie(TestRequest::get().uri("/api/v1/projects")));
    assert_eq!(code, StatusCode::OK);
    let (code, body) = call_json!(
        &srv,
        by_cookie(TestRequest::post().uri("/api/v1/projects"))
            .insert_header(("Sec-Fetch-Site", "cross-site"))
            .set_json(json!({"name": "forged"}))
    );
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`authtoken` cookie")
    );
    let (code, body) = call_json!(
        &srv,
        by_cookie(TestRequest::post().uri("/api/v1/projects"))
            .insert_header(("Origin", "https://evil.example"))
            .set_json(json!({"name": "forged"}))
    );
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = call_json!(
        &srv,
        by_cookie(TestRequest::post().uri("/api/v1/projects"))
            .insert_header(("Sec-Fetch-Site", "same-origin"))
            .set_json(json!({"name": "ours"}))
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = call_json!(
        &srv,
        with(&jwt, TestRequest::post().uri("/api/v1/sessions"))
    );
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");

    // Another dialect without a header of its own (as the Deploy API's):
    // the same cookie and `Identity` through the same seam.
    let cookie_only = slipway_http::dialect::Dialect {
        name: "deploy_api",
        prefixes: &[],
        routes: |_| {},
        credential: |_| Ok(None),
        header: None,
        error: |_| actix_web::HttpResponse::Unauthorized().finish(),
        fallback: |_| actix_web::HttpResponse::NotFound().finish(),
        openapi: None,
        options: &[],
    };
    let st = State::new(
        app.clone(),
        Settings {
            trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
            ..Settings::default()
        },
    )
    .unwrap();
    let req = by_cookie(TestRequest::get().uri("/x")).to_http_request();
    let caller = slipway_http::dialect::authenticate(&cookie_only, &st, &req)
        .await
        .unwrap();
    assert_eq!(
        (caller.name.as_str(), caller.via),
        ("admin", slipway_domain::Via::Session)
    );
    let req = TestRequest::get()
        .uri("/x")
        .insert_header(("Identity", "ann@example.com"))
        .peer_addr("10.0.0.7:1234".parse().unwrap())
        .to_http_request();
    let caller = slipway_http::dialect::authenticate(&cookie_only, &st, &req)
        .await
        .unwrap();
    assert_eq!(caller.name, "ann");
    let req = with(&f.admin, TestRequest::get().uri("/x")).to_http_request();
    let err = slipway_http::dialect::authenticate(&cookie_only, &st, &req)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no credentials") && !err.contains("Authorization"),
        "{err}"
    );

    // `Identity`: from the trusted network only.
    let ann = |req: TestRequest, peer: &str| {
        req.insert_header(("Identity", "ann@example.com"))
            .peer_addr(peer.parse().unwrap())
    };
    let (code, user) = call_json!(
        &srv,
        ann(TestRequest::get().uri("/api/v1/user"), "10.1.2.3:5555")
    );
    assert_eq!(code, StatusCode::OK, "{user}");
    assert_eq!(user["login"], "ann");
    let (code, body) = call_json!(
        &srv,
        ann(TestRequest::get().uri("/api/v1/user"), "127.0.0.1:5555")
    );
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no credentials")
    );

    // Revoking the token ends the session at once; logout clears the
    // dead cookie.
    let (_, tokens) = call_json!(
        &srv,
        with(&f.admin, TestRequest::get().uri("/api/v1/tokens"))
    );
    let admin_id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = call!(
        &srv,
        with(
            &jwt,
            TestRequest::delete().uri(&format!("/api/v1/tokens/{admin_id}"))
        )
    );
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, body) = call_json!(&srv, by_cookie(TestRequest::get().uri("/api/v1/projects")));
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    let res = test::call_service(
        &srv,
        by_cookie(TestRequest::delete().uri("/api/v1/sessions")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}
