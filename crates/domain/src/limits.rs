//! What names and values may hold: the one place for these limits. What
//! could be saved but never run (a job name too long for a file name, a
//! NUL that no process environment or argument can carry) is refused when
//! it is saved, with the field named. The workflow definition checker, the
//! secret use cases and the run inputs all ask here; docs/workflow-format.md
//! and docs/secrets.md list the same numbers.

use crate::app::DomainError;
use slipway_core::Problem;

/// Longest name of a project, application, workflow, stage or job, in
/// characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Longest secret name, in bytes (names are ASCII: `[A-Z_][A-Z0-9_]*`).
pub const MAX_SECRET_NAME_LEN: usize = 128;

/// Largest value that goes into a job's environment, in bytes: an `env`
/// value, a secret, a param. Linux refuses one environment string over
/// 128 KiB (`MAX_ARG_STRLEN`) and all of them together over a few MiB, so
/// a job of a few dozen such values still starts.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// What is wrong with `name` as the name of a workflow, stage or job, if
/// anything: longer than [`MAX_NAME_CHARS`] characters, or holding a
/// control character (NUL, a line break, a tab...). Emptiness is left to
/// the place that requires the name.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        Some(format!(
            "at most {MAX_NAME_CHARS} characters (this one has {chars})"
        ))
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters (NUL, line breaks, tabs)".to_owned())
    } else {
        None
    }
}

/// What is wrong with `value` as a value that reaches a process (an `env`
/// value, a secret, a param, a string in a job's spec), if anything: a NUL
/// character, or more than [`MAX_VALUE_BYTES`] bytes.
pub fn value_problem(value: &str) -> Option<String> {
    if value.contains('\0') {
        Some(
            "must not contain a NUL character (no process environment or argument can hold one)"
                .to_owned(),
        )
    } else if value.len() > MAX_VALUE_BYTES {
        Some(format!(
            "at most {MAX_VALUE_BYTES} bytes (this one has {})",
            value.len()
        ))
    } else {
        None
    }
}

/// What is wrong with a string of a job's spec, if anything: a NUL
/// character (spec strings become arguments and files of processes; their
/// size is the kind's to judge).
pub fn spec_string_problem(text: &str) -> Option<String> {
    text.contains('\0')
        .then(|| "must not contain a NUL character (no process argument can hold one)".to_owned())
}

/// Checks a secret's value: required, and [`value_problem`]; the problem
/// is reported at `value`.
pub fn check_secret_value(value: &str) -> Result<(), DomainError> {
    let why = if value.is_empty() {
        Some("required".to_owned())
    } else {
        value_problem(value)
    };
    match why {
        Some(why) => Err(DomainError::Invalid(vec![Problem::new("value", why)])),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_at_their_limits() {
        assert_eq!(name_problem(&"j".repeat(MAX_NAME_CHARS)), None);
        assert!(name_problem(&"é".repeat(MAX_NAME_CHARS)).is_none());
        assert!(name_problem(&"j".repeat(MAX_NAME_CHARS + 1)).is_some());
        assert!(name_problem("a\0b").is_some());
        assert!(name_problem("a\nb").is_some());
        assert_eq!(name_problem("a/b c.d"), None);
        assert_eq!(value_problem(&"v".repeat(MAX_VALUE_BYTES)), None);
        assert!(value_problem(&"v".repeat(MAX_VALUE_BYTES + 1)).is_some());
        assert!(value_problem("a\0").is_some());
        assert_eq!(value_problem("multi\nline\ttext"), None);
        assert!(check_secret_value("").is_err());
        assert!(check_secret_value("ok-value").is_ok());
    }
}
