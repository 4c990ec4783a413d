//! Runs the real `runw` binary with a private `--root`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The runw binary under test: `RUNW_BIN`, or `runw` beside this test binary's directory
/// (`target/<profile>/runw`, built by `ci/test` before the tests).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RUNW_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("runw");
    assert!(
        path.exists(),
        "{} is missing: build runw first (ci/test does)",
        path.display()
    );
    path
}

/// A runw with its own state root and compile cache, removed (with its containers) on drop.
pub struct Runw {
    pub root: tempfile::TempDir,
    /// The wasm executor runw is told to use (`RUNW_EXECUTOR`), if any.
    executor: Option<PathBuf>,
    /// The compile cache (`RUNW_CACHE_DIR`): a private one unless [`Runw::share_cache`].
    cache: PathBuf,
    /// More environment for every runw call.
    env: Vec<(String, String)>,
}

impl Default for Runw {
    fn default() -> Self {
        Self::new()
    }
}

impl Runw {
    pub fn new() -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "runw's integration tests need root"
        );
        let root = tempfile::Builder::new()
            .prefix("runw-root-")
            .tempdir()
            .unwrap();
        let cache = root.path().join("cache");
        Runw {
            root,
            executor: None,
            cache,
            env: Vec::new(),
        }
    }

    /// A runw that runs wasm containers with `executor`.
    pub fn with_executor(executor: &crate::Executor) -> Self {
        let mut runw = Self::new();
        runw.executor = Some(executor.path.clone());
        runw
    }

    /// Makes this runw use the compile cache in `dir`, as all runw calls of a node do.
    pub fn share_cache(&mut self, dir: &Path) -> &mut Self {
        self.cache = dir.to_path_buf();
        self
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// Sets `key=value` in the environment of every runw call.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `runw --root ROOT args...`, ready to run.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(binary());
        cmd.arg("--root").arg(self.root.path()).args(args);
        cmd.stdin(Stdio::null());
        if let Some(executor) = &self.executor {
            cmd.env("RUNW_EXECUTOR", executor);
        }
        cmd.env("RUNW_CACHE_DIR", &self.cache);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs runw to completion, capturing its output.
    pub fn run<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command(args);
        Outcome::from(cmd.output().unwrap())
    }

    /// Runs runw and panics with its stderr unless it exits 0.
    pub fn ok<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self.run(&args);
        assert_eq!(out.code, 0, "runw {args:?} failed: {}", out.stderr);
        out
    }

    /// `runw exec --detach ID ARGS...`: the process keeps running in the container.
    pub fn exec_detached(&self, id: &str, args: &[&str]) {
        let mut cmd = self.command(["exec", "--detach", id]);
        cmd.args(args);
        self.outliving(cmd, &format!("exec --detach {id} {args:?}"));
    }

    /// `runw run --detach` of `bundle` as `id`.
    pub fn run_detached(&self, bundle: &crate::Bundle, id: &str) {
        let cmd = self.in_bundle(["run", "--detach"], bundle, id);
        self.outliving(cmd, &format!("run --detach {id}"));
    }

    /// `runw create` of `bundle` as `id`.
    pub fn create(&self, bundle: &crate::Bundle, id: &str) {
        self.outliving(
            self.in_bundle(["create"], bundle, id),
            &format!("create {id}"),
        );
    }

    fn in_bundle<const N: usize>(
        &self,
        cmd: [&str; N],
        bundle: &crate::Bundle,
        id: &str,
    ) -> Command {
        let mut cmd = self.command(cmd);
        cmd.arg("--bundle").arg(bundle.path()).arg(id);
        cmd
    }

    /// Runs a command that leaves a process behind. The process keeps runw's stdio, so it
    /// gets a file rather than the pipes `run` captures (which would never see EOF).
    fn outliving(&self, mut cmd: Command, what: &str) {
        let log = tempfile::NamedTempFile::new().unwrap();
        let status = cmd
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .status()
            .unwrap();
        let output = std::fs::read_to_string(log.path()).unwrap();
        assert!(status.success(), "runw {what} failed: {output}");
    }

    /// The `status` field of `runw state ID`.
    pub fn status(&self, id: &str) -> String {
        let out = self.ok(["state", id]);
        let state: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        state["status"].as_str().unwrap().to_owned()
    }

    /// Waits up to `seconds` for the container to reach `status`.
    pub fn wait_status(&self, id: &str, status: &str, seconds: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            // A container that a concurrent `run` has not created yet has no state.
            let out = self.run(["state", id]);
            let now = match serde_json::from_str::<serde_json::Value>(&out.stdout) {
                Ok(state) => state["status"].as_str().unwrap_or_default().to_owned(),
                Err(_) => format!("absent ({})", out.stderr.trim()),
            };
            if now == status {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{id} is {now}, not {status}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The directory runw keeps container `id`'s state in.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.root.path().join(id)
    }
}

impl Drop for Runw {
    fn drop(&mut self) {
        // Remove whatever a failed test left running, so one failure does not leak.
        if let Ok(dirs) = std::fs::read_dir(self.root.path()) {
            for dir in dirs.flatten() {
                let _ = self
                    .command(["delete", "--force"])
                    .arg(dir.file_name())
                    .output();
            }
        }
    }
}

/// What a finished runw call did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Outcome {
    fn from(out: Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let code = out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
        Outcome {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// Asserts a failure reported as one line on stderr that mentions `needle`.
    pub fn assert_one_line_error(&self, needle: &str) {
        assert_ne!(self.code, 0, "expected failure, got success: {self:?}");
        let lines: Vec<_> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line, got: {:?}",
            self.stderr
        );
        assert!(
            lines[0].contains(needle),
            "error line {:?} does not mention {needle:?}",
            lines[0]
        );
    }
}
