//! Permissions: the one place that answers "may this caller do this?".
//! Every use case asks here ([`Caller::may`] through [`App::check`] and
//! friends); no API layer decides a permission itself, and the flags a
//! view shows come from here too ([`Caller::flags_on`]).
//!
//! The model: a system admin may do everything; anyone else has a role in
//! some projects (members) and may do on a project's objects what that
//! role's defaults allow ([`crate::access::Role::defaults`]), except on an
//! application with its own matrix, which replaces the defaults of the
//! roles it names. Deleting a project and managing its members are the
//! owner's. What the caller is allowed is read once per authentication
//! (the roles travel with the [`Caller`]), never per check.

use super::{App, DomainError, Result, lock};
use crate::access::{self, Actor, Flags, Matrix, Permission, Role};
use crate::catalog::{Application, Identity};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Who is calling, with everything authorization needs: read once when
/// the caller is authenticated (and cached briefly, see
/// [`super::CACHE_TTL`]), so a request never re-reads it per check.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's id (empty for the operator: the command line).
    pub user_id: String,
    /// The user's login.
    pub name: String,
    /// The user's display name.
    pub display_name: String,
    /// The user's e-mail, if known.
    pub email: Option<String>,
    /// The token the request presented (directly or through a session);
    /// `None` for a trusted proxy's `Identity` header and the operator.
    pub token_id: Option<String>,
    /// How the caller was authenticated: some use cases are for one way
    /// only (a session is made with an API token, never with a session).
    pub via: Via,
    /// A system admin may do everything.
    pub is_admin: bool,
    /// Project id → the user's role there.
    roles: Arc<HashMap<String, Role>>,
    /// Ids of the applications the user follows.
    follows: Arc<HashSet<String>>,
    /// The project the last check of this request was about (what the
    /// audit trail files an entry under); fresh for every request.
    scope: Arc<Mutex<Option<String>>>,
}

/// How a [`Caller`] was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An API token (`Authorization: Bearer slw_…`).
    Token,
    /// A session JWT made from an API token (bearer or `authtoken`
    /// cookie); `token_id` is that token.
    Session,
    /// A trusted proxy's `Identity` header.
    Proxy,
    /// The operator: the command line and embedding code.
    Operator,
}

/// What kind of object a permission is asked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On<'a> {
    /// A project itself (its settings, members, secrets, deletion).
    Project,
    /// A workflow of the project.
    Workflow,
    /// A named repository of the project.
    Repository,
    /// An application of the project, with its matrix if it has one.
    Application(Option<&'a Matrix>),
}

impl Caller {
    /// The caller a user stands for, with their roles and follows, having
    /// presented `token_id` (if any): authenticated [`Via::Token`] with a
    /// token, [`Via::Proxy`] without (set `via` for anything else).
    pub fn of(identity: Identity, token_id: Option<String>) -> Self {
        Caller {
            via: if token_id.is_some() {
                Via::Token
            } else {
                Via::Proxy
            },
            user_id: identity.user.id,
            name: identity.user.login,
            display_name: identity.user.display_name,
            email: identity.user.email,
            token_id,
            is_admin: identity.user.is_admin,
            roles: Arc::new(identity.roles.into_iter().collect()),
            follows: Arc::new(identity.follows.into_iter().collect()),
            scope: Arc::default(),
        }
    }

    /// The server's operator: the command line and embedding code acting
    /// with the machine's authority (a system admin with no user).
    pub fn operator() -> Self {
        Caller {
            user_id: String::new(),
            name: "operator".to_owned(),
            display_name: "operator".to_owned(),
            email: None,
            token_id: None,
            via: Via::Operator,
            is_admin: true,
            roles: Arc::default(),
            follows: Arc::default(),
            scope: Arc::default(),
        }
    }

    /// The same caller for a new request (its own audit scope); cheap.
    pub fn for_request(&self) -> Self {
        Caller {
            scope: Arc::default(),
            ..self.clone()
        }
    }

    /// Who this is, as records keep it (`None` for the operator).
    pub fn actor(&self) -> Option<Actor> {
        (!self.user_id.is_empty()).then(|| Actor {
            id: self.user_id.clone(),
            name: self.name.clone(),
        })
    }

    /// The caller's role in `project_id`, if a member.
    pub fn role_in(&self, project_id: &str) -> Option<Role> {
        self.roles.get(project_id).copied()
    }

    /// Ids of the projects the caller is a member of.
    pub fn project_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.roles.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Whether the caller follows application `app_id`.
    pub fn follows(&self, app_id: &str) -> bool {
        self.follows.contains(app_id)
    }

    /// Whether the caller may do `what` on an object `on` of `project_id`.
    pub fn may(&self, what: Permission, project_id: &str, on: On<'_>) -> bool {
        if self.is_admin {
            return true;
        }
        let Some(role) = self.role_in(project_id) else {
            return false;
        };
        match on {
            On::Project if what == Permission::Delete => role == Role::Owner,
            On::Project | On::Workflow | On::Repository => role.defaults().contains(&what),
            On::Application(matrix) => access::granted(role, matrix).contains(&what),
        }
    }

    /// Every flag of what the caller may do on an object `on` of
    /// `project_id`: what views carry.
    pub fn flags_on(&self, project_id: &str, on: On<'_>) -> Flags {
        if self.is_admin {
            return Flags::all();
        }
        Flags::of(|p| self.may(p, project_id, on))
    }

    /// The flags on an application.
    pub fn flags_on_application(&self, app: &Application) -> Flags {
        self.flags_on(&app.project_id, On::Application(app.permissions.as_ref()))
    }

    /// The project the checks of this request were about, for the audit
    /// trail.
    pub fn audit_project(&self) -> Option<String> {
        lock(&self.scope).clone()
    }

    fn note_project(&self, project_id: &str) {
        let mut scope = lock(&self.scope);
        if scope.is_none() {
            *scope = Some(project_id.to_owned());
        }
    }
}

/// Something only a system admin may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTask {
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Create, change and disable users.
    ManageUsers,
    /// Read every project's runs and audit entries at once.
    ReadEverything,
}

impl AdminTask {
    fn as_str(self) -> &'static str {
        match self {
            AdminTask::ManageTokens => "manage tokens",
            AdminTask::ManageUsers => "manage users",
            AdminTask::ReadEverything => "read every project's records at once",
        }
    }
}

impl App {
    /// `Forbidden` unless `by` may do `what` on the object `on` of
    /// `project_id`; `object` names it in the message (`project p1`).
    pub(crate) fn check(
        &self,
        by: &Caller,
        what: Permission,
        project_id: &str,
        on: On<'_>,
        object: &str,
    ) -> Result<()> {
        by.note_project(project_id);
        if by.may(what, project_id, on) {
            return Ok(());
        }
        let why = match by.role_in(project_id) {
            None => "is not a member of its project".to_owned(),
            Some(role) => format!("is a {role} of its project"),
        };
        Err(DomainError::Forbidden(format!(
            "`{}` may not {} {object}: the caller {why}",
            by.name,
            verb(what)
        )))
    }

    /// `Forbidden` unless `by` is a system admin.
    pub(crate) fn check_admin(&self, by: &Caller, task: AdminTask) -> Result<()> {
        if by.is_admin {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "only a system admin may {}",
                task.as_str()
            )))
        }
    }

    /// Forgets every cached caller (their roles, follows or tokens
    /// changed), and which tokens are live (what sessions check).
    pub(crate) fn forget_callers(&self) {
        lock(&self.caches.callers).clear();
        self.forget_live_tokens();
    }
}

/// The verb of a permission, for messages.
fn verb(p: Permission) -> &'static str {
    match p {
        Permission::View => "view",
        Permission::Modify => "change",
        Permission::Delete => "delete",
        Permission::Execute => "run",
        Permission::Copy => "copy",
        Permission::Manage => "manage the permissions of",
        Permission::CreateEnv => "create an environment of",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::User;
    use std::collections::BTreeSet;

    fn caller(roles: &[(&str, Role)], admin: bool) -> Caller {
        Caller::of(
            Identity {
                user: User {
                    id: "u1".into(),
                    login: "ann".into(),
                    display_name: "Ann".into(),
                    email: None,
                    is_admin: admin,
                    created_by: None,
                    created_at: chrono::Utc::now(),
                    disabled_at: None,
                },
                roles: roles.iter().map(|(p, r)| ((*p).to_owned(), *r)).collect(),
                follows: vec![],
            },
            Some("t1".into()),
        )
    }

    #[test]
    fn roles_allow_their_defaults_in_their_own_project_only() {
        let dev = caller(&[("p1", Role::Developer)], false);
        assert!(dev.may(Permission::Execute, "p1", On::Workflow));
        assert!(!dev.may(Permission::Modify, "p1", On::Workflow));
        assert!(!dev.may(Permission::View, "p2", On::Workflow));
        let admin = caller(&[], true);
        assert!(admin.may(Permission::Delete, "p2", On::Project));
        assert_eq!(admin.flags_on("p9", On::Project), Flags::all());
    }

    #[test]
    fn only_owners_delete_a_project_but_maintainers_delete_its_applications() {
        let m = caller(&[("p1", Role::Maintainer)], false);
        assert!(!m.may(Permission::Delete, "p1", On::Project));
        assert!(m.may(Permission::Delete, "p1", On::Application(None)));
        let o = caller(&[("p1", Role::Owner)], false);
        assert!(o.may(Permission::Delete, "p1", On::Project));
        assert!(o.may(Permission::Manage, "p1", On::Project));
    }

    #[test]
    fn an_application_matrix_overrides_the_defaults() {
        let dev = caller(&[("p1", Role::Developer)], false);
        let matrix = Matrix::from([(Role::Developer, BTreeSet::from([Permission::View]))]);
        assert!(!dev.may(Permission::Execute, "p1", On::Application(Some(&matrix))));
        let flags = dev.flags_on("p1", On::Application(Some(&matrix)));
        assert!(flags.can_view && !flags.can_execute);
    }

    #[test]
    fn a_check_notes_the_project_of_the_request_and_a_fresh_request_starts_empty() {
        let dev = caller(&[("p1", Role::Developer)], false);
        dev.note_project("p1");
        assert_eq!(dev.audit_project().as_deref(), Some("p1"));
        assert_eq!(dev.for_request().audit_project(), None);
    }
}
