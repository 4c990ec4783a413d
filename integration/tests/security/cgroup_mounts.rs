//! A container's view of its cgroups on a cgroup v1 host: `/sys/fs/cgroup` shows its own
//! cgroups, read-only as the bundle's `cgroup` mount asks (`ro`, which containerd, CRI-O
//! and podman all set). libcontainer 0.7.0 binds them read-write whatever the options, and
//! binds hierarchies runw is in at their root (`name=systemd` here) read-write too.

use runw_integration::{unique_id, Bundle, Runw};
use serde_json::json;

const LIMIT: u64 = 64 << 20;

/// A shell container limited to [`LIMIT`] bytes, in cgroup `/runwsec-<tag>`, running `script`.
fn limited(script: &str, tag: &str) -> Bundle {
    let mut bundle = Bundle::new(&["sh", "-c", script]);
    std::os::unix::fs::symlink("busybox", bundle.rootfs().join("bin/mkdir")).unwrap();
    bundle.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/runwsec-{tag}"));
        c["linux"]["resources"]["memory"] = json!({ "limit": LIMIT });
    });
    bundle
}

fn v1_host() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

#[test]
fn a_container_cannot_raise_its_own_memory_limit() {
    if !v1_host() {
        eprintln!("SKIPPED: not a cgroup v1 host");
        return;
    }
    let limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    let script = format!("echo 4294967296 > {limit}; cat {limit}");
    let bundle = limited(&script, &unique_id("raise"));
    let runw = Runw::new();
    let id = unique_id("raise");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert_eq!(
        out.stdout.trim(),
        LIMIT.to_string(),
        "the container changed its own memory limit: {out:?}"
    );
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
}

#[test]
fn a_container_cannot_make_cgroups_in_any_hierarchy() {
    if !v1_host() {
        eprintln!("SKIPPED: not a cgroup v1 host");
        return;
    }
    // Every hierarchy, the ones runw binds at their host root (name=systemd) included.
    let script = "for h in /sys/fs/cgroup/*/; do mkdir ${h}escape && echo made ${h}escape; done; \
                  ls /sys/fs/cgroup";
    let tag = unique_id("mkdir");
    let bundle = limited(script, &tag);
    let runw = Runw::new();
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &tag]);
    assert!(
        out.stdout.contains("memory"),
        "no hierarchies seen: {out:?}"
    );
    assert!(!out.stdout.contains("made"), "{out:?}");
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap() {
        let path = hierarchy.unwrap().path();
        let _ = std::fs::remove_dir(path.join("escape"));
        let _ = std::fs::remove_dir(path.join(format!("runwsec-{tag}/escape")));
    }
}
