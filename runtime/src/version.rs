//! Version strings, in the shape `runc --version` prints them (podman shows this text),
//! with the wasm executor this runw would use and the engine it runs.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::executor_binary;

/// `runw --version`'s first line.
pub const SHORT: &str = env!("CARGO_PKG_VERSION");

/// `runw --version` as runc prints it (the version, then the runtime spec it implements),
/// then the executor found as a container would find it, and its engine's version.
pub fn long() -> String {
    format!(
        "runw version {SHORT}\nspec: 1.1.0\nlibcontainer: 0.7.0\nexecutor: {}\n",
        executor_line()
    )
}

/// `/usr/libexec/runw/wasmtime-exec (wasmtime-exec 0.1.0 (wasmtime 48.0.0))`, or why
/// there is none.
fn executor_line() -> String {
    match executor_binary::locate() {
        Ok(path) => format!("{} ({})", path.display(), ask_version(&path)),
        Err(err) => err.to_string(),
    }
}

/// The executor's own `--version` line, or why it gave none.
fn ask_version(executor: &Path) -> String {
    let output = Command::new(executor)
        .arg(runw_shared::executor_main::VERSION)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => format!("did not answer --version: {}", out.status),
        Err(err) => format!("cannot run it: {err}"),
    }
}
