//! Statements built at run time with bound values, for the few writes whose
//! shape depends on the data (how many changes a batch holds, how many
//! stages and jobs a run has) and which PostgreSQL should receive as one
//! statement: one network round trip instead of one per row.
//!
//! Placeholders are written `$1`, `$2`, … as PostgreSQL wants them; on
//! SQLite they become `?1`, `?2`, … (SQLite's numbered form). Values are
//! always bound, never spliced into the text.

use crate::db::AnyConnection;
use crate::error::DbError;
use chrono::NaiveDateTime;
use diesel::RunQueryDsl;
use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Time(NaiveDateTime),
    OptTime(Option<NaiveDateTime>),
    Int(i32),
    OptInt(Option<i32>),
}

/// A statement's text and the values of its placeholders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Binds `value` and returns its placeholder (`$n`).
    pub(crate) fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) fn execute(&self, conn: &mut AnyConnection) -> Result<usize, DbError> {
        Ok(match conn {
            AnyConnection::Postgresql(c) => self.pg().execute(c)?,
            AnyConnection::Sqlite(c) => self.sqlite().execute(c)?,
        })
    }

    fn pg(&self) -> BoxedSqlQuery<'_, Pg, diesel::query_builder::SqlQuery> {
        let mut q = diesel::sql_query(self.text.clone()).into_boxed::<Pg>();
        for a in &self.args {
            q = match a.clone() {
                Arg::Text(v) => q.bind::<Text, _>(v),
                Arg::OptText(v) => q.bind::<Nullable<Text>, _>(v),
                Arg::Time(v) => q.bind::<Timestamp, _>(v),
                Arg::OptTime(v) => q.bind::<Nullable<Timestamp>, _>(v),
                Arg::Int(v) => q.bind::<Integer, _>(v),
                Arg::OptInt(v) => q.bind::<Nullable<Integer>, _>(v),
            };
        }
        q
    }

    fn sqlite(&self) -> BoxedSqlQuery<'_, Sqlite, diesel::query_builder::SqlQuery> {
        let mut q = diesel::sql_query(self.text.replace('$', "?")).into_boxed::<Sqlite>();
        for a in &self.args {
            q = match a.clone() {
                Arg::Text(v) => q.bind::<Text, _>(v),
                Arg::OptText(v) => q.bind::<Nullable<Text>, _>(v),
                Arg::Time(v) => q.bind::<Timestamp, _>(v),
                Arg::OptTime(v) => q.bind::<Nullable<Timestamp>, _>(v),
                Arg::Int(v) => q.bind::<Integer, _>(v),
                Arg::OptInt(v) => q.bind::<Nullable<Integer>, _>(v),
            };
        }
        q
    }
}
