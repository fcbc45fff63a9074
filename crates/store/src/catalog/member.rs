//! Project members (`project_members`) and followed applications
//! (`application_follows`). A change of members runs in one write
//! transaction that first locks the project (its row, `FOR UPDATE`, on
//! PostgreSQL; SQLite writers are serialised anyway), so that two changes
//! of one project cannot both take away its last owner.

use super::user::role;
use super::{classify, is_unique_violation, store, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{application_follows, applications, project_members, projects, users};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::catalog::{CatalogStoreError, Member, Role};

/// What a change that would leave a project without an owner is refused
/// with.
const LAST_OWNER: &str = "the project must keep at least one owner";

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = project_members)]
struct MemberRow {
    project_id: String,
    user_id: String,
    role: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Whether project `id` exists, locking its row until the end of the
/// transaction on PostgreSQL.
fn lock_project(c: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    let query = projects::table
        .filter(projects::id.eq(id))
        .select(projects::id);
    let found: Option<String> = if let AnyConnection::Postgresql(pg) = c {
        query.for_update().first(pg).optional()?
    } else {
        query.first(c).optional()?
    };
    Ok(found.is_some())
}

/// The role of `user_id` in `project_id`, if they are a member.
fn role_of(
    c: &mut AnyConnection,
    project_id: &str,
    user_id: &str,
) -> Result<Option<Role>, DbError> {
    let word: Option<String> = project_members::table
        .filter(
            project_members::project_id
                .eq(project_id)
                .and(project_members::user_id.eq(user_id)),
        )
        .select(project_members::role)
        .first(c)
        .optional()?;
    word.as_deref().map(role).transpose()
}

/// Refuses (rolling the transaction back) when project `project_id` has
/// no owner left.
fn keep_an_owner(c: &mut AnyConnection, project_id: &str) -> Result<(), DbError> {
    let owners: i64 = project_members::table
        .filter(
            project_members::project_id
                .eq(project_id)
                .and(project_members::role.eq(Role::Owner.as_str())),
        )
        .count()
        .get_result(c)?;
    if owners == 0 {
        return Err(DbError::Rule(LAST_OWNER.into()));
    }
    Ok(())
}

pub(super) async fn members(db: &Db, project_id: &str) -> Result<Vec<Member>, CatalogStoreError> {
    let pid = project_id.to_owned();
    db.read(move |c| {
        let rows: Vec<(MemberRow, String, String)> = project_members::table
            .inner_join(users::table)
            .filter(project_members::project_id.eq(&pid))
            .order((users::login.asc(), users::id.asc()))
            .select((MemberRow::as_select(), users::login, users::display_name))
            .load(c)?;
        rows.into_iter()
            .map(|(m, login, display_name)| {
                Ok(Member {
                    role: role(&m.role)?,
                    project_id: m.project_id,
                    user_id: m.user_id,
                    login,
                    display_name,
                    created_at: utc(m.created_at),
                    updated_at: utc(m.updated_at),
                })
            })
            .collect()
    })
    .await
    .map_err(store)
}

pub(super) async fn put_member(
    db: &Db,
    project_id: &str,
    user_id: &str,
    new_role: Role,
    at: DateTime<Utc>,
) -> Result<(), CatalogStoreError> {
    let (pid, uid, at) = (project_id.to_owned(), user_id.to_owned(), at.naive_utc());
    db.write(move |c| {
        if !lock_project(c, &pid)? {
            return Ok(Err(CatalogStoreError::Missing("project".into())));
        }
        let user: i64 = users::table
            .filter(users::id.eq(&uid))
            .count()
            .get_result(c)?;
        if user == 0 {
            return Ok(Err(CatalogStoreError::Missing("user".into())));
        }
        let this = project_members::table.filter(
            project_members::project_id
                .eq(&pid)
                .and(project_members::user_id.eq(&uid)),
        );
        match role_of(c, &pid, &uid)? {
            Some(old) => {
                diesel::update(this)
                    .set((
                        project_members::role.eq(new_role.as_str()),
                        project_members::updated_at.eq(at),
                    ))
                    .execute(c)?;
                if old == Role::Owner && new_role != Role::Owner {
                    keep_an_owner(c, &pid)?;
                }
            }
            None => {
                diesel::insert_into(project_members::table)
                    .values(MemberRow {
                        project_id: pid.clone(),
                        user_id: uid.clone(),
                        role: new_role.as_str().to_owned(),
                        created_at: at,
                        updated_at: at,
                    })
                    .execute(c)?;
            }
        }
        Ok(Ok(()))
    })
    .await
    .map_err(store)?
}

pub(super) async fn remove_member(
    db: &Db,
    project_id: &str,
    user_id: &str,
) -> Result<bool, CatalogStoreError> {
    let (pid, uid) = (project_id.to_owned(), user_id.to_owned());
    db.write(move |c| {
        if !lock_project(c, &pid)? {
            return Ok(false);
        }
        let Some(old) = role_of(c, &pid, &uid)? else {
            return Ok(false);
        };
        diesel::delete(
            project_members::table.filter(
                project_members::project_id
                    .eq(&pid)
                    .and(project_members::user_id.eq(&uid)),
            ),
        )
        .execute(c)?;
        if old == Role::Owner {
            keep_an_owner(c, &pid)?;
        }
        Ok(true)
    })
    .await
    .map_err(store)
}

/// Adds `user_id` as `project_id`'s owner, inside the transaction that
/// creates the project.
pub(super) fn insert_owner(
    c: &mut AnyConnection,
    project_id: &str,
    user_id: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(project_members::table)
        .values(MemberRow {
            project_id: project_id.to_owned(),
            user_id: user_id.to_owned(),
            role: Role::Owner.as_str().to_owned(),
            created_at: at,
            updated_at: at,
        })
        .execute(c)?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = application_follows)]
struct FollowRow {
    application_id: String,
    user_id: String,
    created_at: NaiveDateTime,
}

/// Whether application `app_id` exists.
async fn application_exists(db: &Db, app_id: &str) -> Result<bool, CatalogStoreError> {
    let id = app_id.to_owned();
    let n: i64 = db
        .read(move |c| {
            Ok(applications::table
                .filter(applications::id.eq(&id))
                .count()
                .get_result(c)?)
        })
        .await
        .map_err(store)?;
    Ok(n > 0)
}

pub(super) async fn set_follow(
    db: &Db,
    app_id: &str,
    user_id: &str,
    follow: bool,
    at: DateTime<Utc>,
) -> Result<(), CatalogStoreError> {
    if follow {
        // One insert: the primary key keeps a follow once however often
        // it is asked for; a foreign key finds a missing application or
        // user (which one is read afterwards).
        let row = FollowRow {
            application_id: app_id.to_owned(),
            user_id: user_id.to_owned(),
            created_at: at.naive_utc(),
        };
        return match db.insert(application_follows::table, row).await {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => match classify(e, "", "") {
                CatalogStoreError::Missing(_) => {
                    let what = if application_exists(db, app_id).await? {
                        "user"
                    } else {
                        "application"
                    };
                    Err(CatalogStoreError::Missing(what.into()))
                }
                other => Err(other),
            },
        };
    }
    let this = application_follows::table.filter(
        application_follows::application_id
            .eq(app_id.to_owned())
            .and(application_follows::user_id.eq(user_id.to_owned())),
    );
    let removed = db.delete(this).await.map_err(store)?;
    if removed == 0 && !application_exists(db, app_id).await? {
        return Err(CatalogStoreError::Missing("application".into()));
    }
    Ok(())
}
