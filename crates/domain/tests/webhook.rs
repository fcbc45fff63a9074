#![allow(clippy::unwrap_used)]
//! Webhook verification and event parsing, over payload fixtures written
//! from the providers' published examples and signed here.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use slipway_domain::webhook::{
    EventKind, GENERIC_SIGNATURE_WINDOW, GITEE_SIGNATURE_WINDOW, Headers, Provider,
    PullRequestAction, WebhookError, generic_signature, gitee_signature, github_signature,
    parse_event, verify,
};
use slipway_testkit::webhook::form_encode;

const SECRET: &str = "s3cr3t-hook-key";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 14, 12, 0, 0).unwrap()
}

fn tampered(body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    // Change one byte inside the JSON (a digit or letter of the ref/sha).
    let i = body.iter().position(|b| *b == b'0').unwrap();
    body[i] = b'1';
    body
}

fn github_headers(event: &str, body: &[u8]) -> Headers {
    Headers::new()
        .with("X-GitHub-Event", event)
        .with("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .with("X-Hub-Signature-256", github_signature(SECRET, body))
        .with("Content-Type", "application/json")
}

fn assert_no_secret(err: &WebhookError) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET), "error leaks the secret: {text}");
}

// ---------------------------------------------------------------- GitHub

#[test]
fn github_published_test_vector() {
    // From GitHub's "Validating webhook deliveries" documentation.
    let secret = "It's a Secret to Everybody";
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(github_signature(secret, body), expected);
    let headers = Headers::new().with("x-hub-signature-256", expected);
    assert_eq!(
        verify(Provider::Github, &headers, body, secret, now()),
        Ok(())
    );
}

#[test]
fn github_signed_fixtures_verify_and_tampered_bodies_do_not() {
    for (name, event) in [
        ("github_push", "push"),
        ("github_tag_push", "push"),
        ("github_branch_delete", "push"),
        ("github_ping", "ping"),
        ("github_pull_request_opened", "pull_request"),
    ] {
        let body = fixture(name);
        let headers = github_headers(event, &body);
        assert_eq!(
            verify(Provider::Github, &headers, &body, SECRET, now()),
            Ok(()),
            "{name}"
        );
        let err = verify(Provider::Github, &headers, &tampered(&body), SECRET, now()).unwrap_err();
        assert_eq!(
            err,
            WebhookError::SignatureMismatch {
                header: "X-Hub-Signature-256"
            },
            "{name}"
        );
        assert_no_secret(&err);
    }
}

#[test]
fn github_refusals_name_their_cause() {
    let body = fixture("github_push");
    let missing = verify(Provider::Github, &Headers::new(), &body, SECRET, now()).unwrap_err();
    assert_eq!(missing, WebhookError::MissingHeader("X-Hub-Signature-256"));

    for bad in ["sha1=abcd", "757107ea0e", "sha256=xyz", "sha256="] {
        let headers = Headers::new().with("X-Hub-Signature-256", bad);
        let err = verify(Provider::Github, &headers, &body, SECRET, now()).unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedHeader { .. }),
            "{bad}: {err:?}"
        );
    }

    let wrong_secret = Headers::new().with("X-Hub-Signature-256", github_signature("other", &body));
    let err = verify(Provider::Github, &wrong_secret, &body, SECRET, now()).unwrap_err();
    assert!(matches!(err, WebhookError::SignatureMismatch { .. }));
    assert_no_secret(&err);

    // An empty configured secret verifies nothing.
    let headers = github_headers("push", &body);
    assert_eq!(
        verify(Provider::Github, &headers, &body, "", now()),
        Err(WebhookError::NoSecret)
    );
}

#[test]
fn github_push_parses() {
    let body = fixture("github_push");
    let event = parse_event(Provider::Github, &github_headers("push", &body), &body).unwrap();
    assert_eq!(event.kind, EventKind::Push);
    assert_eq!(event.name, "push");
    assert_eq!(event.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(event.git_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(event.branch.as_deref(), Some("main"));
    assert_eq!(event.tag, None);
    assert_eq!(
        event.commit.as_deref(),
        Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    );
    assert!(!event.deleted);
    assert_eq!(event.message.as_deref(), Some("Add health endpoint"));
    let author = event.author.unwrap();
    assert_eq!(author.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(author.email.as_deref(), Some("ada@example.com"));
    assert_eq!(event.repository.name.as_deref(), Some("api"));
    assert_eq!(event.repository.full_name.as_deref(), Some("acme/api"));
    assert_eq!(
        event.repository.clone_url.as_deref(),
        Some("https://github.com/acme/api.git")
    );
    assert_eq!(
        event.repository.ssh_url.as_deref(),
        Some("git@github.com:acme/api.git")
    );
    assert_eq!(event.body["ref"], "refs/heads/main");
}

#[test]
fn github_annotated_tag_push_builds_the_tagged_commit() {
    let body = fixture("github_tag_push");
    let event = parse_event(Provider::Github, &github_headers("push", &body), &body).unwrap();
    assert_eq!(event.kind, EventKind::TagPush);
    assert_eq!(event.git_ref.as_deref(), Some("refs/tags/v1.2.0"));
    assert_eq!(event.tag.as_deref(), Some("v1.2.0"));
    assert_eq!(event.branch, None);
    // `after` is the tag object; the commit is head_commit.id.
    assert_eq!(
        event.commit.as_deref(),
        Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    );
    assert_eq!(
        event.before.as_deref(),
        Some("0000000000000000000000000000000000000000")
    );
}

#[test]
fn github_deleted_branch_is_recognisable() {
    let body = fixture("github_branch_delete");
    let event = parse_event(Provider::Github, &github_headers("push", &body), &body).unwrap();
    assert_eq!(event.kind, EventKind::Push);
    assert!(event.deleted);
    assert_eq!(event.commit, None);
    assert_eq!(event.branch.as_deref(), Some("feature/old"));
    assert_eq!(event.message, None);
    assert_eq!(event.author.unwrap().name.as_deref(), Some("ada"));
}

#[test]
fn github_ping_parses() {
    let body = fixture("github_ping");
    let event = parse_event(Provider::Github, &github_headers("ping", &body), &body).unwrap();
    assert_eq!(event.kind, EventKind::Ping);
    assert_eq!(event.repository.full_name.as_deref(), Some("acme/api"));
}

#[test]
fn github_pull_request_opened_parses() {
    let body = fixture("github_pull_request_opened");
    let event = parse_event(
        Provider::Github,
        &github_headers("pull_request", &body),
        &body,
    )
    .unwrap();
    assert_eq!(
        event.kind,
        EventKind::PullRequest {
            action: PullRequestAction::Opened
        }
    );
    assert_eq!(event.branch.as_deref(), Some("feature/ready"));
    assert_eq!(event.git_ref.as_deref(), Some("refs/heads/feature/ready"));
    assert_eq!(event.target_branch.as_deref(), Some("main"));
    assert_eq!(
        event.commit.as_deref(),
        Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    );
    assert_eq!(event.message.as_deref(), Some("Add readiness probe"));
    assert_eq!(event.author.unwrap().username.as_deref(), Some("grace"));
}

#[test]
fn missing_event_header_and_bad_json_are_refused() {
    let body = fixture("github_push");
    let headers = Headers::new().with("X-Hub-Signature-256", github_signature(SECRET, &body));
    assert_eq!(
        parse_event(Provider::Github, &headers, &body).unwrap_err(),
        WebhookError::MissingHeader("X-GitHub-Event")
    );
    let err = parse_event(Provider::Github, &github_headers("push", b"{"), b"{").unwrap_err();
    assert!(matches!(err, WebhookError::InvalidBody(_)));
}

/// GitHub's default content type: the event is the `payload` field of a
/// form-encoded body, and the signature covers the form body as sent.
#[test]
fn github_form_encoded_delivery_verifies_and_parses_like_json() {
    let json = fixture("github_push");
    let form = format!("payload={}", form_encode(&json)).into_bytes();
    let headers = Headers::new()
        .with("X-GitHub-Event", "push")
        .with("X-GitHub-Delivery", "form-1")
        .with("X-Hub-Signature-256", github_signature(SECRET, &form))
        .with(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
    verify(Provider::Github, &headers, &form, SECRET, now()).unwrap();
    let event = parse_event(Provider::Github, &headers, &form).unwrap();
    let from_json = parse_event(Provider::Github, &github_headers("push", &json), &json).unwrap();
    assert_eq!(event.kind, EventKind::Push);
    assert_eq!(event.delivery_id, "form-1");
    assert_eq!(event.git_ref, from_json.git_ref);
    assert_eq!(event.commit, from_json.commit);
    assert_eq!(event.message, from_json.message);
    assert_eq!(event.body, from_json.body);

    // The signature is over the form body, not over the JSON inside it.
    let by_json = Headers::new()
        .with("X-GitHub-Event", "push")
        .with("X-Hub-Signature-256", github_signature(SECRET, &json))
        .with("Content-Type", "application/x-www-form-urlencoded");
    assert!(matches!(
        verify(Provider::Github, &by_json, &form, SECRET, now()),
        Err(WebhookError::SignatureMismatch { .. })
    ));

    // Other fields may come first; the field name may be encoded too.
    let other = format!("a=1&%70ayload={}", form_encode(&json)).into_bytes();
    let event = parse_event(Provider::Github, &headers, &other).unwrap();
    assert_eq!(event.commit, from_json.commit);

    // No payload field, or a broken escape: refused as unreadable.
    for bad in [&b"payloads=%7B%7D"[..], b"payload=%7", b"payload=%zz"] {
        let err = parse_event(Provider::Github, &headers, bad).unwrap_err();
        assert!(matches!(err, WebhookError::InvalidBody(_)), "{err}");
    }
}

#[test]
fn delivery_id_falls_back_to_the_body_hash() {
    let body = fixture("github_push");
    let headers = Headers::new().with("X-GitHub-Event", "push");
    let a = parse_event(Provider::Github, &headers, &body).unwrap();
    let b = parse_event(Provider::Github, &headers, &body).unwrap();
    assert!(a.delivery_id.starts_with("sha256:"));
    assert_eq!(a.delivery_id.len(), "sha256:".len() + 64);
    assert_eq!(a.delivery_id, b.delivery_id);
    let other = parse_event(Provider::Github, &headers, &fixture("github_tag_push")).unwrap();
    assert_ne!(a.delivery_id, other.delivery_id);
}

// ---------------------------------------------------------------- GitLab

fn gitlab_headers(event: &str, token: &str) -> Headers {
    Headers::new()
        .with("X-Gitlab-Event", event)
        .with("X-Gitlab-Token", token)
        .with(
            "X-Gitlab-Event-UUID",
            "13792a34-cac6-4fda-95a8-c58e00a3954e",
        )
}

#[test]
fn gitlab_token_verifies() {
    let body = fixture("gitlab_push");
    let ok = gitlab_headers("Push Hook", SECRET);
    assert_eq!(verify(Provider::Gitlab, &ok, &body, SECRET, now()), Ok(()));

    let wrong = gitlab_headers("Push Hook", "s3cr3t-hook-kex");
    let err = verify(Provider::Gitlab, &wrong, &body, SECRET, now()).unwrap_err();
    assert_eq!(
        err,
        WebhookError::SignatureMismatch {
            header: "X-Gitlab-Token"
        }
    );
    assert_no_secret(&err);

    let prefix = gitlab_headers("Push Hook", &SECRET[..4]);
    assert!(verify(Provider::Gitlab, &prefix, &body, SECRET, now()).is_err());

    let none = Headers::new().with("X-Gitlab-Event", "Push Hook");
    assert_eq!(
        verify(Provider::Gitlab, &none, &body, SECRET, now()),
        Err(WebhookError::MissingHeader("X-Gitlab-Token"))
    );
}

#[test]
fn gitlab_push_parses() {
    let body = fixture("gitlab_push");
    let event = parse_event(
        Provider::Gitlab,
        &gitlab_headers("Push Hook", SECRET),
        &body,
    )
    .unwrap();
    assert_eq!(event.kind, EventKind::Push);
    assert_eq!(event.delivery_id, "13792a34-cac6-4fda-95a8-c58e00a3954e");
    assert_eq!(event.git_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(event.branch.as_deref(), Some("main"));
    assert_eq!(
        event.commit.as_deref(),
        Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
    );
    // The message of the checked-out commit, not of the first listed one.
    assert_eq!(event.message.as_deref(), Some("fixed readme"));
    assert_eq!(
        event.author.unwrap().name.as_deref(),
        Some("GitLab dev user")
    );
    assert_eq!(event.repository.name.as_deref(), Some("Diaspora"));
    assert_eq!(event.repository.full_name.as_deref(), Some("mike/diaspora"));
    assert_eq!(
        event.repository.clone_url.as_deref(),
        Some("http://example.com/mike/diaspora.git")
    );
}

#[test]
fn gitlab_tag_push_parses() {
    let body = fixture("gitlab_tag_push");
    let event = parse_event(
        Provider::Gitlab,
        &gitlab_headers("Tag Push Hook", SECRET),
        &body,
    )
    .unwrap();
    assert_eq!(event.kind, EventKind::TagPush);
    assert_eq!(event.tag.as_deref(), Some("v1.0.0"));
    assert_eq!(
        event.commit.as_deref(),
        Some("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7")
    );
    // No commits listed: the pusher stands in as author.
    assert_eq!(event.author.unwrap().username.as_deref(), Some("jsmith"));
    assert_eq!(
        event.repository.full_name.as_deref(),
        Some("jsmith/example")
    );
}

// ----------------------------------------------------------------- Gitee

fn gitee_now_millis() -> i64 {
    now().timestamp_millis()
}

fn gitee_headers(event: &str, token: &str, timestamp: Option<i64>) -> Headers {
    let mut h = Headers::new()
        .with("X-Gitee-Event", event)
        .with("X-Gitee-Token", token)
        .with("User-Agent", "git-oschina-hook");
    if let Some(ts) = timestamp {
        h.insert("X-Gitee-Timestamp", ts.to_string());
    }
    h
}

#[test]
fn gitee_password_mode_verifies() {
    let body = fixture("gitee_push");
    let ok = gitee_headers("Push Hook", SECRET, Some(gitee_now_millis()));
    assert_eq!(verify(Provider::Gitee, &ok, &body, SECRET, now()), Ok(()));
    // Password mode has no timestamp requirement.
    let ok = gitee_headers("Push Hook", SECRET, None);
    assert_eq!(verify(Provider::Gitee, &ok, &body, SECRET, now()), Ok(()));

    let wrong = gitee_headers("Push Hook", "not-it", None);
    let err = verify(Provider::Gitee, &wrong, &body, SECRET, now()).unwrap_err();
    assert_eq!(
        err,
        WebhookError::SignatureMismatch {
            header: "X-Gitee-Token"
        }
    );
    assert_no_secret(&err);
}

#[test]
fn gitee_signature_mode_verifies_plain_and_url_encoded() {
    let body = fixture("gitee_push");
    let ts = gitee_now_millis() - 30_000;
    let sign = gitee_signature(SECRET, ts);
    let headers = gitee_headers("Push Hook", &sign, Some(ts));
    assert_eq!(
        verify(Provider::Gitee, &headers, &body, SECRET, now()),
        Ok(())
    );

    let encoded = sign
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let headers = gitee_headers("Push Hook", &encoded, Some(ts));
    assert_eq!(
        verify(Provider::Gitee, &headers, &body, SECRET, now()),
        Ok(())
    );

    // Signed for another timestamp than the one sent.
    let headers = gitee_headers("Push Hook", &sign, Some(ts + 1));
    let err = verify(Provider::Gitee, &headers, &body, SECRET, now()).unwrap_err();
    assert!(matches!(err, WebhookError::SignatureMismatch { .. }));
    assert_no_secret(&err);
}

#[test]
fn gitee_signature_matches_an_independent_computation() {
    // Computed with Python: base64(hmac.new(b"this is secret",
    // b"1576754827988\nthis is secret", sha256).digest()).
    assert_eq!(
        gitee_signature("this is secret", 1_576_754_827_988),
        "2D978FIy4DMMTbiN80zQkNH1Eq/kMBt3gL6OnWfGzzY="
    );
}

#[test]
fn gitee_signature_mode_refuses_stale_and_malformed_timestamps() {
    let body = fixture("gitee_push");
    let window = GITEE_SIGNATURE_WINDOW.num_milliseconds();
    for ts in [
        gitee_now_millis() - window - 1_000,
        gitee_now_millis() + window + 1_000,
    ] {
        let headers = gitee_headers("Push Hook", &gitee_signature(SECRET, ts), Some(ts));
        let err = verify(Provider::Gitee, &headers, &body, SECRET, now()).unwrap_err();
        assert!(
            matches!(
                err,
                WebhookError::StaleTimestamp {
                    header: "X-Gitee-Timestamp",
                    window_seconds: 3600,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_no_secret(&err);
    }
    // At the edge of the window it still passes.
    let ts = gitee_now_millis() - window;
    let headers = gitee_headers("Push Hook", &gitee_signature(SECRET, ts), Some(ts));
    assert_eq!(
        verify(Provider::Gitee, &headers, &body, SECRET, now()),
        Ok(())
    );

    let headers = Headers::new()
        .with("X-Gitee-Token", "abc")
        .with("X-Gitee-Timestamp", "yesterday");
    assert!(matches!(
        verify(Provider::Gitee, &headers, &body, SECRET, now()),
        Err(WebhookError::MalformedHeader {
            header: "X-Gitee-Timestamp",
            ..
        })
    ));
    assert_eq!(
        verify(Provider::Gitee, &Headers::new(), &body, SECRET, now()),
        Err(WebhookError::MissingHeader("X-Gitee-Token"))
    );
}

#[test]
fn gitee_push_parses_and_hides_the_password_field() {
    let mut json: serde_json::Value = serde_json::from_slice(&fixture("gitee_push")).unwrap();
    json["password"] = SECRET.into();
    let body = serde_json::to_vec(&json).unwrap();
    let event = parse_event(
        Provider::Gitee,
        &gitee_headers("Push Hook", SECRET, None),
        &body,
    )
    .unwrap();
    assert_eq!(event.kind, EventKind::Push);
    assert_eq!(
        event.git_ref.as_deref(),
        Some("refs/heads/change_commitlint_config")
    );
    assert_eq!(event.branch.as_deref(), Some("change_commitlint_config"));
    assert_eq!(
        event.commit.as_deref(),
        Some("1cdcd819599cbb4099289dbbec762452f006cb40")
    );
    assert_eq!(event.message.as_deref(), Some("Update README.md"));
    assert_eq!(
        event.author.unwrap().email.as_deref(),
        Some("robot@gitee.com")
    );
    assert_eq!(event.repository.full_name.as_deref(), Some("oschina/gitee"));
    assert_eq!(
        event.repository.clone_url.as_deref(),
        Some("https://gitee.com/oschina/gitee.git")
    );
    assert!(event.body.get("password").is_none());
    assert!(event.body.get("sign").is_none());
    assert!(!event.body.to_string().contains(SECRET));
    assert!(event.delivery_id.starts_with("sha256:"));
}

#[test]
fn gitee_tag_push_parses() {
    let body = fixture("gitee_tag_push");
    let event = parse_event(
        Provider::Gitee,
        &gitee_headers("Tag Push Hook", SECRET, None).with("X-Gitee-Delivery", "d-1"),
        &body,
    )
    .unwrap();
    assert_eq!(event.kind, EventKind::TagPush);
    assert_eq!(event.tag.as_deref(), Some("v2.0.1"));
    assert_eq!(event.delivery_id, "d-1");
    assert_eq!(
        event.commit.as_deref(),
        Some("1cdcd819599cbb4099289dbbec762452f006cb40")
    );
}

// --------------------------------------------------------------- generic

fn generic_headers(ts: i64, body: &[u8]) -> Headers {
    Headers::new()
        .with("X-Slipway-Timestamp", ts.to_string())
        .with("X-Slipway-Signature", generic_signature(SECRET, ts, body))
        .with("X-Slipway-Event", "push")
        .with("X-Slipway-Delivery", "post-receive-1")
}

#[test]
fn generic_scheme_verifies_and_refuses_tampering() {
    let body = fixture("github_push");
    let ts = now().timestamp();
    let headers = generic_headers(ts, &body);
    assert_eq!(
        verify(Provider::Generic, &headers, &body, SECRET, now()),
        Ok(())
    );

    let err = verify(Provider::Generic, &headers, &tampered(&body), SECRET, now()).unwrap_err();
    assert_eq!(
        err,
        WebhookError::SignatureMismatch {
            header: "X-Slipway-Signature"
        }
    );
    assert_no_secret(&err);

    // The timestamp is covered by the signature.
    let mut moved = Headers::new()
        .with("X-Slipway-Timestamp", (ts + 1).to_string())
        .with("X-Slipway-Signature", generic_signature(SECRET, ts, &body));
    assert!(matches!(
        verify(Provider::Generic, &moved, &body, SECRET, now()),
        Err(WebhookError::SignatureMismatch { .. })
    ));
    moved = Headers::new().with("X-Slipway-Signature", generic_signature(SECRET, ts, &body));
    assert_eq!(
        verify(Provider::Generic, &moved, &body, SECRET, now()),
        Err(WebhookError::MissingHeader("X-Slipway-Timestamp"))
    );
}

#[test]
fn generic_scheme_refuses_replays_outside_the_window() {
    let body = fixture("github_push");
    let window = GENERIC_SIGNATURE_WINDOW;
    let old = (now() - window - TimeDelta::seconds(1)).timestamp();
    let err = verify(
        Provider::Generic,
        &generic_headers(old, &body),
        &body,
        SECRET,
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        WebhookError::StaleTimestamp {
            header: "X-Slipway-Timestamp",
            skew_seconds: 301,
            window_seconds: 300
        }
    );
    let edge = (now() - window).timestamp();
    assert_eq!(
        verify(
            Provider::Generic,
            &generic_headers(edge, &body),
            &body,
            SECRET,
            now()
        ),
        Ok(())
    );
}

#[test]
fn generic_event_parses_like_a_github_push() {
    let body = fixture("github_tag_push");
    let event = parse_event(
        Provider::Generic,
        &generic_headers(now().timestamp(), &body),
        &body,
    )
    .unwrap();
    assert_eq!(event.kind, EventKind::TagPush);
    assert_eq!(event.delivery_id, "post-receive-1");
    assert_eq!(event.tag.as_deref(), Some("v1.2.0"));
    // Without X-Slipway-Event a push is assumed.
    let event = parse_event(Provider::Generic, &Headers::new(), &fixture("github_push")).unwrap();
    assert_eq!(event.kind, EventKind::Push);
}

// ----------------------------------------------------------------- misc

#[test]
fn headers_are_case_insensitive_and_first_value_wins() {
    let h = Headers::new()
        .with("X-GitHub-Event", "push")
        .with("x-github-event", "ping")
        .with("X-Hub-Signature-256", "sha256=00");
    assert_eq!(h.get("X-GITHUB-EVENT"), Some("push"));
    let json = h.to_json();
    assert_eq!(json["x-github-event"], "push");
    assert!(json.get("x-hub-signature-256").is_none());
}

#[test]
fn providers_round_trip_through_text() {
    for p in Provider::ALL {
        assert_eq!(p.to_string().parse::<Provider>().unwrap(), p);
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::Value::String(p.to_string())
        );
    }
    assert_eq!("GitHub".parse::<Provider>().unwrap(), Provider::Github);
    assert!("bitbucket".parse::<Provider>().is_err());
}
