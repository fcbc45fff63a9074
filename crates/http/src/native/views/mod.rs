//! The JSON shapes of the native API: what requests carry and answers
//! hold. Domain and engine types are converted here, so that the API's
//! shape is decided in one place and documented in the OpenAPI document.

use serde::{Deserialize, Serialize};
use slipway_core::Status;
use slipway_domain::{Caller, Page};
use utoipa::ToSchema;

/// A status of a run, a stage or a job: core's [`Status`], serialized as
/// its word, and documented with every word of [`Status::ALL`].
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct StatusWord(pub Status);

impl From<Status> for StatusWord {
    fn from(s: Status) -> Self {
        StatusWord(s)
    }
}

impl utoipa::PartialSchema for StatusWord {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("A status of a run, a stage or a job."))
            .enum_values(Some(Status::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl ToSchema for StatusWord {}

/// `impl From<$from> for $to`: the listed fields move over as they are;
/// those after `;` are computed from the source, bound to `$v`.
macro_rules! moved_fields {
    ($from:ty as $v:ident => $to:ident { $($field:ident),* $(,)? $(; $($name:ident: $value:expr),* $(,)?)? }) => {
        impl From<$from> for $to {
            fn from($v: $from) -> Self {
                $to {
                    $($field: $v.$field,)*
                    $($($name: $value,)*)?
                }
            }
        }
    };
}

mod access;
mod applications;
mod audit;
mod health;
mod hooks;
mod logs;
mod namespaces;
mod projects;
mod repositories;
mod runs;
mod schedules;
mod secrets;
mod sessions;
mod tokens;
mod workflows;

pub use access::*;
pub use applications::*;
pub use audit::*;
pub use health::*;
pub use hooks::*;
pub use logs::*;
pub use namespaces::*;
pub use projects::*;
pub use repositories::*;
pub use runs::*;
pub use schedules::*;
pub use secrets::*;
pub use sessions::*;
pub use tokens::*;
pub use workflows::*;

// ---- write-only text ----

/// A secret value in a request: deserialized like a string, never shown
/// by `Debug` (so a request logged by mistake does not leak it).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

macro_rules! page_of {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The items of this page.
            pub items: Vec<$item>,
            /// How many items there are in all.
            pub total: u64,
            /// This page, from 1.
            pub page: u32,
            /// Items per page.
            pub per_page: u32,
        }

        impl $name {
            /// Converts a domain page.
            pub fn of<T>(p: Page<T>) -> Self
            where
                $item: From<T>,
            {
                $name {
                    items: p.items.into_iter().map(<$item>::from).collect(),
                    total: p.total,
                    page: p.page,
                    per_page: p.per_page,
                }
            }
        }
    };
}

page_of!(ProjectPage, ProjectView, "A page of projects.");
page_of!(WorkflowPage, WorkflowView, "A page of workflows.");
page_of!(
    VersionPage,
    VersionView,
    "A page of workflow versions, newest first."
);
page_of!(RunPage, RunSummary, "A page of runs.");
page_of!(ApplicationPage, ApplicationView, "A page of applications.");
page_of!(UserPage, UserView, "A page of users, by login.");
page_of!(
    NamespacePage,
    NamespaceView,
    "A page of namespaces, by name."
);
page_of!(
    NamedRepositoryPage,
    NamedRepositoryView,
    "A page of named repositories."
);

/// `page`'s items, each with the caller (views that show the caller's
/// permissions are made from both).
pub fn with_caller<T>(page: Page<T>, by: &Caller) -> Page<(T, &Caller)> {
    Page {
        items: page.items.into_iter().map(|i| (i, by)).collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }
}
page_of!(
    AuditPage,
    AuditEntryView,
    "A page of the audit trail, newest first unless asked otherwise."
);
