//! The reference syntax: a job's spec strings and env values may read the
//! outputs of jobs in earlier stages and the run's params.
//!
//! - `${{ jobs.<job>.outputs.<key> }}`: output `key` of job `job`;
//! - `${{ params.<name> }}`: the run parameter `name`;
//! - `$${{` writes a literal `${{`.
//!
//! Names are letters, digits, `_` and `-`; spaces inside the braces are
//! optional. A reference to a job that is not in an earlier stage is a plan
//! error; an output that the job did not set fails the job that reads it.

use std::collections::BTreeMap;
use std::fmt;

/// One parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `jobs.<job>.outputs.<key>`
    Output {
        /// The job that wrote the output.
        job: String,
        /// The output's key.
        key: String,
    },
    /// `params.<name>`
    Param(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Output { job, key } => write!(f, "${{{{ jobs.{job}.outputs.{key} }}}}"),
            Reference::Param(p) => write!(f, "${{{{ params.{p} }}}}"),
        }
    }
}

/// A malformed or unresolvable reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// `${{` without a closing `}}`.
    #[error("unclosed reference starting at byte {0}")]
    Unclosed(usize),
    /// Not of a known form.
    #[error(
        "`${{{{ {0} }}}}` is not a reference; expected `jobs.<job>.outputs.<key>` or `params.<name>`"
    )]
    Malformed(String),
    /// The referenced value does not exist.
    #[error("`{0}` has no value")]
    Missing(String),
}

enum Piece<'a> {
    Text(&'a str),
    Ref(Reference),
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_inner(inner: &str) -> Result<Reference, RefError> {
    let parts: Vec<&str> = inner.trim().split('.').collect();
    match parts.as_slice() {
        ["jobs", job, "outputs", key] if valid_name(job) && valid_name(key) => {
            Ok(Reference::Output {
                job: (*job).to_owned(),
                key: (*key).to_owned(),
            })
        }
        ["params", name] if valid_name(name) => Ok(Reference::Param((*name).to_owned())),
        _ => Err(RefError::Malformed(inner.trim().to_owned())),
    }
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, RefError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(pos) = rest.find("${{") {
        if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            // `$${{` is an escaped literal `${{`.
            out.push(Piece::Text(&rest[..pos - 1]));
            out.push(Piece::Text("${{"));
            rest = &rest[pos + 3..];
            offset += pos + 3;
            continue;
        }
        out.push(Piece::Text(&rest[..pos]));
        let after = &rest[pos + 3..];
        let end = after.find("}}").ok_or(RefError::Unclosed(offset + pos))?;
        out.push(Piece::Ref(parse_inner(&after[..end])?));
        rest = &after[end + 2..];
        offset += pos + 3 + end + 2;
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// All references in `text`.
pub fn parse_all(text: &str) -> Result<Vec<Reference>, RefError> {
    Ok(pieces(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

/// What references resolve against.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Outputs of finished jobs, by job name.
    pub outputs: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// The run's params.
    pub params: &'a BTreeMap<String, String>,
}

/// `text` with every reference replaced by its value.
pub fn resolve(text: &str, scope: Scope<'_>) -> Result<String, RefError> {
    let mut out = String::with_capacity(text.len());
    for p in pieces(text)? {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r) => {
                let value = match &r {
                    Reference::Output { job, key } => {
                        scope.outputs.get(job).and_then(|o| o.get(key))
                    }
                    Reference::Param(name) => scope.params.get(name),
                };
                out.push_str(value.ok_or_else(|| RefError::Missing(r.to_string()))?);
            }
        }
    }
    Ok(out)
}

/// `value` with every string inside it resolved.
pub fn resolve_json(
    value: &serde_json::Value,
    scope: Scope<'_>,
) -> Result<serde_json::Value, RefError> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => Value::String(resolve(s, scope)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve_json(v, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_json(v, scope)?)))
                .collect::<Result<_, RefError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_outputs_params_and_escapes() {
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "build".to_owned(),
            BTreeMap::from([("version".to_owned(), "1.2.3".to_owned())]),
        );
        let params = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let scope = Scope {
            outputs: &outputs,
            params: &params,
        };
        assert_eq!(
            resolve(
                "deploy ${{ jobs.build.outputs.version }} to ${{params.env}} $${{ x }}",
                scope
            )
            .unwrap(),
            "deploy 1.2.3 to prod ${{ x }}"
        );
        assert_eq!(
            resolve("${{ jobs.build.outputs.nope }}", scope),
            Err(RefError::Missing("${{ jobs.build.outputs.nope }}".into()))
        );
        assert!(matches!(
            resolve("${{ jobs.build }}", scope),
            Err(RefError::Malformed(_))
        ));
        assert!(matches!(
            resolve("a ${{ params.x", scope),
            Err(RefError::Unclosed(2))
        ));
    }
}
