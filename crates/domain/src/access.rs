//! The access model's vocabulary: project roles, the seven permissions on
//! an object, an application's permission matrix and the flags a view
//! carries. What a caller may do is decided in `app::permissions` from
//! these; nothing here reads a store.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A member's role in a project, from the least to the most trusted (the
/// order is meaningful: a role has every default right of the roles below
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the project, its workflows, applications, runs and secret
    /// names.
    Viewer,
    /// A viewer who also starts, dispatches, cancels, retries and
    /// redeploys runs, and reads their logs.
    Developer,
    /// A developer who also changes workflows, applications, secrets,
    /// schedules and triggers.
    Maintainer,
    /// A maintainer who also manages members and permission matrices, and
    /// may delete the project.
    Owner,
}

impl Role {
    /// Every role, least trusted first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Maintainer, Role::Owner];

    /// Its word.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Maintainer => "maintainer",
            Role::Owner => "owner",
        }
    }

    /// The role called `word`, if any.
    pub fn parse(word: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == word)
    }

    /// What the role may do on a project's workflows and applications
    /// unless an application's matrix says otherwise.
    pub fn defaults(self) -> BTreeSet<Permission> {
        use Permission::*;
        let list: &[Permission] = match self {
            Role::Viewer => &[View],
            Role::Developer => &[View, Execute],
            Role::Maintainer => &[View, Execute, Modify, Delete, Copy, CreateEnv],
            Role::Owner => &[View, Execute, Modify, Delete, Copy, CreateEnv, Manage],
        };
        list.iter().copied().collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the seven things a caller may be allowed to do on a project, a
/// workflow or an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read it, its runs and its secrets' names.
    View,
    /// Change it (definitions, settings, secrets, schedules, triggers;
    /// create workflows and applications in a project).
    Modify,
    /// Delete it.
    Delete,
    /// Start, dispatch, cancel, retry and redeploy its runs; read their
    /// logs.
    Execute,
    /// Copy it.
    Copy,
    /// Edit its permission matrix (on a project: its members).
    Manage,
    /// Create an environment of it.
    CreateEnv,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 7] = [
        Permission::View,
        Permission::Modify,
        Permission::Delete,
        Permission::Execute,
        Permission::Copy,
        Permission::Manage,
        Permission::CreateEnv,
    ];

    /// Its word.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Modify => "modify",
            Permission::Delete => "delete",
            Permission::Execute => "execute",
            Permission::Copy => "copy",
            Permission::Manage => "manage",
            Permission::CreateEnv => "create_env",
        }
    }

    /// The permission called `word`, if any.
    pub fn parse(word: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An application's own permission matrix: for the roles it names, the
/// permissions they have on it instead of their defaults ([`Role::defaults`]).
/// Owners always keep `view` and `manage`, so that a matrix can never lock
/// a project's owners out of their application.
pub type Matrix = BTreeMap<Role, BTreeSet<Permission>>;

/// The permissions `role` has on an object governed by `matrix` (`None`:
/// the defaults).
pub fn granted(role: Role, matrix: Option<&Matrix>) -> BTreeSet<Permission> {
    let mut set = matrix
        .and_then(|m| m.get(&role).cloned())
        .unwrap_or_else(|| role.defaults());
    if role == Role::Owner {
        set.insert(Permission::View);
        set.insert(Permission::Manage);
    }
    set
}

/// What the caller may do on one object, as every view shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// `view`.
    pub can_view: bool,
    /// `modify`.
    pub can_modify: bool,
    /// `delete`.
    pub can_delete: bool,
    /// `execute`.
    pub can_execute: bool,
    /// `copy`.
    pub can_copy: bool,
    /// `manage`.
    pub can_manage: bool,
    /// `create_env`.
    pub can_create_env: bool,
}

impl Flags {
    /// Every flag set (a system admin).
    pub fn all() -> Self {
        Flags::of(|_| true)
    }

    /// The flags `has` answers yes to.
    pub fn of(has: impl Fn(Permission) -> bool) -> Self {
        Flags {
            can_view: has(Permission::View),
            can_modify: has(Permission::Modify),
            can_delete: has(Permission::Delete),
            can_execute: has(Permission::Execute),
            can_copy: has(Permission::Copy),
            can_manage: has(Permission::Manage),
            can_create_env: has(Permission::CreateEnv),
        }
    }
}

/// Who did something, as records keep it: the user's id and their login
/// at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user's id.
    pub id: String,
    /// Their login.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_the_rights_of_the_roles_below_it() {
        for pair in Role::ALL.windows(2) {
            assert!(
                pair[0].defaults().is_subset(&pair[1].defaults()),
                "{pair:?}"
            );
        }
        assert_eq!(Role::Viewer.defaults(), BTreeSet::from([Permission::View]));
        assert!(!Role::Maintainer.defaults().contains(&Permission::Manage));
        assert!(Role::Owner.defaults().contains(&Permission::Manage));
    }

    #[test]
    fn a_matrix_replaces_the_defaults_of_the_roles_it_names_but_never_locks_owners_out() {
        let matrix = Matrix::from([
            (Role::Developer, BTreeSet::from([Permission::View])),
            (Role::Owner, BTreeSet::new()),
        ]);
        assert!(!granted(Role::Developer, Some(&matrix)).contains(&Permission::Execute));
        assert!(granted(Role::Maintainer, Some(&matrix)).contains(&Permission::Modify));
        let owner = granted(Role::Owner, Some(&matrix));
        assert_eq!(
            owner,
            BTreeSet::from([Permission::View, Permission::Manage])
        );
    }

    #[test]
    fn words_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
