//! Rootless: an unprivileged user made by each test (subordinate ranges from useradd,
//! slirp4netns installed) runs `podman` with runw as its runtime, as a developer does on
//! their own machine: a native busybox image, compat wasm images (the annotation on the
//! command line and on the image), a volume, exit codes, `podman exec` and `podman stop`,
//! a compat image on each executor; and runw run by the user directly, as runc is
//! (`runw spec --rootless`, then `runw --root $XDG_RUNTIME_DIR/runw run`), for a native and a
//! wasm bundle. On this cgroup v1 host nothing is delegated, so the containers run without
//! cgroups (integration/tests/vm.rs runs rootless podman on cgroup v2 with systemd).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use runw_integration::bundle::guest;
use runw_integration::podman::wait_for_log;
use runw_integration::rootless::{RootlessUser, COMPAT, IMAGE};

#[test]
fn a_native_image_runs_as_the_user_and_gives_its_exit_codes() {
    let user = RootlessUser::create();
    let out = user.podman(&["run", "--rm", IMAGE, "sh", "-c", "echo hello; id -u"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello\n0\n"),
        "{out:?}"
    );
    let out = user.podman(&["run", "--rm", IMAGE, "sh", "-c", "exit 7"]);
    assert_eq!(out.code, 7, "{out:?}");
    let out = user.podman(&["run", "--rm", IMAGE, "/nonexistent"]);
    assert_ne!(out.code, 0, "{out:?}");
    // The state is the user's: under its runtime dir, nothing under root's /run/runw.
    assert!(user.runtime_dir.join("runw").is_dir());
}

#[test]
fn a_compat_wasm_image_runs_with_the_annotation_on_the_command_line() {
    let user = RootlessUser::create();
    let image = user.build_wasm_image(&guest("hello"), false);
    let out = user.podman(&["run", "--rm", "--annotation", COMPAT, &image]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
    let image = user.build_wasm_image(&guest("exit_with"), false);
    let out = user.podman(&["run", "--rm", "--annotation", COMPAT, &image, "42"]);
    assert_eq!(out.code, 42, "{out:?}");
}

#[test]
fn a_compat_wasm_image_runs_with_the_annotation_on_the_image() {
    let user = RootlessUser::create();
    let image = user.build_wasm_image(&guest("hello"), true);
    let out = user.podman(&["run", "--rm", &image]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
}

#[test]
fn a_volume_is_readable_and_writable_by_native_and_wasm_containers() {
    let user = RootlessUser::create();
    let data = user.home.join("data");
    user.make_owned_dir(&data, 0o755);
    std::fs::write(data.join("in"), "from the host\n").unwrap();
    user.give(&data.join("in"));
    let volume = format!("{}:/data", data.display());
    let out = user.podman(&[
        "run",
        "--rm",
        "-v",
        &volume,
        IMAGE,
        "sh",
        "-c",
        "cat /data/in; echo native > /data/n",
    ]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "from the host\n"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(data.join("n")).unwrap(), "native\n");
    let image = user.build_wasm_image(&guest("files"), false);
    let write = ["run", "--rm", "--annotation", COMPAT, "-v", &volume, &image];
    let out = user.podman(&[&write[..], &["write", "/data/out", "from-guest"]].concat());
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "wrote from-guest\n"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("out")).unwrap(),
        "from-guest"
    );
    let out = user.podman(&[&write[..], &["read", "/data/in"]].concat());
    assert_eq!(out.stdout, "from the host\n", "{out:?}");
}

#[test]
fn exec_runs_in_a_running_container_with_its_exit_code() {
    let user = RootlessUser::create();
    let name = "execd";
    user.podman_ok(&["run", "-d", "--name", name, IMAGE, "sleep", "1000"]);
    let out = user.podman(&["exec", name, "sh", "-c", "echo in exec; exit 3"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "in exec\n"), "{out:?}");
    let out = user.podman(&["exec", name, "cat", "/proc/1/cmdline"]);
    assert_eq!(out.stdout, "sleep\x001000\x00", "{out:?}");
    user.podman_ok(&["rm", "--force", "--time", "0", name]);
}

#[test]
fn stop_ends_a_wasm_container_promptly_and_a_native_one_with_sigkill() {
    let user = RootlessUser::create();
    let took = spin_then_stop(&user);
    assert!(took < Duration::from_secs(3), "podman stop took {took:?}");
    let state = user.podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", "spin"]);
    assert_eq!(state.stdout.trim(), "143");
    // busybox sleep as PID 1 ignores SIGTERM: podman sends SIGKILL after the timeout.
    user.podman_ok(&["run", "-d", "--name", "sleeper", IMAGE, "sleep", "1000"]);
    user.podman_ok(&["stop", "--time", "1", "sleeper"]);
    let state = user.podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", "sleeper"]);
    assert_eq!(state.stdout.trim(), "137");
    user.podman_ok(&["rm", "spin", "sleeper"]);
}

/// Runs a busy wasm container `spin` (the compat annotation on the command line) until it
/// spins, then `podman stop`s it; returns how long the stop took.
fn spin_then_stop(user: &RootlessUser) -> Duration {
    let image = user.build_wasm_image(&guest("busy_loop"), false);
    user.podman_ok(&[
        "run",
        "-d",
        "--name",
        "spin",
        "--annotation",
        COMPAT,
        &image,
    ]);
    wait_for_log("spin", "spinning\n", || {
        user.podman_ok(&["logs", "spin"]).stdout
    });
    let begun = Instant::now();
    user.podman_ok(&["stop", "spin"]);
    begun.elapsed()
}

#[test]
fn the_user_and_everything_it_ran_are_removed_after() {
    let user = RootlessUser::create();
    user.podman_ok(&["run", "-d", "--name", "left", IMAGE, "sleep", "1000"]);
    let (name, uid, home, runtime_dir) = (
        user.name.clone(),
        user.uid,
        user.home.clone(),
        user.runtime_dir.clone(),
    );
    let bin = user.bin.path().to_path_buf();
    // The user's processes now (its podman's pause process, conmon, the container); after,
    // none of them may be left. (Another test may be given the freed uid at once.)
    let ran = user.processes();
    assert!(!ran.is_empty());
    drop(user);
    assert!(nix::unistd::User::from_name(&name).unwrap().is_none());
    for path in [&home, &runtime_dir, &bin] {
        assert!(!path.exists(), "{} is left", path.display());
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains(&format!("{name}:")), "{file}: {text}");
    }
    let left: Vec<i32> = ran
        .into_iter()
        .filter(|pid| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid)
                && !runw_integration::rootless::is_zombie(*pid)
        })
        .collect();
    assert!(left.is_empty(), "processes {left:?} of {name} are left");
}

/// The compile cache of a rootless user is its own: under `~/.cache/runw`, the user's alone
/// (a directory of mode 700, a secret of mode 600), filled on the first start, used as is on
/// the next, and an entry that does not verify (here: overwritten) is rebuilt, not loaded.
#[test]
fn the_compile_cache_is_the_users_own_and_authenticated() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let user = RootlessUser::create();
    let image = user.build_wasm_image(&guest("hello"), false);
    let run = || {
        let out = user.podman(&["run", "--rm", "--annotation", COMPAT, &image]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "hello from wasm\n"),
            "{out:?}"
        );
    };
    run();
    let cache = user.home.join(".cache/runw");
    let meta = std::fs::metadata(&cache).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (user.uid, 0o700));
    let secret = std::fs::metadata(cache.join("secret")).unwrap();
    assert_eq!((secret.uid(), secret.mode() & 0o777), (user.uid, 0o600));
    let entries: Vec<_> = std::fs::read_dir(cache.join("entries"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let written = std::fs::metadata(entry).unwrap().ino();
    run();
    assert_eq!(
        std::fs::metadata(entry).unwrap().ino(),
        written,
        "a hit rewrote the entry"
    );
    // Overwritten in place, as a forger without the secret could.
    let forged = vec![0x5a; std::fs::metadata(entry).unwrap().len() as usize];
    std::fs::write(entry, &forged).unwrap();
    run();
    assert_ne!(
        std::fs::read(entry).unwrap(),
        forged,
        "the forged entry was kept"
    );
    let mode = std::fs::metadata(entry).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "entry mode {mode:o}");
}

/// `runw --root $XDG_RUNTIME_DIR/runw ARGS` as `user`, in `bundle`, as runc is run rootless.
fn users_runw(user: &RootlessUser, bundle: &Path, args: &[&str]) -> runw_integration::Outcome {
    let out = user.runw_in(&user.runw(), bundle, args).output().unwrap();
    runw_integration::Outcome::from(out)
}

/// Sets the bundle's `process.args`.
fn set_args(bundle: &Path, args: &[&str]) {
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(args);
    std::fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
}

/// The way `runc spec --rootless && runc --root $XDG_RUNTIME_DIR/runc run ID` works for a
/// user, with no podman: runw runs a native bundle (its output, its exit code, `exec` into
/// it as the container's root, `kill`, `delete`) on this cgroup v1 host, where nothing is
/// delegated.
#[test]
fn the_user_runs_a_native_bundle_with_runw_directly() {
    let user = RootlessUser::create();
    let busybox = runw_integration::Bundle::new(&["true"]);
    let bundle = user.spec_rootless_bundle("native", &busybox.rootfs(), &[]);
    set_args(&bundle, &["sh", "-c", "echo hello; id -u; exit 5"]);
    let out = users_runw(&user, &bundle, &["run", "once"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (5, "hello\n0\n"),
        "{out:?}"
    );
    // A long-running one, created and started, then exec'd into.
    set_args(&bundle, &["sleep", "1000"]);
    let created = user
        .runw_in(&user.runw(), &bundle, &["create", "long"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success(), "runw create as the user failed");
    let out = users_runw(&user, &bundle, &["start", "long"]);
    assert_eq!(out.code, 0, "{out:?}");
    let exec = "echo in exec; id -u; cat /proc/1/cmdline; exit 3";
    let out = users_runw(&user, &bundle, &["exec", "long", "sh", "-c", exec]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (3, "in exec\n0\nsleep\x001000\x00"),
        "{out:?}"
    );
    let out = users_runw(&user, &bundle, &["kill", "long", "KILL"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = users_runw(&user, &bundle, &["delete", "--force", "long"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = users_runw(&user, &bundle, &["list", "--quiet"]);
    assert_eq!(out.stdout, "", "{out:?}");
    // Limits need a cgroup, which nothing delegates here: refused, as runc refuses them,
    // naming the cgroup (not libcgroups' missing limit file), and nothing is left.
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    spec["linux"]["resources"] = serde_json::json!({ "memory": { "limit": 67108864 } });
    std::fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let out = users_runw(&user, &bundle, &["run", "limited"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("resource limits but no cgroup of its own: /sys/fs/cgroup/limited"),
        "{out:?}"
    );
    let out = users_runw(&user, &bundle, &["list", "--quiet"]);
    assert_eq!(out.stdout, "", "{out:?}");
}

/// The same for a wasm bundle (the compat annotation in its config, the module its
/// entrypoint): its output and exit code, compiled once into the user's own cache.
#[test]
fn the_user_runs_a_wasm_bundle_with_runw_directly() {
    let user = RootlessUser::create();
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::copy(guest("hello"), rootfs.path().join("hello.wasm")).unwrap();
    std::fs::copy(guest("exit_with"), rootfs.path().join("exit_with.wasm")).unwrap();
    let compat = ("module.wasm.image/variant", "compat");
    let bundle = user.spec_rootless_bundle("wasm", rootfs.path(), &[compat]);
    set_args(&bundle, &["/hello.wasm"]);
    let out = users_runw(&user, &bundle, &["run", "hello"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
    let entries = user.home.join(".cache/runw/entries");
    let cached = std::fs::read_dir(&entries).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 1, "{} holds no compiled module", entries.display());
    set_args(&bundle, &["/exit_with.wasm", "42"]);
    let out = users_runw(&user, &bundle, &["run", "exits"]);
    assert_eq!(out.code, 42, "{out:?}");
}

/// A compat wasm image under rootless podman with `executor` as the user's runw's only one:
/// its output, its exit code, and a prompt `podman stop`.
fn a_compat_wasm_image_runs_rootless(executor: &runw_integration::Executor) {
    let user = RootlessUser::create_with(executor);
    let image = user.build_wasm_image(&guest("hello"), true);
    let out = user.podman(&["run", "--rm", &image]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{}: {out:?}",
        executor.name
    );
    let image = user.build_wasm_image(&guest("exit_with"), false);
    let out = user.podman(&["run", "--rm", "--annotation", COMPAT, &image, "42"]);
    assert_eq!(out.code, 42, "{}: {out:?}", executor.name);
    let took = spin_then_stop(&user);
    assert!(
        took < Duration::from_secs(3),
        "{}: podman stop took {took:?}",
        executor.name
    );
    user.podman_ok(&["rm", "spin"]);
}

mod each_executor {
    use super::a_compat_wasm_image_runs_rootless as runs;
    runw_integration::conformance!(runs);
}
