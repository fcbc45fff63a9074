//! Programs the runtime's tests run as workloads.

use std::path::{Path, PathBuf};

/// The path of `slipway-exec`'s `tiny_http` example (a std-only HTTP
/// server answering `<pid> <port> <REVISION>`), built once if needed,
/// beside the running test binary's target directory.
pub fn tiny_http() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary: {e}"));
        let bin = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("{} has no target directory", exe.display()))
            .join("examples/tiny_http");
        if !bin.exists() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "slipway-exec",
                    "--example",
                    "tiny_http",
                ])
                .status()
                .unwrap_or_else(|e| panic!("cargo build: {e}"));
            assert!(status.success(), "building the tiny_http example failed");
        }
        assert!(bin.exists(), "{}", bin.display());
        bin
    })
    .clone()
}

/// A port free on the loopback interface now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}
