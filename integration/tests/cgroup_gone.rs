//! A stopped container whose cgroup is already gone, as the systemd cgroup driver leaves it:
//! systemd removes a scope's cgroup once its last process has exited, and containerd then
//! sends `kill --all` (and `delete`) for every exited container. Here the cgroup is removed
//! by hand, which takes runw down the same path on a host without systemd; the VM suite
//! (`vm.rs`) covers it with systemd itself.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use runw_integration::{unique_id, Bundle, Runw};

/// Every cgroup directory of `pid`, on each mounted hierarchy (v1, v2 or hybrid).
fn cgroup_dirs(pid: &str) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in text.lines().filter_map(|l| l.splitn(3, ':').nth(2)) {
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            continue;
        }
        for mount in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let dir = mount.path().join(path);
            if let Ok(dir) = dir.canonicalize() {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        let unified = Path::new("/sys/fs/cgroup").join(path);
        if unified.join("cgroup.procs").exists() && !dirs.contains(&unified) {
            dirs.push(unified);
        }
    }
    dirs
}

#[test]
fn kill_all_of_a_stopped_container_whose_cgroup_is_gone_succeeds_and_delete_removes_it() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "600"]);
    let id = unique_id("cgroup-gone");
    runw.run_detached(&bundle, &id);
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    let dirs = cgroup_dirs(&state["pid"].to_string());
    assert!(!dirs.is_empty(), "the container has no cgroup of its own");

    runw.ok(["kill", &id, "KILL"]);
    runw.wait_status(&id, "stopped", 10);
    for dir in &dirs {
        std::fs::remove_dir(dir).unwrap_or_else(|err| panic!("rmdir {}: {err}", dir.display()));
    }

    let out = runw.run(["kill", "--all", &id, "KILL"]);
    assert_eq!(
        out.code, 0,
        "kill --all of a stopped container without a cgroup: {out:?}"
    );
    runw.ok(["delete", &id]);
    assert!(!runw.state_dir(&id).exists(), "delete left the state dir");
}
