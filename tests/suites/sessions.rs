//! Sessions, cross-site protection and trusted proxies, through the real
//! binary: a token exchanged for a JWT that works as a bearer and as the
//! `authtoken` cookie; a change from another site authorized only by the
//! cookie is refused and changes nothing; a revoked token's and a
//! disabled user's sessions stop working; forged, altered and expired
//! JWTs get 401 naming the credential; the `Identity` header is honoured
//! from a trusted proxy's address and ignored from any other. On SQLite,
//! and on PostgreSQL when one is available (required with `CI=true`).

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};
use slipway_store::testing::TestDb;
use slipway_tests::server::{ADMIN, Server, read_with_header};
use std::path::Path;
use std::process::Command;

/// How a request presents itself.
#[derive(Clone, Copy)]
enum As<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
    Identity(&'a str),
    Nothing,
}

/// Sends `method path` as `who` with extra `headers` and a JSON `body`.
fn send(
    server: &Server,
    who: As<'_>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req: RequestBuilder = server
        .client()
        .request(method.parse().unwrap(), server.url(path));
    req = match who {
        As::Bearer(t) => req.header("Authorization", format!("Bearer {t}")),
        As::Cookie(jwt) => req.header("Cookie", format!("theme=dark; authtoken={jwt}")),
        As::Identity(email) => req.header("Identity", email),
        As::Nothing => req,
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    read_with_header(req.send().unwrap(), "set-cookie")
}

fn get(server: &Server, who: As<'_>, path: &str) -> (u16, Value) {
    let (code, body, _) = send(server, who, "GET", path, &[], None);
    (code, body)
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a 401 whose message names `what` and says `why`.
fn assert_refused(what: &str, (code, body): (u16, Value), names: &str, why: &str) {
    assert_eq!(code, 401, "{what}: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    let m = message(&body);
    assert!(m.contains(names), "{what}: `{names}` not named in {m}");
    assert!(m.contains(why), "{what}: `{why}` not said in {m}");
}

/// Creates a user with an e-mail address, as the admin.
fn create_user(server: &Server, login: &str, email: &str) -> String {
    let (code, user) = server.call(
        "POST",
        "/api/v1/users",
        Some(json!({"login": login, "email": email})),
    );
    assert_eq!(code, 201, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

/// A session JWT made by hand: `header` and `claims` signed with
/// HMAC-SHA-256 under `key`.
fn forge(header: &Value, claims: &Value, key: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    format!("{message}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// The server's session key, from its data directory.
fn session_key(data_dir: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(data_dir.join("session.key")).unwrap();
    STANDARD.decode(text.trim()).unwrap()
}

/// The claims of a JWT (unchecked).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn project_names(server: &Server) -> Vec<String> {
    let (code, list) = server.call("GET", "/api/v1/projects?per_page=100", None);
    assert_eq!(code, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Makes a token for a new service account (an admin) and a session of
/// it; answers the token's id, its secret, and the session's JWT.
fn token_and_session(server: &Server, name: &str) -> (String, String, String) {
    let (code, token) = server.call(
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": name, "admin": true})),
    );
    assert_eq!(code, 201, "{token}");
    let secret = token["secret"].as_str().unwrap().to_owned();
    let (code, session, _) = send(
        server,
        As::Bearer(&secret),
        "POST",
        "/api/v1/sessions",
        &[],
        None,
    );
    assert_eq!(code, 201, "{session}");
    (
        token["id"].as_str().unwrap().to_owned(),
        secret,
        session["token"].as_str().unwrap().to_owned(),
    )
}

fn scenario(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), db_url, &[]);
    let own_origin = server.base.clone();

    // A session of a fresh token: in the body and as the cookie.
    let (code, token) = server.call(
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "browser", "admin": true})),
    );
    assert_eq!(code, 201, "{token}");
    let token_id = token["id"].as_str().unwrap().to_owned();
    let secret = token["secret"].as_str().unwrap().to_owned();
    let before = chrono::Utc::now();
    let (code, session, cookie) = send(
        &server,
        As::Bearer(&secret),
        "POST",
        "/api/v1/sessions",
        &[],
        None,
    );
    assert_eq!(code, 201, "{session}");
    let jwt = session["token"].as_str().unwrap().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    assert_eq!(session["user"]["login"], "browser", "{session}");
    assert_eq!(session["user"]["id"], token["user_id"], "{session}");
    let expires: chrono::DateTime<chrono::Utc> =
        session["expires_at"].as_str().unwrap().parse().unwrap();
    let lasts = (expires - before).num_seconds();
    assert!((3595..=3605).contains(&lasts), "default hour: {lasts}");
    let cookie = cookie.expect("a Set-Cookie header");
    assert_eq!(
        cookie,
        format!("authtoken={jwt}; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600"),
        "no Secure without behind_tls"
    );
    let claims = claims_of(&jwt);
    assert_eq!(claims["sub"], token["user_id"], "{claims}");
    assert_eq!(claims["tid"], token_id.as_str(), "{claims}");
    for claim in ["iat", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "{claim} in {claims}");
    }
    assert!(
        !std::fs::read_to_string(dir.path().join("server.log"))
            .unwrap()
            .contains(&jwt),
        "the JWT is never logged"
    );

    // A lifetime of one's own, within bounds.
    let (code, short, cookie) = send(
        &server,
        As::Bearer(&secret),
        "POST",
        "/api/v1/sessions",
        &[],
        Some(json!({"ttl_secs": 120})),
    );
    assert_eq!(code, 201, "{short}");
    assert!(cookie.unwrap().contains("Max-Age=120"));
    for bad in [json!({"ttl_secs": 59}), json!({"ttl_secs": 86_401})] {
        let (code, body, cookie) = send(
            &server,
            As::Bearer(&secret),
            "POST",
            "/api/v1/sessions",
            &[],
            Some(bad.clone()),
        );
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(body["error"]["details"][0]["path"], "ttl_secs", "{body}");
        assert!(cookie.is_none(), "no cookie for a refused session");
    }
    let (code, body, _) = send(
        &server,
        As::Bearer(&secret),
        "POST",
        "/api/v1/sessions",
        &[],
        Some(json!({"ttl": 120})),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "ttl", "{body}");

    // Bearer and cookie both authorize.
    assert_eq!(get(&server, As::Bearer(&jwt), "/api/v1/projects").0, 200);
    assert_eq!(get(&server, As::Cookie(&jwt), "/api/v1/projects").0, 200);

    // A change from another site with the cookie alone: refused, nothing
    // made.
    let create = |name: &str| Some(json!({ "name": name }));
    let cross_site: [(&str, Vec<(&str, &str)>); 4] = [
        ("cross-site fetch", vec![("Sec-Fetch-Site", "cross-site")]),
        ("same-site fetch", vec![("Sec-Fetch-Site", "same-site")]),
        ("foreign origin", vec![("Origin", "https://evil.example")]),
        (
            "foreign origin, same-origin claim",
            vec![
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        ),
    ];
    for (what, headers) in &cross_site {
        let (code, body, _) = send(
            &server,
            As::Cookie(&jwt),
            "POST",
            "/api/v1/projects",
            headers,
            create("forged"),
        );
        assert_eq!(code, 403, "{what}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{what}");
        assert!(message(&body).contains("`authtoken` cookie"), "{body}");
    }
    assert!(
        !project_names(&server).contains(&"forged".to_owned()),
        "a refused request changes nothing"
    );

    // The same request from the server's own pages, or from a client that
    // is no browser, goes through; so does a read from another site, and a
    // bearer from anywhere.
    let (code, body, _) = send(
        &server,
        As::Cookie(&jwt),
        "POST",
        "/api/v1/projects",
        &[("Origin", &own_origin), ("Sec-Fetch-Site", "same-origin")],
        create("from-our-page"),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body, _) = send(
        &server,
        As::Cookie(&jwt),
        "POST",
        "/api/v1/projects",
        &[],
        create("from-a-script"),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body, _) = send(
        &server,
        As::Cookie(&jwt),
        "GET",
        "/api/v1/projects",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "https://evil.example"),
        ],
        None,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body, _) = send(
        &server,
        As::Bearer(&jwt),
        "POST",
        "/api/v1/projects",
        &[("Sec-Fetch-Site", "cross-site")],
        create("by-bearer"),
    );
    assert_eq!(code, 201, "{body}");
    let names = project_names(&server);
    for made in ["from-our-page", "from-a-script", "by-bearer"] {
        assert!(names.contains(&made.to_owned()), "{made} in {names:?}");
    }

    // A session makes no session, by bearer or by cookie.
    for who in [As::Bearer(&jwt), As::Cookie(&jwt)] {
        let (code, body, cookie) = send(&server, who, "POST", "/api/v1/sessions", &[], None);
        assert_eq!(code, 403, "{body}");
        assert!(message(&body).contains("API token"), "{body}");
        assert!(cookie.is_none());
    }

    // Forged, altered, expired, unsigned: 401 naming where it came from.
    let key = session_key(dir.path());
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let now = chrono::Utc::now().timestamp();
    let mut good = claims.clone();
    good["exp"] = json!(now + 600);
    assert_eq!(
        get(
            &server,
            As::Bearer(&forge(&hs256, &good, &key)),
            "/api/v1/projects"
        )
        .0,
        200,
        "the key in the data directory signs what the server accepts"
    );
    let other_key = [7u8; 32];
    let foreign = forge(&hs256, &good, &other_key);
    let mut expired_claims = good.clone();
    expired_claims["exp"] = json!(now - 60);
    let expired = forge(&hs256, &expired_claims, &key);
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut elevated = claims.clone();
    elevated["sub"] = json!("somebody-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(elevated.to_string()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none"}).to_string()),
        B64.encode(good.to_string())
    );
    for (what, bad, why) in [
        ("another key", foreign.as_str(), "invalid signature"),
        ("altered payload", tampered.as_str(), "invalid signature"),
        ("expired", expired.as_str(), "expired"),
        ("alg none", unsigned.as_str(), "HS256"),
        ("garbage", "a.b.c", "well-formed"),
    ] {
        assert_refused(
            what,
            get(&server, As::Cookie(bad), "/api/v1/projects"),
            "`authtoken` cookie",
            why,
        );
        assert_refused(
            what,
            get(&server, As::Bearer(bad), "/api/v1/projects"),
            "`Authorization` header",
            why,
        );
        let (code, body, _) = send(
            &server,
            As::Cookie(bad),
            "POST",
            "/api/v1/projects",
            &[],
            create("by-a-forgery"),
        );
        assert_eq!(code, 401, "{what}: {body}");
    }
    assert!(!project_names(&server).contains(&"by-a-forgery".to_owned()));
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        !log.contains(&foreign) && !log.contains(&jwt),
        "no JWT in the log"
    );

    // Without a trusted proxy configured, `Identity` is ignored.
    create_user(&server, "ann", "ann@example.com");
    assert_refused(
        "Identity, no trusted proxies",
        get(&server, As::Identity("ann@example.com"), "/api/v1/projects"),
        "no credentials",
        "`authtoken`",
    );

    // Logging out removes the cookie (the JWT itself still works: only a
    // revoke ends it everywhere).
    let (code, _, cookie) = send(
        &server,
        As::Cookie(&jwt),
        "DELETE",
        "/api/v1/sessions",
        &[],
        None,
    );
    assert_eq!(code, 204);
    assert_eq!(
        cookie.as_deref(),
        Some("authtoken=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    );
    assert_eq!(get(&server, As::Cookie(&jwt), "/api/v1/projects").0, 200);

    // Revoking the token ends its sessions, by bearer and by cookie, at
    // once.
    let (code, _) = server.call("DELETE", &format!("/api/v1/tokens/{token_id}"), None);
    assert_eq!(code, 204);
    assert_refused(
        "revoked, bearer",
        get(&server, As::Bearer(&jwt), "/api/v1/projects"),
        "`Authorization` header",
        "revoked",
    );
    assert_refused(
        "revoked, cookie",
        get(&server, As::Cookie(&jwt), "/api/v1/projects"),
        "`authtoken` cookie",
        "revoked",
    );
    // A dead cookie is removed on logout too.
    let (code, _, cookie) = send(
        &server,
        As::Cookie(&jwt),
        "DELETE",
        "/api/v1/sessions",
        &[],
        None,
    );
    assert_eq!(code, 401);
    assert!(cookie.unwrap().contains("Max-Age=0"));

    // Disabling the user ends their sessions.
    let (_, _, other_jwt) = token_and_session(&server, "kiosk");
    assert_eq!(
        get(&server, As::Cookie(&other_jwt), "/api/v1/projects").0,
        200
    );
    disable_user(&server, &claims_of(&other_jwt)["sub"]);
    assert_refused(
        "disabled user",
        get(&server, As::Cookie(&other_jwt), "/api/v1/projects"),
        "`authtoken` cookie",
        "disabled",
    );
    // The admin token still works throughout.
    assert_eq!(get(&server, As::Bearer(ADMIN), "/api/v1/projects").0, 200);
}

/// Disables user `id` as an admin.
fn disable_user(server: &Server, id: &Value) {
    let id = id.as_str().unwrap();
    let (code, body) = server.call(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(json!({"disabled": true})),
    );
    assert_eq!(code, 200, "{body}");
}

/// `Identity` from a trusted proxy (here: the test itself on 127.0.0.1).
fn trusted_proxy(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), db_url, &["--trusted-proxies", "127.0.0.1"]);
    let ann_id = create_user(&server, "ann", "ann@example.com");
    let ann = As::Identity("ann@example.com");

    // The proxy's word is taken: this is Ann (the e-mail in any case).
    let (code, me) = get(&server, ann, "/api/v1/user");
    assert_eq!(code, 200, "{me}");
    assert_eq!(me["login"], "ann", "{me}");

    // Ann, as the proxy names her, makes a project and owns it.
    let (code, body, _) = send(
        &server,
        ann,
        "POST",
        "/api/v1/projects",
        &[],
        Some(json!({"name": "anns"})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, list) = get(&server, As::Identity("ANN@example.com"), "/api/v1/projects");
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["total"], 1, "Ann sees her project only: {list}");
    assert_eq!(list["items"][0]["name"], "anns", "{list}");
    assert_eq!(list["items"][0]["role"], "owner", "{list}");

    // Not from another site; not for making sessions; nobody unknown.
    let (code, body, _) = send(
        &server,
        ann,
        "POST",
        "/api/v1/projects",
        &[("Sec-Fetch-Site", "cross-site")],
        Some(json!({"name": "forged"})),
    );
    assert_eq!(code, 403, "{body}");
    assert!(message(&body).contains("`Identity` header"), "{body}");
    let (code, body, _) = send(&server, ann, "POST", "/api/v1/sessions", &[], None);
    assert_eq!(code, 403, "{body}");
    assert_refused(
        "unknown e-mail",
        get(&server, As::Identity("eve@example.com"), "/api/v1/projects"),
        "`Identity` header",
        "no enabled user",
    );
    assert!(!project_names(&server).contains(&"forged".to_owned()));
    // With trusted proxies configured, the 401 names the header too.
    let (code, body) = get(&server, As::Nothing, "/api/v1/projects");
    assert_eq!(code, 401);
    assert!(message(&body).contains("`Identity` header"), "{body}");

    // A disabled user is nobody, whoever names them.
    disable_user(&server, &json!(ann_id));
    assert_refused(
        "disabled user",
        get(&server, ann, "/api/v1/projects"),
        "`Identity` header",
        "no enabled user",
    );
}

/// `Identity` from an address that is not the configured proxy.
#[test]
fn identity_from_an_untrusted_address_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &["--trusted-proxies", "10.9.9.9"]);
    create_user(&server, "ann", "ann@example.com");
    let (code, body, _) = send(
        &server,
        As::Identity("ann@example.com"),
        "POST",
        "/api/v1/projects",
        &[],
        Some(json!({"name": "anns"})),
    );
    assert_refused("untrusted peer", (code, body), "no credentials", "Bearer");
    assert!(project_names(&server).is_empty(), "nothing was made");
}

#[test]
fn a_bad_trusted_proxy_entry_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(slipway_tests::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--trusted-proxies"])
        .arg("127.0.0.1,10.0.0.0/33")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("SLIPWAY_DATABASE_URL")
        .env_remove("SLIPWAY_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`10.0.0.0/33`"), "{err}");
}

#[test]
fn behind_tls_the_cookie_is_secure_and_the_origin_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None, &["--behind-tls", "true"]);
    let (code, session, cookie) = send(
        &server,
        As::Bearer(ADMIN),
        "POST",
        "/api/v1/sessions",
        &[],
        None,
    );
    assert_eq!(code, 201, "{session}");
    assert!(cookie.unwrap().ends_with("; Secure"));
    let jwt = session["token"].as_str().unwrap();
    let host = server.base.trim_start_matches("http://").to_owned();
    let https = format!("https://{host}");
    let (code, body, _) = send(
        &server,
        As::Cookie(jwt),
        "POST",
        "/api/v1/projects",
        &[("Origin", &https)],
        Some(json!({"name": "ours"})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body, _) = send(
        &server,
        As::Cookie(jwt),
        "POST",
        "/api/v1/projects",
        &[("Origin", &server.base)],
        Some(json!({"name": "downgraded"})),
    );
    assert_eq!(code, 403, "{body}");
}

#[test]
fn sessions_sqlite() {
    scenario(None);
    trusted_proxy(None);
}

#[test]
fn sessions_postgres() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    scenario(Some(&db.url));
    let Some(db) = TestDb::postgres() else {
        return;
    };
    trusted_proxy(Some(&db.url));
}
