//! The OCI lifecycle on real containers: create, start, state, kill, delete, run, exec,
//! pause, resume, ps, list, events.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::{leftovers, unique_id, Bundle, Runw};

/// create → created → start → running → exits → stopped → delete, leaving nothing.
#[test]
fn create_start_state_delete() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sh", "-c", "read line; exit 0"]);
    let id = unique_id("life");
    // Keep the process waiting on stdin until we let it go.
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let mut create = runw.command(["create", "--bundle"]);
    create
        .arg(bundle.path())
        .arg(&id)
        .stdin(std::fs::File::from(reader));
    assert!(create.status().unwrap().success());
    assert_eq!(runw.status(&id), "created");
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert_eq!(state["bundle"], bundle.path().to_str().unwrap());
    runw.ok(["start", &id]);
    assert_eq!(runw.status(&id), "running");
    drop(writer);
    runw.wait_status(&id, "stopped", 10);
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn run_passes_exit_codes_through() {
    let runw = Runw::new();
    for code in [0, 1, 42] {
        let bundle = Bundle::new(&["sh", "-c", &format!("echo out-{code}; exit {code}")]);
        let id = unique_id("exit");
        let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
        assert_eq!(out.code, code, "{out:?}");
        assert_eq!(out.stdout, format!("out-{code}\n"));
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

#[test]
fn run_reports_a_signal_death_as_128_plus_signal() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("sig");
    let mut run = runw.command(["run", "--bundle"]);
    let child = run.arg(bundle.path()).arg(&id).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while runw
        .run(["state", &id])
        .stdout
        .find("\"running\"")
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "container never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    runw.ok(["kill", &id, "KILL"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// A started container that traps TERM and records it, so kill by name is observable.
fn trapping_container(runw: &Runw, id: &str) -> Bundle {
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "trap 'exit 143' TERM; while :; do sleep 0.05; done",
    ]);
    runw.run_detached(&bundle, id);
    runw.wait_status(id, "running", 5);
    bundle
}

#[test]
fn kill_by_signal_name_and_number() {
    let runw = Runw::new();
    for signal in ["TERM", "SIGTERM", "15"] {
        let id = unique_id("kterm");
        let bundle = trapping_container(&runw, &id);
        // "running" can precede the shell's `trap`; until then PID 1 ignores TERM, so the
        // signal is sent again until the container stops.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while runw.status(&id) != "stopped" {
            assert!(
                std::time::Instant::now() < deadline,
                "{signal} never stopped {id}"
            );
            // The container may stop between the check and the kill: that kill may fail.
            let _ = runw.run(["kill", &id, signal]);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        runw.ok(["delete", &id]);
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
    for signal in ["KILL", "9"] {
        let id = unique_id("kkill");
        let bundle = Bundle::new(&["sleep", "1000"]);
        runw.run_detached(&bundle, &id);
        runw.ok(["kill", &id, signal]);
        runw.wait_status(&id, "stopped", 5);
        runw.ok(["delete", &id]);
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

#[test]
fn kill_all_reaches_every_process() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let id = unique_id("kall");
    runw.run_detached(&bundle, &id);
    let pids = || -> Vec<i64> {
        serde_json::from_str(&runw.ok(["ps", "--format", "json", &id]).stdout).unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pids().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "children never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    runw.ok(["kill", "--all", &id, "KILL"]);
    runw.wait_status(&id, "stopped", 5);
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn exec_without_terminal_passes_output_and_exit_code() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("exec");
    runw.run_detached(&bundle, &id);
    let out = runw.ok([
        "exec",
        "--env",
        "GREETING=hello",
        &id,
        "sh",
        "-c",
        "echo $GREETING; id -u",
    ]);
    assert_eq!(out.stdout, "hello\n0\n");
    let out = runw.run(["exec", &id, "sh", "-c", "exit 9"]);
    assert_eq!(out.code, 9);
    // A process file, as conmon and containerd's shim pass it.
    let process = serde_json::json!({
        "args": ["sh", "-c", "echo from-process-file; exit 3"],
        "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}, "terminal": false
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), process.to_string()).unwrap();
    let out = runw.run(["exec", "--process", file.path().to_str().unwrap(), &id]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (3, "from-process-file\n"),
        "{out:?}"
    );
    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn pause_resume_ps_list_events() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("pause");
    runw.run_detached(&bundle, &id);
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();

    runw.ok(["pause", &id]);
    assert_eq!(runw.status(&id), "paused");
    runw.ok(["resume", &id]);
    assert_eq!(runw.status(&id), "running");

    let pids: Vec<i64> =
        serde_json::from_str(&runw.ok(["ps", "--format", "json", &id]).stdout).unwrap();
    assert_eq!(pids, vec![pid]);
    let table = runw.ok(["ps", &id]).stdout;
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(table.lines().any(|l| l.contains("sleep 1000")), "{table}");

    let list = runw.ok(["list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("running")),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&runw.ok(["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(runw.ok(["list", "-q"]).stdout, format!("{id}\n"));

    let stats: serde_json::Value =
        serde_json::from_str(&runw.ok(["events", "--stats", &id]).stdout).unwrap();
    assert!(stats["pids"]["current"].as_u64().unwrap() >= 1, "{stats}");
    assert!(
        stats["memory"]["memory"]["usage"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(
        stats["cpu"]["usage"]["usage_total"].as_u64().is_some(),
        "{stats}"
    );

    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn update_changes_the_pids_limit() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("upd");
    runw.run_detached(&bundle, &id);
    runw.ok(["update", "--pids-limit", "7", &id]);
    let stats: serde_json::Value =
        serde_json::from_str(&runw.ok(["events", "--stats", &id]).stdout).unwrap();
    assert_eq!(stats["pids"]["limit"], 7, "{stats}");
    runw.ok(["delete", "--force", &id]);
}

#[test]
fn features_and_version() {
    let runw = Runw::new();
    let features: serde_json::Value = serde_json::from_str(&runw.ok(["features"]).stdout).unwrap();
    assert_eq!(features["ociVersionMin"], "1.0.0");
    assert!(features["linux"]["cgroup"]["v1"].as_bool().unwrap());
    // Seccomp as it is applied, and the annotations that make a container wasm.
    let seccomp = &features["linux"]["seccomp"];
    assert_eq!(seccomp["enabled"], true, "{seccomp}");
    assert!(
        seccomp["actions"].as_array().unwrap().len() >= 8,
        "{seccomp}"
    );
    let annotations = &features["annotations"];
    assert_eq!(
        annotations["org.runw.wasm.annotation.run.oci.handler"], "wasm,wasm-smart",
        "{annotations}"
    );
    assert_eq!(
        annotations["org.runw.wasm.annotation.module.wasm.image/variant"], "compat,compat-smart",
        "{annotations}"
    );
    // runc's shape, then the executor runw would use (beside it here) and its engine.
    let version = runw.ok(["--version"]).stdout;
    assert!(version.starts_with("runw version "), "{version}");
    assert!(version.contains("spec: 1."), "{version}");
    let executor = runw_integration::runw::binary().with_file_name("wasmtime-exec");
    let expected = format!(
        "executor: {} (wasmtime-exec {} (wasmtime ",
        executor.display(),
        env!("CARGO_PKG_VERSION")
    );
    assert!(version.contains(&expected), "{expected:?} not in {version}");
}

/// `runw features | head -1`: a reader that goes away is no failure (runw used to panic).
#[test]
fn features_into_a_closed_pipe_exits_quietly() {
    let runw = Runw::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = runw.command(["features"]).stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{:?}: {stderr}",
        out.status
    );
}

/// The help an operator reads: runw's words, no youki typo or name, no ignored flag.
#[test]
fn help_is_runws_own() {
    let runw = Runw::new();
    let mut help = runw.ok(["--help"]).stdout;
    for sub in [
        "create", "run", "exec", "features", "delete", "spec", "ps", "events",
    ] {
        help.push_str(&runw.ok([sub, "--help"]).stdout);
    }
    for wrong in [
        "checkpointt",
        "youki",
        "pivot rool",
        "rather then",
        "log-level",
        "--no-new-keyring",
        "--no-subreaper",
    ] {
        assert!(!help.contains(wrong), "help says {wrong:?}:\n{help}");
    }
    assert!(help.contains("--debug"), "{help}");
    // runc's callers may still pass what runw ignores, and ask for checkpoint.
    let bundle = Bundle::new(&["true"]);
    let id = unique_id("keyring");
    let bundle_path = bundle.path().to_str().unwrap();
    let out = runw.run([
        "run",
        "--no-new-keyring",
        "--no-subreaper",
        "--bundle",
        bundle_path,
        &id,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    runw.run(["checkpoint", &id])
        .assert_one_line_error("checkpoint is not supported");
}

#[test]
fn log_file_gets_runc_json_records() {
    let runw = Runw::new();
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = runw.run([
        "--log",
        log.path().to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "no-such",
    ]);
    out.assert_one_line_error("no-such");
    let text = std::fs::read_to_string(log.path()).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .unwrap()
            .contains("container does not exist: \"no-such\""),
        "{last}"
    );
    assert!(last["time"].is_string());
}

/// Output sent to /dev/null must be writable, as under runc (libcontainer 0.7 reopens it
/// read-only; runw repairs that before the process starts).
#[test]
fn stdout_to_dev_null_is_writable() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sh", "-c", "echo out || exit 9; echo err >&2 || exit 8"]);
    let id = unique_id("null");
    let null = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap()
    };
    let status = runw
        .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
        .stdout(null())
        .stderr(null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

/// runc's edges: `kill` without a signal sends SIGTERM, and a flag given twice (`--root`, as
/// some callers and test suites pass it) takes its last value.
#[test]
fn kill_defaults_to_term_and_the_last_root_wins() {
    let runw = Runw::new();
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; while true; do sleep 0.1; done",
    ]);
    let id = unique_id("killterm");
    runw.run_detached(&bundle, &id);
    let root = runw.root.path().to_str().unwrap();
    let out = runw.run([
        "--root",
        "/nonexistent-runw-root",
        "--root",
        root,
        "state",
        &id,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let state: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // A TERM that comes before the trap is set is ignored by a shell that is PID 1.
    wait_catching_term(state["pid"].as_i64().unwrap());
    runw.ok(["kill", &id]);
    runw.wait_status(&id, "stopped", 5);
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// Waits up to 5 s until process `pid` catches SIGTERM (`SigCgt` in its status).
fn wait_catching_term(pid: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .map(|mask| u64::from_str_radix(mask.trim(), 16).unwrap())
            .unwrap();
        if caught & (1 << (libc::SIGTERM - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} never set its TERM trap");
        std::thread::sleep(Duration::from_millis(10));
    }
}
