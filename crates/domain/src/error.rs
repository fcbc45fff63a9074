//! Errors of the domain crate.

use crate::definition::Format;
use slipway_core::Problem;

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
