//! The audit trail (`audit_events`): rows are only ever added; lists are
//! read by time (index on `at`) or by project (index on `project_id, at`),
//! ties broken by id so that pages never overlap.

use super::{paged, store, utc};
use crate::db::Db;
use crate::error::DbError;
use crate::schema::audit_events;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use slipway_domain::catalog::{CatalogStoreError, Order, Page, PageRequest};
use slipway_domain::{AuditEntry, AuditFilter};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: String,
    at: NaiveDateTime,
    user_id: Option<String>,
    user_name: String,
    token_id: Option<String>,
    api: String,
    method: String,
    route: String,
    action: String,
    object_kind: String,
    object_id: Option<String>,
    project_id: Option<String>,
    status: i32,
    outcome: String,
}

impl From<&AuditEntry> for AuditRow {
    fn from(e: &AuditEntry) -> Self {
        AuditRow {
            id: e.id.clone(),
            at: e.at.naive_utc(),
            user_id: e.user_id.clone(),
            user_name: e.user_name.clone(),
            token_id: e.token_id.clone(),
            api: e.api.clone(),
            method: e.method.clone(),
            route: e.route.clone(),
            action: e.action.clone(),
            object_kind: e.object_kind.clone(),
            object_id: e.object_id.clone(),
            project_id: e.project_id.clone(),
            status: i32::from(e.status),
            outcome: e.outcome.clone(),
        }
    }
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = DbError;

    fn try_from(r: AuditRow) -> Result<Self, DbError> {
        let status = u16::try_from(r.status)
            .map_err(|_| DbError::Corrupt(format!("audit entry {}: status {}", r.id, r.status)))?;
        Ok(AuditEntry {
            id: r.id,
            at: utc(r.at),
            user_id: r.user_id,
            user_name: r.user_name,
            token_id: r.token_id,
            api: r.api,
            method: r.method,
            route: r.route,
            action: r.action,
            object_kind: r.object_kind,
            object_id: r.object_id,
            project_id: r.project_id,
            status,
            outcome: r.outcome,
        })
    }
}

pub(super) async fn insert_audit(db: &Db, entry: &AuditEntry) -> Result<(), CatalogStoreError> {
    db.insert(audit_events::table, AuditRow::from(entry))
        .await
        .map_err(store)
}

/// `$query` (a boxed query of `audit_events`) narrowed to what `$filter`
/// asks for, the rule of `AuditFilter::matches`.
macro_rules! filtered {
    ($query:expr, $filter:expr) => {{
        let f: &AuditFilter = $filter;
        let mut q = $query;
        if let Some(user) = &f.user {
            q = q.filter(
                audit_events::user_id
                    .eq(user.clone())
                    .or(audit_events::user_name.eq(user.clone())),
            );
        }
        if let Some(action) = &f.action {
            q = q.filter(audit_events::action.eq(action.clone()));
        }
        if let Some(kind) = &f.object_kind {
            q = q.filter(audit_events::object_kind.eq(kind.clone()));
        }
        if let Some(id) = &f.object_id {
            q = q.filter(audit_events::object_id.eq(id.clone()));
        }
        if let Some(project) = &f.project_id {
            q = q.filter(audit_events::project_id.eq(project.clone()));
        }
        if let Some(outcome) = &f.outcome {
            q = q.filter(audit_events::outcome.eq(outcome.clone()));
        }
        if let Some(since) = f.since {
            q = q.filter(audit_events::at.ge(since.naive_utc()));
        }
        if let Some(until) = f.until {
            q = q.filter(audit_events::at.lt(until.naive_utc()));
        }
        q
    }};
}

pub(super) async fn audit_entries(
    db: &Db,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEntry>, CatalogStoreError> {
    let filter = filter.clone();
    paged(db, page, move |c, p| {
        let total: i64 = filtered!(audit_events::table.into_boxed(), &filter)
            .count()
            .get_result(c)?;
        let q = filtered!(
            audit_events::table
                .select(AuditRow::as_select())
                .into_boxed(),
            &filter
        );
        let q = match p.order {
            Order::Asc => q.order((audit_events::at.asc(), audit_events::id.asc())),
            Order::Desc => q.order((audit_events::at.desc(), audit_events::id.desc())),
        };
        let rows = q.limit(p.limit).offset(p.offset).load(c)?;
        let items = rows
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<Result<_, _>>()?;
        Ok((total, items))
    })
    .await
}
