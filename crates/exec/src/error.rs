//! What running processes and built-in job kinds can fail with.

use slipway_core::StoreError;
use std::io;
use std::path::PathBuf;

/// An error of the process runner or of a built-in job kind.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started (not found, not executable, bad
    /// working directory, ...).
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The started process reported no pid (it cannot be supervised).
    #[error("`{program}` started without a process id")]
    NoPid {
        /// The program as given.
        program: String,
    },
    /// Waiting for the process failed.
    #[error("waiting for process {pid}: {source}")]
    Wait {
        /// The process.
        pid: u32,
        /// Why.
        source: io::Error,
    },
    /// The job's working directory could not be prepared, or lies outside
    /// the workspace.
    #[error("working directory {path}: {source}")]
    WorkingDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A script file in the scratch directory could not be written.
    #[error("script file {path}: {source}")]
    Script {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The outputs file (`$SLIPWAY_OUTPUT`) could not be created or read.
    #[error("outputs file {path}: {source}")]
    Outputs {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The log store refused lines.
    #[error("log store: {0}")]
    Log(#[from] StoreError),
}
