//! The audit trail: every change asked of any API, for admins (all of
//! it) and project owners (their project's).

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::Query;
use crate::routes::params::AuditQuery;
use crate::views::AuditPage;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, Utc};
use slipway_domain::app::OUTCOMES;
use slipway_domain::{AuditFilter, Order};

/// A text filter: absent or empty is no filter.
fn text(q: &Query, name: &str) -> Option<String> {
    q.get(name)
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
}

/// A time filter in RFC 3339. A `+` of an offset that arrived unencoded
/// (and so reads as a space) is taken as the `+` it was.
fn time(q: &Query, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(v) = q.get(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(v.trim())
        .or_else(|e| match v.trim().contains(' ') {
            true => DateTime::parse_from_rfc3339(&v.trim().replace(' ', "+")),
            false => Err(e),
        })
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            ApiError::invalid(
                name,
                format!("must be an RFC 3339 time such as 2026-12-02T10:00:00Z, not `{v}`"),
            )
        })
}

/// Lists the audit trail, newest first by default: who asked for which
/// change through which route, when, and how it ended. An admin sees
/// every entry; anyone else must name a project they own
/// (`project_id`). Entries never hold a secret value.
#[utoipa::path(
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "A bad filter (named in `details`)", body = ErrorBody),
        (status = 403, description = "Not an admin, and not the owner of the project named", body = ErrorBody),
    )
)]
#[get("/api/v1/audit")]
pub async fn list(api: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let q = Query::of(&req)?;
    let page = q.page(&[], Order::Desc)?;
    let filter = AuditFilter {
        user: text(&q, "user"),
        action: text(&q, "action"),
        object_kind: text(&q, "object_kind"),
        object_id: text(&q, "object_id"),
        project_id: text(&q, "project_id"),
        outcome: q.word("outcome", &OUTCOMES)?.map(str::to_owned),
        since: time(&q, "since")?,
        until: time(&q, "until")?,
    };
    let found = api.app().audit(&api.caller, &filter, &page).await?;
    Ok(HttpResponse::Ok().json(AuditPage::of(found)))
}
