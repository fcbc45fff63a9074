//! Stored secrets (`secrets`), sealed text per owner (`project/<id>`,
//! `application/<id>`), with who set each last.

use super::application::actor_of;
use super::{is_unique_violation, store, utc};
use crate::db::Db;
use crate::schema::secrets;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::catalog::{Actor, CatalogStoreError, SecretMeta};

#[derive(Insertable)]
#[diesel(table_name = secrets)]
struct SecretRow {
    owner: String,
    name: String,
    value: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    updated_by_id: Option<String>,
    updated_by_name: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = secrets)]
struct SecretMetaRow {
    name: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    updated_by_id: Option<String>,
    updated_by_name: Option<String>,
}

/// The secret owner key of an application.
pub(super) fn application_owner(id: &str) -> String {
    format!("application/{id}")
}

/// The secret owner key of a project.
pub(super) fn project_owner(id: &str) -> String {
    format!("project/{id}")
}

/// Adds `sealed` secrets (name, sealed value) of `owner` on connection
/// `c`, inside the caller's transaction (an application created together
/// with its secrets).
pub(super) fn insert_all(
    c: &mut crate::db::AnyConnection,
    owner: &str,
    sealed: &[(String, String)],
    at: DateTime<Utc>,
    by: Option<&Actor>,
) -> Result<usize, crate::error::DbError> {
    // One statement per row: the multi-backend connection has no batch
    // insert.
    let mut added = 0;
    for (name, value) in sealed {
        let row = SecretRow {
            owner: owner.to_owned(),
            name: name.clone(),
            value: value.clone(),
            created_at: at.naive_utc(),
            updated_at: at.naive_utc(),
            updated_by_id: by.map(|a| a.id.clone()),
            updated_by_name: by.map(|a| a.name.clone()),
        };
        added += diesel::insert_into(secrets::table)
            .values(&row)
            .execute(c)?;
    }
    Ok(added)
}

pub(super) async fn put_secret(
    db: &Db,
    owner: &str,
    name: &str,
    sealed: &str,
    at: DateTime<Utc>,
    by: Option<&Actor>,
) -> Result<bool, CatalogStoreError> {
    // Replace, else add, in one write transaction. On SQLite writers are
    // serialised; on PostgreSQL two first writers of one name may both
    // find nothing to replace, and the one whose insert then clashes
    // tries again (and replaces).
    let mut attempt = 0;
    loop {
        attempt += 1;
        let row = SecretRow {
            owner: owner.to_owned(),
            name: name.to_owned(),
            value: sealed.to_owned(),
            created_at: at.naive_utc(),
            updated_at: at.naive_utc(),
            updated_by_id: by.map(|a| a.id.clone()),
            updated_by_name: by.map(|a| a.name.clone()),
        };
        let r = db
            .write(move |c| {
                let n = diesel::update(
                    secrets::table.filter(
                        secrets::owner
                            .eq(&row.owner)
                            .and(secrets::name.eq(&row.name)),
                    ),
                )
                .set((
                    secrets::value.eq(&row.value),
                    secrets::updated_at.eq(row.updated_at),
                    secrets::updated_by_id.eq(&row.updated_by_id),
                    secrets::updated_by_name.eq(&row.updated_by_name),
                ))
                .execute(c)?;
                if n == 1 {
                    return Ok(false);
                }
                diesel::insert_into(secrets::table)
                    .values(&row)
                    .execute(c)?;
                Ok(true)
            })
            .await;
        match r {
            Err(e) if attempt < 3 && is_unique_violation(&e) => continue,
            other => return other.map_err(store),
        }
    }
}

pub(super) async fn secrets(db: &Db, owner: &str) -> Result<Vec<SecretMeta>, CatalogStoreError> {
    let owner = owner.to_owned();
    db.read(move |c| {
        Ok(secrets::table
            .filter(secrets::owner.eq(&owner))
            .order(secrets::name.asc())
            .select(SecretMetaRow::as_select())
            .load(c)?
            .into_iter()
            .map(|r| SecretMeta {
                name: r.name,
                created_at: utc(r.created_at),
                updated_at: utc(r.updated_at),
                updated_by: actor_of(r.updated_by_id, r.updated_by_name),
            })
            .collect())
    })
    .await
    .map_err(store)
}

pub(super) async fn sealed_secrets(
    db: &Db,
    owner: &str,
) -> Result<Vec<(String, String)>, CatalogStoreError> {
    let owner = owner.to_owned();
    db.read(move |c| {
        Ok(secrets::table
            .filter(secrets::owner.eq(&owner))
            .order(secrets::name.asc())
            .select((secrets::name, secrets::value))
            .load(c)?)
    })
    .await
    .map_err(store)
}

pub(super) async fn delete_secret(
    db: &Db,
    owner: &str,
    name: &str,
) -> Result<bool, CatalogStoreError> {
    let this = secrets::table.filter(
        secrets::owner
            .eq(owner.to_owned())
            .and(secrets::name.eq(name.to_owned())),
    );
    db.delete(this).await.map(|n| n == 1).map_err(store)
}
