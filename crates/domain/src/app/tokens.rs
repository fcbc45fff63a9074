//! API tokens and authentication.

use super::permissions::AdminTask;
use super::{App, CACHE_TTL, Caller, DomainError, Result, check_name, lock, new_id};
use crate::catalog::{ApiToken, CatalogStoreError, User};
use crate::error::OrNotFound;
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use slipway_core::Problem;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

/// A token and, once, its secret.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret: shown once, never stored.
    pub secret: String,
}

/// The token prefix: secrets look like `slw_<64 hex digits>`.
pub const TOKEN_PREFIX: &str = "slw_";

/// The SHA-256 of a token secret, in hex: the only form in which secrets
/// are kept.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Creates a token, for a system admin (`by`). With `user` (an id or
    /// login) the token is that user's; without, a service account named
    /// after the token is created with it (`is_admin` makes it a system
    /// admin), which is what a token was before users existed. Its secret
    /// is in the answer and nowhere else.
    pub async fn create_token(
        &self,
        by: &Caller,
        name: &str,
        is_admin: bool,
        user: Option<&str>,
    ) -> Result<NewToken> {
        self.check_admin(by, AdminTask::ManageTokens)?;
        self.new_token(name, is_admin, user, Some(by), None).await
    }

    /// Creates a token on the operator's behalf (the command line, the
    /// first admin token of an empty database): no caller, no check. See
    /// [`App::create_token`] for `user`.
    pub async fn issue_token(
        &self,
        name: &str,
        is_admin: bool,
        user: Option<&str>,
    ) -> Result<NewToken> {
        self.new_token(name, is_admin, user, None, None).await
    }

    /// Creates a token with a secret chosen by the operator
    /// (`SLIPWAY_ADMIN_TOKEN`); it must be at least 32 characters, and not
    /// have the shape of a session JWT.
    pub async fn import_token(&self, name: &str, is_admin: bool, secret: &str) -> Result<ApiToken> {
        if secret.chars().count() < 32 {
            return Err(DomainError::Invalid(vec![Problem::new(
                "secret",
                "at least 32 characters",
            )]));
        }
        if super::sessions::looks_like_jwt(secret) {
            return Err(DomainError::Invalid(vec![Problem::new(
                "secret",
                "not three dot-separated parts: a bearer of that shape is taken for a session",
            )]));
        }
        Ok(self
            .new_token(name, is_admin, None, None, Some(secret.to_owned()))
            .await?
            .token)
    }

    async fn new_token(
        &self,
        name: &str,
        is_admin: bool,
        user: Option<&str>,
        by: Option<&Caller>,
        secret: Option<String>,
    ) -> Result<NewToken> {
        let mut problems = Vec::new();
        check_name("name", name, &mut problems);
        if user.is_some() && is_admin {
            problems.push(Problem::new(
                "is_admin",
                "a token has its user's rights: make the user an admin instead",
            ));
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let secret = match secret {
            Some(s) => s,
            None => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("{TOKEN_PREFIX}{hex}")
            }
        };
        let owner = match user {
            Some(u) => Some(self.named_user("user", u).await?),
            None => None,
        };
        let now = Utc::now();
        let token = ApiToken {
            id: new_id(),
            name: name.to_owned(),
            prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            user_id: owner.as_ref().map_or_else(new_id, |u| u.id.clone()),
            is_admin: owner.as_ref().map_or(is_admin, |u| u.is_admin),
            created_by: by.map(|c| c.name.clone()),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let hash = hash_secret(&secret);
        if owner.is_some() {
            self.catalog.insert_token(&token, &hash).await?;
        } else {
            let account = User {
                id: token.user_id.clone(),
                login: name.to_owned(),
                display_name: name.to_owned(),
                email: None,
                is_admin,
                created_by: token.created_by.clone(),
                created_at: now,
                disabled_at: None,
            };
            self.catalog
                .insert_user_with_token(&account, &token, &hash)
                .await
                .map_err(|e| match e {
                    CatalogStoreError::Duplicate(_) => DomainError::Conflict(format!(
                        "a user `{name}` exists: pass `user` to give them a token, or choose another name"
                    )),
                    other => other.into(),
                })?;
        }
        // Sessions of the new token must not meet a list read before it.
        self.forget_live_tokens();
        Ok(NewToken { token, secret })
    }

    /// How many tokens exist.
    pub async fn token_count(&self) -> Result<u64> {
        Ok(self.catalog.count_tokens().await?)
    }

    /// Every token (no secrets), for a system admin.
    pub async fn tokens(&self, by: &Caller) -> Result<Vec<ApiToken>> {
        self.check_admin(by, AdminTask::ManageTokens)?;
        Ok(self.catalog.tokens().await?)
    }

    /// Revokes a token, for a system admin: it is refused from the next
    /// request on, and so are the sessions made from it.
    pub async fn revoke_token(&self, by: &Caller, id: &str) -> Result<()> {
        self.check_admin(by, AdminTask::ManageTokens)?;
        let revoked = self.catalog.revoke_token(id, Utc::now()).await?;
        // Whatever it was cached as, it is not any more.
        self.forget_callers();
        revoked.or_not_found("token", id)
    }

    /// Forgets which tokens are live (a token was made or revoked): the
    /// next session checked reads them again, and a read that was under
    /// way meanwhile is not kept.
    pub(crate) fn forget_live_tokens(&self) {
        let mut cache = lock(&self.caches.live_tokens);
        self.caches.tokens_generation.fetch_add(1, SeqCst);
        *cache = None;
    }

    /// The user token `id` belongs to, if it is live (exists, not
    /// revoked): what a session made from it checks on every request.
    ///
    /// The port has no lookup of one token by id, so the live tokens are
    /// read all at once and kept for [`super::CACHE_TTL`]: a revoke on
    /// this server clears them ([`App::revoke_token`] →
    /// `forget_callers`), so its sessions fail from the next request on,
    /// and so does making a token, so its first session works at once;
    /// another server sharing the database notices either within
    /// `CACHE_TTL`.
    pub(crate) async fn live_token_owner(&self, id: &str) -> Result<Option<String>> {
        let cached = lock(&self.caches.live_tokens)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, live)| live.clone());
        let live = match cached {
            Some(live) => live,
            None => {
                let generation = self.caches.tokens_generation.load(SeqCst);
                let live: Arc<HashMap<String, String>> = Arc::new(
                    self.catalog
                        .tokens()
                        .await?
                        .into_iter()
                        .filter(|t| t.revoked_at.is_none())
                        .map(|t| (t.id, t.user_id))
                        .collect(),
                );
                let mut cache = lock(&self.caches.live_tokens);
                if self.caches.tokens_generation.load(SeqCst) == generation {
                    *cache = Some((Instant::now(), live.clone()));
                }
                live
            }
        };
        Ok(live.get(id).cloned())
    }

    /// The caller a bearer secret stands for, if it is a live token of an
    /// enabled user. The secret is hashed, looked up by hash, and the
    /// hashes compared in constant time.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Caller>> {
        use subtle::ConstantTimeEq;
        let hash = hash_secret(secret);
        if let Some(caller) = self.cached_caller(&hash) {
            return Ok(Some(caller));
        }
        let Some((token, stored)) = self.catalog.token_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) || token.revoked_at.is_some() {
            return Ok(None);
        }
        let Some(identity) = self.catalog.identity(&token.user_id).await? else {
            return Ok(None);
        };
        if identity.user.disabled_at.is_some() {
            return Ok(None);
        }
        let now = Utc::now();
        if token
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::seconds(60))
        {
            self.catalog.touch_token(&token.id, now).await?;
        }
        let caller = Caller::of(identity, Some(token.id));
        self.cache_caller(hash, &caller);
        Ok(Some(caller.for_request()))
    }
}
