//! `RunStore` on SQL: runs, stages, jobs and approvals in their own rows;
//! every status change a conditional `UPDATE ... WHERE status = from`.

use crate::db::{AnyConnection, Backend, Db};
use crate::error::DbError;
use crate::schema::{approvals, jobs, runs, stages};
use crate::sql::{Arg, Sql};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_core::{
    ApprovalDecision, JobRecord, RunId, RunQuery, RunRecord, RunStore, RunSummary, StageRecord,
    Status, StatusChange, StoreError, Target,
};
use std::collections::{BTreeMap, HashMap};

/// Applies a `RunQuery`'s filters (workflow key, workflow keys as an
/// `IN` list, of which an empty one matches nothing, statuses) to a boxed
/// query on `runs`, whatever it selects.
macro_rules! filter_runs {
    ($query:expr, $q:expr) => {{
        let mut query = $query;
        if let Some(k) = &$q.workflow_key {
            query = query.filter(runs::workflow_key.eq(k.clone()));
        }
        if let Some(keys) = &$q.workflow_keys {
            query = query.filter(runs::workflow_key.eq_any(keys.clone()));
        }
        if !$q.statuses.is_empty() {
            let words: Vec<&'static str> = $q.statuses.iter().map(|s| s.as_str()).collect();
            query = query.filter(runs::status.eq_any(words));
        }
        query
    }};
}

/// Applies a `RunQuery`'s order, limit and offset to a boxed query on
/// `runs`.
macro_rules! page_runs {
    ($query:expr, $q:expr) => {{
        let mut query = if $q.oldest_first {
            $query.order(runs::seq.asc())
        } else {
            $query.order(runs::seq.desc())
        };
        if $q.limit > 0 {
            query = query.limit(i64::try_from($q.limit).unwrap_or(i64::MAX));
        }
        if $q.offset > 0 {
            query = query.offset(i64::try_from($q.offset).unwrap_or(i64::MAX));
        }
        query
    }};
}

/// A whole run's row: its summary's columns with the plan.
#[derive(Queryable, Selectable)]
#[diesel(table_name = runs)]
struct RunRow {
    plan: String,
    #[diesel(embed)]
    summary: SummaryRow,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = runs)]
struct SummaryRow {
    id: String,
    name: String,
    workflow_key: Option<String>,
    params: String,
    trigger_info: String,
    status: String,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    error: Option<String>,
}

impl SummaryRow {
    fn into_summary(self) -> Result<RunSummary, DbError> {
        Ok(RunSummary {
            id: RunId(self.id),
            name: self.name,
            workflow_key: self.workflow_key,
            params: from_json("run params", &self.params)?,
            trigger: from_json("run trigger", &self.trigger_info)?,
            status: status(&self.status)?,
            created_at: utc(self.created_at),
            started_at: self.started_at.map(utc),
            finished_at: self.finished_at.map(utc),
            error: self.error,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = runs)]
struct NewRun<'a> {
    id: &'a str,
    name: &'a str,
    workflow_key: Option<&'a str>,
    plan: String,
    params: String,
    trigger_info: String,
    status: &'a str,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    error: Option<&'a str>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = stages)]
struct StageRow {
    run_id: String,
    idx: i32,
    name: String,
    status: String,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    error: Option<String>,
    waiting_since: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs)]
struct JobRow {
    run_id: String,
    stage_idx: i32,
    idx: i32,
    name: String,
    kind: String,
    status: String,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    error: Option<String>,
    exit_code: Option<i32>,
    attempts: i32,
    outputs: String,
    handle: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = approvals)]
struct ApprovalRow {
    run_id: String,
    stage_idx: i32,
    decided_by: String,
    approved: bool,
    comment: String,
    decided_at: NaiveDateTime,
    decided_by_id: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = approvals)]
struct NewApproval<'a> {
    run_id: &'a str,
    stage_idx: i32,
    decided_by: &'a str,
    approved: bool,
    comment: &'a str,
    decided_at: NaiveDateTime,
    decided_by_id: Option<&'a str>,
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn idx(i: usize) -> Result<i32, DbError> {
    i32::try_from(i).map_err(|_| DbError::Corrupt(format!("index {i} out of range")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, DbError> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

fn status(s: &str) -> Result<Status, DbError> {
    s.parse()
        .map_err(|e: slipway_core::status::UnknownStatus| DbError::Corrupt(e.to_string()))
}

/// The SQL run store.
#[derive(Debug, Clone)]
pub struct SqlRunStore {
    db: Db,
}

impl SqlRunStore {
    /// A run store on `db`.
    pub fn new(db: Db) -> Self {
        SqlRunStore { db }
    }

    /// Runs `update` on job `job` of stage `stage` of `run` (given to it
    /// as the run's id and the two indexes) in a single-statement write:
    /// `NoSuchTarget` unless it changed exactly that job's row.
    async fn update_job<F>(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        update: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&mut AnyConnection, &str, i32, i32) -> Result<usize, DbError> + Send + 'static,
    {
        let rid = run.clone();
        let r = self
            .db
            .write_one(move |c| {
                let n = update(c, rid.as_str(), idx(stage)?, idx(job)?)?;
                Ok(if n == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NoSuchTarget {
                        run: rid,
                        target: Target::Job(stage, job),
                    })
                })
            })
            .await;
        flatten(r)
    }
}

fn insert_run(conn: &mut AnyConnection, run: &RunRecord) -> Result<(), DbError> {
    let inserted = diesel::insert_into(runs::table)
        .values(NewRun {
            id: run.id.as_str(),
            name: run.plan.name.as_str(),
            workflow_key: run.workflow_key.as_deref(),
            plan: to_json(&run.plan)?,
            params: to_json(&run.params)?,
            trigger_info: to_json(&run.trigger)?,
            status: run.status.as_str(),
            created_at: naive(run.created_at),
            started_at: run.started_at.map(naive),
            finished_at: run.finished_at.map(naive),
            error: run.error.as_deref(),
        })
        .execute(conn);
    match inserted {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Err(DbError::Refused(StoreError::Duplicate(run.id.clone()))),
        other => other?,
    };
    for (si, s) in run.stages.iter().enumerate() {
        diesel::insert_into(stages::table)
            .values(StageRow {
                run_id: run.id.0.clone(),
                idx: idx(si)?,
                name: s.name.clone(),
                status: s.status.as_str().to_owned(),
                started_at: s.started_at.map(naive),
                finished_at: s.finished_at.map(naive),
                error: s.error.clone(),
                waiting_since: s.waiting_since.map(naive),
            })
            .execute(conn)?;
        for (ji, j) in s.jobs.iter().enumerate() {
            diesel::insert_into(jobs::table)
                .values(JobRow {
                    run_id: run.id.0.clone(),
                    stage_idx: idx(si)?,
                    idx: idx(ji)?,
                    name: j.name.clone(),
                    kind: j.kind.clone(),
                    status: j.status.as_str().to_owned(),
                    started_at: j.started_at.map(naive),
                    finished_at: j.finished_at.map(naive),
                    error: j.error.clone(),
                    exit_code: j.exit_code,
                    attempts: i32::try_from(j.attempts).unwrap_or(i32::MAX),
                    outputs: to_json(&j.outputs)?,
                    handle: None,
                })
                .execute(conn)?;
        }
        for d in &s.approvals {
            add_approval(conn, &run.id, si, d)?;
        }
    }
    Ok(())
}

fn add_approval(
    conn: &mut AnyConnection,
    run: &RunId,
    stage: usize,
    d: &ApprovalDecision,
) -> Result<(), DbError> {
    diesel::insert_into(approvals::table)
        .values(NewApproval {
            run_id: run.as_str(),
            stage_idx: idx(stage)?,
            decided_by: &d.by,
            approved: d.approved,
            comment: &d.comment,
            decided_at: naive(d.at),
            decided_by_id: d.by_id.as_deref(),
        })
        .execute(conn)?;
    Ok(())
}

/// Loads whole records for `rows`, in the given order, with three more
/// queries (stages, jobs, approvals) whatever the number of runs.
fn assemble(conn: &mut AnyConnection, rows: Vec<RunRow>) -> Result<Vec<RunRecord>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.summary.id.as_str()).collect();
    let stage_rows: Vec<StageRow> = stages::table
        .filter(stages::run_id.eq_any(&ids))
        .order((stages::run_id, stages::idx))
        .select(StageRow::as_select())
        .load(conn)?;
    let job_rows: Vec<JobRow> = jobs::table
        .filter(jobs::run_id.eq_any(&ids))
        .order((jobs::run_id, jobs::stage_idx, jobs::idx))
        .select(JobRow::as_select())
        .load(conn)?;
    let approval_rows: Vec<ApprovalRow> = approvals::table
        .filter(approvals::run_id.eq_any(&ids))
        .order(approvals::seq)
        .select(ApprovalRow::as_select())
        .load(conn)?;
    let mut stages_by: HashMap<String, Vec<StageRecord>> = HashMap::new();
    for s in stage_rows {
        stages_by
            .entry(s.run_id.clone())
            .or_default()
            .push(StageRecord {
                name: s.name,
                status: status(&s.status)?,
                started_at: s.started_at.map(utc),
                finished_at: s.finished_at.map(utc),
                error: s.error,
                waiting_since: s.waiting_since.map(utc),
                approvals: Vec::new(),
                jobs: Vec::new(),
            });
    }
    for j in job_rows {
        let stage = stages_by
            .get_mut(&j.run_id)
            .and_then(|v| v.get_mut(usize::try_from(j.stage_idx).unwrap_or(usize::MAX)))
            .ok_or_else(|| {
                DbError::Corrupt(format!("job {} of run {} has no stage", j.name, j.run_id))
            })?;
        stage.jobs.push(JobRecord {
            name: j.name,
            kind: j.kind,
            status: status(&j.status)?,
            started_at: j.started_at.map(utc),
            finished_at: j.finished_at.map(utc),
            error: j.error,
            exit_code: j.exit_code,
            attempts: u32::try_from(j.attempts).unwrap_or(0),
            outputs: from_json("job outputs", &j.outputs)?,
            handle: j
                .handle
                .as_deref()
                .map(|h| from_json("job handle", h))
                .transpose()?,
        });
    }
    for a in approval_rows {
        if let Some(stage) = stages_by
            .get_mut(&a.run_id)
            .and_then(|v| v.get_mut(usize::try_from(a.stage_idx).unwrap_or(usize::MAX)))
        {
            stage.approvals.push(ApprovalDecision {
                by: a.decided_by,
                by_id: a.decided_by_id,
                approved: a.approved,
                comment: a.comment,
                at: utc(a.decided_at),
            });
        }
    }
    rows.into_iter()
        .map(|r| {
            let plan = from_json("run plan", &r.plan)?;
            let s = r.summary.into_summary()?;
            Ok(RunRecord {
                stages: stages_by.remove(s.id.as_str()).unwrap_or_default(),
                plan,
                params: s.params,
                trigger: s.trigger,
                status: s.status,
                id: s.id,
                workflow_key: s.workflow_key,
                created_at: s.created_at,
                started_at: s.started_at,
                finished_at: s.finished_at,
                error: s.error,
            })
        })
        .collect()
}

fn get_run(conn: &mut AnyConnection, id: &str) -> Result<Option<RunRecord>, DbError> {
    let rows: Vec<RunRow> = runs::table
        .filter(runs::id.eq(id))
        .select(RunRow::as_select())
        .load(conn)?;
    Ok(assemble(conn, rows)?.pop())
}

/// Why a conditional update touched no row.
fn conflict(
    conn: &mut AnyConnection,
    run: &RunId,
    change: &StatusChange,
) -> Result<StoreError, DbError> {
    let rid = run.as_str();
    let actual: Option<String> = match change.target {
        Target::Run => runs::table
            .filter(runs::id.eq(rid))
            .select(runs::status)
            .first(conn)
            .optional()?,
        Target::Stage(s) => stages::table
            .filter(stages::run_id.eq(rid).and(stages::idx.eq(idx(s)?)))
            .select(stages::status)
            .first(conn)
            .optional()?,
        Target::Job(s, j) => jobs::table
            .filter(
                jobs::run_id
                    .eq(rid)
                    .and(jobs::stage_idx.eq(idx(s)?))
                    .and(jobs::idx.eq(idx(j)?)),
            )
            .select(jobs::status)
            .first(conn)
            .optional()?,
    };
    Ok(match actual {
        Some(a) => StoreError::Conflict {
            run: run.clone(),
            target: change.target,
            expected: change.from,
            actual: status(&a)?,
        },
        None => {
            let run_exists: i64 = runs::table
                .filter(runs::id.eq(rid))
                .count()
                .get_result(conn)?;
            if run_exists == 0 {
                StoreError::NotFound(run.clone())
            } else {
                StoreError::NoSuchTarget {
                    run: run.clone(),
                    target: change.target,
                }
            }
        }
    })
}

/// The conditional `UPDATE` that applies `change` with the effects
/// documented on `StatusChange` (one statement, so it needs no transaction
/// of its own); its values are bound in `q`.
fn status_update(q: &mut Sql, run: &RunId, change: &StatusChange) -> Result<String, DbError> {
    let starting = matches!(change.to, Status::Running | Status::WaitingApproval);
    let resetting =
        matches!(change.to, Status::Created | Status::Queued) && change.from.is_terminal();
    let finishing = change.to.is_terminal();
    let rid = || Arg::Text(run.as_str().to_owned());
    let (table, key) = match change.target {
        Target::Run => ("runs", format!("id = {}", q.arg(rid()))),
        Target::Stage(s) => (
            "stages",
            format!(
                "run_id = {} AND idx = {}",
                q.arg(rid()),
                q.arg(Arg::Int(idx(s)?))
            ),
        ),
        Target::Job(s, j) => (
            "jobs",
            format!(
                "run_id = {} AND stage_idx = {} AND idx = {}",
                q.arg(rid()),
                q.arg(Arg::Int(idx(s)?)),
                q.arg(Arg::Int(idx(j)?))
            ),
        ),
    };
    let is_job = matches!(change.target, Target::Job(..));
    let is_stage = matches!(change.target, Target::Stage(..));
    let at = naive(change.at);
    let mut set = vec![format!(
        "status = {}",
        q.arg(Arg::Text(change.to.as_str().to_owned()))
    )];
    if finishing {
        set.push(format!("finished_at = {}", q.arg(Arg::Time(at))));
        set.push(format!(
            "error = {}",
            q.arg(Arg::OptText(change.error.clone()))
        ));
        if is_job {
            set.push(format!(
                "exit_code = {}",
                q.arg(Arg::OptInt(change.exit_code))
            ));
            // A finished job has no process group left to kill.
            set.push("handle = NULL".to_owned());
        }
    } else if resetting {
        set.push("started_at = NULL, finished_at = NULL, error = NULL".to_owned());
        if is_stage {
            set.push("waiting_since = NULL".to_owned());
        }
        if is_job {
            set.push("exit_code = NULL".to_owned());
        }
    } else if starting {
        if is_stage && change.to == Status::WaitingApproval {
            set.push(format!("waiting_since = {}", q.arg(Arg::Time(at))));
        }
        if is_job && change.to == Status::Running {
            set.push("attempts = attempts + 1".to_owned());
        }
        set.push(format!(
            "started_at = COALESCE(started_at, {})",
            q.arg(Arg::Time(at))
        ));
    }
    let from = q.arg(Arg::Text(change.from.as_str().to_owned()));
    Ok(format!(
        "UPDATE {table} SET {} WHERE {key} AND status = {from}",
        set.join(", ")
    ))
}

/// Applies a change as one conditional `UPDATE`. Returns `Ok(None)` when
/// applied, `Ok(Some(err))` on a conflict (read back).
fn change_status(
    conn: &mut AnyConnection,
    run: &RunId,
    change: &StatusChange,
) -> Result<Option<StoreError>, DbError> {
    let mut q = Sql::default();
    q.text = status_update(&mut q, run, change)?;
    if q.execute(conn)? == 1 {
        Ok(None)
    } else {
        Ok(Some(conflict(conn, run, change)?))
    }
}

/// The message of the guard that fails a batch on PostgreSQL (see the
/// migration `2026-11-26-000002_change_guard`).
const GUARD_MESSAGE: &str = "slipway: a conditional change found its row in another status";

/// A batch of changes to distinct rows as ONE PostgreSQL statement: each
/// `UPDATE` in a data-modifying CTE, and a guard that raises (undoing the
/// whole statement) unless each changed exactly one row. `Ok(false)`: the
/// guard refused; nothing was changed.
fn pg_change_batch(
    conn: &mut AnyConnection,
    run: &RunId,
    changes: &[StatusChange],
) -> Result<bool, DbError> {
    let mut q = Sql::default();
    let mut parts = Vec::with_capacity(changes.len());
    let mut checks = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        parts.push(format!(
            "c{i} AS ({} RETURNING 1)",
            status_update(&mut q, run, change)?
        ));
        checks.push(format!("(SELECT count(*) FROM c{i}) = 1"));
    }
    q.text = format!(
        "WITH {} SELECT slipway_changed_all({})",
        parts.join(", "),
        checks.join(" AND ")
    );
    match q.execute(conn) {
        Ok(_) => Ok(true),
        Err(DbError::Query(diesel::result::Error::DatabaseError(_, info)))
            if info.message() == GUARD_MESSAGE =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// A new run with its stages and jobs as ONE PostgreSQL statement (the
/// run, stage and job inserts chained in data-modifying CTEs; foreign keys
/// are checked at the end of the statement).
fn pg_insert_run(conn: &mut AnyConnection, run: &RunRecord) -> Result<(), DbError> {
    let mut q = Sql::default();
    let run_values = [
        q.arg(Arg::Text(run.id.0.clone())),
        q.arg(Arg::Text(run.plan.name.clone())),
        q.arg(Arg::OptText(run.workflow_key.clone())),
        q.arg(Arg::Text(to_json(&run.plan)?)),
        q.arg(Arg::Text(to_json(&run.params)?)),
        q.arg(Arg::Text(to_json(&run.trigger)?)),
        q.arg(Arg::Text(run.status.as_str().to_owned())),
        q.arg(Arg::Time(naive(run.created_at))),
        q.arg(Arg::OptTime(run.started_at.map(naive))),
        q.arg(Arg::OptTime(run.finished_at.map(naive))),
        q.arg(Arg::OptText(run.error.clone())),
    ]
    .join(", ");
    let rid = q.arg(Arg::Text(run.id.0.clone()));
    let mut stage_rows = Vec::new();
    let mut job_rows = Vec::new();
    for (si, s) in run.stages.iter().enumerate() {
        let si_arg = q.arg(Arg::Int(idx(si)?));
        stage_rows.push(format!(
            "({rid}, {si_arg}, {}, {}, {}, {}, {}, {})",
            q.arg(Arg::Text(s.name.clone())),
            q.arg(Arg::Text(s.status.as_str().to_owned())),
            q.arg(Arg::OptTime(s.started_at.map(naive))),
            q.arg(Arg::OptTime(s.finished_at.map(naive))),
            q.arg(Arg::OptText(s.error.clone())),
            q.arg(Arg::OptTime(s.waiting_since.map(naive))),
        ));
        for (ji, j) in s.jobs.iter().enumerate() {
            job_rows.push(format!(
                "({rid}, {si_arg}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                q.arg(Arg::Int(idx(ji)?)),
                q.arg(Arg::Text(j.name.clone())),
                q.arg(Arg::Text(j.kind.clone())),
                q.arg(Arg::Text(j.status.as_str().to_owned())),
                q.arg(Arg::OptTime(j.started_at.map(naive))),
                q.arg(Arg::OptTime(j.finished_at.map(naive))),
                q.arg(Arg::OptText(j.error.clone())),
                q.arg(Arg::OptInt(j.exit_code)),
                q.arg(Arg::Int(i32::try_from(j.attempts).unwrap_or(i32::MAX))),
                q.arg(Arg::Text(to_json(&j.outputs)?)),
            ));
        }
    }
    q.text = format!(
        "WITH r AS (INSERT INTO runs (id, name, workflow_key, plan, params, trigger_info, \
         status, created_at, started_at, finished_at, error) VALUES ({run_values})), \
         s AS (INSERT INTO stages (run_id, idx, name, status, started_at, finished_at, error, \
         waiting_since) VALUES {}) \
         INSERT INTO jobs (run_id, stage_idx, idx, name, kind, status, started_at, finished_at, \
         error, exit_code, attempts, outputs) VALUES {}",
        stage_rows.join(", "),
        job_rows.join(", ")
    );
    match q.execute(conn) {
        Err(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => Err(DbError::Refused(StoreError::Duplicate(run.id.clone()))),
        other => other.map(|_| ()),
    }
}

/// A store error, or a database failure turned into one.
fn flatten<T>(r: Result<Result<T, StoreError>, DbError>) -> Result<T, StoreError> {
    r.map_err(StoreError::from).and_then(|x| x)
}

#[async_trait]
impl RunStore for SqlRunStore {
    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let run = run.clone();
        // A taken id is found by the insert itself (no read first). On
        // PostgreSQL a run without approvals (every new one) is one
        // statement, atomic by itself.
        let one_statement = self.db.backend() == Backend::Postgres
            && run
                .stages
                .iter()
                .all(|s| s.approvals.is_empty() && !s.jobs.is_empty())
            && !run.stages.is_empty();
        if one_statement {
            Ok(self.db.write_one(move |c| pg_insert_run(c, &run)).await?)
        } else {
            Ok(self.db.write(move |c| insert_run(c, &run)).await?)
        }
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        let id = id.0.clone();
        Ok(self.db.read(move |c| get_run(c, &id)).await?)
    }

    async fn list_runs(&self, q: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let q = q.clone();
        Ok(self
            .db
            .read(move |c| {
                let query = runs::table.select(RunRow::as_select()).into_boxed();
                let query = page_runs!(filter_runs!(query, q), q);
                let rows = query.load(c)?;
                assemble(c, rows)
            })
            .await?)
    }

    async fn list_summaries(&self, q: &RunQuery) -> Result<(Vec<RunSummary>, u64), StoreError> {
        let q = q.clone();
        Ok(self
            .db
            .read(move |c| {
                let count = filter_runs!(runs::table.count().into_boxed(), q);
                let query = runs::table.select(SummaryRow::as_select()).into_boxed();
                let query = page_runs!(filter_runs!(query, q), q);
                let total: i64 = count.get_result(c)?;
                let rows: Vec<SummaryRow> = query.load(c)?;
                let items = rows
                    .into_iter()
                    .map(SummaryRow::into_summary)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((items, u64::try_from(total).unwrap_or(0)))
            })
            .await?)
    }

    async fn count_runs(&self, q: &RunQuery) -> Result<u64, StoreError> {
        let q = q.clone();
        Ok(self
            .db
            .read(move |c| {
                let n: i64 = filter_runs!(runs::table.count().into_boxed(), q).get_result(c)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await?)
    }

    async fn change_status(&self, run: &RunId, change: &StatusChange) -> Result<(), StoreError> {
        let (run, change) = (run.clone(), change.clone());
        let r = self
            .db
            .write_one(move |c| {
                Ok(match change_status(c, &run, &change)? {
                    None => Ok(()),
                    Some(e) => Err(e),
                })
            })
            .await;
        flatten(r)
    }

    async fn change_statuses(
        &self,
        run: &RunId,
        changes: &[StatusChange],
    ) -> Result<(), StoreError> {
        let (run, changes) = (run.clone(), changes.to_vec());
        // On PostgreSQL, changes to distinct rows go as one statement; the
        // transaction below is the general way (and tells which change
        // conflicted when that statement is refused).
        let mut targets: Vec<Target> = changes.iter().map(|c| c.target).collect();
        targets.sort_by_key(|t| format!("{t:?}"));
        targets.dedup();
        if self.db.backend() == Backend::Postgres && targets.len() == changes.len() {
            let (r, c) = (run.clone(), changes.clone());
            if self
                .db
                .write_one(move |conn| pg_change_batch(conn, &r, &c))
                .await?
            {
                return Ok(());
            }
        }
        let r = self
            .db
            .write(move |c| {
                for change in &changes {
                    if let Some(e) = change_status(c, &run, change)? {
                        // Rolls the whole transaction back.
                        return Err(DbError::Refused(e));
                    }
                }
                Ok(())
            })
            .await;
        r.map_err(StoreError::from)
    }

    async fn set_outputs(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let text = to_json(outputs)?;
        self.update_job(run, stage, job, move |c, run, stage, job| {
            Ok(diesel::update(
                jobs::table.filter(
                    jobs::run_id
                        .eq(run)
                        .and(jobs::stage_idx.eq(stage))
                        .and(jobs::idx.eq(job)),
                ),
            )
            .set(jobs::outputs.eq(&text))
            .execute(c)?)
        })
        .await
    }

    async fn set_handle(
        &self,
        run: &RunId,
        stage: usize,
        job: usize,
        handle: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let text = handle.map(to_json).transpose()?;
        self.update_job(run, stage, job, move |c, run, stage, job| {
            // Built as text so that its prepared form is reused (diesel
            // prepares this `UPDATE` afresh every time otherwise).
            let mut q = Sql::default();
            q.text = format!(
                "UPDATE jobs SET handle = {} WHERE run_id = {} AND stage_idx = {} AND idx = {}",
                q.arg(Arg::OptText(text.clone())),
                q.arg(Arg::Text(run.to_owned())),
                q.arg(Arg::Int(stage)),
                q.arg(Arg::Int(job)),
            );
            q.execute(c)
        })
        .await
    }

    async fn add_approval(
        &self,
        run: &RunId,
        stage: usize,
        decision: &ApprovalDecision,
    ) -> Result<(), StoreError> {
        let (run, d) = (run.clone(), decision.clone());
        Ok(self
            .db
            .write(move |c| add_approval(c, &run, stage, &d))
            .await?)
    }
}
