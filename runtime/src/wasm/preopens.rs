//! Which directories a wasm guest may open: the preopen policy, in one place.
//!
//! - the rootfs as `/`, read-only when `root.readonly` is set;
//! - every spec mount whose destination is a directory, at that destination, read-only when
//!   the mount has the `ro` option; except kernel and pseudo filesystems: anything at or
//!   below `/proc`, `/sys` or `/dev`, and mounts of type proc, sysfs, cgroup, cgroup2,
//!   mqueue, devpts;
//! - the process's cwd as `.` when it is not `/` (WASI has no cwd of its own), with the access
//!   of the preopen that holds it.

use std::path::Path;

use libcontainer::oci_spec::runtime::Spec;
use runw_shared::Preopen;

const PSEUDO_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];
const PSEUDO_TYPES: [&str; 6] = ["proc", "sysfs", "cgroup", "cgroup2", "mqueue", "devpts"];

/// The preopens for `spec`; `is_dir` tells whether a destination is a directory (it is
/// called inside the container, where the mounts are in place).
pub fn for_spec(spec: &Spec, is_dir: impl Fn(&Path) -> bool) -> Vec<Preopen> {
    let root_ro = spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false);
    let mut preopens = vec![Preopen { guest: "/".into(), host: "/".into(), read_only: root_ro }];
    for mount in spec.mounts().iter().flatten() {
        let dest = mount.destination();
        let pseudo_place = PSEUDO_ROOTS.iter().any(|root| dest.starts_with(root));
        let pseudo_type = mount.typ().as_deref().is_some_and(|t| PSEUDO_TYPES.contains(&t));
        if pseudo_place || pseudo_type || dest == Path::new("/") || !is_dir(dest) {
            continue;
        }
        let read_only = mount.options().iter().flatten().any(|o| o == "ro");
        preopens.retain(|p| p.guest != *dest);
        preopens.push(Preopen { guest: dest.to_path_buf(), host: dest.to_path_buf(), read_only });
    }
    // WASI has no working directory: the process's cwd is preopened as `.`, where relative
    // paths resolve, with the access of the preopen that holds it.
    let cwd = spec.process().as_ref().map(|p| p.cwd().as_path()).unwrap_or(Path::new("/"));
    if cwd != Path::new("/") {
        let read_only = preopens
            .iter()
            .filter(|p| cwd.starts_with(&p.guest))
            .max_by_key(|p| p.guest.as_os_str().len())
            .is_some_and(|p| p.read_only);
        preopens.push(Preopen { guest: ".".into(), host: cwd.to_path_buf(), read_only });
    }
    preopens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("spec")
    }

    #[test]
    fn rootfs_and_data_mounts_but_no_pseudo_filesystems() {
        let spec = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"mounts":[
            {"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev/shm","type":"tmpfs","source":"shm"},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"},
            {"destination":"/data","type":"bind","source":"/srv","options":["rbind","rw"]},
            {"destination":"/config","type":"bind","source":"/etc/x","options":["rbind","ro"]},
            {"destination":"/etc/hosts","type":"bind","source":"/etc/hosts","options":["ro"]},
            {"destination":"/run/q","type":"mqueue","source":"mqueue"}]}"#,
        );
        let preopens = for_spec(&spec, |p| p != Path::new("/etc/hosts"));
        let got: Vec<_> = preopens.iter().map(|p| (p.guest.to_str().unwrap_or(""), p.read_only)).collect();
        assert_eq!(got, vec![("/", true), ("/data", false), ("/config", true)]);
    }

    #[test]
    fn writable_rootfs_by_default() {
        let spec = spec(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#);
        assert_eq!(for_spec(&spec, |_| true), vec![Preopen { guest: "/".into(), host: "/".into(), read_only: false }]);
    }
}
