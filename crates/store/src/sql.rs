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
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Integer, Nullable, Text, Timestamp};

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

    /// Runs the statement; the number of rows it changed. Statements of
    /// the same text are prepared once per connection (diesel's statement
    /// cache keys them by their SQL): PostgreSQL parses and plans them
    /// once, not at every run.
    pub(crate) fn execute(&self, conn: &mut AnyConnection) -> Result<usize, DbError> {
        let query = self.prepared();
        Ok(match conn {
            AnyConnection::Postgresql(c) => query.execute(c)?,
            AnyConnection::Sqlite(c) => query.execute(c)?,
        })
    }
}

impl Sql {
    fn prepared(&self) -> Prepared<'_> {
        Prepared {
            pieces: pieces(&self.text),
            args: &self.args,
        }
    }

    /// Runs the statement and reads its one row.
    pub(crate) fn get_result<T>(&self, conn: &mut AnyConnection) -> Result<T, DbError>
    where
        T: diesel::QueryableByName<diesel::pg::Pg>
            + diesel::QueryableByName<diesel::sqlite::Sqlite>
            + 'static,
    {
        let query = self.prepared();
        Ok(match conn {
            AnyConnection::Postgresql(c) => query.get_result(c)?,
            AnyConnection::Sqlite(c) => query.get_result(c)?,
        })
    }
}

/// A part of a statement's text: SQL, or the placeholder of an argument
/// (by index).
#[derive(Debug)]
enum Piece<'a> {
    Sql(&'a str),
    Arg(usize),
}

/// Splits `text` at its `$n` placeholders.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 {
            out.push(Piece::Sql(&rest[..=at]));
            rest = &rest[at + 1..];
            continue;
        }
        out.push(Piece::Sql(&rest[..at]));
        let n: usize = rest[at + 1..at + 1 + digits].parse().unwrap_or(0);
        out.push(Piece::Arg(n.saturating_sub(1)));
        rest = &rest[at + 1 + digits..];
    }
    out.push(Piece::Sql(rest));
    out
}

/// The statement as diesel sees it: the SQL is pushed piece by piece and
/// each placeholder becomes one of diesel's own bind parameters, so the
/// backend's placeholder syntax is diesel's business.
struct Prepared<'a> {
    pieces: Vec<Piece<'a>>,
    args: &'a [Arg],
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for Prepared<'_>
where
    DB: Backend
        + HasSqlType<Text>
        + HasSqlType<Nullable<Text>>
        + HasSqlType<Timestamp>
        + HasSqlType<Nullable<Timestamp>>
        + HasSqlType<Integer>
        + HasSqlType<Nullable<Integer>>,
    String: ToSql<Text, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    Option<NaiveDateTime>: ToSql<Nullable<Timestamp>, DB>,
    i32: ToSql<Integer, DB>,
    Option<i32>: ToSql<Nullable<Integer>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(text) => out.push_sql(text),
                Piece::Arg(i) => {
                    let arg = self.args.get(*i).ok_or_else(|| {
                        diesel::result::Error::QueryBuilderError(
                            format!("placeholder ${} has no value", i + 1).into(),
                        )
                    })?;
                    match arg {
                        Arg::Text(v) => out.push_bind_param::<Text, _>(v)?,
                        Arg::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                        Arg::Time(v) => out.push_bind_param::<Timestamp, _>(v)?,
                        Arg::OptTime(v) => out.push_bind_param::<Nullable<Timestamp>, _>(v)?,
                        Arg::Int(v) => out.push_bind_param::<Integer, _>(v)?,
                        Arg::OptInt(v) => out.push_bind_param::<Nullable<Integer>, _>(v)?,
                    }
                }
            }
        }
        Ok(())
    }
}

impl diesel::query_builder::Query for Prepared<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_the_text_and_may_repeat() {
        let p = pieces("UPDATE t SET a = $1 WHERE id = $12 AND b = $1 AND c = '$'");
        let args: Vec<String> = p
            .iter()
            .map(|x| match x {
                Piece::Sql(s) => format!("sql:{s}"),
                Piece::Arg(i) => format!("arg:{i}"),
            })
            .collect();
        assert_eq!(
            args,
            [
                "sql:UPDATE t SET a = ",
                "arg:0",
                "sql: WHERE id = ",
                "arg:11",
                "sql: AND b = ",
                "arg:0",
                "sql: AND c = '$",
                "sql:'"
            ]
        );
    }
}
