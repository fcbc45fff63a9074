//! Users: create, read, list, change, disable; and turning a user into
//! the [`Caller`] of a request (by token, session or trusted proxy).

use super::permissions::AdminTask;
use super::{App, CACHE_ENTRIES, CACHE_TTL, Caller, DomainError, Result, check_name, lock, new_id};
use crate::catalog::{Page, PageRequest, User};
use crate::error::OrNotFound;
use chrono::Utc;
use slipway_core::Problem;

/// What a user is created or changed with; absent fields keep their value
/// (on create: login is required, the display name defaults to the
/// login).
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    /// The login (create only: a login never changes).
    pub login: Option<String>,
    /// The name shown to people.
    pub display_name: Option<String>,
    /// The e-mail address; `Some("")` removes it.
    pub email: Option<String>,
    /// Whether the user is a system admin.
    pub is_admin: Option<bool>,
    /// Whether the user is disabled.
    pub disabled: Option<bool>,
}

/// The longest e-mail address accepted (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// Problems of an e-mail address: one `@` with text on both sides, no
/// spaces or control characters.
fn check_email(email: &str, problems: &mut Vec<Problem>) {
    let ok = email.chars().count() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if !ok {
        problems.push(Problem::new(
            "email",
            format!("an e-mail address (`name@host`, at most {MAX_EMAIL} characters)"),
        ));
    }
}

impl App {
    /// Creates a user, for a system admin (`by`); `None` is the operator
    /// (the command line).
    pub async fn create_user(&self, by: &Caller, input: UserInput) -> Result<User> {
        self.check_admin(by, AdminTask::ManageUsers)?;
        let mut problems = Vec::new();
        let login = input.login.unwrap_or_default();
        check_name("login", &login, &mut problems);
        let display_name = input.display_name.unwrap_or_else(|| login.clone());
        if display_name.trim().is_empty() || display_name.chars().count() > 200 {
            problems.push(Problem::new("display_name", "1 to 200 characters"));
        }
        let email = input.email.filter(|e| !e.is_empty());
        if let Some(e) = &email {
            check_email(e, &mut problems);
        }
        if input.disabled == Some(true) {
            problems.push(Problem::new("disabled", "a new user starts enabled"));
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let user = User {
            id: new_id(),
            login,
            display_name,
            email,
            is_admin: input.is_admin.unwrap_or(false),
            created_by: Some(by.name.clone()),
            created_at: Utc::now(),
            disabled_at: None,
        };
        self.catalog.insert_user(&user).await?;
        Ok(user)
    }

    /// A user by id or login (`me`: the caller), for a system admin or the
    /// user themself.
    pub async fn user(&self, by: &Caller, id_or_login: &str) -> Result<User> {
        let wanted = if id_or_login == "me" {
            by.user_id.as_str()
        } else {
            id_or_login
        };
        if wanted != by.user_id && wanted != by.name {
            self.check_admin(by, AdminTask::ManageUsers)?;
        }
        self.find_user(wanted).await
    }

    /// A user by id or login, unchecked (use cases that name a user).
    pub(crate) async fn find_user(&self, id_or_login: &str) -> Result<User> {
        if let Some(u) = self.catalog.user(id_or_login).await? {
            return Ok(u);
        }
        self.catalog
            .user_by_login(id_or_login)
            .await?
            .or_not_found("user", id_or_login)
    }

    /// The user a field of a request names (`field`): an unknown user is
    /// a problem of that field, not a missing resource.
    pub(crate) async fn named_user(&self, field: &str, id_or_login: &str) -> Result<User> {
        match self.find_user(id_or_login).await {
            Err(DomainError::NotFound { .. }) => Err(DomainError::Invalid(vec![Problem::new(
                field,
                format!("no user `{id_or_login}`"),
            )])),
            other => other,
        }
    }

    /// A page of users, for a system admin.
    pub async fn users(&self, by: &Caller, page: &PageRequest) -> Result<Page<User>> {
        self.check_admin(by, AdminTask::ManageUsers)?;
        Ok(self.catalog.users(page).await?)
    }

    /// Changes a user's display name, e-mail, admin flag or disabled
    /// state, for a system admin. An admin may not disable themself or
    /// take their own admin flag (nobody would be left to undo it).
    pub async fn update_user(&self, by: &Caller, id: &str, input: UserInput) -> Result<User> {
        self.check_admin(by, AdminTask::ManageUsers)?;
        let mut user = self.find_user(id).await?;
        let mut problems = Vec::new();
        if let Some(login) = input.login
            && login != user.login
        {
            problems.push(Problem::new("login", "a login never changes"));
        }
        if let Some(d) = input.display_name {
            if d.trim().is_empty() || d.chars().count() > 200 {
                problems.push(Problem::new("display_name", "1 to 200 characters"));
            }
            user.display_name = d;
        }
        if let Some(e) = input.email {
            if e.is_empty() {
                user.email = None;
            } else {
                check_email(&e, &mut problems);
                user.email = Some(e);
            }
        }
        let is_self = user.id == by.user_id;
        if let Some(a) = input.is_admin {
            if is_self && !a {
                problems.push(Problem::new(
                    "is_admin",
                    "an admin may not take their own admin flag",
                ));
            }
            user.is_admin = a;
        }
        if let Some(d) = input.disabled {
            if is_self && d {
                problems.push(Problem::new("disabled", "a user may not disable themself"));
            }
            user.disabled_at = match (d, user.disabled_at) {
                (true, None) => Some(Utc::now()),
                (true, at) => at,
                (false, _) => None,
            };
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        self.catalog
            .update_user(&user)
            .await?
            .or_not_found("user", id)?;
        self.forget_callers();
        Ok(user)
    }

    /// The caller user `user_id` stands for, having presented `token_id`
    /// (a session names its token): `None` when the user is gone or
    /// disabled. Cached like tokens.
    pub async fn authenticate_user(
        &self,
        user_id: &str,
        token_id: Option<&str>,
    ) -> Result<Option<Caller>> {
        let key = format!("user:{user_id}:{}", token_id.unwrap_or(""));
        if let Some(c) = self.cached_caller(&key) {
            return Ok(Some(c));
        }
        let Some(identity) = self.catalog.identity(user_id).await? else {
            return Ok(None);
        };
        if identity.user.disabled_at.is_some() {
            return Ok(None);
        }
        let caller = Caller::of(identity, token_id.map(str::to_owned));
        self.cache_caller(key, &caller);
        Ok(Some(caller.for_request()))
    }

    /// The caller a trusted proxy's `Identity` header names by e-mail:
    /// `None` for an unknown or disabled user.
    pub async fn authenticate_email(&self, email: &str) -> Result<Option<Caller>> {
        let Some(user) = self.catalog.user_by_email(email).await? else {
            return Ok(None);
        };
        self.authenticate_user(&user.id, None).await
    }

    pub(crate) fn cached_caller(&self, key: &str) -> Option<Caller> {
        lock(&self.caches.callers)
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(c, _)| c.for_request())
    }

    pub(crate) fn cache_caller(&self, key: String, caller: &Caller) {
        let mut callers = lock(&self.caches.callers);
        if callers.len() >= CACHE_ENTRIES {
            callers.clear();
        }
        callers.insert(key, (caller.clone(), std::time::Instant::now()));
    }
}
