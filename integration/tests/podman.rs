//! podman runs native containers with `--runtime` at runw: run, exit codes, `-t`, exec,
//! logs, stop, rm; no runw state left after rm.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::podman::{Podman, IMAGE};
use runw_integration::unique_id;

#[test]
fn run_prints_and_passes_the_exit_code() {
    let podman = Podman::get();
    let out = podman.run(&["run", "--rm", IMAGE, "sh", "-c", "echo via-runw; exit 42"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (42, "via-runw\n"),
        "{out:?}"
    );
    // podman really used runw: it reports the runtime's name and version.
    let info = podman.ok(&[
        "info",
        "--format",
        "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}",
    ]);
    assert!(info.stdout.starts_with("runw"), "{info:?}");
}

#[test]
fn run_with_a_terminal() {
    let podman = Podman::get();
    let out = podman.run_in_terminal(&["run", "--rm", "-t", IMAGE, "sh", "-c", "tty; exit 3"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("/dev/pts/"), "{out:?}");
}

#[test]
fn exec_logs_stop_and_rm() {
    let podman = Podman::get();
    let name = unique_id("pm");
    let script = "echo started; trap 'echo got-term; exit 0' TERM; while :; do sleep 0.1; done";
    podman.ok(&["run", "-d", "--name", &name, IMAGE, "sh", "-c", script]);
    let out = podman.ok(&["exec", &name, "sh", "-c", "echo in-exec; exit 0"]);
    assert_eq!(out.stdout, "in-exec\n");
    let out = podman.run(&["exec", &name, "sh", "-c", "exit 4"]);
    assert_eq!(out.code, 4);
    let out = podman.run_in_terminal(&["exec", "-t", &name, "tty"]);
    assert!(out.stdout.contains("/dev/pts/"), "{out:?}");

    let id = podman
        .ok(&["inspect", "--format", "{{.Id}}", &name])
        .stdout
        .trim()
        .to_owned();
    // podman passes no --root to a runtime it knows by path: runw uses its default.
    let state_dir = std::path::Path::new("/run/runw").join(&id);
    assert!(
        state_dir.exists(),
        "runw keeps no state in {}",
        state_dir.display()
    );

    // The container traps TERM: podman stop must not need its 10 s KILL fallback.
    let begun = Instant::now();
    podman.ok(&["stop", &name]);
    assert!(
        begun.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        begun.elapsed()
    );
    let logs = podman.ok(&["logs", &name]).stdout;
    assert_eq!(logs, "started\ngot-term\n");
    let state = podman.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        &name,
    ]);
    assert_eq!(state.stdout.trim(), "exited 0");
    podman.ok(&["rm", &name]);
    assert!(
        !state_dir.exists(),
        "runw state left in {}",
        state_dir.display()
    );
}

#[test]
fn stop_escalates_to_kill_for_a_process_that_ignores_term() {
    let podman = Podman::get();
    let name = unique_id("pmkill");
    podman.ok(&["run", "-d", "--name", &name, IMAGE, "sleep", "1000"]);
    podman.ok(&["stop", "--time", "1", &name]);
    let state = podman.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        &name,
    ]);
    assert_eq!(state.stdout.trim(), "exited 137");
    podman.ok(&["rm", &name]);
}
