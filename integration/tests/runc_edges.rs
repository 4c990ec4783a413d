//! Where runc's behaviour is the contract and runw used to differ (issue 12, items 7, 8, 11):
//! the OOM killer switch on cgroup v1, `delete -f` after a failing poststop hook, and the
//! cgroup of a bundle that names none.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use runw_integration::{leftovers, unique_id, Bundle, Runw};
use serde_json::json;

/// The `(controllers, path)` lines of `/proc/PID/cgroup` of container `id`'s init.
fn cgroups_of(runw: &Runw, id: &str) -> Vec<(String, String)> {
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':').skip(1);
            Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
        })
        .collect()
}

/// The host directory of container `id`'s v1 memory cgroup, if the host has that hierarchy.
fn memory_cgroup(runw: &Runw, id: &str) -> Option<PathBuf> {
    let (_, path) = cgroups_of(runw, id)
        .into_iter()
        .find(|(c, _)| c.split(',').any(|c| c == "memory"))?;
    Some(PathBuf::from("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
}

/// runc writes `memory.oom_control` from `disableOOMKiller`; libcontainer 0.7 never does.
#[test]
fn disable_oom_killer_is_applied_on_cgroup_v1() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    bundle.edit(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20, "disableOOMKiller": true});
    });
    let id = unique_id("oomoff");
    runw.create(&bundle, &id);
    let Some(dir) = memory_cgroup(&runw, &id) else {
        runw.ok(["delete", "-f", &id]);
        eprintln!("SKIPPED: no cgroup v1 memory hierarchy on this host");
        return;
    };
    let control = std::fs::read_to_string(dir.join("memory.oom_control")).unwrap();
    runw.ok(["delete", "-f", &id]);
    assert!(
        control.lines().any(|l| l == "oom_kill_disable 1"),
        "{}: {control}",
        dir.display()
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// A poststop hook that fails (here: its executable went with the bundle) must not keep
/// `delete -f` from removing the container; runc only warns.
#[test]
fn delete_force_removes_a_container_whose_poststop_hook_fails() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["true"]);
    let hook = bundle.path().join("poststop.sh");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bundle.edit(|c| c["hooks"] = json!({"poststop": [{"path": hook}]}));
    let id = unique_id("hookgone");
    runw.create(&bundle, &id);
    runw.ok(["start", &id]);
    runw.wait_status(&id, "stopped", 10);
    let path = bundle.path().to_owned();
    drop(bundle);
    assert!(!path.exists());
    let out = runw.run(["delete", "-f", &id]);
    assert_eq!(out.code, 0, "delete -f failed: {}", out.stderr);
    assert!(
        runw.run(["state", &id]).code != 0,
        "container {id} still exists"
    );
    leftovers::assert_none(&runw, &id, None);
}

/// Without `linux.cgroupsPath` runc puts the container in `/<id>`; libcontainer would name it
/// after youki (`:youki:<id>`).
#[test]
fn default_cgroup_is_slash_id() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    bundle.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    });
    let id = unique_id("cgdef");
    runw.run_detached(&bundle, &id);
    let cgroups = cgroups_of(&runw, &id);
    // An exec'd process joins the same cgroups (libcontainer would pick `:youki:<id>`).
    let exec = runw.run(["exec", &id, "cat", "/proc/self/cgroup"]);
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    runw.ok(["delete", "-f", &id]);
    let expected = format!("/{id}");
    let controlled: Vec<_> = cgroups
        .iter()
        .filter(|(c, _)| !c.is_empty() && !c.starts_with("name="))
        .collect();
    assert!(!controlled.is_empty(), "{cgroups:?}");
    for (controllers, path) in controlled {
        assert_eq!(path, &expected, "{controllers} of {id}: {cgroups:?}");
    }
    assert_eq!(exec.code, 0, "exec failed: {}", exec.stderr);
    for line in exec
        .stdout
        .lines()
        .filter(|l| l.contains("memory") || l.contains("pids"))
    {
        assert!(
            line.ends_with(&format!(":{expected}")),
            "exec'd process in {line}"
        );
    }
    assert_eq!(state["bundle"], bundle.path().to_str().unwrap());
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}
