//! Cron schedules of workflows and applications, and firing them.

use super::applications::check_ref_name;
use super::applications::detail;
use super::dispatch::full_ref;

/// A schedule as every API shows it: the stored schedule (also reached
/// through `Deref`), its next fire time and the expression in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDetail {
    /// The schedule.
    pub schedule: StoredSchedule,
    /// The next fire time after the moment it was read (also when paused);
    /// `None` when the expression never fires again.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The expression in words.
    pub description: Option<String>,
}

impl ScheduleDetail {
    /// `s` with its next fire time after `now`.
    pub fn of(s: StoredSchedule, now: DateTime<Utc>) -> Self {
        let parsed = Schedule::parse(&s.expression, s.timezone.as_deref()).ok();
        ScheduleDetail {
            next_fire_at: parsed.as_ref().and_then(|p| p.next_after(now)),
            description: parsed.as_ref().map(Schedule::describe),
            schedule: s,
        }
    }
}

impl std::ops::Deref for ScheduleDetail {
    type Target = StoredSchedule;

    fn deref(&self) -> &StoredSchedule {
        &self.schedule
    }
}
use super::{App, Caller, DomainError, Result, new_id};
use crate::access::Permission;
use crate::catalog::{ScheduleTarget, StoredSchedule};
use crate::error::OrNotFound;
use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use slipway_core::{Problem, RunId, Trigger};
use std::collections::BTreeMap;

/// A schedule as given to create or update one.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// 5 or 6 fields, or `@hourly`-style; required on create.
    pub expression: Option<String>,
    /// An IANA zone; UTC when absent.
    pub timezone: Option<Option<String>>,
    /// For applications: the ref to run (default branch when empty).
    pub git_ref: Option<String>,
    /// Params for the runs.
    pub params: Option<BTreeMap<String, String>>,
    /// Paused when false.
    pub enabled: Option<bool>,
}

impl App {
    /// `Forbidden` unless `by` may do `what` on the schedule's target.
    async fn check_target(
        &self,
        by: &Caller,
        what: Permission,
        target: ScheduleTarget,
        id: &str,
    ) -> Result<()> {
        match target {
            ScheduleTarget::Workflow => self.workflow_for(by, what, id).await.map(|_| ()),
            ScheduleTarget::Application => self.application_for(by, what, id).await.map(|_| ()),
        }
    }

    fn apply_schedule(s: &mut StoredSchedule, input: ScheduleInput, creating: bool) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(e) = input.expression {
            s.expression = e;
        } else if creating {
            problems.push(Problem::new("expression", "required"));
        }
        if let Some(tz) = input.timezone {
            s.timezone = tz.filter(|t| !t.is_empty());
        }
        if let Some(r) = input.git_ref {
            s.git_ref = r;
        }
        if !s.git_ref.is_empty() {
            check_ref_name(&s.git_ref, "ref", &mut problems);
        }
        if let Some(p) = input.params {
            s.params = p;
        }
        if let Some(e) = input.enabled {
            s.enabled = e;
        }
        if problems.is_empty()
            && let Err(e) = Schedule::parse(&s.expression, s.timezone.as_deref())
        {
            let at = if matches!(e, crate::schedule::ScheduleError::Timezone { .. }) {
                "timezone"
            } else {
                "expression"
            };
            problems.push(Problem::new(at, e.to_string()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(problems))
        }
    }

    /// Adds a cron schedule to a workflow or an application, for a caller
    /// who may modify it.
    pub async fn create_schedule(
        &self,
        by: &Caller,
        target: ScheduleTarget,
        target_id: &str,
        input: ScheduleInput,
    ) -> Result<ScheduleDetail> {
        self.check_target(by, Permission::Modify, target, target_id)
            .await?;
        let now = Utc::now();
        let mut s = StoredSchedule {
            id: new_id(),
            target,
            target_id: target_id.to_owned(),
            expression: String::new(),
            timezone: None,
            git_ref: String::new(),
            params: BTreeMap::new(),
            enabled: true,
            last_fired_at: None,
            created_at: now,
            updated_at: now,
        };
        Self::apply_schedule(&mut s, input, true)?;
        self.catalog.insert_schedule(&s).await?;
        Ok(ScheduleDetail::of(s, Utc::now()))
    }

    /// A schedule, with its next fire time, for a caller who may view its
    /// target.
    pub async fn schedule(&self, by: &Caller, id: &str) -> Result<ScheduleDetail> {
        Ok(ScheduleDetail::of(
            self.stored_schedule(by, Permission::View, id).await?,
            Utc::now(),
        ))
    }

    /// A schedule, when `by` may do `what` on its target.
    async fn stored_schedule(
        &self,
        by: &Caller,
        what: Permission,
        id: &str,
    ) -> Result<StoredSchedule> {
        let s = self
            .catalog
            .schedule(id)
            .await?
            .or_not_found("schedule", id)?;
        self.check_target(by, what, s.target, &s.target_id).await?;
        Ok(s)
    }

    /// The schedules of a workflow or application, each with its next
    /// fire time.
    pub async fn schedules(
        &self,
        by: &Caller,
        target: ScheduleTarget,
        target_id: &str,
    ) -> Result<Vec<ScheduleDetail>> {
        self.check_target(by, Permission::View, target, target_id)
            .await?;
        let now = Utc::now();
        Ok(self
            .catalog
            .schedules(Some((target, target_id)))
            .await?
            .into_iter()
            .map(|s| ScheduleDetail::of(s, now))
            .collect())
    }

    /// Changes a schedule, for a caller who may modify its target; absent
    /// fields keep their value.
    pub async fn update_schedule(
        &self,
        by: &Caller,
        id: &str,
        input: ScheduleInput,
    ) -> Result<ScheduleDetail> {
        let mut s = self.stored_schedule(by, Permission::Modify, id).await?;
        Self::apply_schedule(&mut s, input, false)?;
        s.updated_at = Utc::now();
        self.catalog
            .update_schedule(&s)
            .await?
            .or_not_found("schedule", id)?;
        Ok(ScheduleDetail::of(s, Utc::now()))
    }

    /// Deletes a schedule, for a caller who may modify its target.
    pub async fn delete_schedule(&self, by: &Caller, id: &str) -> Result<()> {
        self.stored_schedule(by, Permission::Modify, id).await?;
        self.catalog
            .delete_schedule(id)
            .await?
            .or_not_found("schedule", id)
    }

    /// Starts the runs every schedule owes at `now`: at most one per
    /// schedule (the latest fire time since it last fired: after downtime
    /// one catch-up run, not one per missed time). Several servers may
    /// call this; each fire time is claimed by exactly one. Returns the
    /// runs started. A schedule whose target fails to start is logged and
    /// its fire time still counts as used.
    pub async fn fire_due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<RunId>> {
        let mut started = Vec::new();
        for s in self.catalog.schedules(None).await? {
            if !s.enabled {
                continue;
            }
            let schedule = match Schedule::parse(&s.expression, s.timezone.as_deref()) {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(schedule = %s.id, error = %e, "stored schedule does not parse");
                    continue;
                }
            };
            // Counting starts when the schedule was made.
            let since = s.last_fired_at.unwrap_or(s.created_at);
            let Some(fire) = schedule.due(Some(since), now) else {
                continue;
            };
            if !self
                .catalog
                .claim_fire(&s.id, s.last_fired_at, fire)
                .await?
            {
                continue;
            }
            match self.start_scheduled(&s, fire).await {
                Ok(id) => started.push(id),
                Err(e) => {
                    tracing::warn!(schedule = %s.id, error = %e, "scheduled run did not start");
                }
            }
        }
        Ok(started)
    }

    async fn start_scheduled(&self, s: &StoredSchedule, fire: DateTime<Utc>) -> Result<RunId> {
        let trigger = Trigger::new("cron")
            .with(detail::SCHEDULE, s.id.clone())
            .with("expression", s.expression.clone())
            .with(detail::FIRE_TIME, fire.to_rfc3339());
        let inputs: BTreeMap<String, serde_json::Value> = s
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        match s.target {
            ScheduleTarget::Workflow => {
                let run = self.start_run(&s.target_id, None, &inputs, trigger).await?;
                Ok(run.id)
            }
            ScheduleTarget::Application => {
                let app = self.find_application(&s.target_id).await?;
                let git_ref = if s.git_ref.is_empty() {
                    app.default_branch.clone()
                } else {
                    s.git_ref.clone()
                };
                let commit = self.resolve(&app, &git_ref, None).await?;
                let shown = commit.refname.clone().unwrap_or_else(|| full_ref(&git_ref));
                let template = app.template_path.clone();
                let run = self
                    .start_app_run(&app, &commit, &shown, &template, &inputs, trigger)
                    .await?;
                Ok(run.id)
            }
        }
    }
}
