//! # slipway-store: persistence on SQLite and PostgreSQL
//!
//! diesel + r2d2 implementations of `slipway-core`'s [`RunStore`] and
//! [`LogSink`] and of the domain's [`CatalogStore`] (projects, workflows
//! and their versions, API tokens, users, project members, followed
//! applications, applications, secrets, deliveries, schedules) and
//! [`LoadStore`] (the states of asynchronous loads),
//! with one query code path for both backends ([`db::AnyConnection`]),
//! explicit branches only where the SQL differs, and the migrations of
//! `migrations/` embedded and applied at open.
//!
//! Every diesel call runs on a blocking thread (`spawn_blocking`), never on
//! the async runtime's workers. SQLite connections get `foreign_keys=ON`,
//! `busy_timeout` and WAL; SQLite writes run in `BEGIN IMMEDIATE`
//! transactions.
//!
//! **Depends on** `slipway-core` and `slipway-domain`. **Must not**
//! be depended on by core or domain; row structs never leave this crate.
//!
//! [`RunStore`]: slipway_core::RunStore
//! [`LogSink`]: slipway_core::LogSink
//! [`CatalogStore`]: slipway_domain::CatalogStore
//! [`LoadStore`]: slipway_domain::workloads::LoadStore

mod catalog;
pub mod db;
pub mod error;
mod loads;
mod logs;
mod runs;
mod schema;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use catalog::SqlCatalog;
pub use db::{Backend, Db, DbOptions};
pub use error::DbError;
pub use loads::SqlLoadStore;
pub use logs::SqlLogSink;
pub use runs::SqlRunStore;
