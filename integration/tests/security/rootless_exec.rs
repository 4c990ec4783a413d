//! CVE-2019-5736, rootless: a container of an unprivileged user's podman must not rewrite
//! the wasm executor through `/proc/<pid>/exe`, even when the executor is the user's own
//! file (built in their home), which every uid of the container may otherwise write. The
//! attack is the CVE's ([`ATTACK`]): open the running executor's `/proc/<pid>/exe`
//! read-only, wait for it to exit (a running binary cannot be opened for writing), then
//! reopen that descriptor for writing. Both of runw's routes are attacked: the read-only
//! mount clone (runw is root of rootless podman's user namespace, so it may clone), and the
//! sealed copy runw execs where it may not clone (here: a mount below the executor's directory, locked into the
//! user namespace); and the mount clone again where the user runs runw directly, without
//! podman (runw in a user namespace of its own).

use std::path::Path;
use std::process::Stdio;

use runw_integration::bundle::guest;
use runw_integration::exe_rewrite::ATTACK;
use runw_integration::rootless::{RootlessUser, IMAGE};

/// Runs the attack against an executor the user owns, in `dir`; returns what the attacking
/// shell printed, after checking the user's executor is unchanged.
fn attack_own_executor(user: &RootlessUser, dir: &Path) -> String {
    let runw = user.install_own_runw(dir);
    let executor = own_executor(dir);
    let before = std::fs::read(&executor).unwrap();
    let image = "localhost/runw-cve-rootless:latest";
    let containerfile =
        format!("FROM {IMAGE}\nCOPY busy.wasm /busy.wasm\nCMD [\"sleep\", \"1000\"]\n");
    user.build_image(image, &containerfile, &[("busy.wasm", &guest("busy_loop"))]);
    let runtime = runw.to_str().unwrap();
    let smart = "module.wasm.image/variant=compat-smart";
    let podman = |args: &[&str]| user.podman(&[&["--runtime", runtime][..], args].concat());
    let out = podman(&["run", "-d", "--name", "cve", "--annotation", smart, image]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = podman(&["exec", "-d", "cve", "/busy.wasm"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = podman(&["exec", "cve", "sh", "-c", ATTACK]);
    assert_eq!(out.code, 0, "{out:?}");
    let _ = podman(&["rm", "--force", "--time", "0", "cve"]);
    assert!(
        !out.stdout.contains("WROTE"),
        "the executor was written: {out:?}"
    );
    assert_eq!(
        std::fs::read(&executor).unwrap(),
        before,
        "the user's executor was modified"
    );
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn a_rootless_container_cannot_rewrite_its_users_executor_through_the_mount_clone() {
    let user = RootlessUser::create();
    let said = attack_own_executor(&user, &user.home.join("bin"));
    assert!(said.contains("Read-only file system"), "{said}");
}

#[test]
fn a_rootless_container_cannot_rewrite_its_users_executor_through_the_sealed_copy() {
    let user = RootlessUser::create();
    let dir = user.home.join("bin");
    user.make_owned_dir(&dir.join("sub"), 0o755);
    // A mount below the executor's directory, which rootless podman's user namespace gets
    // locked: runw may not clone the directory's mount alone there.
    nix::mount::mount(
        Some("tmpfs"),
        &dir.join("sub"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    // A new pause process: the user namespace's mounts are copied from the host's now.
    user.podman_ok(&["system", "migrate"]);
    let said = attack_own_executor(&user, &dir);
    assert!(said.contains("exe: /memfd:runw-executor"), "{said}");
    assert!(said.contains("Operation not permitted"), "{said}");
}

/// The attack on a container the user runs with its own runw directly, with no podman
/// (`runw spec --rootless`, then `runw create`/`start`/`exec`): runw works in a user
/// namespace of its own, whose mount namespace it may clone from.
#[test]
fn a_container_the_user_runs_directly_cannot_rewrite_its_users_executor() {
    let user = RootlessUser::create();
    let dir = user.home.join("bin");
    let runw = user.install_own_runw(&dir);
    let executor = own_executor(&dir);
    let before = std::fs::read(&executor).unwrap();
    let busybox = runw_integration::Bundle::new(&["true"]);
    let rootfs = busybox.rootfs();
    std::fs::copy(guest("busy_loop"), rootfs.join("busy.wasm")).unwrap();
    let smart = ("module.wasm.image/variant", "compat-smart");
    let bundle = user.spec_rootless_bundle("cve", &rootfs, &[smart]);
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    std::fs::write(&config, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let quiet = |args: &[&str]| {
        let status = user
            .runw_in(&runw, &bundle, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "runw {args:?} as the user failed");
    };
    quiet(&["create", "cve"]);
    quiet(&["start", "cve"]);
    quiet(&["exec", "--detach", "cve", "/busy.wasm"]);
    let out = user
        .runw_in(&runw, &bundle, &["exec", "cve", "sh", "-c", ATTACK])
        .output()
        .unwrap();
    let _ = user
        .runw_in(&runw, &bundle, &["delete", "--force", "cve"])
        .output();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("WROTE"), "the executor was written: {said}");
    assert_eq!(
        std::fs::read(&executor).unwrap(),
        before,
        "the user's executor was modified"
    );
    assert!(said.contains("Read-only file system"), "{said}");
}

/// The executor in `dir` ([`RootlessUser::install_own_runw`] put one there).
fn own_executor(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-exec"))
        .unwrap()
}
