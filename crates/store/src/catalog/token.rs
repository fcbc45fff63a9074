//! API tokens (`api_tokens`): stored by the hash of their secret; revoked,
//! never deleted; each belongs to a user.

use super::user::{insert_user_row, user_row, user_taken};
use super::{classify, count, is_unique_violation, store, utc};
use crate::db::Db;
use crate::schema::api_tokens;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::catalog::{ApiToken, CatalogStoreError, User};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    secret_hash: String,
    is_admin: bool,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    user_id: Option<String>,
}

/// The row of `token`, whose secret hashes to `secret_hash`.
fn token_row(token: &ApiToken, secret_hash: &str) -> TokenRow {
    TokenRow {
        id: token.id.clone(),
        name: token.name.clone(),
        prefix: token.prefix.clone(),
        secret_hash: secret_hash.to_owned(),
        is_admin: token.is_admin,
        created_by: token.created_by.clone(),
        created_at: token.created_at.naive_utc(),
        last_used_at: token.last_used_at.map(|t| t.naive_utc()),
        revoked_at: token.revoked_at.map(|t| t.naive_utc()),
        user_id: Some(token.user_id.clone()),
    }
}

/// A token and its secret's hash from its row.
fn token_of(r: TokenRow) -> (ApiToken, String) {
    (
        ApiToken {
            // Every token has its user; a row without one (written by a
            // server older than the users) names the user its id would
            // have been given by the migration.
            user_id: r.user_id.unwrap_or_else(|| r.id.clone()),
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            is_admin: r.is_admin,
            created_by: r.created_by,
            created_at: utc(r.created_at),
            last_used_at: r.last_used_at.map(utc),
            revoked_at: r.revoked_at.map(utc),
        },
        r.secret_hash,
    )
}

pub(super) async fn insert_token(
    db: &Db,
    token: &ApiToken,
    secret_hash: &str,
) -> Result<(), CatalogStoreError> {
    db.insert(api_tokens::table, token_row(token, secret_hash))
        .await
        .map_err(|e| classify(e, "that token exists already", "user"))
}

pub(super) async fn insert_user_with_token(
    db: &Db,
    user: &User,
    token: &ApiToken,
    secret_hash: &str,
) -> Result<(), CatalogStoreError> {
    let (urow, trow) = (user_row(user), token_row(token, secret_hash));
    let r = db
        .write(move |c| {
            insert_user_row(c, &urow)?;
            diesel::insert_into(api_tokens::table)
                .values(&trow)
                .execute(c)?;
            Ok(())
        })
        .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(match user_taken(db, user).await? {
            Some(taken) => taken,
            None => CatalogStoreError::Duplicate("that token exists already".into()),
        }),
        other => other.map_err(|e| classify(e, "that token exists already", "user")),
    }
}

pub(super) async fn token_by_hash(
    db: &Db,
    secret_hash: &str,
) -> Result<Option<(ApiToken, String)>, CatalogStoreError> {
    let query = api_tokens::table
        .filter(api_tokens::secret_hash.eq(secret_hash.to_owned()))
        .select(TokenRow::as_select());
    db.first(query, |r| Ok(token_of(r))).await.map_err(store)
}

pub(super) async fn tokens(db: &Db) -> Result<Vec<ApiToken>, CatalogStoreError> {
    db.read(move |c| {
        Ok(api_tokens::table
            .order(api_tokens::created_at.desc())
            .select(TokenRow::as_select())
            .load(c)?
            .into_iter()
            .map(|r| token_of(r).0)
            .collect())
    })
    .await
    .map_err(store)
}

pub(super) async fn revoke_token(
    db: &Db,
    id: &str,
    at: DateTime<Utc>,
) -> Result<bool, CatalogStoreError> {
    let id = id.to_owned();
    db.write_one(move |c| {
        let exists = diesel::update(
            api_tokens::table.filter(api_tokens::id.eq(&id).and(api_tokens::revoked_at.is_null())),
        )
        .set(api_tokens::revoked_at.eq(Some(at.naive_utc())))
        .execute(c)?
            == 1;
        if exists {
            return Ok(true);
        }
        // Revoking a revoked token is fine; an unknown one is not.
        let n: i64 = api_tokens::table
            .filter(api_tokens::id.eq(&id))
            .count()
            .get_result(c)?;
        Ok(n == 1)
    })
    .await
    .map_err(store)
}

pub(super) async fn touch_token(
    db: &Db,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), CatalogStoreError> {
    let this = api_tokens::table.filter(api_tokens::id.eq(id.to_owned()));
    db.update(this, api_tokens::last_used_at.eq(Some(at.naive_utc())))
        .await
        .map_err(store)?;
    Ok(())
}

pub(super) async fn count_tokens(db: &Db) -> Result<u64, CatalogStoreError> {
    db.read(move |c| {
        let n: i64 = api_tokens::table.count().get_result(c)?;
        Ok(count(n))
    })
    .await
    .map_err(store)
}
