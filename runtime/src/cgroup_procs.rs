//! The `cgroup.procs` files of every cgroup a process is in, so that another process can join
//! them (the host-side compile joins the container it compiles for). Works on cgroup v1,
//! v2 and hybrid hosts, with the cgroupfs and systemd drivers alike: the cgroups are read
//! from `/proc/PID/cgroup` and found through this process's mount table.

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use procfs::process::{MountInfo, Process};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read the cgroups of process {pid}: {source}")]
    Proc { pid: i32, source: procfs::ProcError },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Opens, for writing, `cgroup.procs` of each cgroup `pid` is in whose hierarchy is mounted
/// here; writing `0` to each moves the writer into them. None for a rootless runw without
/// delegated cgroups ([`crate::rootless::cgroups_hidden`]): its containers have no cgroup
/// of their own, they stay in runw's, and so does a process that would join them.
pub fn of(pid: i32) -> Result<Vec<OwnedFd>, CgroupError> {
    if crate::rootless::cgroups_hidden() {
        return Ok(Vec::new());
    }
    let proc_err = |source| CgroupError::Proc { pid, source };
    let cgroups = Process::new(pid)
        .and_then(|p| p.cgroups())
        .map_err(proc_err)?;
    let mounts = Process::myself()
        .and_then(|p| p.mountinfo())
        .map_err(proc_err)?;
    let mut files = Vec::new();
    for cgroup in cgroups.0 {
        let Some(dir) = directory(&mounts.0, &cgroup.controllers, &cgroup.pathname) else {
            tracing::debug!(controllers = ?cgroup.controllers, "cgroup hierarchy not mounted here");
            continue;
        };
        let path = dir.join("cgroup.procs");
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| CgroupError::Open {
                path: path.clone(),
                source,
            })?;
        files.push(OwnedFd::from(file));
    }
    Ok(files)
}

/// Where the cgroup `pathname` of the hierarchy with `controllers` (empty: the v2 one) is.
pub fn directory(mounts: &[MountInfo], controllers: &[String], pathname: &str) -> Option<PathBuf> {
    let mount = mounts.iter().find(|m| match controllers {
        [] => m.fs_type == "cgroup2",
        _ => m.fs_type == "cgroup" && controllers.iter().all(|c| has_controller(m, c)),
    })?;
    // A mount of part of the hierarchy (in a cgroup namespace) shows its root.
    let relative = Path::new(pathname).strip_prefix(&mount.root).ok()?;
    Some(mount.mount_point.join(relative))
}

fn has_controller(mount: &MountInfo, controller: &str) -> bool {
    match controller.split_once('=') {
        Some((key, value)) => mount
            .super_options
            .get(key)
            .is_some_and(|v| v.as_deref() == Some(value)),
        None => mount.super_options.contains_key(controller),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_can_find_its_own_cgroups() {
        let files = super::of(std::process::id() as i32);
        // Unprivileged test runs cannot open cgroup.procs for writing; the lookup must still
        // find them (the error names a cgroup.procs path, not a missing hierarchy).
        match files {
            Ok(files) => assert!(!files.is_empty()),
            Err(err) => assert!(err.to_string().contains("cgroup.procs"), "{err}"),
        }
    }
}
