//! Errors of the domain crate.

use crate::catalog::CatalogStoreError;
use crate::definition::Format;
use slipway_core::{CoreError, Problem, StoreError};

/// Why a workflow definition text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The bytes are not UTF-8 text.
    #[error("the definition is not UTF-8 text")]
    NotUtf8,
    /// The text is not well-formed JSON or YAML (or holds something the
    /// format cannot carry, such as a duplicate key or a YAML tag).
    #[error("invalid {format}: {message}")]
    Syntax {
        /// The format the text was read as.
        format: Format,
        /// Line of the error, from 1, when the parser knows it.
        line: Option<usize>,
        /// Column of the error, from 1, when the parser knows it.
        column: Option<usize>,
        /// What the parser said (it names the line and column itself).
        message: String,
    },
    /// The document parsed but does not have the shape of a definition:
    /// unknown fields, wrong types, bad durations. Every such problem is
    /// listed, each with its path.
    #[error("invalid workflow definition: {}", join(problems))]
    Shape {
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },
}

impl DefinitionError {
    /// The error as a list of problems with paths, the shape every
    /// definition error is reported in. A syntax error has one problem whose
    /// path is empty (the whole document) and whose message names the line.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            DefinitionError::Shape { problems } => problems.clone(),
            other => vec![Problem::new("", other.to_string())],
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// ---- use cases ----

/// What went wrong in a use case. Only `slipway-http` turns these into
/// status codes.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks rules; every problem is listed with its path.
    #[error("invalid input: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// No such thing.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for (`project`, `workflow`, `run`, ...).
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The request does not fit the current state (a name taken, a run
    /// that is not waiting, a project with active runs, ...).
    #[error("{0}")]
    Conflict(String),
    /// A field names something another object holds (a name, a port):
    /// a conflict on that field.
    #[error("{0}")]
    Taken(Problem),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request could not be authenticated (a webhook whose signature
    /// or token does not match).
    #[error("{0}")]
    Unauthorized(String),
    /// A service Slipway depends on (a git host) failed.
    #[error("{0}")]
    Upstream(String),
    /// A store or the engine failed.
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    /// `NotFound`: there is no `kind` with that id.
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        DomainError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

/// A lookup's answer, or [`DomainError::NotFound`] when it found nothing.
pub(crate) trait OrNotFound<T> {
    /// The thing found, or `NotFound` for the `kind` with that `id`.
    fn or_not_found(self, kind: &'static str, id: impl ToString) -> Result<T, DomainError>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, kind: &'static str, id: impl ToString) -> Result<T, DomainError> {
        self.ok_or_else(|| DomainError::not_found(kind, id))
    }
}

/// A write's "it was there" (`true`: it found its record).
impl OrNotFound<()> for bool {
    fn or_not_found(self, kind: &'static str, id: impl ToString) -> Result<(), DomainError> {
        if self {
            Ok(())
        } else {
            Err(DomainError::not_found(kind, id))
        }
    }
}

impl From<CatalogStoreError> for DomainError {
    fn from(e: CatalogStoreError) -> Self {
        match e {
            CatalogStoreError::Duplicate(m) => DomainError::Conflict(m),
            CatalogStoreError::Missing(m) => DomainError::Conflict(m),
            CatalogStoreError::Refused(m) => DomainError::Conflict(m),
            CatalogStoreError::Store(e) => DomainError::from(e),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => DomainError::not_found("run", id),
            StoreError::Conflict { .. } => DomainError::Conflict(e.to_string()),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

impl From<CoreError> for DomainError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidPlan(p) => DomainError::Invalid(p.problems),
            CoreError::RunNotFound(id) => DomainError::not_found("run", id),
            CoreError::StageNotFound { run, stage } => {
                DomainError::not_found("stage", format!("{stage} of run {run}"))
            }
            CoreError::Conflict(m) => DomainError::Conflict(m),
            CoreError::NotAnApprover { .. } => DomainError::Forbidden(e.to_string()),
            CoreError::IllegalTransition { .. } | CoreError::ShuttingDown => {
                DomainError::Conflict(e.to_string())
            }
            CoreError::Store(s) => DomainError::from(s),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

impl From<crate::secrets::SecretError> for DomainError {
    fn from(e: crate::secrets::SecretError) -> Self {
        DomainError::Internal(format!("secret: {e}"))
    }
}

/// Prefixes problems with `params.` (inputs are checked against params).
pub(crate) fn params_problems(problems: Vec<Problem>) -> DomainError {
    DomainError::Invalid(
        problems
            .into_iter()
            .map(|p| {
                if p.path == "params" || p.path.starts_with("params.") {
                    p
                } else {
                    Problem::new(format!("params.{}", p.path), p.message)
                }
            })
            .collect(),
    )
}
