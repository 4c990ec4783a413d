//! A cgroup v2 node with the systemd cgroup driver, the default of current Kubernetes nodes,
//! tested in a VM: `ci/vm/run` boots a Debian 12 image (systemd as init, cgroup v2 unified,
//! containerd and podman from Debian; `ci/vm/image` builds it once and caches it outside the
//! clone) under TCG, installs runw's .debs with dpkg and runs `vm_node` inside it: podman and
//! containerd as root, and rootless podman as a lingering user in its systemd-delegated
//! cgroups. This test asserts every check of that suite passed.
//!
//! Where the VM cannot boot (not root, no qemu-system-x86 or debootstrap, no .debs) the test
//! prints a `SKIPPED:` line saying why and passes; with `CI=true` it fails instead.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every check `vm_node` runs: each must report `PASS`, so a check that silently stopped
/// running fails the test too.
const CHECKS: [&str; 14] = [
    "cgroup2-systemd",
    "podman-native",
    "podman-wasm",
    "rootless-systemd-user",
    "rootless-podman-native",
    "rootless-podman-wasm",
    "rootless-podman-cgroupfs",
    "containerd-systemd-cgroup",
    "cri-wasm-pod-limits",
    "cri-native-pod-limits",
    "runw-events-stats",
    "runw-update",
    "runw-pause-resume",
    "cri-stop-pods",
];

/// The cargo target dir this test binary was built in (`<target>/release/deps/vm-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Writes to stderr past libtest's capture (which takes only `print!`/`eprint!`), so CI's
/// log shows it even when the test passes.
fn loud(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{}", text.trim_end());
}

/// Why the VM cannot boot here, if it cannot.
fn cannot_boot(target: &Path) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    for tool in ["/usr/bin/qemu-system-x86_64", "/usr/sbin/debootstrap"] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (ci/vm/setup installs it)"));
        }
    }
    let debs = target.join("debian");
    let has = |prefix: &str| {
        std::fs::read_dir(&debs)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
            })
            .unwrap_or(false)
    };
    if !has("runw_") || !has("runw-wasmtime_") {
        return Some(format!("no runw .debs in {} (ci/package)", debs.display()));
    }
    None
}

#[test]
fn a_cgroup_v2_node_with_the_systemd_driver_runs_pods_podman_update_events_and_pause() {
    let target = target_dir();
    if let Some(why) = cannot_boot(&target) {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must boot the cgroup v2 VM, but it cannot: {why}"
        );
        loud(&format!(
            "SKIPPED: the cgroup v2 / systemd VM suite did not run: {why}"
        ));
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(repo.join("ci/vm/run"))
        .arg(env!("CARGO_BIN_EXE_vm_node"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each check's line and the figures (boot, suite and VM times), in CI's log.
    loud(&stdout);
    assert!(
        out.status.success(),
        "ci/vm/run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for check in CHECKS {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("PASS {check} "))),
            "{check} did not pass in the VM:\n{stdout}\n{stderr}"
        );
    }
}
