//! CVE-2019-5736, rootless: a container of an unprivileged user's podman must not rewrite
//! the wasm executor through `/proc/<pid>/exe`, even when the executor is the user's own
//! file (built in their home), which every uid of the container may otherwise write. The
//! attack is the CVE's ([`ATTACK`]): open the running executor's `/proc/<pid>/exe`
//! read-only, wait for it to exit (a running binary cannot be opened for writing), then
//! reopen that descriptor for writing. Both of runw's routes are attacked: the read-only
//! mount clone (runw is root of rootless podman's user namespace, so it may clone), and the
//! sealed copy runw execs where it may not clone (here: a mount below the executor's directory, locked into the
//! user namespace).

use std::path::Path;

use runw_integration::bundle::guest;
use runw_integration::exe_rewrite::ATTACK;
use runw_integration::rootless::{RootlessUser, IMAGE};

/// Runs the attack against an executor the user owns, in `dir`; returns what the attacking
/// shell printed, after checking the user's executor is unchanged.
fn attack_own_executor(user: &RootlessUser, dir: &Path) -> String {
    let runw = user.install_own_runw(dir);
    let executor = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-exec"))
        .unwrap();
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
