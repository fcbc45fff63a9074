//! Webhook verification and event parsing.
//!
//! Pure functions over a request's headers and its raw body: the HTTP layer
//! gathers the headers into [`Headers`], calls [`verify`] with the
//! application's webhook secret and the current time, and only when that
//! succeeds calls [`parse_event`] to get a normalised [`Event`].
//!
//! | provider | credential header | what it proves |
//! |---|---|---|
//! | [`Provider::Github`] | `X-Hub-Signature-256: sha256=<hex>` | HMAC-SHA256(secret, raw body) |
//! | [`Provider::Gitlab`] | `X-Gitlab-Token` | the secret itself |
//! | [`Provider::Gitee`] | `X-Gitee-Token` (+ `X-Gitee-Timestamp`) | the secret itself (password mode) or base64 HMAC-SHA256(secret, `"<ms>\n<secret>"`) (signature mode) |
//! | [`Provider::Generic`] | `X-Slipway-Signature: sha256=<hex>` + `X-Slipway-Timestamp` | HMAC-SHA256(secret, `"<seconds>.<raw body>"`) |
//!
//! Every comparison is constant time, every refusal names its cause
//! ([`WebhookError`]) and no error ever carries the secret. See
//! `docs/webhooks.md` for the full description.

mod event;

pub use event::{Author, Event, EventKind, PullRequestAction, RepositoryInfo, parse_event};

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// GitHub's event name header.
pub const GITHUB_EVENT_HEADER: &str = "X-GitHub-Event";
/// GitHub's delivery id header.
pub const GITHUB_DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// GitLab's secret token header.
pub const GITLAB_TOKEN_HEADER: &str = "X-Gitlab-Token";
/// GitLab's event name header.
pub const GITLAB_EVENT_HEADER: &str = "X-Gitlab-Event";
/// GitLab's per-event id header.
pub const GITLAB_EVENT_UUID_HEADER: &str = "X-Gitlab-Event-UUID";
/// Gitee's password-or-signature header.
pub const GITEE_TOKEN_HEADER: &str = "X-Gitee-Token";
/// Gitee's timestamp header (milliseconds since the Unix epoch).
pub const GITEE_TIMESTAMP_HEADER: &str = "X-Gitee-Timestamp";
/// Gitee's event name header.
pub const GITEE_EVENT_HEADER: &str = "X-Gitee-Event";
/// Gitee's delivery id header, used when present (Gitee does not document
/// one; the body hash is the fallback).
pub const GITEE_DELIVERY_HEADER: &str = "X-Gitee-Delivery";
/// The generic scheme's signature header.
pub const GENERIC_SIGNATURE_HEADER: &str = "X-Slipway-Signature";
/// The generic scheme's timestamp header (seconds since the Unix epoch).
pub const GENERIC_TIMESTAMP_HEADER: &str = "X-Slipway-Timestamp";
/// The generic scheme's (optional) event name header.
pub const GENERIC_EVENT_HEADER: &str = "X-Slipway-Event";
/// The generic scheme's (optional) delivery id header.
pub const GENERIC_DELIVERY_HEADER: &str = "X-Slipway-Delivery";

/// How far a Gitee signature-mode timestamp may be from now, either way.
/// Gitee documents that the timestamp must be within one hour of the call.
pub const GITEE_SIGNATURE_WINDOW: TimeDelta = TimeDelta::hours(1);
/// How far a generic-scheme timestamp may be from now, either way.
pub const GENERIC_SIGNATURE_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// Where a webhook comes from; it picks the verification scheme and the
/// payload shape. Serialised in lower case (`github`, `gitlab`, `gitee`,
/// `generic`), which is also its path segment in
/// `POST /api/v1/hooks/{provider}/{application_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub (github.com and GitHub Enterprise Server).
    Github,
    /// GitLab (gitlab.com and self-managed).
    Gitlab,
    /// Gitee (gitee.com).
    Gitee,
    /// Any sender implementing Slipway's own signature scheme.
    Generic,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 4] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Gitee,
        Provider::Generic,
    ];

    /// The lower-case name (`github`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Gitee => "gitee",
            Provider::Generic => "generic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook provider {0:?} (expected github, gitlab, gitee or generic)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// A request's headers, looked up case-insensitively.
///
/// When a name is inserted twice the first value is kept: a later duplicate
/// can neither replace a signature nor an event name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    by_lower_name: BTreeMap<String, String>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header unless one of the same name (ignoring case) is present.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl Into<String>) {
        self.by_lower_name
            .entry(name.as_ref().to_ascii_lowercase())
            .or_insert_with(|| value.into());
    }

    /// Adds a header and returns the map, for building in tests.
    #[must_use]
    pub fn with(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// The value of a header, whatever the case of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_lower_name
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The headers as a JSON object with lower-case names, the shape filter
    /// expressions see as `headers`. Credential headers (`X-Hub-Signature*`,
    /// `X-Gitlab-Token`, `X-Gitee-Token`, `X-Slipway-Signature`) are left out.
    pub fn to_json(&self) -> serde_json::Value {
        const HIDDEN: [&str; 5] = [
            "x-hub-signature",
            "x-hub-signature-256",
            "x-gitlab-token",
            "x-gitee-token",
            "x-slipway-signature",
        ];
        let map = self
            .by_lower_name
            .iter()
            .filter(|(name, _)| !HIDDEN.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
            .collect();
        serde_json::Value::Object(map)
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.insert(name, value);
        }
        headers
    }
}

/// Why a webhook was refused. No variant carries the secret, the expected
/// signature or the received credential value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The application has no webhook secret: nothing can be verified.
    #[error("no webhook secret is configured")]
    NoSecret,
    /// A header the scheme needs is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but not in the expected form.
    #[error("malformed header {header}: {reason}")]
    MalformedHeader {
        /// The header's canonical name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The credential in the header does not match the secret.
    #[error("the {header} value does not match")]
    SignatureMismatch {
        /// The header that was checked.
        header: &'static str,
    },
    /// The signature is right but its timestamp is too far from now.
    #[error(
        "timestamp in {header} is {skew_seconds} s from now, outside the {window_seconds} s window"
    )]
    StaleTimestamp {
        /// The timestamp header.
        header: &'static str,
        /// Distance from now, in seconds (negative: in the future).
        skew_seconds: i64,
        /// The accepted distance either way, in seconds.
        window_seconds: i64,
    },
    /// The body is not a JSON document.
    #[error("the body is not JSON: {0}")]
    InvalidBody(String),
}

/// Checks that a webhook request was sent by the holder of `secret`.
///
/// `raw_body` must be the exact bytes received (GitHub and the generic
/// scheme sign them). `now` bounds the timestamped schemes (Gitee signature
/// mode: [`GITEE_SIGNATURE_WINDOW`]; generic: [`GENERIC_SIGNATURE_WINDOW`]).
/// The signature is checked before the timestamp, so
/// [`WebhookError::StaleTimestamp`] means "authentic but too old or too
/// far in the future".
pub fn verify(
    provider: Provider,
    headers: &Headers,
    raw_body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    match provider {
        Provider::Github => verify_github(headers, raw_body, secret),
        Provider::Gitlab => verify_token(headers, GITLAB_TOKEN_HEADER, secret),
        Provider::Gitee => verify_gitee(headers, secret, now),
        Provider::Generic => verify_generic(headers, raw_body, secret, now),
    }
}

/// A secret made at random once per process and given to nobody: deliveries
/// for an unknown application (or one without a webhook secret) are checked
/// against it, so they are refused exactly as a wrong signature is.
pub fn decoy_secret() -> &'static str {
    static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    });
    &DECOY
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`:
/// `sha256=` and the lower-case hex HMAC-SHA256 under `secret`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        to_hex(&hmac_sha256(secret.as_bytes(), &[body]))
    )
}

/// The `X-Gitee-Token` value Gitee sends in signature mode for a timestamp
/// in milliseconds: base64 (standard alphabet, padded) of
/// HMAC-SHA256(secret, `"<timestamp>\n<secret>"`), without URL-encoding.
pub fn gitee_signature(secret: &str, timestamp_millis: i64) -> String {
    let to_sign = format!("{timestamp_millis}\n{secret}");
    let mac = hmac_sha256(secret.as_bytes(), &[to_sign.as_bytes()]);
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// The `X-Slipway-Signature` value of the generic scheme for a timestamp in
/// seconds: `sha256=` and the lower-case hex HMAC-SHA256(secret,
/// `"<timestamp>." + body`).
pub fn generic_signature(secret: &str, timestamp_seconds: i64, body: &[u8]) -> String {
    let prefix = format!("{timestamp_seconds}.");
    format!(
        "sha256={}",
        to_hex(&hmac_sha256(secret.as_bytes(), &[prefix.as_bytes(), body]))
    )
}

fn verify_github(headers: &Headers, body: &[u8], secret: &str) -> Result<(), WebhookError> {
    let header = GITHUB_SIGNATURE_HEADER;
    let value = headers
        .get(header)
        .ok_or(WebhookError::MissingHeader(header))?;
    let received = parse_sha256_hex(header, value)?;
    let expected = hmac_sha256(secret.as_bytes(), &[body]);
    if bool::from(expected.ct_eq(&received)) {
        Ok(())
    } else {
        Err(WebhookError::SignatureMismatch { header })
    }
}

fn verify_token(headers: &Headers, header: &'static str, secret: &str) -> Result<(), WebhookError> {
    let value = headers
        .get(header)
        .ok_or(WebhookError::MissingHeader(header))?;
    if equal_secret(value, secret) {
        Ok(())
    } else {
        Err(WebhookError::SignatureMismatch { header })
    }
}

/// The integer timestamp header `header` holds (`raw`); `reason` says what
/// it must be when it holds none.
fn timestamp_number(
    header: &'static str,
    raw: &str,
    reason: &'static str,
) -> Result<i64, WebhookError> {
    raw.trim()
        .parse()
        .map_err(|_| WebhookError::MalformedHeader { header, reason })
}

/// The time timestamp header `header` gave, or `MalformedHeader` when it
/// is out of range (`None`).
fn in_range(
    header: &'static str,
    at: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, WebhookError> {
    at.ok_or(WebhookError::MalformedHeader {
        header,
        reason: "out of range",
    })
}

fn verify_gitee(headers: &Headers, secret: &str, now: DateTime<Utc>) -> Result<(), WebhookError> {
    let header = GITEE_TOKEN_HEADER;
    let token = headers
        .get(header)
        .ok_or(WebhookError::MissingHeader(header))?;
    // Password mode: the header carries the secret itself.
    if equal_secret(token, secret) {
        return Ok(());
    }
    // Signature mode needs the timestamp; without one the password simply
    // did not match.
    let Some(raw_ts) = headers.get(GITEE_TIMESTAMP_HEADER) else {
        return Err(WebhookError::SignatureMismatch { header });
    };
    let millis = timestamp_number(
        GITEE_TIMESTAMP_HEADER,
        raw_ts,
        "not an integer number of milliseconds",
    )?;
    // Gitee's documentation describes URL-encoding the base64 for use in a
    // URL; accept the header either as plain base64 or percent-encoded.
    let expected = gitee_signature(secret, millis);
    let decoded = percent_decode(token.trim());
    let plain_ok = bool::from(expected.as_bytes().ct_eq(token.trim().as_bytes()));
    let decoded_ok = decoded
        .as_deref()
        .is_some_and(|d| bool::from(expected.as_bytes().ct_eq(d.as_bytes())));
    if !(plain_ok || decoded_ok) {
        return Err(WebhookError::SignatureMismatch { header });
    }
    let sent = in_range(
        GITEE_TIMESTAMP_HEADER,
        DateTime::<Utc>::from_timestamp_millis(millis),
    )?;
    check_window(GITEE_TIMESTAMP_HEADER, sent, now, GITEE_SIGNATURE_WINDOW)
}

fn verify_generic(
    headers: &Headers,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let header = GENERIC_SIGNATURE_HEADER;
    let value = headers
        .get(header)
        .ok_or(WebhookError::MissingHeader(header))?;
    let raw_ts = headers
        .get(GENERIC_TIMESTAMP_HEADER)
        .ok_or(WebhookError::MissingHeader(GENERIC_TIMESTAMP_HEADER))?;
    let received = parse_sha256_hex(header, value)?;
    let seconds = timestamp_number(
        GENERIC_TIMESTAMP_HEADER,
        raw_ts,
        "not an integer number of seconds",
    )?;
    // Sign the timestamp as the digits that were sent, so "0012" and "12"
    // are different messages.
    let prefix = format!("{}.", raw_ts.trim());
    let expected = hmac_sha256(secret.as_bytes(), &[prefix.as_bytes(), body]);
    if !bool::from(expected.ct_eq(&received)) {
        return Err(WebhookError::SignatureMismatch { header });
    }
    let sent = in_range(
        GENERIC_TIMESTAMP_HEADER,
        DateTime::<Utc>::from_timestamp(seconds, 0),
    )?;
    check_window(
        GENERIC_TIMESTAMP_HEADER,
        sent,
        now,
        GENERIC_SIGNATURE_WINDOW,
    )
}

fn check_window(
    header: &'static str,
    sent: DateTime<Utc>,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Result<(), WebhookError> {
    let skew = now - sent;
    if skew.abs() <= window {
        Ok(())
    } else {
        Err(WebhookError::StaleTimestamp {
            header,
            skew_seconds: skew.num_seconds(),
            window_seconds: window.num_seconds(),
        })
    }
}

/// `sha256=<64 hex digits>` → the 32 bytes.
fn parse_sha256_hex(header: &'static str, value: &str) -> Result<[u8; 32], WebhookError> {
    let hex = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedHeader {
            header,
            reason: "expected sha256=<hex>",
        })?;
    from_hex_32(hex).ok_or(WebhookError::MalformedHeader {
        header,
        reason: "expected 64 hexadecimal digits after sha256=",
    })
}

/// Compares a received token with the secret in constant time, including
/// its length: both sides are hashed first.
fn equal_secret(received: &str, secret: &str) -> bool {
    let a = Sha256::digest(received.as_bytes());
    let b = Sha256::digest(secret.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
///
/// The key is brought to the 64-byte block size here exactly as HMAC does
/// (hashed when longer, zero-padded), so the keyed constructor cannot fail.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(Sha256::digest(key).as_slice());
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(mac.finalize().into_bytes().as_slice());
    out
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn from_hex_32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (and `+` as space, as form encoding does); `None`
/// when there is nothing to decode or an escape is broken.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    String::from_utf8(form_decode(s.as_bytes())?).ok()
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; `None` when an escape is broken.
pub(crate) fn form_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let hi = hex_digit(*text.get(i + 1)?)?;
                let lo = hex_digit(*text.get(i + 2)?)?;
                out.push((hi << 4) | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 8) as u8);
        assert_eq!(from_hex_32(&to_hex(&bytes)), Some(bytes));
        assert_eq!(from_hex_32("zz"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("abc"), None);
        assert_eq!(percent_decode("a%2Bb%3D").as_deref(), Some("a+b="));
        assert_eq!(percent_decode("a%2"), None);
    }

    #[test]
    fn long_keys_are_hashed_like_hmac_does() {
        // RFC 4231 test case 6: a 131-byte key.
        let key = [0xaau8; 131];
        let mac = hmac_sha256(
            &key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            to_hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
