//! Cron schedules (`schedules`); each fire time is claimed by
//! compare-and-set on `last_fired_at`.

use super::{classify, from_json, store, to_json, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::schedules;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::catalog::{CatalogStoreError, ScheduleTarget, StoredSchedule};
use std::collections::BTreeMap;

/// A row of `schedules`; as a changeset (an update) it leaves the target,
/// the last fire time and the creation time alone.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = schedules, treat_none_as_null = true)]
struct ScheduleRow {
    id: String,
    #[diesel(skip_update)]
    target: String,
    #[diesel(skip_update)]
    target_id: String,
    expression: String,
    timezone: Option<String>,
    git_ref: String,
    params: String,
    enabled: bool,
    #[diesel(skip_update)]
    last_fired_at: Option<NaiveDateTime>,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn schedule_row(s: &StoredSchedule) -> Result<ScheduleRow, DbError> {
    Ok(ScheduleRow {
        id: s.id.clone(),
        target: s.target.as_str().to_owned(),
        target_id: s.target_id.clone(),
        expression: s.expression.clone(),
        timezone: s.timezone.clone(),
        git_ref: s.git_ref.clone(),
        params: to_json(&s.params)?,
        enabled: s.enabled,
        last_fired_at: s.last_fired_at.map(|t| t.naive_utc()),
        created_at: s.created_at.naive_utc(),
        updated_at: s.updated_at.naive_utc(),
    })
}

fn schedule_of(r: ScheduleRow) -> Result<StoredSchedule, DbError> {
    Ok(StoredSchedule {
        target: ScheduleTarget::parse(&r.target)
            .ok_or_else(|| DbError::Corrupt(format!("schedule target `{}`", r.target)))?,
        params: from_json::<BTreeMap<String, String>>("schedule params", &r.params)?,
        id: r.id,
        target_id: r.target_id,
        expression: r.expression,
        timezone: r.timezone,
        git_ref: r.git_ref,
        enabled: r.enabled,
        last_fired_at: r.last_fired_at.map(utc),
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
    })
}

pub(super) fn delete_schedules_of(
    c: &mut AnyConnection,
    target: ScheduleTarget,
    id: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        schedules::table.filter(
            schedules::target
                .eq(target.as_str())
                .and(schedules::target_id.eq(id)),
        ),
    )
    .execute(c)?)
}

pub(super) async fn insert_schedule(
    db: &Db,
    schedule: &StoredSchedule,
) -> Result<(), CatalogStoreError> {
    let row = schedule_row(schedule).map_err(store)?;
    db.insert(schedules::table, row)
        .await
        .map_err(|e| classify(e, "that schedule exists already", ""))
}

pub(super) async fn schedule(
    db: &Db,
    id: &str,
) -> Result<Option<StoredSchedule>, CatalogStoreError> {
    let query = schedules::table
        .filter(schedules::id.eq(id.to_owned()))
        .select(ScheduleRow::as_select());
    db.first(query, schedule_of).await.map_err(store)
}

pub(super) async fn schedules(
    db: &Db,
    target: Option<(ScheduleTarget, &str)>,
) -> Result<Vec<StoredSchedule>, CatalogStoreError> {
    let target = target.map(|(t, id)| (t.as_str(), id.to_owned()));
    db.read(move |c| {
        let mut q = schedules::table
            .select(ScheduleRow::as_select())
            .into_boxed();
        if let Some((kind, id)) = target {
            q = q.filter(schedules::target.eq(kind).and(schedules::target_id.eq(id)));
        }
        q.order((schedules::created_at.asc(), schedules::id.asc()))
            .load(c)?
            .into_iter()
            .map(schedule_of)
            .collect()
    })
    .await
    .map_err(store)
}

pub(super) async fn update_schedule(
    db: &Db,
    schedule: &StoredSchedule,
) -> Result<bool, CatalogStoreError> {
    let r = schedule_row(schedule).map_err(store)?;
    let this = schedules::table.filter(schedules::id.eq(r.id.clone()));
    db.update(this, r).await.map(|n| n == 1).map_err(store)
}

pub(super) async fn delete_schedule(db: &Db, id: &str) -> Result<bool, CatalogStoreError> {
    let this = schedules::table.filter(schedules::id.eq(id.to_owned()));
    db.delete(this).await.map(|n| n == 1).map_err(store)
}

pub(super) async fn claim_fire(
    db: &Db,
    id: &str,
    previous: Option<DateTime<Utc>>,
    fired_at: DateTime<Utc>,
) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write_one(move |c| {
        // Compare and set: only a writer that saw `previous` moves it.
        let this = schedules::table.filter(schedules::id.eq(&id));
        let set = schedules::last_fired_at.eq(Some(fired_at.naive_utc()));
        let n = match previous {
            Some(p) => diesel::update(this.filter(schedules::last_fired_at.eq(p.naive_utc())))
                .set(set)
                .execute(c)?,
            None => diesel::update(this.filter(schedules::last_fired_at.is_null()))
                .set(set)
                .execute(c)?,
        };
        Ok(n == 1)
    })
    .await
    .map_err(store)
}
