//! Cron schedules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slipway_domain::{ScheduleDetail, ScheduleInput};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A cron schedule of a workflow or an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Its id.
    pub id: String,
    /// `workflow` or `application`.
    pub target: String,
    /// The workflow's or application's id.
    pub target_id: String,
    /// The expression as written (5 or 6 fields, or a shorthand).
    pub expression: String,
    /// The IANA time zone it is evaluated in; `null` is UTC.
    pub timezone: Option<String>,
    /// For applications: the ref to run (empty: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Params for the runs it starts.
    pub params: BTreeMap<String, String>,
    /// Paused schedules start nothing.
    pub enabled: bool,
    /// The last fire time it started a run for.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The next fire time (also when paused).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The expression in words.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<(ScheduleDetail, &slipway_domain::Caller)> for ScheduleView {
    fn from((s, _): (ScheduleDetail, &slipway_domain::Caller)) -> Self {
        s.into()
    }
}

impl From<ScheduleDetail> for ScheduleView {
    fn from(d: ScheduleDetail) -> Self {
        let s = d.schedule;
        ScheduleView {
            next_fire_at: d.next_fire_at,
            description: d.description,
            id: s.id,
            target: s.target.as_str().to_owned(),
            target_id: s.target_id,
            expression: s.expression,
            timezone: s.timezone,
            git_ref: s.git_ref,
            params: s.params,
            enabled: s.enabled,
            last_fired_at: s.last_fired_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// The schedules of a workflow or application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Every schedule, oldest first.
    pub items: Vec<ScheduleView>,
}

/// A new schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleCreate {
    /// 5 fields (`minute hour day-of-month month day-of-week`), 6 (a
    /// leading `second`), or a shorthand (`@daily`, `@hourly`, ...).
    pub expression: String,
    /// An IANA time zone (`Europe/Berlin`); absent, `null` or `""`: UTC.
    pub timezone: Option<String>,
    /// For applications: the ref to run (default: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Params for the runs, by name.
    pub params: Option<BTreeMap<String, String>>,
    /// Whether it fires (default true).
    pub enabled: Option<bool>,
}

moved_fields!(ScheduleCreate as s => ScheduleInput {
    git_ref, params, enabled;
    expression: Some(s.expression),
    timezone: Some(s.timezone),
});

/// Changes to a schedule; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    /// A new expression.
    pub expression: Option<String>,
    /// A new time zone; `null` or `""` for UTC.
    #[serde(default, deserialize_with = "crate::input::present")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    /// A new ref (`""`: the default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// New params (replace all of them).
    pub params: Option<BTreeMap<String, String>>,
    /// Pause (false) or resume (true).
    pub enabled: Option<bool>,
}

moved_fields!(ScheduleUpdate as s => ScheduleInput { expression, timezone, git_ref, params, enabled });
