//! What a container may leave on the host: its state dir, cgroups, mounts and processes of
//! runw's own (one still naming the container in its arguments). Tests assert that none
//! remain after a delete or a failed create.

use std::path::Path;

use crate::Runw;

/// Panics naming every trace of container `id` (or of `bundle`) left on the host.
pub fn assert_none(runw: &Runw, id: &str, bundle: Option<&Path>) {
    let mut found = Vec::new();
    if runw.state_dir(id).exists() {
        found.push(format!("state dir {}", runw.state_dir(id).display()));
    }
    found.extend(cgroups_named(id));
    found.extend(processes_naming(id));
    if let Some(bundle) = bundle {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let bundle = bundle.to_string_lossy();
        found.extend(
            mountinfo
                .lines()
                .filter(|l| l.contains(&*bundle))
                .map(|l| format!("mount {l}")),
        );
    }
    assert!(found.is_empty(), "container {id} left behind: {found:#?}");
}

/// Live processes whose arguments name container `id` (a runw, or a child it forked).
fn processes_naming(id: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.iter().any(|a| a == id).then(|| {
                format!(
                    "process {} ({})",
                    e.file_name().to_string_lossy(),
                    args.join(" ")
                )
            })
        })
        .collect()
}

/// Cgroup directories, three levels deep in every hierarchy, named after container `id`.
fn cgroups_named(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![Path::new("/sys/fs/cgroup").to_path_buf()];
    for _depth in 0..3 {
        let mut next = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                // The container's own cgroup: `/<id>`, or libcontainer's `:youki:<id>`
                // (not `<id>0`, another test's container).
                let name = entry.file_name().to_string_lossy().into_owned();
                if name == id || name.ends_with(&format!(":{id}")) {
                    found.push(format!("cgroup {}", path.display()));
                }
                next.push(path);
            }
        }
        dirs = next;
    }
    found
}
