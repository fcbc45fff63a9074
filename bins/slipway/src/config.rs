//! The server's settings: defaults, then `slipway.toml`, then `SLIPWAY_*`
//! environment variables, then command-line flags (each overrides the one
//! before). docs/configuration.md lists every setting.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Slipway: a self-hosted continuous-delivery server.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about, propagate_version = true)]
pub struct Cli {
    /// The configuration file (default: ./slipway.toml when it exists).
    #[arg(long, global = true, env = "SLIPWAY_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where the SQLite database, job workspaces and the git cache live.
    #[arg(long, global = true, env = "SLIPWAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: `postgres://...`, or `sqlite://PATH` (default: the
    /// SQLite file `slipway.db` in the data directory).
    #[arg(long, global = true, env = "SLIPWAY_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, env = "SLIPWAY_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `slipway_http=debug,info`.
    #[arg(long, global = true, env = "SLIPWAY_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server.
    Serve(ServeArgs),
    /// Manages API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manages users.
    #[command(subcommand)]
    User(UserCommand),
    /// Applies pending database migrations and exits.
    Migrate,
}

/// `slipway token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints its secret (once).
    Create {
        /// The token's name, for people.
        #[arg(long)]
        name: String,
        /// The user (id or login) it is for; without it, a service
        /// account named after the token is created with it.
        #[arg(long)]
        user: Option<String>,
        /// Without `--user`: make the new service account a system admin.
        #[arg(long, conflicts_with = "user")]
        admin: bool,
    },
}

/// `slipway user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user (a person or a service account) and prints its id.
    Create {
        /// Its login, unique.
        #[arg(long)]
        login: String,
        /// The name shown to people (default: the login).
        #[arg(long)]
        name: Option<String>,
        /// Its e-mail address (what a trusted proxy's `Identity` header
        /// names).
        #[arg(long)]
        email: Option<String>,
        /// Make it a system admin.
        #[arg(long)]
        admin: bool,
    },
}

/// Flags of `slipway serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, env = "SLIPWAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The largest request body, in bytes.
    #[arg(long, env = "SLIPWAY_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Seconds running jobs get to finish on SIGTERM / SIGINT before they
    /// are cancelled.
    #[arg(long, env = "SLIPWAY_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "SLIPWAY_WORKERS")]
    pub workers: Option<usize>,
    /// Accept `file://` repositories and local paths in jobs' `repo`
    /// (off: a job could otherwise read any repository on the server).
    #[arg(long, env = "SLIPWAY_GIT_ALLOW_LOCAL", value_name = "BOOL")]
    pub git_allow_local: Option<bool>,
    /// The most megabytes the git mirrors may take; least recently used
    /// ones are deleted past it (default: no limit).
    #[arg(long, env = "SLIPWAY_GIT_CACHE_MB", value_name = "MB")]
    pub git_cache_mb: Option<u64>,
    /// Keep the workspaces of runs that passed (default: delete them when
    /// the run passes; runs that did not pass keep theirs for a retry).
    #[arg(long, env = "SLIPWAY_KEEP_WORKSPACES", value_name = "BOOL")]
    pub keep_workspaces: Option<bool>,
    /// Seconds between checks of cron schedules (default 1; 0 turns the
    /// scheduler off on this server).
    #[arg(long, env = "SLIPWAY_SCHEDULER_INTERVAL", value_name = "SECONDS")]
    pub scheduler_interval: Option<u64>,
    /// Hours after which the workspace of a finished run is deleted
    /// (default 168, a week; 0 keeps them).
    #[arg(long, env = "SLIPWAY_WORKSPACE_RETENTION_HOURS", value_name = "HOURS")]
    pub workspace_retention_hours: Option<u64>,
    /// Addresses (IPs or CIDR networks, comma-separated) of the proxies
    /// whose `Identity` header is believed (default: none).
    #[arg(
        long,
        env = "SLIPWAY_TRUSTED_PROXIES",
        value_name = "ADDRS",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// Clients reach the server over TLS (a proxy terminates it): session
    /// cookies are `Secure` and the server's origin is `https://`.
    #[arg(long, env = "SLIPWAY_BEHIND_TLS", value_name = "BOOL")]
    pub behind_tls: Option<bool>,
    /// Seconds a session lasts unless its maker asks otherwise (default
    /// 3600).
    #[arg(long, env = "SLIPWAY_SESSION_TTL_SECS", value_name = "SECONDS")]
    pub session_ttl_secs: Option<u64>,
    /// The longest session that may be asked for, in seconds (default
    /// 86400).
    #[arg(long, env = "SLIPWAY_SESSION_MAX_TTL_SECS", value_name = "SECONDS")]
    pub session_max_ttl_secs: Option<u64>,
    /// The address services' ports are served on (default 127.0.0.1;
    /// 0.0.0.0 serves the network).
    #[arg(long, env = "SLIPWAY_SERVICE_BIND", value_name = "IP")]
    pub service_bind: Option<std::net::IpAddr>,
    /// The project a first deploy into an unknown namespace puts it in
    /// (made on first use; default `default`).
    #[arg(long, env = "SLIPWAY_DEFAULT_NAMESPACE_PROJECT", value_name = "NAME")]
    pub default_namespace_project: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What `slipway.toml` may hold; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    body_limit: Option<usize>,
    shutdown_grace: Option<u64>,
    workers: Option<usize>,
    db_max_connections: Option<u32>,
    git_allow_local: Option<bool>,
    git_cache_mb: Option<u64>,
    keep_workspaces: Option<bool>,
    secret_key: Option<String>,
    scheduler_interval: Option<u64>,
    workspace_retention_hours: Option<u64>,
    dialects: Option<std::collections::BTreeMap<String, DialectFile>>,
    trusted_proxies: Option<Vec<String>>,
    behind_tls: Option<bool>,
    session_ttl_secs: Option<u64>,
    session_max_ttl_secs: Option<u64>,
    session_key: Option<String>,
    service_bind: Option<std::net::IpAddr>,
    default_namespace_project: Option<String>,
}

/// `[dialects.<name>]` in `slipway.toml`: the switch, and the dialect's
/// own options (text values; each dialect names the ones it has).
#[derive(Debug, Default, Deserialize)]
struct DialectFile {
    enabled: Option<bool>,
    #[serde(flatten)]
    options: std::collections::BTreeMap<String, String>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log: String,
    /// Request body limit in bytes.
    pub body_limit: usize,
    /// Grace period for running jobs at shutdown.
    pub shutdown_grace: Duration,
    /// HTTP workers (None: one per CPU).
    pub workers: Option<usize>,
    /// Database pool size.
    pub db_max_connections: u32,
    /// `file://` repositories allowed in jobs.
    pub git_allow_local: bool,
    /// Size limit of the git mirrors, in bytes.
    pub git_cache_bytes: Option<u64>,
    /// Keep passed runs' workspaces.
    pub keep_workspaces: bool,
    /// The key that seals stored secrets, as text (from `secret_key` in
    /// the file or `SLIPWAY_SECRET_KEY`); `None`: the key file in the
    /// data directory, made on first start. Never printed.
    pub secret_key: Option<KeyText>,
    /// How often cron schedules are checked; `None`: not on this server.
    pub scheduler_interval: Option<Duration>,
    /// How long a finished run's workspace is kept; `None`: for ever.
    pub workspace_retention: Option<Duration>,
    /// Which APIs are served (`dialects.<name>.enabled`; all by default).
    pub dialects: slipway_http::dialect::Switches,
    /// Whose `Identity` header is believed (none by default).
    pub trusted_proxies: slipway_http::auth::TrustedProxies,
    /// Clients reach the server over TLS.
    pub behind_tls: bool,
    /// How long sessions last, by default and at most.
    pub session_ttl: slipway_domain::SessionTtl,
    /// The key that signs sessions, as text (`session_key` in the file or
    /// `SLIPWAY_SESSION_KEY`); `None`: the key file in the data
    /// directory, made on first start. Never printed.
    pub session_key: Option<KeyText>,
    /// Where services' ports are served.
    pub service_bind: std::net::IpAddr,
    /// The project of namespaces made by a first deploy.
    pub default_namespace_project: String,
}

/// A configured key: its `Debug` never shows it.
#[derive(Clone)]
pub struct KeyText(pub String);

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Config {
    /// Where job workspaces go.
    pub fn workspaces(&self) -> PathBuf {
        self.data_dir.join("workspaces")
    }

    /// The workload runtime's directory (its state and instances'
    /// output).
    pub fn workload_root(&self) -> PathBuf {
        self.data_dir.join("workloads")
    }

    /// Where workloads' directories are (a manifest's `workdir` is
    /// relative to it).
    pub fn workload_files(&self) -> PathBuf {
        self.data_dir.join("workload-files")
    }

    /// The git mirrors' directory.
    pub fn git_cache(&self) -> PathBuf {
        self.data_dir.join("git")
    }

    /// The secret key file used when no key is configured.
    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join(slipway_domain::secrets::KEY_FILE_NAME)
    }

    /// The session key file used when no session key is configured.
    pub fn session_key_file(&self) -> PathBuf {
        self.data_dir
            .join(slipway_domain::secrets::SESSION_KEY_FILE_NAME)
    }
}

/// `[dialects.<name>] enabled = ...` as switches: every API on unless
/// turned off; a name that is no API is refused.
fn dialect_switches(
    file: std::collections::BTreeMap<String, DialectFile>,
) -> Result<slipway_http::dialect::Switches, String> {
    let mut switches = slipway_http::dialect::Switches::all_on();
    for (name, d) in file {
        switches
            .set(&name, d.enabled.unwrap_or(true))
            .map_err(|e| format!("dialects.{name}: {e}"))?;
        for (option, value) in &d.options {
            switches
                .set_option(&name, option, value)
                .map_err(|e| format!("dialects.{name}.{option}: {e}"))?;
        }
    }
    Ok(switches)
}

fn read_file(explicit: Option<&Path>) -> Result<FileConfig, String> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from("slipway.toml");
            if !p.exists() {
                return Ok(FileConfig::default());
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The settings from the command line, the environment (already merged
/// into `cli` by clap) and the configuration file.
pub fn resolve(cli: &Cli, serve: Option<&ServeArgs>) -> Result<Config, String> {
    let file = read_file(cli.config.as_deref())?;
    let none = ServeArgs::default();
    let serve = serve.unwrap_or(&none);
    let data_dir = cli
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./slipway-data"));
    let database_url = cli
        .database_url
        .clone()
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("slipway.db").display()));
    let body_limit = serve.body_limit.or(file.body_limit).unwrap_or(1024 * 1024);
    if body_limit == 0 {
        return Err("body_limit must be at least 1 byte".into());
    }
    let dialects = dialect_switches(file.dialects.unwrap_or_default())?;
    let trusted_proxies = slipway_http::auth::TrustedProxies::parse(
        &serve
            .trusted_proxies
            .clone()
            .or(file.trusted_proxies)
            .unwrap_or_default(),
    )?;
    let session_ttl = session_ttl(
        serve.session_ttl_secs.or(file.session_ttl_secs),
        serve.session_max_ttl_secs.or(file.session_max_ttl_secs),
    )?;
    Ok(Config {
        listen: serve
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir,
        database_url,
        log_format: cli.log_format.or(file.log_format).unwrap_or_default(),
        log: cli
            .log
            .clone()
            .or(file.log)
            .unwrap_or_else(|| "info".to_owned()),
        body_limit,
        shutdown_grace: Duration::from_secs(
            serve.shutdown_grace.or(file.shutdown_grace).unwrap_or(30),
        ),
        workers: serve.workers.or(file.workers).filter(|n| *n > 0),
        db_max_connections: file.db_max_connections.unwrap_or(8).max(1),
        git_allow_local: serve
            .git_allow_local
            .or(file.git_allow_local)
            .unwrap_or(false),
        git_cache_bytes: serve
            .git_cache_mb
            .or(file.git_cache_mb)
            .map(|mb| mb.saturating_mul(1024 * 1024)),
        keep_workspaces: serve
            .keep_workspaces
            .or(file.keep_workspaces)
            .unwrap_or(false),
        secret_key: std::env::var("SLIPWAY_SECRET_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .or(file.secret_key)
            .map(KeyText),
        scheduler_interval: match serve
            .scheduler_interval
            .or(file.scheduler_interval)
            .unwrap_or(1)
        {
            0 => None,
            n => Some(Duration::from_secs(n)),
        },
        workspace_retention: match serve
            .workspace_retention_hours
            .or(file.workspace_retention_hours)
            .unwrap_or(168)
        {
            0 => None,
            h => Some(Duration::from_secs(h.saturating_mul(3600))),
        },
        dialects,
        trusted_proxies,
        behind_tls: serve.behind_tls.or(file.behind_tls).unwrap_or(false),
        session_ttl,
        session_key: std::env::var("SLIPWAY_SESSION_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .or(file.session_key)
            .map(KeyText),
        service_bind: serve
            .service_bind
            .or(file.service_bind)
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
        default_namespace_project: serve
            .default_namespace_project
            .clone()
            .or(file.default_namespace_project)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "default".to_owned()),
    })
}

/// The session lifetimes: `default` and `max` seconds (3600 and 86400
/// when not set), each at least a minute, the default no more than the
/// maximum.
fn session_ttl(
    default: Option<u64>,
    max: Option<u64>,
) -> Result<slipway_domain::SessionTtl, String> {
    let min = slipway_domain::sessions::MIN_TTL.as_secs();
    let fallback = slipway_domain::SessionTtl::default();
    let max = max.unwrap_or(fallback.max.as_secs());
    let default = default.unwrap_or(fallback.default.as_secs().min(max));
    if max < min {
        return Err(format!(
            "session_max_ttl_secs must be at least {min} seconds"
        ));
    }
    if default < min || default > max {
        return Err(format!(
            "session_ttl_secs must be {min} to session_max_ttl_secs ({max}) seconds"
        ));
    }
    Ok(slipway_domain::SessionTtl {
        default: Duration::from_secs(default),
        max: Duration::from_secs(max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switches(text: &str) -> Result<slipway_http::dialect::Switches, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        dialect_switches(file.dialects.unwrap_or_default())
    }

    #[test]
    fn every_dialect_is_on_unless_the_file_turns_it_off() {
        let all = switches("").expect("an empty file");
        assert!(slipway_http::dialect::NAMES.iter().all(|n| all.enabled(n)));
        let some =
            switches("[dialects.zadig]\nenabled = false\n[dialects.native]\nenabled = true\n")
                .expect("a valid file");
        assert!(!some.enabled("zadig"));
        assert!(some.enabled("native") && some.enabled("daocloud"));
        let err = switches("[dialects.cobol]\nenabled = false\n").expect_err("unknown name");
        assert!(err.contains("dialects.cobol"), "{err}");
        assert!(switches("[dialects.zadig]\nenable = false\n").is_err());
        let sd = switches("[dialects.serverless_devs]\nproject = \"apps\"\n").expect("an option");
        assert_eq!(sd.option("serverless_devs", "project"), "apps");
        assert_eq!(all.option("serverless_devs", "project"), "default");
        let err = switches("[dialects.serverless_devs]\nprojekt = \"apps\"\n").expect_err("typo");
        assert!(err.contains("dialects.serverless_devs.projekt"), "{err}");
        assert!(err.contains("`project`"), "{err}");
    }

    #[test]
    fn session_lifetimes_default_to_an_hour_and_a_day_and_are_checked() {
        let d = session_ttl(None, None).expect("defaults");
        assert_eq!((d.default.as_secs(), d.max.as_secs()), (3600, 86_400));
        // A maximum below the default hour lowers the default with it.
        let small = session_ttl(None, Some(600)).expect("a smaller maximum");
        assert_eq!((small.default.as_secs(), small.max.as_secs()), (600, 600));
        for (default, max) in [(Some(59), None), (None, Some(30)), (Some(7200), Some(3600))] {
            let err = session_ttl(default, max).expect_err("out of range");
            assert!(err.contains("ttl_secs"), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_come_from_the_file_and_a_bad_entry_is_named() {
        let file: FileConfig = toml::from_str(
            "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\nbehind_tls = true\n",
        )
        .expect("a valid file");
        let proxies =
            slipway_http::auth::TrustedProxies::parse(&file.trusted_proxies.expect("listed"))
                .expect("valid entries");
        assert!(proxies.contains("10.2.3.4".parse().expect("an address")));
        assert_eq!(file.behind_tls, Some(true));
        let err = slipway_http::auth::TrustedProxies::parse(&["10.0.0.0/40"]).expect_err("bad");
        assert!(err.contains("`10.0.0.0/40`"), "{err}");
    }
}
