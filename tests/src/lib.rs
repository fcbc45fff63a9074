//! # slipway-tests: suites across crates, against the real binary
//!
//! The workspace's `tests/` crate. Its suites (`suites/*.rs`) start the
//! real `slipway` binary on a free loopback port and talk to it over HTTP
//! the way a user's client does; the dialect conformance suites go here
//! too. This library is the support they share: [`binary`] finds (building
//! it once if needed) the server binary, [`server::Server`] runs it with a
//! temporary data directory, and [`server::SseReader`] reads live logs.
//!
//! **Depends on** no Slipway crate: it drives the binary from outside.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod hooks;
pub mod server;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `slipway` binary the suites run: `SLIPWAY_BIN` when set, else the
/// workspace's own build of `bins/slipway` in the profile these tests were
/// built with, built once per test process (`cargo build -p slipway`
/// answers at once when it is up to date).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SLIPWAY_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ has a parent")
            .to_path_buf();
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&workspace)
            .args(["build", "-p", "slipway", "--bin", "slipway"])
            .arg("--message-format=json-render-diagnostics");
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo to build the slipway binary");
        assert!(
            out.status.success(),
            "building the slipway binary failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "slipway")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo named the slipway executable")
    })
    .clone()
}

/// Polls `ok` every 100 ms until it holds; panics naming `what` after
/// `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
