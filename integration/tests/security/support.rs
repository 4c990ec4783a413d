//! What several topics of the security suite share: modules made to measure, bundles with
//! their own cgroup, runw's log, and the host's processes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runw_integration::wasm_gen::{self, Shape};
use runw_integration::{unique_id, Bundle, Runw};
use serde_json::json;

pub const WASM: (&str, &str) = ("run.oci.handler", "wasm");

/// A module whose compile takes a few seconds and some hundred MB (each `seed` a new one).
pub fn slow_module(seed: u32) -> Shape {
    Shape {
        functions: 2500,
        ops: 300,
        invalid_last: false,
        padding: 0,
        seed,
    }
}

/// A wasm bundle running `module` at `/m.wasm`, in cgroup `/runwsec-<tag>`.
pub fn bundle_of(module: &[u8], tag: &str) -> Bundle {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), module).unwrap();
    let mut bundle = Bundle::wasm(file.path(), "/m.wasm", &["/m.wasm"], &[WASM]);
    let cgroup = format!("/runwsec-{tag}");
    bundle.edit(|c| c["linux"]["cgroupsPath"] = json!(cgroup));
    bundle
}

pub fn generated(shape: Shape) -> Vec<u8> {
    wasm_gen::module(shape)
}

/// A fresh id and a log file for one runw call with `--debug --log-format json --log`.
pub struct Logged {
    pub id: String,
    pub log: tempfile::NamedTempFile,
}

impl Logged {
    pub fn new(name: &str) -> Logged {
        Logged {
            id: unique_id(name),
            log: tempfile::NamedTempFile::new().unwrap(),
        }
    }

    /// `runw --debug --log-format json --log LOG CMD... --bundle B ID`, as a command.
    pub fn command(&self, runw: &Runw, cmd: &[&str], bundle: &Bundle) -> std::process::Command {
        let mut command = runw.command(["--debug", "--log-format", "json", "--log"]);
        command
            .arg(self.log.path())
            .args(cmd)
            .arg("--bundle")
            .arg(bundle.path())
            .arg(&self.id);
        command
    }

    /// The messages written so far.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(self.log.path())
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|r| r["msg"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Runs `command` to completion with its output in a file (a created container keeps
/// runw's stdio open), returning its status and output.
pub fn run_to_file(mut command: std::process::Command) -> (i32, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    command
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap());
    let status = command.status().unwrap();
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out.path()).unwrap(),
    )
}

/// The compile cache's entries.
pub fn entries(cache: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache.join("entries")) {
        Ok(read) => read.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Names in `dir`.
pub fn names(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Processes whose name (`comm`) is `comm`, with their `/proc/PID/status`.
pub fn processes_named(comm: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(name) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if name.trim_end() == comm {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                found.push((pid, status));
            }
        }
    }
    found
}

/// The value of `field:` in a `/proc/PID/status` text.
pub fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or("")
}

/// Polls `probe` every 5 ms until it returns `Some` or `seconds` pass.
pub fn wait_for<T>(seconds: u64, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if let Some(found) = probe() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The highest memory use of cgroup `path` (cgroup v1's memory controller or v2's
/// `memory.peak`), in bytes.
pub fn memory_peak(path: &str) -> Option<u64> {
    let rel = path.trim_start_matches('/');
    let candidates = [
        format!("/sys/fs/cgroup/memory/{rel}/memory.max_usage_in_bytes"),
        format!("/sys/fs/cgroup/{rel}/memory.peak"),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
}
