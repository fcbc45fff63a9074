//! Filter expressions for webhook trigger rules.
//!
//! A trigger rule may carry a filter written in [CEL], the Common Expression
//! Language, that decides whether an incoming webhook fires the trigger:
//!
//! ```text
//! body.ref in ["refs/heads/main", "refs/heads/release"]
//! body.ref.startsWith("refs/tags/v") && body.repository.name == "api"
//! has(body.commits) && size(body.commits) > 0
//! headers["x-github-event"] == "push"
//! ```
//!
//! An expression sees two variables:
//!
//! - `body`: the webhook's JSON payload, as parsed. JSON objects are maps,
//!   arrays are lists; integers are `int` (`uint` only above `i64::MAX`),
//!   other numbers are `double`.
//! - `headers`: the request headers as a `map(string, string)` whose keys are
//!   **lower-case**, so write `headers["x-gitlab-event"]`, never
//!   `headers["X-Gitlab-Event"]` (which never matches). A missing header is
//!   a missing key: test with `"x-gitlab-event" in headers` first where a
//!   header may be absent.
//!
//! A filter is compiled once, when its trigger is saved ([`Filter::compile`]
//! refuses a syntax error, for a 400 response), and evaluated for every
//! webhook ([`Filter::evaluate`], or [`Filter::matches`] for the yes/no the
//! dispatcher wants). Callers store the source text ([`Filter::source`]) and
//! compile it again on load; a `Filter` is deliberately not serde.
//!
//! Reading a key the payload does not have (`body.nope`) is an evaluation
//! error, not `false`: guard it with `has(body.nope)` where a key may be
//! absent. [`Filter::matches`] counts any error as no match and logs it.
//!
//! Evaluation has a bound on its work, since a filter is written once and
//! run against payloads of any size: every loop (`all`, `exists`,
//! `exists_one`, `map`, `filter`) is charged the size of what it iterates,
//! each time it starts, so nested loops pay for every inner pass
//! ([`MAX_ITERATIONS`] in all); every `+` is charged the size of what it
//! builds ([`MAX_GROWTH`]); and evaluation stops at the first charge after
//! [`MAX_EVAL_TIME`]. Exceeding a bound is [`FilterError::Budget`]: no
//! match, with a warning. (cel 0.15 has no budget of its own: the compiled
//! expression tree gets a call to a counting function around each loop's
//! range and each `+`.)
//!
//! [CEL]: https://cel.dev

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cel::common::ast::{CallExpr, EntryExpr, Expr, MapExpr, StructExpr, operators};
use cel::common::value::CowVal;
use cel::objects::Key;
use cel::{Context, Env, ExecutionError, FunctionContext, IdedExpr, Program, Value};
use thiserror::Error;

/// Longest message a [`FilterError`] carries, in characters; a longer one is
/// cut, since evaluation errors may quote whole values of the payload.
const MAX_MESSAGE_CHARS: usize = 300;

/// Longest source accepted, in bytes. Filters are one-liners; the bound also
/// bounds the stack the parser needs for chains such as `a + a + a ...`.
pub const MAX_SOURCE_LEN: usize = 4096;

/// Deepest expression tree accepted. cel evaluates by recursion, with tens
/// of KiB of stack per level in a debug build: at 24 levels the worst shapes
/// need under 1 MiB of stack in a debug build and under 128 KiB in a release
/// build, while a busy real filter (seven conditions, nested `exists`) is 11
/// deep.
pub const MAX_DEPTH: usize = 24;

/// Stack of the thread that parses a filter. cel's ANTLR parser recurses
/// through its grammar rules for every bracket (up to its own limit of 96)
/// and a debug build overflows a 2 MiB stack at about 20 nested brackets,
/// which aborts the process; so parsing gets a thread of its own.
const COMPILE_STACK_BYTES: usize = 64 << 20;

/// The most elements one evaluation may iterate over, all loops together:
/// a loop is charged the size of its range each time it starts, so a loop
/// nested in another pays for every pass.
pub const MAX_ITERATIONS: u64 = 100_000;

/// The most one evaluation may build with `+`, all additions together:
/// characters (bytes) of strings and bytes, elements of lists.
pub const MAX_GROWTH: u64 = 8 << 20;

/// The longest one evaluation may run; checked at every charge.
pub const MAX_EVAL_TIME: Duration = Duration::from_secs(1);

/// The function the compiled tree calls around each loop's range.
const CHARGE_RANGE: &str = "@slipway_range";
/// The function the compiled tree calls around each `+`.
const CHARGE_GROWTH: &str = "@slipway_growth";

/// The standard CEL environment, built once and shared by every evaluation.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Why a filter could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// The source is not a valid expression. `message` is one line naming
    /// each error the parser found and where (`line 1, column 5: ...`,
    /// both counted from 1).
    #[error("invalid filter expression: {message}")]
    Compile {
        /// What is wrong, and where.
        message: String,
    },
    /// The expression failed on this webhook: a missing key, an operator
    /// applied to the wrong types, an unknown variable or function, ...
    #[error("filter evaluation failed: {message}")]
    Evaluate {
        /// What went wrong, as CEL reports it (shortened if long).
        message: String,
    },
    /// The expression needed more work than a filter is allowed
    /// ([`MAX_ITERATIONS`], [`MAX_GROWTH`], [`MAX_EVAL_TIME`]).
    #[error("filter stopped: {message}")]
    Budget {
        /// Which bound was exceeded.
        message: String,
    },
    /// The expression evaluated to something other than a `bool`.
    #[error("filter must evaluate to a bool, found {found}")]
    NotBool {
        /// The CEL type it evaluated to (`string`, `int`, `map`, ...).
        found: String,
    },
}

/// A compiled filter expression: its source text and the CEL program.
///
/// Cheap to clone (the program is shared), `Send + Sync`. An empty or
/// whitespace-only source compiles to a filter that always matches.
#[derive(Clone)]
pub struct Filter {
    source: String,
    /// The expression tree with its charges; `None` for an empty source:
    /// always matches.
    program: Option<Arc<IdedExpr>>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Filter").field(&self.source).finish()
    }
}

impl Filter {
    /// Compiles `source`, refusing a syntax error.
    ///
    /// An empty or whitespace-only source means "no filter": the result
    /// always matches. Besides syntax, a source longer than
    /// [`MAX_SOURCE_LEN`] bytes or nested deeper than [`MAX_DEPTH`] levels is
    /// refused. Unknown variables or functions and type mismatches are not
    /// checked here: they show up when the filter is evaluated.
    ///
    /// Parsing runs on a short-lived thread with a large stack (see
    /// `COMPILE_STACK_BYTES`), so compile when a trigger is saved or loaded,
    /// not per webhook.
    pub fn compile(source: &str) -> Result<Filter, FilterError> {
        if source.trim().is_empty() {
            return Ok(Filter {
                source: source.to_owned(),
                program: None,
            });
        }
        if source.len() > MAX_SOURCE_LEN {
            return Err(FilterError::Compile {
                message: format!("longer than {MAX_SOURCE_LEN} bytes"),
            });
        }
        let owned = source.to_owned();
        let program = std::thread::Builder::new()
            .name("filter-compile".to_owned())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn(move || parse(&owned))
            .map_err(|e| FilterError::Compile {
                message: format!("could not start the compiler: {e}"),
            })?
            .join()
            .map_err(|_| FilterError::Compile {
                message: "the compiler failed on this expression".to_owned(),
            })??;
        Ok(Filter {
            source: source.to_owned(),
            program: Some(Arc::new(program)),
        })
    }

    /// The source text the filter was compiled from, as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the filter always matches (its source is empty or blank).
    pub fn is_empty(&self) -> bool {
        self.program.is_none()
    }

    /// Evaluates the filter against a webhook.
    ///
    /// `body` is the JSON payload; `headers` maps **lower-case** header names
    /// to their values. The caller lower-cases the names (HTTP header names
    /// are case-insensitive); a name that is not is lower-cased here as
    /// well, so the expression always sees lower-case keys. Errors if the
    /// expression fails (a missing key, a type mismatch, ...) or yields
    /// something other than a bool.
    pub fn evaluate(
        &self,
        body: &serde_json::Value,
        headers: &BTreeMap<String, String>,
    ) -> Result<bool, FilterError> {
        let Some(program) = &self.program else {
            return Ok(true);
        };
        let budget = Arc::new(Budget::new());
        let mut context = Context::with_env(Arc::clone(&ENV));
        budget.install(&mut context);
        context.add_variable_from_value("body", json_to_cel(body));
        let headers: HashMap<Key, Value> = headers
            .iter()
            .map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                (Key::from(name), Value::from(value.as_str()))
            })
            .collect();
        context.add_variable_from_value("headers", headers);
        let result = context.resolve(program);
        // A loop that exceeded the budget may have had its error swallowed
        // by a later element (`exists` forgives errors once one is true).
        if let Some(message) = budget.exceeded() {
            return Err(FilterError::Budget { message });
        }
        match result {
            Ok(Value::Bool(matched)) => Ok(matched),
            Ok(other) => Err(FilterError::NotBool {
                found: other.type_of().to_string(),
            }),
            Err(error) => Err(FilterError::Evaluate {
                message: shorten(single_line(&error.to_string())),
            }),
        }
    }

    /// Whether the webhook passes the filter: [`evaluate`](Self::evaluate),
    /// with an error counting as no match and logged as a warning.
    pub fn matches(&self, body: &serde_json::Value, headers: &BTreeMap<String, String>) -> bool {
        match self.evaluate(body, headers) {
            Ok(matched) => matched,
            Err(error) => {
                tracing::warn!(
                    filter = %self.source,
                    %error,
                    "webhook filter failed; counted as no match"
                );
                false
            }
        }
    }
}

/// Parses `source`, checks its depth and adds the charges: the body of
/// [`Filter::compile`], run on a thread with a large stack (a refused
/// program is dropped there too).
fn parse(source: &str) -> Result<IdedExpr, FilterError> {
    let program = Program::compile(source).map_err(|errors| {
        let too_deep = errors
            .errors
            .iter()
            .any(|e| e.msg.contains("Recursion limit"));
        let message = if too_deep {
            "brackets nested too deeply".to_owned()
        } else {
            errors
                .errors
                .iter()
                .map(|e| {
                    let what = single_line(&e.msg);
                    let what = what.strip_prefix("Syntax error: ").unwrap_or(&what);
                    format!("line {}, column {}: {what}", e.pos.0, e.pos.1)
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let message = if message.is_empty() {
            "syntax error".to_owned()
        } else {
            message
        };
        FilterError::Compile {
            message: shorten(message),
        }
    })?;
    if exceeds_depth(program.expression(), MAX_DEPTH) {
        return Err(FilterError::Compile {
            message: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let mut tree = program.expression().clone();
    add_charges(&mut tree);
    Ok(tree)
}

/// The work one evaluation has done, and whether it went over.
#[derive(Debug)]
struct Budget {
    iterations: AtomicU64,
    growth: AtomicU64,
    started: Instant,
    over: AtomicBool,
    why: std::sync::Mutex<String>,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            iterations: AtomicU64::new(0),
            growth: AtomicU64::new(0),
            started: Instant::now(),
            over: AtomicBool::new(false),
            why: std::sync::Mutex::new(String::new()),
        }
    }

    /// Registers the charging functions on `context`.
    fn install(self: &Arc<Self>, context: &mut Context<'_, '_>) {
        for (name, counter, limit, what) in [
            (CHARGE_RANGE, 0, MAX_ITERATIONS, "loop elements"),
            (
                CHARGE_GROWTH,
                1,
                MAX_GROWTH,
                "characters or elements built with `+`",
            ),
        ] {
            let budget = Arc::clone(self);
            let charge: ChargeFn = Box::new(move |ftx: &mut FunctionContext<'_, '_>| {
                let value = ftx
                    .args
                    .pop()
                    .ok_or_else(ExecutionError::missing_argument_or_target)?;
                let size = value
                    .as_sizer()
                    .map_or(0, |s| u64::try_from(*s.size().inner()).unwrap_or(0));
                budget.charge(counter, size, limit, what)?;
                Ok(value)
            });
            // The names cannot be written in a source (`@` is not an
            // identifier character), so they never clash with the
            // environment's functions.
            let _ = context.add_function(name, charge);
        }
    }

    /// Adds `size` to counter `which` (0: iterations, 1: growth); an error
    /// past `limit` or past [`MAX_EVAL_TIME`].
    fn charge(&self, which: u8, size: u64, limit: u64, what: &str) -> Result<(), ExecutionError> {
        let counter = if which == 0 {
            &self.iterations
        } else {
            &self.growth
        };
        let total = counter
            .fetch_add(size, Ordering::Relaxed)
            .saturating_add(size);
        let problem = if total > limit {
            Some(format!("more than {limit} {what}"))
        } else if self.started.elapsed() > MAX_EVAL_TIME {
            Some(format!("ran longer than {} ms", MAX_EVAL_TIME.as_millis()))
        } else {
            None
        };
        match problem {
            None => Ok(()),
            Some(message) => {
                if !self.over.swap(true, Ordering::Relaxed)
                    && let Ok(mut why) = self.why.lock()
                {
                    why.clone_from(&message);
                }
                Err(ExecutionError::function_error("filter budget", message))
            }
        }
    }

    /// Why the evaluation went over, if it did.
    fn exceeded(&self) -> Option<String> {
        if !self.over.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            self.why
                .lock()
                .map(|w| w.clone())
                .unwrap_or_else(|_| "over budget".to_owned()),
        )
    }
}

/// A charging function as cel registers it.
type ChargeFn = Box<
    dyn for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError>
        + Send
        + Sync,
>;

/// Wraps each loop's range in a call to [`CHARGE_RANGE`] and each `+` the
/// source wrote in a call to [`CHARGE_GROWTH`]. The `+` a `map` or
/// `filter` loop adds to its accumulator (`@result + [x]`) is left alone:
/// cel recognises that shape to build the result in place, and the loop's
/// range already paid for it. Walks with a stack of its own.
fn add_charges(root: &mut IdedExpr) {
    let mut next_id = max_id(root) + 1;
    let mut pending: Vec<&mut IdedExpr> = vec![root];
    while let Some(node) = pending.pop() {
        let wrap = match &node.expr {
            Expr::Call(call) => {
                call.func_name == operators::ADD
                    && call.target.is_none()
                    && !call.args.first().is_some_and(
                        |a| matches!(&a.expr, Expr::Ident(name) if name.starts_with('@')),
                    )
            }
            _ => false,
        };
        if wrap {
            let inner = std::mem::replace(&mut node.expr, Expr::Unspecified);
            let inner = IdedExpr {
                id: node.id,
                expr: inner,
            };
            node.id = next_id;
            next_id += 1;
            node.expr = Expr::Call(CallExpr {
                func_name: CHARGE_GROWTH.to_owned(),
                target: None,
                args: vec![inner],
            });
        }
        match &mut node.expr {
            Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
            Expr::Call(call) => {
                if wrap {
                    // Just wrapped: go on below the `+`, not into it again.
                    for added in call.args.iter_mut() {
                        if let Expr::Call(plus) = &mut added.expr {
                            pending.extend(plus.args.iter_mut());
                        }
                    }
                } else {
                    if let Some(t) = call.target.as_deref_mut() {
                        pending.push(t);
                    }
                    pending.extend(call.args.iter_mut());
                }
            }
            Expr::Comprehension(c) => {
                let range = std::mem::take(&mut c.iter_range.expr);
                let range = IdedExpr {
                    id: c.iter_range.id,
                    expr: range,
                };
                c.iter_range.id = next_id;
                next_id += 1;
                c.iter_range.expr = Expr::Call(CallExpr {
                    func_name: CHARGE_RANGE.to_owned(),
                    target: None,
                    args: vec![range],
                });
                let c = &mut **c;
                pending.extend([
                    &mut c.iter_range,
                    &mut c.accu_init,
                    &mut c.loop_cond,
                    &mut c.loop_step,
                    &mut c.result,
                ]);
            }
            Expr::List(list) => pending.extend(list.elements.iter_mut()),
            Expr::Select(select) => pending.push(&mut select.operand),
            Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
                for entry in entries {
                    match &mut entry.expr {
                        EntryExpr::StructField(field) => pending.push(&mut field.value),
                        EntryExpr::MapEntry(entry) => {
                            pending.push(&mut entry.key);
                            pending.push(&mut entry.value);
                        }
                    }
                }
            }
        }
    }
}

/// The largest node id in the tree.
fn max_id(root: &IdedExpr) -> u64 {
    let mut max = 0;
    let mut pending = vec![root];
    while let Some(node) = pending.pop() {
        max = max.max(node.id);
        match &node.expr {
            Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
            Expr::Call(call) => {
                pending.extend(call.target.as_deref());
                pending.extend(call.args.iter());
            }
            Expr::Comprehension(c) => pending.extend([
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]),
            Expr::List(list) => pending.extend(list.elements.iter()),
            Expr::Select(select) => pending.push(&select.operand),
            Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
                for entry in entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => pending.push(&field.value),
                        EntryExpr::MapEntry(entry) => {
                            pending.push(&entry.key);
                            pending.push(&entry.value);
                        }
                    }
                }
            }
        }
    }
    max
}

/// Whether the expression tree under `root` is more than `max` levels deep.
/// Walks with a stack of its own, so any depth is safe to measure.
fn exceeds_depth(root: &IdedExpr, max: usize) -> bool {
    let mut pending = vec![(root, 1_usize)];
    while let Some((node, depth)) = pending.pop() {
        if depth > max {
            return true;
        }
        let below = depth + 1;
        match &node.expr {
            Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
            Expr::Call(call) => {
                pending.extend(call.target.iter().map(|t| (&**t, below)));
                pending.extend(call.args.iter().map(|a| (a, below)));
            }
            Expr::Comprehension(c) => pending.extend(
                [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ]
                .map(|e| (e, below)),
            ),
            Expr::List(list) => pending.extend(list.elements.iter().map(|e| (e, below))),
            Expr::Select(select) => pending.push((&select.operand, below)),
            Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
                for entry in entries {
                    match &entry.expr {
                        EntryExpr::StructField(field) => pending.push((&field.value, below)),
                        EntryExpr::MapEntry(entry) => {
                            pending.push((&entry.key, below));
                            pending.push((&entry.value, below));
                        }
                    }
                }
            }
        }
    }
    false
}

/// Converts a JSON value to CEL, integers as `int` where they fit.
///
/// cel's own serde route (`Context::add_variable`) turns every non-negative
/// integer into a `uint`, and CEL has no mixed int/uint arithmetic: with it
/// `body.number - 50 < 0` would fail where `number` is 42.
fn json_to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_cel).collect()))
        }
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::from(k.as_str()), json_to_cel(v)))
                .collect();
            Value::from(map)
        }
    }
}

/// `message` on one line: line breaks and runs of blanks become one space.
fn single_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters, with an ellipsis if cut.
fn shorten(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message,
    }
}
