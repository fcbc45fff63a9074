//! The `slipway` binary: reads the configuration, wires the crates
//! together (store → engine → domain → HTTP) and holds no logic of its own.
//!
//! `slipway serve` runs the server, `slipway token create` makes an API
//! token, `slipway migrate` applies database migrations, `slipway
//! --version` says which build this is. docs/configuration.md lists the
//! settings.

mod config;
mod server;

use clap::Parser;
use config::{Cli, Command, LogFormat, TokenCommand, UserCommand};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve = match &cli.command {
        Command::Serve(args) => Some(args),
        _ => None,
    };
    let config = match config::resolve(&cli, serve) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slipway: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("slipway: logging: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("slipway")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("slipway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => server::serve(config).await,
            Command::Migrate => server::migrate(&config).await,
            Command::Token(TokenCommand::Create { name, user, admin }) => {
                server::create_token(&config, &name, admin, user.as_deref()).await
            }
            Command::User(UserCommand::Create {
                login,
                name,
                email,
                admin,
            }) => {
                let input = slipway_domain::UserInput {
                    login: Some(login),
                    display_name: name,
                    email,
                    is_admin: Some(admin),
                    disabled: None,
                };
                server::create_user(&config, input).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("slipway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &config::Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| format!("bad log filter `{}`: {e}", config.log))?;
    // Colour codes only for a person at a terminal: in a file or a pipe
    // (journald, `2> server.log`, a log shipper) they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let done = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    done.map_err(|e| e.to_string())
}
