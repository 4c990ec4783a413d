//! podman runs compat wasm images (`FROM scratch`, only the module) through runw with the
//! `module.wasm.image/variant=compat` annotation: output, exit code, volumes, logs, stop.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use runw_integration::bundle::guest;
use runw_integration::podman::Podman;
use runw_integration::unique_id;

const COMPAT: &str = "module.wasm.image/variant=compat";

#[test]
fn compat_image_runs_as_wasm() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("exit_with"));
    let out = podman.run(&["run", "--rm", "--annotation", COMPAT, &image, "42"]);
    assert_eq!(out.code, 42, "{out:?}");
    let image = podman.build_wasm_image(&guest("hello"));
    let out = podman.run(&["run", "--rm", "--annotation", COMPAT, &image]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
}

#[test]
fn volume_is_readable_and_writable_and_logs_are_kept() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("files"));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("in"), "from the host\n").unwrap();
    let volume = format!("{}:/data", data.path().display());
    let name = unique_id("pmwasm");
    let out = podman.run(&[
        "run",
        "--name",
        &name,
        "--annotation",
        COMPAT,
        "-v",
        &volume,
        &image,
        "write",
        "/data/out",
        "from-guest",
    ]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "wrote from-guest\n"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("out")).unwrap(),
        "from-guest"
    );
    assert_eq!(podman.ok(&["logs", &name]).stdout, "wrote from-guest\n");
    podman.ok(&["rm", &name]);
    let out = podman.run(&[
        "run",
        "--rm",
        "--annotation",
        COMPAT,
        "-v",
        &volume,
        &image,
        "read",
        "/data/in",
    ]);
    assert_eq!(out.stdout, "from the host\n", "{out:?}");
}

#[test]
fn stop_is_prompt() {
    let podman = Podman::get();
    let image = podman.build_wasm_image(&guest("busy_loop"));
    let name = unique_id("pmbusy");
    podman.ok(&["run", "-d", "--name", &name, "--annotation", COMPAT, &image]);
    // Stop once the guest runs (it announces itself), not after a guessed delay.
    wait_for_log(podman, &name, "spinning\n");
    let begun = Instant::now();
    podman.ok(&["stop", &name]);
    let took = begun.elapsed();
    assert!(took < Duration::from_secs(3), "podman stop took {took:?}");
    let state = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(state.stdout.trim(), "143");
    assert_eq!(podman.ok(&["logs", &name]).stdout, "spinning\n");
    podman.ok(&["rm", &name]);
}

/// Waits (up to 10 s) until container `name`'s log reads `expected`.
fn wait_for_log(podman: &Podman, name: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = podman.ok(&["logs", name]).stdout;
        if logs == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never logged {expected:?}: {logs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
