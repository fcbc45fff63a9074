//! From a JSON tree to a [`WorkflowDefinition`], reporting every shape
//! problem (unknown field, wrong type, bad duration) with its path.
//!
//! Written by hand rather than derived so that each problem carries the
//! full path of the value at fault and all of them are reported at once; an
//! unknown field is refused just as `#[serde(deny_unknown_fields)]` would.

use super::duration::{parse_duration, seconds};
use super::{ApprovalDef, JobDef, ParamDef, ParamType, StageDef, WorkflowDefinition};
use serde_json::{Map, Value};
use slipway_core::Problem;
use std::collections::BTreeMap;
use std::time::Duration;

type Out = Vec<Problem>;

/// Decodes a whole definition.
pub(crate) fn decode(v: &Value) -> Result<WorkflowDefinition, Vec<Problem>> {
    let mut out = Vec::new();
    let def = workflow(v, &mut out);
    if out.is_empty() { Ok(def) } else { Err(out) }
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// What a value is, for messages.
fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn wrong(path: &str, expected: &str, v: &Value, out: &mut Out) {
    out.push(Problem::new(
        path,
        format!("must be {expected}, not {}", what(v)),
    ));
}

/// The fields of one mapping. Unknown keys are reported when it is opened;
/// a `null` value counts as absent (YAML's `key:` with nothing after it).
struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Fields<'a> {
    fn open(v: &'a Value, path: &str, known: &[&str], out: &mut Out) -> Self {
        let map = match v {
            Value::Object(m) => {
                for k in m.keys() {
                    if !known.contains(&k.as_str()) {
                        out.push(Problem::new(join(path, k), unknown_field(k, known)));
                    }
                }
                Some(m)
            }
            other => {
                wrong(path, "a mapping", other, out);
                None
            }
        };
        Fields {
            map,
            path: path.to_owned(),
        }
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key` and its path, unless absent or null.
    fn get(&self, key: &str) -> Option<(&'a Value, String)> {
        self.map
            .and_then(|m| m.get(key))
            .filter(|v| !v.is_null())
            .map(|v| (v, self.at(key)))
    }

    /// The value of a required field; reports it missing.
    fn required(&self, key: &str, out: &mut Out) -> Option<(&'a Value, String)> {
        let found = self.get(key);
        if found.is_none() && self.map.is_some() {
            out.push(Problem::new(self.at(key), "required"));
        }
        found
    }

    fn string(&self, key: &str, out: &mut Out) -> Option<String> {
        self.get(key).and_then(|(v, p)| string(v, &p, out))
    }

    fn required_string(&self, key: &str, out: &mut Out) -> String {
        self.required(key, out)
            .and_then(|(v, p)| string(v, &p, out))
            .unwrap_or_default()
    }

    fn bool(&self, key: &str, out: &mut Out) -> bool {
        match self.get(key) {
            None => false,
            Some((Value::Bool(b), _)) => *b,
            Some((v, p)) => {
                wrong(&p, "true or false", v, out);
                false
            }
        }
    }

    fn u32(&self, key: &str, default: u32, out: &mut Out) -> u32 {
        match self.get(key) {
            None => default,
            Some((v, p)) => match v.as_u64().map(u32::try_from) {
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    out.push(Problem::new(p, format!("must be at most {}", u32::MAX)));
                    default
                }
                None => {
                    wrong(&p, "a whole number of 0 or more", v, out);
                    default
                }
            },
        }
    }

    fn duration(&self, key: &str, out: &mut Out) -> Option<Duration> {
        let (v, p) = self.get(key)?;
        let parsed = match v {
            Value::String(s) => parse_duration(s),
            Value::Number(n) => match n.as_u64() {
                Some(secs) => seconds(secs).map_err(|why| format!("invalid duration {n}: {why}")),
                None => Err(format!(
                    "invalid duration {n}: a number of seconds must be a whole number above 0"
                )),
            },
            other => Err(format!(
                "must be a duration such as \"30m\" or a number of seconds, not {}",
                what(other)
            )),
        };
        parsed.map_err(|why| out.push(Problem::new(p, why))).ok()
    }

    fn strings(&self, key: &str, out: &mut Out) -> Vec<String> {
        match self.get(key) {
            None => Vec::new(),
            Some((Value::Array(items), p)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| string(v, &index(&p, i), out))
                .collect(),
            Some((v, p)) => {
                wrong(&p, "a list of strings", v, out);
                Vec::new()
            }
        }
    }

    fn env(&self, key: &str, out: &mut Out) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        match self.get(key) {
            None => {}
            Some((Value::Object(m), p)) => {
                for (k, v) in m {
                    let vp = join(&p, k);
                    match v {
                        Value::String(s) => {
                            env.insert(k.clone(), s.clone());
                        }
                        // Numbers and booleans are what they read as
                        // (`PORT: 8080`), as in most CI formats.
                        Value::Number(_) | Value::Bool(_) => {
                            env.insert(k.clone(), v.to_string());
                        }
                        other => wrong(&vp, "a string", other, out),
                    }
                }
            }
            Some((v, p)) => wrong(&p, "a mapping of names to strings", v, out),
        }
        env
    }

    /// The items of a list field, each with its path.
    fn list(&self, key: &str, required: bool, out: &mut Out) -> Vec<(&'a Value, String)> {
        let found = if required {
            self.required(key, out)
        } else {
            self.get(key)
        };
        match found {
            None => Vec::new(),
            Some((Value::Array(items), p)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (v, index(&p, i)))
                .collect(),
            Some((v, p)) => {
                wrong(&p, "a list", v, out);
                Vec::new()
            }
        }
    }
}

fn string(v: &Value, path: &str, out: &mut Out) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => {
            wrong(path, "a string", other, out);
            None
        }
    }
}

fn unknown_field(key: &str, known: &[&str]) -> String {
    let close = known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min();
    match close {
        Some((_, k)) => format!("unknown field, did you mean `{k}`?"),
        None => format!("unknown field; expected one of: {}", known.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean" hints (short keys only).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

const WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "description",
    "params",
    "env",
    "concurrency_limit",
    "stages",
];
const PARAM_FIELDS: &[&str] = &[
    "name",
    "description",
    "type",
    "default",
    "required",
    "choices",
];
const STAGE_FIELDS: &[&str] = &["name", "parallel", "approval", "jobs"];
const APPROVAL_FIELDS: &[&str] = &["approvers", "needed", "timeout"];
const JOB_FIELDS: &[&str] = &[
    "name",
    "kind",
    "spec",
    "env",
    "timeout",
    "retries",
    "allow_failure",
    "skipped",
];

fn workflow(v: &Value, out: &mut Out) -> WorkflowDefinition {
    let f = Fields::open(v, "", WORKFLOW_FIELDS, out);
    let name = f.required_string("name", out);
    let description = f.string("description", out);
    let params = f
        .list("params", false, out)
        .into_iter()
        .map(|(v, p)| param(v, &p, out))
        .collect();
    let env = f.env("env", out);
    let concurrency_limit = match f.get("concurrency_limit") {
        None => -1,
        Some((v, p)) => v.as_i64().unwrap_or_else(|| {
            wrong(&p, "a whole number (-1 for unlimited)", v, out);
            -1
        }),
    };
    let stages = f
        .list("stages", true, out)
        .into_iter()
        .map(|(v, p)| stage(v, &p, out))
        .collect();
    WorkflowDefinition {
        name,
        description,
        params,
        env,
        concurrency_limit,
        stages,
    }
}

fn param(v: &Value, path: &str, out: &mut Out) -> ParamDef {
    let f = Fields::open(v, path, PARAM_FIELDS, out);
    let name = f.required_string("name", out);
    let description = f.string("description", out);
    let param_type = match f.required("type", out) {
        None => ParamType::String,
        Some((Value::String(word), p)) => ParamType::from_word(word).unwrap_or_else(|| {
            out.push(Problem::new(p, unknown_type(word)));
            ParamType::String
        }),
        Some((v, p)) => {
            wrong(&p, "a type name", v, out);
            ParamType::String
        }
    };
    let default = f.get("default").map(|(v, _)| v.clone());
    let required = f.bool("required", out);
    let choices = f.strings("choices", out);
    ParamDef {
        name,
        description,
        param_type,
        default,
        required,
        choices,
    }
}

fn unknown_type(word: &str) -> String {
    let words: Vec<&str> = ParamType::ALL.iter().map(|t| t.as_str()).collect();
    format!(
        "unknown type `{}`; expected one of: {}",
        word.escape_debug(),
        words.join(", ")
    )
}

fn stage(v: &Value, path: &str, out: &mut Out) -> StageDef {
    let f = Fields::open(v, path, STAGE_FIELDS, out);
    let name = f.required_string("name", out);
    let parallel = f.bool("parallel", out);
    let approval = f.get("approval").map(|(v, p)| approval(v, &p, out));
    let jobs = f
        .list("jobs", true, out)
        .into_iter()
        .map(|(v, p)| job(v, &p, out))
        .collect();
    StageDef {
        name,
        parallel,
        approval,
        jobs,
    }
}

fn approval(v: &Value, path: &str, out: &mut Out) -> ApprovalDef {
    let f = Fields::open(v, path, APPROVAL_FIELDS, out);
    ApprovalDef {
        approvers: f.strings("approvers", out),
        needed: f.u32("needed", 1, out),
        timeout: f.duration("timeout", out),
    }
}

fn job(v: &Value, path: &str, out: &mut Out) -> JobDef {
    let f = Fields::open(v, path, JOB_FIELDS, out);
    let name = f.required_string("name", out);
    let kind = f.required_string("kind", out);
    let spec = match f.get("spec") {
        None => Value::Object(Map::new()),
        Some((v @ Value::Object(_), _)) => v.clone(),
        Some((v, p)) => {
            wrong(&p, "a mapping", v, out);
            Value::Object(Map::new())
        }
    };
    JobDef {
        name,
        kind,
        spec,
        env: f.env("env", out),
        timeout: f.duration("timeout", out),
        retries: f.u32("retries", 0, out),
        allow_failure: f.bool("allow_failure", out),
        skipped: f.bool("skipped", out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_field_names() {
        assert_eq!(
            unknown_field("timout", JOB_FIELDS),
            "unknown field, did you mean `timeout`?"
        );
        assert!(unknown_field("zzzzzz", JOB_FIELDS).starts_with("unknown field; expected"));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
