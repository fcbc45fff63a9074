//! Webhook deliveries (`deliveries`), deduplicated by primary key.

use super::{classify, is_unique_violation, store};
use crate::db::Db;
use crate::schema::deliveries;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use slipway_domain::catalog::CatalogStoreError;

#[derive(Insertable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    app_id: String,
    delivery_id: String,
    received_at: NaiveDateTime,
}

pub(super) async fn record_delivery(
    db: &Db,
    app_id: &str,
    delivery_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, CatalogStoreError> {
    // One insert: the primary key lets exactly one of several identical
    // deliveries in, whatever their timing.
    let row = DeliveryRow {
        app_id: app_id.to_owned(),
        delivery_id: delivery_id.to_owned(),
        received_at: at.naive_utc(),
    };
    match db.insert(deliveries::table, row).await {
        Ok(()) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(classify(e, "", "the application is gone")),
    }
}

pub(super) async fn forget_delivery(
    db: &Db,
    app_id: &str,
    delivery_id: &str,
) -> Result<(), CatalogStoreError> {
    let this = deliveries::table.filter(
        deliveries::app_id
            .eq(app_id.to_owned())
            .and(deliveries::delivery_id.eq(delivery_id.to_owned())),
    );
    db.delete(this).await.map_err(store)?;
    Ok(())
}
