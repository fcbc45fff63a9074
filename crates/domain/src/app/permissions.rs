//! Permissions: the one place that answers "may this caller do this?".
//! Every use case that needs a permission asks [`App::authorize`]; no API
//! layer decides one itself.

use super::{App, Caller, DomainError, Result};

/// Something a caller may or may not be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create, list and revoke API tokens.
    ManageTokens,
}

impl Permission {
    /// A word for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ManageTokens => "manage tokens",
        }
    }
}

/// Whether `caller` may do `what`. Today: admin tokens may do everything,
/// other tokens everything but managing tokens. Roles go here.
pub fn may(caller: &Caller, what: Permission) -> bool {
    match what {
        Permission::ManageTokens => caller.is_admin,
    }
}

impl App {
    /// `Forbidden` unless `caller` may do `what` (see [`may`]).
    pub fn authorize(&self, caller: &Caller, what: Permission) -> Result<()> {
        if may(caller, what) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "only an admin token may {}",
                what.as_str()
            )))
        }
    }
}
