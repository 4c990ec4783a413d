//! What a container may leave on the host: its state dir, cgroups and mounts. Tests assert
//! that none remain after a delete or a failed create.

use std::path::Path;

use crate::Runw;

/// Panics naming every trace of container `id` (or of `bundle`) left on the host.
pub fn assert_none(runw: &Runw, id: &str, bundle: Option<&Path>) {
    let mut found = Vec::new();
    if runw.state_dir(id).exists() {
        found.push(format!("state dir {}", runw.state_dir(id).display()));
    }
    found.extend(cgroups_named(id));
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
