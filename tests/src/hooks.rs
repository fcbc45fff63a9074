//! Webhook deliveries as a repository host sends them: a GitHub push
//! event, its `X-Hub-Signature-256`, and a bare repository's
//! `post-receive` hook that sends a signed event to the server for every
//! pushed ref.
//!
//! The hook runs the suite's own test binary again, as the test named
//! `hook_sender`, which each suite using [`install`] defines as a call to
//! [`sender`]; [`push`] hands it the server's URL and the secret through
//! the environment (git hands its environment to hooks).

use hmac::{KeyInit, Mac};
use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// Where the hook sends its deliveries (set by [`push`]).
const URL_VAR: &str = "SLIPWAY_TEST_HOOK_URL";
/// The secret the hook signs with (set by [`push`]).
const SECRET_VAR: &str = "SLIPWAY_TEST_HOOK_SECRET";

/// GitHub's `X-Hub-Signature-256` of `body` with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A GitHub push event as GitHub sends it (the fields Slipway and filters
/// read, with GitHub's names), for `old..new` on `refname` of the
/// repository at `git_dir`.
pub fn push_event(git_dir: &Path, old: &str, new: &str, refname: &str) -> Value {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%B", new])
        .current_dir(git_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git log {new}");
    let message = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    json!({
        "ref": refname,
        "before": old,
        "after": new,
        "created": old.chars().all(|c| c == '0'),
        "deleted": false,
        "forced": false,
        "compare": format!("https://github.com/acme/api/compare/{old}...{new}"),
        "commits": [{"id": new, "message": message, "distinct": true,
                     "author": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"}}],
        "head_commit": {"id": new, "message": message,
                        "author": {"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"}},
        "repository": {"id": 4242, "name": "api", "full_name": "acme/api",
                       "owner": {"login": "acme"}, "private": false,
                       "clone_url": "https://github.com/acme/api.git",
                       "default_branch": "main"},
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 7}
    })
}

/// Sends a GitHub push delivery; the answer's status and body.
pub fn send(url: &str, delivery: &str, body: &[u8], signature: &str) -> (u16, Value) {
    let res = Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitHub-Hookshot/044aadd")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", delivery)
        .header("X-Hub-Signature-256", signature)
        .body(body.to_vec())
        .send()
        .unwrap();
    crate::server::read(res)
}

/// The `post-receive` hook's work, when the test binary runs as the hook
/// (the URL variable set): a signed push event per pushed ref, each of
/// which must be answered 200. Does nothing in a normal test run.
pub fn sender() {
    let Ok(url) = std::env::var(URL_VAR) else {
        return;
    };
    let secret = std::env::var(SECRET_VAR).unwrap_or_default();
    let git_dir = std::env::current_dir().unwrap();
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    for line in input.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [old, new, refname] = parts[..] else {
            continue;
        };
        let body = serde_json::to_vec(&push_event(&git_dir, old, new, refname)).unwrap();
        let delivery = format!("{new}-{}", refname.replace('/', "_"));
        let (code, answer) = send(&url, &delivery, &body, &sign(&secret, &body));
        eprintln!("slipway answered {code}: {answer}");
        assert_eq!(code, 200, "hook failed: {answer}");
    }
}

/// Makes the bare repository's `post-receive` hook run the current test
/// binary's `hook_sender` test.
pub fn install(bare: &Path) {
    let exe = std::env::current_exe().unwrap();
    let hook = bare.join("hooks/post-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nexec '{}' --exact hook_sender --nocapture --test-threads=1 || {{ echo 'hook failed'; exit 1; }}\n",
            exe.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `git push ARGS` from `work`, the hook sending to `url` signed with
/// `secret`; fails when the push or the hook does.
pub fn push(work: &Path, url: &str, secret: &str, args: &[&str]) {
    let out = Command::new("git")
        .arg("push")
        .args(args)
        .current_dir(work)
        .env(URL_VAR, url)
        .env(SECRET_VAR, secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git push {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("hook failed"), "{said}");
}
