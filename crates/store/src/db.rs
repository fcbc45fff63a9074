//! Connections, the pool, transactions and migrations for both backends.

use crate::error::DbError;
use diesel::OptionalExtension;
use diesel::connection::SimpleConnection;
use diesel::dsl::Limit;
use diesel::pg::PgConnection;
use diesel::query_builder::{
    AsChangeset, AsQuery, DeleteStatement, InsertStatement, IntoUpdateTarget, UpdateStatement,
};
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::{ExecuteDsl, LimitDsl};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
#[allow(missing_debug_implementations)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite (kept last, as diesel's docs advise).
    Sqlite(SqliteConnection),
}

/// How long after a successful use a pooled PostgreSQL connection is
/// handed out again without a `SELECT 1` first.
const PROVEN_FOR: Duration = Duration::from_secs(1);

/// A pooled connection and when it last proved alive (a statement of it
/// succeeded). It derefs to [`AnyConnection`].
#[allow(missing_debug_implementations)]
pub struct Pooled {
    conn: AnyConnection,
    alive_at: Option<Instant>,
}

impl std::ops::Deref for Pooled {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Pooled {
    /// Notes how a use ended: a failure makes the next checkout check the
    /// connection (the server may have gone), a success spares it that.
    fn used<T, E>(&mut self, result: &Result<T, E>) {
        self.alive_at = result.is_ok().then(Instant::now);
    }
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`, `sqlite:PATH` or a plain path.
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

impl Backend {
    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where a database is, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Target {
    /// Parses `postgres://...`, `postgresql://...`, `sqlite://PATH`,
    /// `sqlite:PATH` or a plain file path.
    pub fn parse(url: &str) -> Result<Target, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_owned()))
        } else if let Some(p) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if p.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            Ok(Target::Sqlite(PathBuf::from(p)))
        } else if url.contains("://") || url.is_empty() {
            Err(DbError::UnsupportedUrl(redact(url)))
        } else {
            Ok(Target::Sqlite(PathBuf::from(url)))
        }
    }

    /// Its backend.
    pub fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens connections for the pool and prepares SQLite ones.
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
    busy_timeout: Duration,
    durable_commits: bool,
}

impl Manager {
    fn connect(&self) -> Result<AnyConnection, DbError> {
        match &self.target {
            Target::Postgres(url) => {
                let mut c = PgConnection::establish(url).map_err(|e| DbError::Connect {
                    backend: "postgres",
                    reason: e.to_string().trim().to_owned(),
                })?;
                if !self.durable_commits {
                    c.batch_execute("SET synchronous_commit = off")
                        .map_err(|e| DbError::Connect {
                            backend: "postgres",
                            reason: e.to_string().trim().to_owned(),
                        })?;
                }
                Ok(AnyConnection::Postgresql(c))
            }
            Target::Sqlite(path) => {
                let text = path.to_string_lossy();
                let mut c = SqliteConnection::establish(&text).map_err(|e| DbError::Connect {
                    backend: "sqlite",
                    reason: format!("{}: {}", path.display(), e),
                })?;
                c.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                    self.busy_timeout.as_millis()
                ))
                .map_err(|e| DbError::Connect {
                    backend: "sqlite",
                    reason: format!("{}: {}", path.display(), e),
                })?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = DbError;

    fn connect(&self) -> Result<Pooled, DbError> {
        Ok(Pooled {
            conn: Manager::connect(self)?,
            alive_at: Some(Instant::now()),
        })
    }

    /// Called on checkout (PostgreSQL only): a connection whose last use
    /// succeeded less than [`PROVEN_FOR`] ago is taken as alive; any other
    /// runs `SELECT 1` first, so a server restart costs no request more
    /// than one failure per connection used in that second.
    fn is_valid(&self, conn: &mut Pooled) -> Result<(), DbError> {
        if conn.alive_at.is_some_and(|t| t.elapsed() < PROVEN_FOR) {
            return Ok(());
        }
        let checked = conn.conn.batch_execute("SELECT 1").map_err(DbError::Query);
        conn.used(&checked);
        checked
    }

    fn has_broken(&self, _conn: &mut Pooled) -> bool {
        false
    }
}

/// A pool of connections to one database, with its migrations applied.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// Serialises writers on SQLite inside this process, so that they queue
    /// on a mutex instead of spinning on the database lock.
    write_lock: Arc<std::sync::Mutex<()>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Settings for [`Db::open`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a pooled connection.
    pub connect_timeout: Duration,
    /// SQLite's busy timeout.
    pub busy_timeout: Duration,
    /// Wait for every commit to reach the disk before it returns
    /// (PostgreSQL's `synchronous_commit = on`). Off by default, matching
    /// SQLite's `synchronous = NORMAL` in WAL mode: a crash of Slipway
    /// loses nothing that was committed; a crash of the machine may lose
    /// the last fraction of a second of commits, never consistency.
    pub durable_commits: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            durable_commits: false,
        }
    }
}

impl Db {
    /// Opens the database at `url` (creating a SQLite file and its
    /// directory when missing), checks that it is reachable, and applies
    /// pending migrations.
    pub fn open(url: &str, opts: &DbOptions) -> Result<Db, DbError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let backend = target.backend();
        let manager = Manager {
            target,
            busy_timeout: opts.busy_timeout,
            durable_commits: opts.durable_commits,
        };
        // Connect once directly so that the real cause reaches the caller
        // (r2d2 would only report a timeout).
        let mut first = manager.connect()?;
        run_migrations(&mut first)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(opts.max_connections)
            // A SQLite connection is a file handle that cannot go stale; a
            // PostgreSQL one can (server restarts), and diesel cannot tell
            // a dead socket without a query, so those are checked on
            // checkout.
            .test_on_check_out(backend == Backend::Postgres)
            .connection_timeout(opts.connect_timeout)
            .build(manager)
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            backend,
            write_lock: Arc::new(std::sync::Mutex::new(())),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection (blocking: call from a blocking thread).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Runs `f` on a blocking thread with a pooled connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.off_thread(f, Db::with_conn).await
    }

    /// Runs `f` through `run` (a blocking runner: [`Db::with_conn`],
    /// [`Db::write_blocking`]) on a blocking thread; a task that dies is a
    /// [`DbError::Task`].
    async fn off_thread<T, F>(
        &self,
        f: F,
        run: fn(&Db, F) -> Result<T, DbError>,
    ) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || run(&db, f))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` with a pooled connection on the current (blocking) thread,
    /// outside any explicit transaction.
    fn with_conn<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError>,
    {
        let mut c = self.conn()?;
        let out = f(&mut c);
        c.used(&out);
        out
    }

    /// Runs `f` in a write transaction on a blocking thread: `BEGIN
    /// IMMEDIATE` on SQLite (a deferred `BEGIN` that later writes fails
    /// with "database is locked" under concurrency), a normal transaction
    /// on PostgreSQL. Everything `f` writes is committed together or not at
    /// all.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.off_thread(f, Db::write_blocking).await
    }

    /// A write made of a single statement (plus reads): on PostgreSQL it
    /// runs without an explicit transaction (one statement is atomic by
    /// itself), saving the `BEGIN` and `COMMIT` round trips; on SQLite it
    /// is a [`Db::write`] (`BEGIN IMMEDIATE` behind the write lock).
    pub async fn write_one<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        match self.backend {
            Backend::Postgres => self.read(f).await,
            Backend::Sqlite => self.write(f).await,
        }
    }

    /// The first row `query` finds, made into a `T` by `of` (`None`: no
    /// row), read on a blocking thread.
    pub async fn first<Q, R, T, F>(&self, query: Q, of: F) -> Result<Option<T>, DbError>
    where
        Q: RunQueryDsl<AnyConnection> + LimitDsl + Send + 'static,
        Limit<Q>: for<'a> LoadQuery<'a, AnyConnection, R>,
        T: Send + 'static,
        F: FnOnce(R) -> Result<T, DbError> + Send + 'static,
    {
        self.read(move |c| query.first(c).optional()?.map(of).transpose())
            .await
    }

    /// Sets `changes` on the rows of `target` in a single-statement write
    /// ([`Db::write_one`]); how many rows it changed.
    pub async fn update<T, V>(&self, target: T, changes: V) -> Result<usize, DbError>
    where
        T: IntoUpdateTarget + Send + 'static,
        V: AsChangeset<Target = T::Table> + Send + 'static,
        UpdateStatement<T::Table, T::WhereClause, V::Changeset>:
            AsQuery + ExecuteDsl<AnyConnection>,
    {
        self.write_one(move |c| Ok(diesel::update(target).set(changes).execute(c)?))
            .await
    }

    /// Deletes the rows of `target` in a single-statement write
    /// ([`Db::write_one`]); how many it deleted.
    pub async fn delete<T>(&self, target: T) -> Result<usize, DbError>
    where
        T: IntoUpdateTarget + Send + 'static,
        DeleteStatement<T::Table, T::WhereClause>: ExecuteDsl<AnyConnection>,
    {
        self.write_one(move |c| Ok(diesel::delete(target).execute(c)?))
            .await
    }

    /// Inserts `row` into `table`, a single-statement write
    /// ([`Db::write_one`]).
    pub async fn insert<T, R>(&self, table: T, row: R) -> Result<(), DbError>
    where
        T: diesel::Table + Send + 'static,
        R: diesel::Insertable<T> + Send + 'static,
        InsertStatement<T, R::Values>: ExecuteDsl<AnyConnection>,
    {
        self.write_one(move |c| {
            diesel::insert_into(table).values(row).execute(c)?;
            Ok(())
        })
        .await
    }

    /// [`Db::write_one`] on the current (blocking) thread.
    pub fn write_one_blocking<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError>,
    {
        match self.backend {
            Backend::Postgres => self.with_conn(f),
            Backend::Sqlite => self.write_blocking(f),
        }
    }

    /// [`Db::write`] on the current (blocking) thread.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError>,
    {
        let mut c = self.conn()?;
        match self.backend {
            Backend::Postgres => {
                let out = c.conn.transaction(f);
                c.used(&out);
                out
            }
            Backend::Sqlite => {
                let _serial = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
                c.batch_execute("BEGIN IMMEDIATE")?;
                let mut guard = Rollback(Some(&mut *c));
                let conn = guard
                    .0
                    .as_deref_mut()
                    .ok_or_else(|| DbError::Task("no connection".into()))?;
                let out = f(conn)?;
                conn.batch_execute("COMMIT")?;
                guard.0 = None;
                Ok(out)
            }
        }
    }
}

/// Rolls an open SQLite transaction back unless disarmed (on error or
/// panic inside the transaction body).
struct Rollback<'a>(Option<&'a mut AnyConnection>);

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0.take()
            && let Err(e) = c.batch_execute("ROLLBACK")
        {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

/// Applies every pending migration of the connection's backend.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<(), DbError> {
    let result = match conn {
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| DbError::Migration(e.to_string()))
}

/// One connection to the database at `url`, prepared as the pool's are,
/// with no migration applied (see [`run_migrations_to`]).
pub fn connect(url: &str, opts: &DbOptions) -> Result<AnyConnection, DbError> {
    Manager {
        target: Target::parse(url)?,
        busy_timeout: opts.busy_timeout,
        durable_commits: opts.durable_commits,
    }
    .connect()
}

/// Applies the pending migrations of the connection's backend up to and
/// including `version` (a migration directory's leading
/// `YYYY-MM-DD-NNNNNN`), none after it: a database as an older server left
/// it, for testing what a migration does to existing rows.
pub fn run_migrations_to(conn: &mut AnyConnection, version: &str) -> Result<(), DbError> {
    fn up_to<DB, C>(c: &mut C, source: EmbeddedMigrations, last: &str) -> MigrationResult<()>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
    {
        for m in c.pending_migrations(source)? {
            if m.name().version().to_string().as_str() > last {
                break;
            }
            c.run_migration(m.as_ref())?;
        }
        Ok(())
    }
    let last = version.replace('-', "");
    let result = match conn {
        AnyConnection::Postgresql(c) => up_to(c, POSTGRES_MIGRATIONS, &last),
        AnyConnection::Sqlite(c) => up_to(c, SQLITE_MIGRATIONS, &last),
    };
    result.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration newer than `version` (`2026-12-01-000010`
/// or `20261201000010`), newest first: a database as that migration left it.
pub fn revert_migrations_after(conn: &mut AnyConnection, version: &str) -> Result<(), DbError> {
    fn down_to<DB, C>(
        c: &mut C,
        source: fn() -> EmbeddedMigrations,
        last: &str,
    ) -> MigrationResult<()>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
    {
        loop {
            let applied = c.applied_migrations()?;
            let newest = applied.iter().map(|v| v.to_string()).max();
            match newest {
                Some(v) if v.as_str() > last => {
                    c.revert_last_migration(source())?;
                }
                _ => return Ok(()),
            }
        }
    }
    let last = version.replace('-', "");
    let result = match conn {
        AnyConnection::Postgresql(c) => down_to(c, || POSTGRES_MIGRATIONS, &last),
        AnyConnection::Sqlite(c) => down_to(c, || SQLITE_MIGRATIONS, &last),
    };
    result.map_err(|e| DbError::Migration(e.to_string()))
}

/// What a migration step answers.
type MigrationResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs `sql` returning nothing (used for explicit per-backend branches).
pub fn execute(conn: &mut AnyConnection, sql: &str) -> Result<usize, DbError> {
    Ok(diesel::sql_query(sql).execute(conn)?)
}
