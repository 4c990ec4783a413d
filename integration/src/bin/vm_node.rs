//! The cgroup v2 node suite, run inside the VM `ci/vm/run` boots (systemd as init, the unified
//! cgroup v2 hierarchy, runw installed from its .debs): podman and containerd's CRI drive the
//! installed runw with the systemd cgroup driver, as on a current Kubernetes node, and an
//! unprivileged user's rootless podman drives it in the user's delegated cgroups. Prints one
//! `PASS name` or `FAIL name` line per check (integration/tests/vm.rs asserts them) and exits
//! non-zero if any failed. Needs `RUNW_BIN` and `CARGO_TARGET_DIR` (the test guests).
// A test program: a panic is a failed check, reported as such.
#![allow(clippy::unwrap_used)]

#[path = "vm_node/rootless.rs"]
mod rootless;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runw_integration::containerd::Containerd;
use runw_integration::cri::{log_lines, log_path, Cri, LinuxContainerResources, Pod, PodSpec};
use runw_integration::podman::{Podman, IMAGE};
use runw_integration::runw::Outcome;

/// The limits every pod's container gets: 128 MiB, half a CPU.
const MEMORY: i64 = 128 << 20;
const CPU_QUOTA: i64 = 50_000;
const CPU_PERIOD: i64 = 100_000;

fn main() {
    let mut report = Report::default();
    report.check("cgroup2-systemd", host);
    report.check("podman-native", podman_native);
    report.check("podman-wasm", podman_wasm);
    if let Some(user) = report.check("rootless-systemd-user", rootless::User::start) {
        report.check("rootless-podman-native", || user.native());
        report.check("rootless-podman-wasm", || user.wasm());
        report.check("rootless-podman-cgroupfs", || user.cgroupfs());
    }
    if let Some(node) = report.check("containerd-systemd-cgroup", Node::start) {
        let node = std::cell::RefCell::new(node);
        report.check("cri-wasm-pod-limits", || node.borrow_mut().wasm_pod());
        if let Some(id) = report.check("cri-native-pod-limits", || node.borrow_mut().native_pod()) {
            let node = node.borrow();
            report.check("runw-events-stats", || node.events_stats(&id));
            report.check("runw-update", || node.update(&id));
            report.check("runw-pause-resume", || node.pause_resume(&id));
        }
        report.check("cri-stop-pods", || node.borrow_mut().stop_pods());
    }
    std::process::exit(report.finish());
}

/// How long one check may take before the watchdog shows what the node is doing and ends
/// the suite (TCG is slow: starting containerd and importing images takes about a minute).
const CHECK_TIMEOUT: Duration = Duration::from_secs(180);

/// The check running now, and since when.
type Current = std::sync::Arc<std::sync::Mutex<Option<(&'static str, Instant)>>>;

/// PASS/FAIL lines, one per check; a check fails by panicking (its message is printed by the
/// panic hook just before the FAIL line).
#[derive(Default)]
struct Report {
    failed: Vec<&'static str>,
    current: Current,
    watchdog: Option<std::thread::JoinHandle<()>>,
}

impl Report {
    fn check<T: std::fmt::Debug>(
        &mut self,
        name: &'static str,
        f: impl FnOnce() -> T,
    ) -> Option<T> {
        let started = Instant::now();
        self.watch(name, started);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let took = started.elapsed().as_secs_f32();
        match result {
            Ok(value) => {
                println!("PASS {name} ({took:.1}s): {value:?}");
                Some(value)
            }
            Err(_) => {
                println!("FAIL {name} ({took:.1}s)");
                self.failed.push(name);
                None
            }
        }
    }

    /// Marks `name` as the running check, starting the watchdog on first use.
    fn watch(&mut self, name: &'static str, started: Instant) {
        *self.current.lock().unwrap() = Some((name, started));
        if self.watchdog.is_none() {
            let current = self.current.clone();
            self.watchdog = Some(std::thread::spawn(move || watchdog(&current)));
        }
    }

    fn finish(self) -> i32 {
        match self.failed.is_empty() {
            true => 0,
            false => {
                println!("FAILED: {}", self.failed.join(" "));
                1
            }
        }
    }
}

/// Ends the suite when a check hangs, after printing the processes, systemd's scopes and
/// containerd's log.
fn watchdog(current: &Current) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Some((name, started)) = *current.lock().unwrap() else {
            continue;
        };
        if started.elapsed() < CHECK_TIMEOUT {
            continue;
        }
        println!("FAIL {name}: still running after {CHECK_TIMEOUT:?}; the node:");
        let show = "ps -eo pid,ppid,stat,wchan:24,args; \
                    systemctl list-units --all --no-pager --type=scope,slice; \
                    tail -n 40 /tmp/runw-containerd-*/containerd.log";
        let _ = std::process::Command::new("sh").args(["-c", show]).status();
        println!("FAILED: {name} (hung)");
        std::process::exit(1);
    }
}

/// The node is what the suite is about: cgroup v2 only, systemd as PID 1.
fn host() -> String {
    let fs = nix::sys::statfs::statfs("/sys/fs/cgroup").unwrap();
    assert_eq!(
        fs.filesystem_type(),
        nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        "/sys/fs/cgroup is not cgroup2"
    );
    let init = read("/proc/1/comm");
    assert_eq!(init, "systemd", "PID 1 is not systemd");
    format!("controllers: {}", read("/sys/fs/cgroup/cgroup.controllers"))
}

/// podman's global flags for runw with the systemd cgroup manager.
const PODMAN_RUNW: [&str; 4] = ["--runtime", "/usr/bin/runw", "--cgroup-manager", "systemd"];

fn podman(args: &[&str]) -> Outcome {
    let args: Vec<&str> = PODMAN_RUNW.iter().chain(args).copied().collect();
    Podman::get().ok(&args)
}

/// A native container's own cgroup (private cgroup namespace) shows its limits, and it is a
/// systemd scope under machine.slice.
fn podman_native() -> String {
    let script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; \
                  cat /proc/1/cgroup";
    let out = podman(&[
        "run", "--rm", "--memory", "64m", "--cpus", "0.5", IMAGE, "sh", "-c", script,
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"67108864"), "memory.max: {out:?}");
    assert_eq!(lines.get(1), Some(&"50000 100000"), "cpu.max: {out:?}");
    let id = podman(&["run", "--detach", "--memory", "64m", IMAGE, "sleep", "600"])
        .stdout
        .trim()
        .to_owned();
    let pid = podman(&["inspect", "--format", "{{.State.Pid}}", &id]);
    let cgroup = cgroup_of(pid.stdout.trim());
    podman(&["rm", "--force", "--time", "0", &id]);
    assert!(
        cgroup.starts_with("/machine.slice/") && cgroup.ends_with(&format!("libpod-{id}.scope")),
        "not a systemd scope of podman's: {cgroup}"
    );
    cgroup
}

fn podman_wasm() -> String {
    let image = Podman::get().build_wasm_image(&guest("hello"));
    let out = podman(&[
        "run",
        "--rm",
        "--memory",
        "64m",
        "--annotation",
        "module.wasm.image/variant=compat",
        &image,
    ]);
    assert_eq!(out.stdout.trim(), "hello from wasm", "{out:?}");
    out.stdout.trim().to_owned()
}

/// containerd with runw's `SystemdCgroup = true`, the CRI client, and the pods it started.
struct Node {
    containerd: Containerd,
    cri: Cri,
    logs: tempfile::TempDir,
    busy: String,
    pods: Vec<Pod>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "containerd in {}", self.containerd.dir().display())
    }
}

impl Node {
    fn start() -> Node {
        let podman = Podman::get();
        let busy = podman.build_wasm_image(&guest("busy_loop"));
        let containerd = Containerd::start_with_systemd_cgroup();
        containerd.import_pause(podman);
        containerd.import(podman, &busy);
        containerd.import(podman, IMAGE);
        let cri = Cri::connect(&containerd.socket);
        Node {
            containerd,
            cri,
            logs: tempfile::tempdir().unwrap(),
            busy,
            pods: Vec::new(),
        }
    }

    /// The runw state root containerd's runc shim passes (`Root` + namespace).
    fn runw(&self, args: &[&str]) -> Outcome {
        let root = self.containerd.dir().join("runw-root/k8s.io");
        let out = std::process::Command::new(runw_integration::runw::binary())
            .arg("--root")
            .arg(root)
            .args(args)
            .output()
            .unwrap();
        let out = Outcome::from(out);
        assert_eq!(out.code, 0, "runw {args:?}: {}", out.stderr);
        out
    }

    /// A pod in its own slice, as kubelet's systemd driver makes it, running one container
    /// with the limits; returns the container's id and cgroup.
    fn limited_pod(
        &mut self,
        name: &str,
        annotations: &[(&str, &str)],
        image: &str,
        command: &[&str],
    ) -> (String, PathBuf) {
        let spec = PodSpec {
            name,
            annotations,
            log_dir: self.logs.path(),
        };
        let slice = format!("kubepods-burstable-pod{}.slice", name.replace('-', "_"));
        let pod = self.cri.run_pod_in_slice(&spec, &slice);
        let resources = LinuxContainerResources {
            memory_limit_in_bytes: MEMORY,
            cpu_quota: CPU_QUOTA,
            cpu_period: CPU_PERIOD,
            ..Default::default()
        };
        let id = self
            .cri
            .start_container_with(&pod, name, image, command, Some(resources));
        self.pods.push(pod);
        let state: serde_json::Value =
            serde_json::from_str(&self.runw(&["state", &id]).stdout).unwrap();
        let cgroup = cgroup_of(&state["pid"].to_string());
        let expected =
            format!("/kubepods.slice/kubepods-burstable.slice/{slice}/cri-containerd-{id}.scope");
        assert_eq!(cgroup, expected, "the container's cgroup");
        let dir = Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'));
        assert_eq!(
            read(dir.join("memory.max")),
            MEMORY.to_string(),
            "memory.max"
        );
        assert_eq!(
            read(dir.join("cpu.max")),
            format!("{CPU_QUOTA} {CPU_PERIOD}"),
            "cpu.max"
        );
        (id, dir)
    }

    fn wasm_pod(&mut self) -> PathBuf {
        let busy = self.busy.clone();
        let (_, dir) = self.limited_pod(
            "wasm-pod",
            &[("module.wasm.image/variant", "compat")],
            &busy,
            &[],
        );
        self.wait_log("wasm-pod", "spinning");
        dir
    }

    fn native_pod(&mut self) -> String {
        let (id, _) = self.limited_pod(
            "native-pod",
            &[],
            IMAGE,
            &["sh", "-c", "echo up; exec sleep 600"],
        );
        self.wait_log("native-pod", "up");
        id
    }

    fn wait_log(&self, name: &str, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !log_lines(&log_path(self.logs.path(), name)).contains(&line.to_owned()) {
            assert!(
                Instant::now() < deadline,
                "{name} did not print {line:?}: {}",
                self.containerd.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cgroup_dir(&self, id: &str) -> PathBuf {
        let state: serde_json::Value =
            serde_json::from_str(&self.runw(&["state", id]).stdout).unwrap();
        let cgroup = cgroup_of(&state["pid"].to_string());
        Path::new("/sys/fs/cgroup").join(cgroup.trim_start_matches('/'))
    }

    /// `runw events --stats` reads the v2 files: the memory in use, its limit, the pids.
    fn events_stats(&self, id: &str) -> String {
        let out = self.runw(&["events", "--stats", id]);
        let stats: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
        let memory = &stats["memory"]["memory"];
        assert!(
            memory["usage"].as_u64().unwrap_or(0) > 0,
            "memory usage: {stats}"
        );
        assert_eq!(
            memory["limit"].as_u64(),
            Some(MEMORY as u64),
            "memory limit: {stats}"
        );
        assert!(
            stats["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            "pids: {stats}"
        );
        format!(
            "memory {} pids {}",
            memory["usage"], stats["pids"]["current"]
        )
    }

    /// `runw update` through systemd: the unit's new limits reach memory.max and cpu.max.
    fn update(&self, id: &str) -> String {
        self.runw(&[
            "update",
            "--memory",
            "201326592",
            "--cpu-quota",
            "25000",
            "--cpu-period",
            "100000",
            id,
        ]);
        let dir = self.cgroup_dir(id);
        assert_eq!(
            read(dir.join("memory.max")),
            "201326592",
            "memory.max after update"
        );
        assert_eq!(
            read(dir.join("cpu.max")),
            "25000 100000",
            "cpu.max after update"
        );
        "memory.max 201326592, cpu.max 25000 100000".into()
    }

    /// `runw pause` / `resume`: the cgroup v2 freezer (`cgroup.freeze`, `cgroup.events`).
    fn pause_resume(&self, id: &str) -> String {
        let dir = self.cgroup_dir(id);
        self.runw(&["pause", id]);
        let paused = self.runw(&["state", id]).stdout;
        assert!(paused.contains("\"paused\""), "state after pause: {paused}");
        assert!(
            read(dir.join("cgroup.events")).contains("frozen 1"),
            "not frozen"
        );
        self.runw(&["resume", id]);
        let running = self.runw(&["state", id]).stdout;
        assert!(
            running.contains("\"running\""),
            "state after resume: {running}"
        );
        assert!(
            read(dir.join("cgroup.events")).contains("frozen 0"),
            "still frozen"
        );
        "frozen 1, then frozen 0".into()
    }

    /// StopPodSandbox and RemovePodSandbox of every pod; no pod slice keeps a scope.
    fn stop_pods(&mut self) -> usize {
        let pods = std::mem::take(&mut self.pods);
        for pod in &pods {
            println!("  StopPodSandbox {}", pod.id);
            self.cri.stop_pod(pod);
            self.cri.remove_pod(pod);
        }
        let left: Vec<_> =
            std::fs::read_dir("/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice")
                .map(|slices| {
                    slices
                        .flatten()
                        .map(|d| d.path())
                        .filter(|p| has_scope(p))
                        .collect()
                })
                .unwrap_or_default();
        assert!(left.is_empty(), "scopes left behind: {left:?}");
        pods.len()
    }
}

fn has_scope(slice: &Path) -> bool {
    std::fs::read_dir(slice)
        .map(|dirs| {
            dirs.flatten()
                .any(|d| d.file_name().to_string_lossy().ends_with(".scope"))
        })
        .unwrap_or(false)
}

/// The cgroup v2 path of process `pid` (`0::PATH` in /proc/PID/cgroup).
fn cgroup_of(pid: &str) -> String {
    let text = read(format!("/proc/{pid}/cgroup"));
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("/proc/{pid}/cgroup has no v2 line: {text}"))
        .to_owned()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
        .trim()
        .to_owned()
}

/// A test guest from `$CARGO_TARGET_DIR/wasm32-wasip1/release`.
fn guest(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").expect("CARGO_TARGET_DIR is not set");
    let path = PathBuf::from(target).join(format!("wasm32-wasip1/release/{name}.wasm"));
    assert!(path.is_file(), "{} is missing", path.display());
    path
}
