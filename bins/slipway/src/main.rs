//! The `slipway` binary: wires the crates together and holds no logic.
//!
//! The server (`slipway serve`) arrives with the issue "The server: one
//! binary, the native REST API, ..."; until then the binary reports its
//! version and says so.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version" | "-V") => {
            println!("slipway {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "slipway {}: the server is not built yet; see README.md \
                 (`cargo run -p slipway-exec --example embed` runs the engine)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::from(2)
        }
    }
}
