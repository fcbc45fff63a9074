//! API tokens and authentication.

use super::permissions::Permission;
use super::{App, CACHE_ENTRIES, CACHE_TTL, Caller, DomainError, Result, check_name, lock, new_id};
use crate::catalog::ApiToken;
use crate::error::OrNotFound;
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use slipway_core::Problem;

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
    /// Creates a token for `by` (who must be allowed to manage tokens);
    /// its secret is in the answer and nowhere else.
    pub async fn create_token(&self, by: &Caller, name: &str, is_admin: bool) -> Result<NewToken> {
        self.authorize(by, Permission::ManageTokens)?;
        self.new_token(name, is_admin, Some(by)).await
    }

    /// Creates a token on the operator's behalf (the command line, the
    /// first admin token of an empty database): no caller, no check.
    pub async fn issue_token(&self, name: &str, is_admin: bool) -> Result<NewToken> {
        self.new_token(name, is_admin, None).await
    }

    async fn new_token(&self, name: &str, is_admin: bool, by: Option<&Caller>) -> Result<NewToken> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.insert_token(name, is_admin, by, format!("{TOKEN_PREFIX}{hex}"))
            .await
    }

    /// Creates a token with a secret chosen by the operator
    /// (`SLIPWAY_ADMIN_TOKEN`); it must be at least 32 characters.
    pub async fn import_token(&self, name: &str, is_admin: bool, secret: &str) -> Result<ApiToken> {
        if secret.chars().count() < 32 {
            return Err(DomainError::Invalid(vec![Problem::new(
                "secret",
                "at least 32 characters",
            )]));
        }
        Ok(self
            .insert_token(name, is_admin, None, secret.to_owned())
            .await?
            .token)
    }

    async fn insert_token(
        &self,
        name: &str,
        is_admin: bool,
        by: Option<&Caller>,
        secret: String,
    ) -> Result<NewToken> {
        let mut problems = Vec::new();
        check_name("name", name, &mut problems);
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let token = ApiToken {
            id: new_id(),
            name: name.to_owned(),
            prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            is_admin,
            created_by: by.map(|c| c.name.clone()),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.catalog
            .insert_token(&token, &hash_secret(&secret))
            .await?;
        Ok(NewToken { token, secret })
    }

    /// How many tokens exist.
    pub async fn token_count(&self) -> Result<u64> {
        Ok(self.catalog.count_tokens().await?)
    }

    /// Every token (no secrets), for a caller allowed to manage tokens.
    pub async fn tokens(&self, by: &Caller) -> Result<Vec<ApiToken>> {
        self.authorize(by, Permission::ManageTokens)?;
        Ok(self.catalog.tokens().await?)
    }

    /// Revokes a token, for a caller allowed to manage tokens: it is
    /// refused from the next request on.
    pub async fn revoke_token(&self, by: &Caller, id: &str) -> Result<()> {
        self.authorize(by, Permission::ManageTokens)?;
        let revoked = self.catalog.revoke_token(id, Utc::now()).await?;
        // Whatever it was cached as, it is not any more.
        lock(&self.caches.callers).clear();
        revoked.or_not_found("token", id)
    }

    /// The caller a bearer secret stands for, if it is a live token. The
    /// secret is hashed, looked up by hash, and the hashes compared in
    /// constant time.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Caller>> {
        use subtle::ConstantTimeEq;
        let hash = hash_secret(secret);
        if let Some((caller, at)) = lock(&self.caches.callers).get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Some(caller.clone()));
        }
        let Some((token, stored)) = self.catalog.token_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) || token.revoked_at.is_some() {
            return Ok(None);
        }
        let now = Utc::now();
        if token
            .last_used_at
            .is_none_or(|t| now - t > chrono::Duration::seconds(60))
        {
            self.catalog.touch_token(&token.id, now).await?;
        }
        let caller = Caller {
            name: token.name,
            // lead: replaced at merge
            user_id: token.id.clone(),
            token_id: token.id,
            is_admin: token.is_admin,
        };
        let mut callers = lock(&self.caches.callers);
        if callers.len() >= CACHE_ENTRIES {
            callers.clear();
        }
        callers.insert(hash, (caller.clone(), std::time::Instant::now()));
        Ok(Some(caller))
    }
}
