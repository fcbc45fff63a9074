//! Sessions: an API token exchanged for a short-lived JWT that browsers
//! and cookie clients present instead of the token (as a bearer or as the
//! `authtoken` cookie; the API layers read it, see `slipway_http::dialect`).
//!
//! A session is an HS256 JWT signed with the server's [`SessionKey`], with
//! the claims `sub` (the user's id), `tid` (the token it was made from),
//! `iat`, `exp` and `jti` (random). Nothing is stored: a JWT cannot be
//! recalled, but every request checks that its token is still live and
//! belongs to `sub` and that the user is enabled, so revoking the token
//! (or disabling the user) ends all its sessions from the next request on
//! (within [`super::CACHE_TTL`] on other servers sharing the database).
//!
//! Verification is `jsonwebtoken::decode` with the algorithm pinned to
//! HS256, `exp` required and [`LEEWAY_SECS`] of clock leeway; it checks
//! the signature with the `hmac` crate's `Mac::verify_slice`, which
//! compares in constant time, before it reads any claim.

use super::{App, Caller, DomainError, Result, Via};
use crate::secrets::SessionKey;
use chrono::{DateTime, TimeZone as _, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use slipway_core::Problem;
use std::fmt;
use std::time::Duration;

/// The shortest session that can be asked for.
pub const MIN_TTL: Duration = Duration::from_secs(60);

/// Clock leeway when checking `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// How long sessions last when the caller does not say, and at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTtl {
    /// The lifetime of a session made without one.
    pub default: Duration,
    /// The longest lifetime that may be asked for.
    pub max: Duration,
}

impl Default for SessionTtl {
    fn default() -> Self {
        SessionTtl {
            default: Duration::from_secs(3600),
            max: Duration::from_secs(86_400),
        }
    }
}

/// A new session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The JWT: what the client presents. A credential: never log it.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// How long it lasts, from now.
    pub ttl: Duration,
    /// Whose it is.
    pub user_id: String,
    /// Their login.
    pub login: String,
    /// Their display name.
    pub display_name: String,
    /// Their e-mail, if known.
    pub email: Option<String>,
}

/// Why a session JWT was refused. Its text is a predicate for the place
/// the JWT came from (the API layer names it: "the `authtoken` cookie …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// Not three base64url parts with a JSON header and the claims this
    /// server puts in a session.
    Malformed,
    /// Signed with another algorithm than HS256 (or none).
    WrongAlgorithm,
    /// The signature is not this server's session key's (another key, or
    /// the header or claims were changed).
    BadSignature,
    /// Its `exp` has passed.
    Expired,
    /// The token it was made from is revoked, gone, or not the user's.
    TokenRevoked,
    /// Its user is disabled or gone.
    UserDisabled,
}

impl fmt::Display for SessionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionRefusal::Malformed => "is not a well-formed session JWT",
            SessionRefusal::WrongAlgorithm => "is not signed with HS256",
            SessionRefusal::BadSignature => {
                "has an invalid signature (not made by this server's session key, or altered)"
            }
            SessionRefusal::Expired => "has expired: make a new session",
            SessionRefusal::TokenRevoked => "was made from a token that is revoked",
            SessionRefusal::UserDisabled => "belongs to a user who is disabled or gone",
        })
    }
}

/// The claims of a session JWT.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user's id.
    sub: String,
    /// The id of the token the session was made from.
    tid: String,
    /// Issued at (seconds since the epoch).
    iat: u64,
    /// Expires at (seconds since the epoch).
    exp: u64,
    /// A random id of this session.
    jti: String,
}

/// Whether `text` has the shape of a JWT (three dot-separated parts): what
/// the API layers check a bearer credential against before they treat it
/// as a session rather than a token.
pub fn looks_like_jwt(text: &str) -> bool {
    text.split('.').count() == 3 && !text.starts_with(super::TOKEN_PREFIX)
}

/// Signs `claims` with `key`.
fn sign(key: &SessionKey, claims: &Claims) -> Result<String> {
    let key = EncodingKey::from_secret(key.bytes())
        .map_err(|e| DomainError::Internal(format!("session key: {e}")))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .map_err(|e| DomainError::Internal(format!("signing a session: {e}")))
}

/// Checks a JWT's signature (HS256 only, constant-time comparison), shape
/// and expiry, and reads its claims.
fn verify(key: &SessionKey, jwt: &str) -> std::result::Result<Claims, SessionRefusal> {
    let key = DecodingKey::from_secret(key.bytes()).map_err(|_| SessionRefusal::BadSignature)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    match jsonwebtoken::decode::<Claims>(jwt, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => SessionRefusal::BadSignature,
            ErrorKind::InvalidAlgorithm => SessionRefusal::WrongAlgorithm,
            ErrorKind::ExpiredSignature => SessionRefusal::Expired,
            // An algorithm the library does not know (`none`) fails as
            // an unreadable header: say what it is.
            _ if header_alg(jwt).is_some_and(|alg| alg != "HS256") => {
                SessionRefusal::WrongAlgorithm
            }
            _ => SessionRefusal::Malformed,
        }),
    }
}

/// The `alg` of a JWT's header, read without checking anything else.
fn header_alg(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let header = jwt.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

fn seconds_since_epoch(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl App {
    /// Makes a session for `by`, lasting `ttl` (the configured default
    /// when `None`; [`MIN_TTL`] to the configured maximum, else a problem
    /// at `ttl_secs`). Only a caller authenticated by an API token may:
    /// a session never makes another (it would outlive itself), nor does a
    /// proxy's `Identity` or the operator.
    pub async fn create_session(&self, by: &Caller, ttl: Option<Duration>) -> Result<Session> {
        let token_id = match (&by.via, &by.token_id) {
            (Via::Token, Some(id)) => id.clone(),
            _ => {
                return Err(DomainError::Forbidden(
                    "a session is made with an API token (`Authorization: Bearer slw_…`), \
                     not with a session or a proxy's `Identity`"
                        .into(),
                ));
            }
        };
        let limits = self.session_ttl;
        let ttl = ttl.unwrap_or(limits.default);
        if ttl < MIN_TTL || ttl > limits.max {
            return Err(DomainError::Invalid(vec![Problem::new(
                "ttl_secs",
                format!("{} to {} seconds", MIN_TTL.as_secs(), limits.max.as_secs()),
            )]));
        }
        let key = self
            .session_key
            .as_deref()
            .ok_or_else(|| DomainError::Internal("no session key is configured".into()))?;
        let now = Utc::now();
        let iat = seconds_since_epoch(now);
        let exp = iat.saturating_add(ttl.as_secs());
        let claims = Claims {
            sub: by.user_id.clone(),
            tid: token_id,
            iat,
            exp,
            jti: random_id()?,
        };
        let token = sign(key, &claims)?;
        let expires_at = Utc
            .timestamp_opt(i64::try_from(exp).unwrap_or(i64::MAX), 0)
            .single()
            .ok_or_else(|| DomainError::Internal("a session's expiry is out of range".into()))?;
        Ok(Session {
            token,
            expires_at,
            ttl,
            user_id: by.user_id.clone(),
            login: by.name.clone(),
            display_name: by.display_name.clone(),
            email: by.email.clone(),
        })
    }

    /// The caller a session JWT stands for ([`Via::Session`], with the
    /// token it was made from), or why it is refused: bad shape,
    /// algorithm, signature or expiry, a revoked token, a disabled user.
    /// Refused when no session key is configured (nothing can verify).
    pub async fn authenticate_session(
        &self,
        jwt: &str,
    ) -> Result<std::result::Result<Caller, SessionRefusal>> {
        let Some(key) = self.session_key.as_deref() else {
            return Ok(Err(SessionRefusal::BadSignature));
        };
        let claims = match verify(key, jwt) {
            Ok(c) => c,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if self.live_token_owner(&claims.tid).await?.as_deref() != Some(claims.sub.as_str()) {
            return Ok(Err(SessionRefusal::TokenRevoked));
        }
        Ok(
            match self
                .authenticate_user(&claims.sub, Some(&claims.tid))
                .await?
            {
                Some(mut caller) => {
                    caller.via = Via::Session;
                    Ok(caller)
                }
                None => Err(SessionRefusal::UserDisabled),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::{Hmac, KeyInit as _, Mac as _};

    fn claims(exp_in: i64) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            sub: "u1".into(),
            tid: "t1".into(),
            iat: u64::try_from(now).unwrap(),
            exp: u64::try_from(now + exp_in).unwrap(),
            jti: random_id().unwrap(),
        }
    }

    /// A JWT made by hand: `header` and `payload` as JSON, signed with
    /// HMAC-SHA-256 or HMAC-SHA-512 under `key` (or unsigned).
    fn forge(header: &str, payload: &str, key: &[u8], mac: &str) -> String {
        let message = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let signature = match mac {
            "HS256" => {
                let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
                m.update(message.as_bytes());
                B64.encode(m.finalize().into_bytes())
            }
            "HS512" => {
                let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
                m.update(message.as_bytes());
                B64.encode(m.finalize().into_bytes())
            }
            _ => String::new(),
        };
        format!("{message}.{signature}")
    }

    #[test]
    fn a_signed_session_verifies_with_its_claims() {
        let key = SessionKey::generate().unwrap();
        let jwt = sign(&key, &claims(600)).unwrap();
        assert!(looks_like_jwt(&jwt));
        let back = verify(&key, &jwt).unwrap();
        assert_eq!((back.sub.as_str(), back.tid.as_str()), ("u1", "t1"));
        assert_eq!(back.exp - back.iat, 600);
        assert_eq!(back.jti.len(), 32);
        // The same key made by hand verifies too: the format is plain HS256.
        let payload = serde_json::to_string(&claims(600)).unwrap();
        let by_hand = forge(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &payload,
            key.bytes(),
            "HS256",
        );
        assert!(verify(&key, &by_hand).is_ok());
    }

    #[test]
    fn expired_tampered_foreign_and_wrongly_signed_sessions_are_refused_by_kind() {
        let key = SessionKey::generate().unwrap();
        let other = SessionKey::generate().unwrap();

        let expired = sign(&key, &claims(-(LEEWAY_SECS as i64) - 30)).unwrap();
        assert_eq!(verify(&key, &expired).err(), Some(SessionRefusal::Expired));
        // Within the leeway it still works; past it, it does not.
        let just = sign(&key, &claims(-1)).unwrap();
        assert!(verify(&key, &just).is_ok());

        // Another key: a bad signature, even when also expired.
        let foreign = sign(&other, &claims(600)).unwrap();
        assert_eq!(
            verify(&key, &foreign).err(),
            Some(SessionRefusal::BadSignature)
        );
        let foreign_expired = sign(&other, &claims(-600)).unwrap();
        assert_eq!(
            verify(&key, &foreign_expired).err(),
            Some(SessionRefusal::BadSignature)
        );

        // The payload changed (another user), the signature kept.
        let good = sign(&key, &claims(600)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let mut changed = claims(600);
        changed.sub = "admin".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_string(&changed).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify(&key, &tampered).err(),
            Some(SessionRefusal::BadSignature)
        );
        // One signature character changed (the first: the last one also
        // holds padding bits, which must be zero).
        let mut sig = parts[2].to_owned();
        let first = if sig.starts_with('A') { "B" } else { "A" };
        sig.replace_range(..1, first);
        let flipped = format!("{}.{}.{sig}", parts[0], parts[1]);
        assert_eq!(
            verify(&key, &flipped).err(),
            Some(SessionRefusal::BadSignature)
        );

        // alg none (unsigned), HS512 with the right key: refused.
        let payload = serde_json::to_string(&claims(600)).unwrap();
        let none = forge(r#"{"alg":"none","typ":"JWT"}"#, &payload, b"", "none");
        assert_eq!(
            verify(&key, &none).err(),
            Some(SessionRefusal::WrongAlgorithm)
        );
        let hs512 = forge(
            r#"{"alg":"HS512","typ":"JWT"}"#,
            &payload,
            key.bytes(),
            "HS512",
        );
        assert_eq!(
            verify(&key, &hs512).err(),
            Some(SessionRefusal::WrongAlgorithm)
        );

        // Garbage, missing claims, no exp.
        for bad in ["", "a.b.c", "not a jwt", "x.y", "....", "e30.e30.e30"] {
            assert_eq!(
                verify(&key, bad).err(),
                Some(SessionRefusal::Malformed),
                "{bad}"
            );
        }
        let no_exp = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"u1","tid":"t1","iat":1,"jti":"j"}"#,
            key.bytes(),
            "HS256",
        );
        assert_eq!(verify(&key, &no_exp).err(), Some(SessionRefusal::Malformed));
        let no_tid = forge(
            r#"{"alg":"HS256"}"#,
            &format!(r#"{{"sub":"u1","iat":1,"exp":{},"jti":"j"}}"#, u32::MAX),
            key.bytes(),
            "HS256",
        );
        assert_eq!(verify(&key, &no_tid).err(), Some(SessionRefusal::Malformed));
    }

    fn app(dir: &std::path::Path) -> App {
        let registry = slipway_core::Registry::new();
        let engine = slipway_core::Engine::builder(registry.clone())
            .workspace_root(dir)
            .build();
        let catalog = std::sync::Arc::new(crate::MemoryCatalog::with_runs(engine.store().clone()));
        App::new(catalog, engine, registry).with_session_key(SessionKey::generate().unwrap())
    }

    fn token_caller(token_id: &str) -> Caller {
        Caller::of(
            crate::catalog::Identity {
                user: crate::catalog::User {
                    id: "u1".into(),
                    login: "ann".into(),
                    display_name: "Ann".into(),
                    email: Some("ann@example.com".into()),
                    is_admin: false,
                    created_by: None,
                    created_at: Utc::now(),
                    disabled_at: None,
                },
                roles: vec![],
                follows: vec![],
            },
            Some(token_id.into()),
        )
    }

    #[tokio::test]
    async fn only_a_token_caller_makes_a_session_and_only_for_an_allowed_time() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).with_session_ttl(SessionTtl {
            default: Duration::from_secs(600),
            max: Duration::from_secs(900),
        });
        let by = token_caller("t1");
        let before = Utc::now();
        let made = app.create_session(&by, None).await.unwrap();
        assert_eq!(made.ttl, Duration::from_secs(600));
        assert!((made.expires_at - before).num_seconds() >= 599);
        assert_eq!((made.user_id.as_str(), made.login.as_str()), ("u1", "ann"));
        let claims = verify(app.session_key.as_deref().unwrap(), &made.token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.tid.as_str()), ("u1", "t1"));
        assert_eq!(claims.exp - claims.iat, 600);
        let again = app.create_session(&by, None).await.unwrap();
        assert_ne!(
            claims.jti,
            verify(app.session_key.as_deref().unwrap(), &again.token)
                .unwrap()
                .jti
        );

        for secs in [59, 901] {
            let err = app
                .create_session(&by, Some(Duration::from_secs(secs)))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, DomainError::Invalid(p) if p[0].path == "ttl_secs"),
                "{secs}: {err:?}"
            );
        }
        assert!(app.create_session(&by, Some(MIN_TTL)).await.is_ok());

        for via in [Via::Session, Via::Proxy, Via::Operator] {
            let mut other = by.clone();
            other.via = via;
            let err = app.create_session(&other, None).await.unwrap_err();
            assert!(matches!(err, DomainError::Forbidden(_)), "{via:?}: {err:?}");
        }
        let err = app
            .create_session(&Caller::operator(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_session_of_an_unknown_token_or_of_another_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        // A token that was never issued.
        let made = app.create_session(&token_caller("t1"), None).await.unwrap();
        assert_eq!(
            app.authenticate_session(&made.token).await.unwrap().err(),
            Some(SessionRefusal::TokenRevoked)
        );
        // Another server's key.
        let other = self::app(dir.path());
        assert_eq!(
            other.authenticate_session(&made.token).await.unwrap().err(),
            Some(SessionRefusal::BadSignature)
        );
        // No key at all: nothing verifies, nothing is made.
        let keyless = App {
            session_key: None,
            ..self::app(dir.path())
        };
        assert_eq!(
            keyless
                .authenticate_session(&made.token)
                .await
                .unwrap()
                .err(),
            Some(SessionRefusal::BadSignature)
        );
        assert!(matches!(
            keyless.create_session(&token_caller("t1"), None).await,
            Err(DomainError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn a_session_stands_for_its_user_until_the_token_is_revoked_or_the_user_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let admin = app.issue_token("root", true, None).await.unwrap();
        let root = app.authenticate(&admin.secret).await.unwrap().unwrap();
        let user = app
            .create_user(
                &root,
                crate::UserInput {
                    login: Some("ann".into()),
                    email: Some("ann@example.com".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let token = app
            .create_token(&root, "laptop", false, Some("ann"))
            .await
            .unwrap();
        let ann = app.authenticate(&token.secret).await.unwrap().unwrap();
        assert_eq!(ann.via, Via::Token);
        let made = app.create_session(&ann, None).await.unwrap();

        let by_session = app
            .authenticate_session(&made.token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_session.via, Via::Session);
        assert_eq!(by_session.user_id, user.id);
        assert_eq!(
            by_session.token_id.as_deref(),
            Some(token.token.id.as_str())
        );
        assert!(matches!(
            app.create_session(&by_session, None).await,
            Err(DomainError::Forbidden(_))
        ));
        let by_mail = app
            .authenticate_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((by_mail.via, by_mail.token_id.clone()), (Via::Proxy, None));

        // A second session survives the first's token's revoke only if it
        // has another token: revoke, and both of this token's fail at once.
        let second = app.create_session(&ann, None).await.unwrap();
        app.revoke_token(&root, &token.token.id).await.unwrap();
        for jwt in [&made.token, &second.token] {
            assert_eq!(
                app.authenticate_session(jwt).await.unwrap().err(),
                Some(SessionRefusal::TokenRevoked)
            );
        }

        // Disabling the user ends the sessions of their other tokens.
        let other = app
            .create_token(&root, "desktop", false, Some("ann"))
            .await
            .unwrap();
        let ann = app.authenticate(&other.secret).await.unwrap().unwrap();
        let third = app.create_session(&ann, None).await.unwrap();
        assert!(
            app.authenticate_session(&third.token)
                .await
                .unwrap()
                .is_ok()
        );
        app.update_user(
            &root,
            &user.id,
            crate::UserInput {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            app.authenticate_session(&third.token).await.unwrap().err(),
            Some(SessionRefusal::UserDisabled)
        );
    }

    #[tokio::test]
    async fn an_imported_token_cannot_look_like_a_session() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let err = app
            .import_token("admin", true, "header-part-long.payload-part.signature")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid(p) if p[0].path == "secret"),
            "{err:?}"
        );
    }

    #[test]
    fn tokens_are_not_taken_for_jwts() {
        assert!(!looks_like_jwt(
            "slw_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ));
        assert!(!looks_like_jwt("slw_a.b.c"));
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("a.b"));
    }
}
