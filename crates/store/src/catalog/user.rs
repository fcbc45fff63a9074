//! Users (`users`): unique logins, e-mails unique without regard to case
//! (a unique index on `lower(email)`); a clash is reported as `Duplicate`
//! naming the field. A user's identity (the user, their project roles and
//! followed applications) is read with one connection.

use super::{is_unique_violation, paged, store, utc};
use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::{application_follows, project_members, users};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use slipway_domain::catalog::{CatalogStoreError, Identity, Order, Page, PageRequest, Role, User};

diesel::define_sql_function! {
    /// SQL's `lower`, on both backends (ASCII letters on SQLite).
    fn lower(x: Nullable<Text>) -> Nullable<Text>;
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(super) struct UserRow {
    id: String,
    login: String,
    display_name: String,
    email: Option<String>,
    is_admin: bool,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    disabled_at: Option<NaiveDateTime>,
}

pub(super) fn user_row(u: &User) -> UserRow {
    UserRow {
        id: u.id.clone(),
        login: u.login.clone(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        is_admin: u.is_admin,
        created_by: u.created_by.clone(),
        created_at: u.created_at.naive_utc(),
        disabled_at: u.disabled_at.map(|t| t.naive_utc()),
    }
}

fn user_of(r: UserRow) -> User {
    User {
        id: r.id,
        login: r.login,
        display_name: r.display_name,
        email: r.email,
        is_admin: r.is_admin,
        created_by: r.created_by,
        created_at: utc(r.created_at),
        disabled_at: r.disabled_at.map(utc),
    }
}

/// A role from its stored word.
pub(super) fn role(word: &str) -> Result<Role, DbError> {
    Role::parse(word).ok_or_else(|| DbError::Corrupt(format!("project role `{word}`")))
}

pub(super) fn insert_user_row(c: &mut AnyConnection, row: &UserRow) -> Result<(), DbError> {
    diesel::insert_into(users::table).values(row).execute(c)?;
    Ok(())
}

/// Which unique field of `user` another user holds, read after a write
/// clashed: `login` (when `login` is checked), else `email`, else (an
/// insert) the id; `None` when none is taken.
fn clash(c: &mut AnyConnection, user: &User, login: bool) -> Result<Option<String>, DbError> {
    let other = users::id.ne(user.id.clone());
    if login {
        let n: i64 = users::table
            .filter(users::login.eq(&user.login))
            .count()
            .get_result(c)?;
        if n > 0 {
            return Ok(Some(format!("login `{}` is taken", user.login)));
        }
    }
    if let Some(email) = &user.email {
        let n: i64 = users::table
            .filter(lower(users::email).eq(lower(Some(email.clone()))))
            .filter(other)
            .count()
            .get_result(c)?;
        if n > 0 {
            return Ok(Some(format!("email `{email}` is taken")));
        }
    }
    if login {
        let n: i64 = users::table
            .filter(users::id.eq(&user.id))
            .count()
            .get_result(c)?;
        if n > 0 {
            return Ok(Some("that user exists already".into()));
        }
    }
    Ok(None)
}

/// The `Duplicate` a new `user` ran into, if a user holds its login,
/// e-mail or id.
pub(super) async fn user_taken(
    db: &Db,
    user: &User,
) -> Result<Option<CatalogStoreError>, CatalogStoreError> {
    let user = user.clone();
    let found = db
        .read(move |c| clash(c, &user, true))
        .await
        .map_err(store)?;
    Ok(found.map(CatalogStoreError::Duplicate))
}

pub(super) async fn insert_user(db: &Db, user: &User) -> Result<(), CatalogStoreError> {
    match db.insert(users::table, user_row(user)).await {
        Ok(()) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(user_taken(db, user)
            .await?
            .unwrap_or_else(|| CatalogStoreError::Duplicate("that user exists already".into()))),
        Err(e) => Err(store(e)),
    }
}

pub(super) async fn user(db: &Db, id: &str) -> Result<Option<User>, CatalogStoreError> {
    let query = users::table
        .filter(users::id.eq(id.to_owned()))
        .select(UserRow::as_select());
    db.first(query, |r| Ok(user_of(r))).await.map_err(store)
}

pub(super) async fn user_by_login(db: &Db, login: &str) -> Result<Option<User>, CatalogStoreError> {
    let query = users::table
        .filter(users::login.eq(login.to_owned()))
        .select(UserRow::as_select());
    db.first(query, |r| Ok(user_of(r))).await.map_err(store)
}

pub(super) async fn user_by_email(db: &Db, email: &str) -> Result<Option<User>, CatalogStoreError> {
    let query = users::table
        .filter(lower(users::email).eq(lower(Some(email.to_owned()))))
        .select(UserRow::as_select());
    db.first(query, |r| Ok(user_of(r))).await.map_err(store)
}

pub(super) async fn users(db: &Db, page: &PageRequest) -> Result<Page<User>, CatalogStoreError> {
    paged(db, page, move |c, p| {
        let total: i64 = users::table.count().get_result(c)?;
        let mut q = users::table.select(UserRow::as_select()).into_boxed();
        q = match (p.sort.as_str(), p.order) {
            ("created_at", Order::Asc) => q.order((users::created_at.asc(), users::id.asc())),
            ("created_at", Order::Desc) => q.order((users::created_at.desc(), users::id.desc())),
            (_, Order::Asc) => q.order(users::login.asc()),
            (_, Order::Desc) => q.order(users::login.desc()),
        };
        let rows = q.limit(p.limit).offset(p.offset).load(c)?;
        Ok((total, rows.into_iter().map(user_of).collect()))
    })
    .await
}

pub(super) async fn update_user(db: &Db, user: &User) -> Result<bool, CatalogStoreError> {
    let this = users::table.filter(users::id.eq(user.id.clone()));
    let changes = (
        users::display_name.eq(user.display_name.clone()),
        users::email.eq(user.email.clone()),
        users::is_admin.eq(user.is_admin),
        users::disabled_at.eq(user.disabled_at.map(|t| t.naive_utc())),
    );
    match db.update(this, changes).await {
        Ok(n) => Ok(n == 1),
        Err(e) if is_unique_violation(&e) => {
            let u = user.clone();
            let found = db.read(move |c| clash(c, &u, false)).await.map_err(store)?;
            Err(CatalogStoreError::Duplicate(
                found.unwrap_or_else(|| "email is taken".to_owned()),
            ))
        }
        Err(e) => Err(store(e)),
    }
}

pub(super) async fn identity(
    db: &Db,
    user_id: &str,
) -> Result<Option<Identity>, CatalogStoreError> {
    let id = user_id.to_owned();
    db.read(move |c| {
        let Some(row) = users::table
            .filter(users::id.eq(&id))
            .select(UserRow::as_select())
            .first(c)
            .optional()?
        else {
            return Ok(None);
        };
        let roles = project_members::table
            .filter(project_members::user_id.eq(&id))
            .order(project_members::project_id.asc())
            .select((project_members::project_id, project_members::role))
            .load::<(String, String)>(c)?
            .into_iter()
            .map(|(p, r)| Ok((p, role(&r)?)))
            .collect::<Result<Vec<_>, DbError>>()?;
        let follows = application_follows::table
            .filter(application_follows::user_id.eq(&id))
            .order(application_follows::application_id.asc())
            .select(application_follows::application_id)
            .load(c)?;
        Ok(Some(Identity {
            user: user_of(row),
            roles,
            follows,
        }))
    })
    .await
    .map_err(store)
}
