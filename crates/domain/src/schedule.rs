//! Cron schedules: parsing, next fire times and the catch-up policy.
//!
//! A [`Schedule`] is a crontab expression plus a time zone:
//!
//! - 5 fields `minute hour day-of-month month day-of-week`, with the Vixie
//!   cron semantics Kubernetes CronJob users expect: `0` and `7` are Sunday,
//!   names `JAN`..`DEC` and `SUN`..`SAT` are accepted (in their own field
//!   only), and when **both** day fields are restricted a day matches if
//!   **either** matches (`0 0 1 * MON` = the 1st of every month and every
//!   Monday);
//! - 6 fields, the same with a leading `second` field;
//! - the shorthands `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//!   `@midnight` and `@hourly`.
//!
//! Times are evaluated in UTC unless an IANA time zone is given. Parsing and
//! evaluation use the `croner` crate (see `/work/shared/design/crates.md`);
//! Slipway checks each field itself first so that an error names the field
//! and the reason.
//!
//! Nothing here reads the system clock: every query takes the instant it is
//! about (`now`, `t`) from the caller, who gets it from a
//! [`slipway_core::Clock`]. The catch-up policy after downtime is
//! [`Schedule::due`]; see `docs/schedules.md`.

use std::str::FromStr;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use slipway_core::Clock;

/// Why an expression or a time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is empty or blank.
    #[error("the cron expression is empty")]
    Empty,
    /// The expression does not have 5 or 6 fields.
    #[error(
        "the cron expression `{expr}` has {found} field(s); expected 5 \
         (minute hour day-of-month month day-of-week) or 6 (second first)"
    )]
    FieldCount {
        /// The expression as given.
        expr: String,
        /// How many whitespace-separated fields it has.
        found: usize,
    },
    /// An `@` word that is not a known shorthand.
    #[error(
        "unknown shorthand `{0}`; expected one of @yearly, @annually, @monthly, \
         @weekly, @daily, @midnight, @hourly"
    )]
    UnknownShorthand(String),
    /// One field is malformed or out of range.
    #[error("{field} field `{value}`: {reason}")]
    Field {
        /// The field's name, e.g. `day-of-week`.
        field: &'static str,
        /// The field as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The time zone is not an IANA time zone name.
    #[error("unknown time zone `{0}`: expected an IANA name such as `Europe/Berlin` or `UTC`")]
    Timezone(String),
    /// The expression is well formed but names no real date (`0 0 30 2 *`).
    #[error("the cron expression `{0}` never fires (it names no existing date)")]
    NeverFires(String),
    /// The cron library refused the expression for another reason.
    #[error("invalid cron expression `{expr}`: {reason}")]
    Invalid {
        /// The expression as given.
        expr: String,
        /// The library's explanation.
        reason: String,
    },
}

/// A parsed cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    seconds: bool,
}

/// One field's description: name, bounds and accepted names.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names accepted for values, index 0 meaning value `names_base`.
    names: &'static [&'static str],
    names_base: u32,
    /// Whether `?` (= `*`) is accepted, as in the day fields.
    question_mark: bool,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const SECOND: FieldSpec = FieldSpec {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
    question_mark: false,
};
const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
    question_mark: false,
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_base: 0,
    question_mark: false,
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    names_base: 0,
    question_mark: true,
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: MONTHS,
    names_base: 1,
    question_mark: false,
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: WEEKDAYS,
    names_base: 0,
    question_mark: true,
};

impl FieldSpec {
    fn error(&self, value: &str, reason: impl Into<String>) -> ScheduleError {
        ScheduleError::Field {
            field: self.name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// One value: a number in range or (where accepted) a name.
    fn value(&self, field: &str, token: &str) -> Result<u32, ScheduleError> {
        if token.is_empty() {
            return Err(self.error(field, "a value is missing"));
        }
        if token.bytes().all(|b| b.is_ascii_digit()) {
            let n: u32 = token
                .parse()
                .map_err(|_| self.error(field, format!("`{token}` is too large")))?;
            if n < self.min || n > self.max {
                return Err(self.error(
                    field,
                    format!("{n} is out of range {}-{}", self.min, self.max),
                ));
            }
            return Ok(n);
        }
        let upper = token.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.names_base + i as u32);
        }
        let reason = if self.names.is_empty() {
            format!("`{token}` is not a number")
        } else {
            format!(
                "`{token}` is neither a number nor one of {}",
                self.names.join(", ")
            )
        };
        Err(self.error(field, reason))
    }

    /// Checks a whole field and returns it with names replaced by numbers.
    fn normalize(&self, field: &str) -> Result<String, ScheduleError> {
        let mut items = Vec::new();
        for item in field.split(',') {
            if item.is_empty() {
                return Err(self.error(field, "empty list item"));
            }
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            let is_star = range == "*" || (self.question_mark && range == "?");
            let mut out = if is_star {
                "*".to_owned()
            } else if let Some((lo, hi)) = range.split_once('-') {
                let lo = self.value(field, lo)?;
                let hi = self.value(field, hi)?;
                if lo > hi {
                    return Err(self.error(
                        field,
                        format!("range {lo}-{hi} runs backwards (wrap-around is not supported)"),
                    ));
                }
                format!("{lo}-{hi}")
            } else {
                let v = self.value(field, range)?;
                if step.is_some() {
                    return Err(self.error(
                        field,
                        format!("a step needs a range: write `{v}-{}/…` or `*/…`", self.max),
                    ));
                }
                v.to_string()
            };
            if let Some(step) = step {
                let n: u32 = step.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    self.error(field, format!("step `{step}` is not a positive number"))
                })?;
                if n > self.max {
                    return Err(self.error(
                        field,
                        format!("step {n} is larger than the field's maximum {}", self.max),
                    ));
                }
                out.push('/');
                out.push_str(&n.to_string());
            }
            items.push(out);
        }
        Ok(items.join(","))
    }
}

/// Expands a shorthand into its 5-field form.
fn shorthand(word: &str) -> Result<&'static str, ScheduleError> {
    match word.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        _ => Err(ScheduleError::UnknownShorthand(word.to_owned())),
    }
}

/// Parses an IANA time zone name.
fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    Tz::from_str(name.trim()).map_err(|_| ScheduleError::Timezone(name.to_owned()))
}

impl Schedule {
    /// Parses a cron expression, evaluated in `timezone` (an IANA name such
    /// as `America/New_York`) or in UTC when `None`.
    pub fn parse(expr: &str, timezone: Option<&str>) -> Result<Self, ScheduleError> {
        let tz = match timezone {
            Some(name) => parse_timezone(name)?,
            None => Tz::UTC,
        };
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let expanded = if trimmed.starts_with('@') {
            shorthand(trimmed)?
        } else {
            trimmed
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let specs: &[&FieldSpec] = match fields.len() {
            5 => &[&MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK],
            6 => &[&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK],
            found => {
                return Err(ScheduleError::FieldCount {
                    expr: expr.to_owned(),
                    found,
                });
            }
        };
        let normalized = fields
            .iter()
            .zip(specs)
            .map(|(field, spec)| spec.normalize(field))
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");

        // Vixie semantics: day-of-month OR day-of-week when both are
        // restricted (croner's `dom_and_dow` off, its default).
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build();
        let cron = parser
            .parse(&normalized)
            .map_err(|e| ScheduleError::Invalid {
                expr: expr.to_owned(),
                reason: e.to_string(),
            })?;
        let schedule = Self {
            expr: trimmed.to_owned(),
            tz,
            cron,
            seconds: fields.len() == 6,
        };
        // `0 0 30 2 *` is well formed but never fires: refuse it now rather
        // than have a trigger that silently never runs. Every real date
        // recurs within 8 years (Feb 29 across a skipped leap year).
        if schedule.next_after(DateTime::<Utc>::UNIX_EPOCH).is_none() {
            return Err(ScheduleError::NeverFires(expr.to_owned()));
        }
        Ok(schedule)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The IANA name of the time zone the schedule is evaluated in.
    pub fn timezone(&self) -> &'static str {
        self.tz.name()
    }

    /// Whether the expression has a seconds field (6 fields).
    pub fn has_seconds(&self) -> bool {
        self.seconds
    }

    /// A human sentence describing the schedule, for a UI.
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// What `find` (a search of the cron library) answers for `t` taken in
    /// the schedule's time zone, in UTC; `None` when it finds nothing.
    fn in_zone<E>(
        &self,
        t: DateTime<Utc>,
        find: impl FnOnce(&Cron, &DateTime<Tz>) -> Result<DateTime<Tz>, E>,
    ) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        Some(find(&self.cron, &local).ok()?.with_timezone(&Utc))
    }

    /// The first fire time strictly after `t`, or `None` if there is none
    /// (past the library's year limit).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = t;
        // The library works in whole seconds; step past any result that is
        // not strictly after `t` (a sub-second `t` on a fire second).
        for _ in 0..3 {
            let next = self.in_zone(cursor, |cron, local| {
                cron.find_next_occurrence(local, false)
            })?;
            if next > t {
                return Some(next);
            }
            cursor = next;
        }
        None
    }

    /// The latest fire time at or before `t`, if any.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let whole = t.duration_trunc(TimeDelta::seconds(1)).ok()?;
        let prev = self.in_zone(whole, |cron, local| {
            cron.find_previous_occurrence(local, true)
        })?;
        (prev <= t).then_some(prev)
    }

    /// The fire times in `(from, to]`, in order.
    pub fn fires_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> FiresBetween<'_> {
        FiresBetween {
            schedule: self,
            cursor: from,
            to,
        }
    }

    /// The catch-up policy: the one fire time to run now, if any.
    ///
    /// `last_fired` is the fire time of the last run this schedule started
    /// (`None`: it never started one). Returns the **latest** fire time in
    /// `(last_fired, now]`, so that after any downtime at most one catch-up
    /// run happens; the earlier missed fire times are skipped, and the next
    /// regular one is [`Schedule::next_after`]`(now)`. Without a
    /// `last_fired`, nothing counts as missed: only a fire time within the
    /// current tick (minute, or second for a 6-field schedule) is returned.
    pub fn due(
        &self,
        last_fired: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let latest = self.latest_at_or_before(now)?;
        match last_fired {
            Some(last) => (latest > last).then_some(latest),
            None => {
                let tick = if self.seconds {
                    TimeDelta::seconds(1)
                } else {
                    TimeDelta::minutes(1)
                };
                let tick_start = now.duration_trunc(tick).ok()?;
                (latest >= tick_start).then_some(latest)
            }
        }
    }

    /// [`Schedule::due`] at the clock's current time.
    pub fn due_at(
        &self,
        last_fired: Option<DateTime<Utc>>,
        clock: &dyn Clock,
    ) -> Option<DateTime<Utc>> {
        self.due(last_fired, clock.now())
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

/// The fire times of a schedule in a half-open interval `(from, to]`; see
/// [`Schedule::fires_between`].
#[derive(Debug, Clone)]
pub struct FiresBetween<'a> {
    schedule: &'a Schedule,
    cursor: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Iterator for FiresBetween<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.schedule.next_after(self.cursor)?;
        if next > self.to {
            self.cursor = self.to;
            return None;
        }
        self.cursor = next;
        Some(next)
    }
}
