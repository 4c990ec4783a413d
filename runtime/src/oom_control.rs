//! `linux.resources.memory.disableOOMKiller` on cgroup v1. libcontainer 0.7.0 never applies it:
//! its intermediate process builds the cgroup options with `disable_oom_killer: false`
//! (`process/container_intermediate_process.rs`), so the container's `memory.oom_control`
//! keeps the OOM killer on. runc applies it; runw writes it itself once the container exists.
//! cgroup v2 has no such switch (runc ignores the field there too).

use std::path::PathBuf;

use oci_spec::runtime::Spec;
use procfs::process::Process;

#[derive(Debug, thiserror::Error)]
pub enum OomControlError {
    #[error("cannot read the cgroups of container process {pid}: {source}")]
    Proc { pid: i32, source: procfs::ProcError },
    #[error("cannot disable the oom killer in {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether the spec asks for the OOM killer to be off.
pub fn wanted(spec: &Spec) -> bool {
    let memory = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref());
    memory.and_then(|m| m.disable_oom_killer()).unwrap_or(false)
}

/// Writes `1` to `memory.oom_control` of the v1 memory cgroup process `pid` is in, when the
/// spec asks for it; does nothing where there is no v1 memory hierarchy.
pub fn apply(spec: &Spec, pid: i32) -> Result<(), OomControlError> {
    if !wanted(spec) {
        return Ok(());
    }
    let proc_err = |source| OomControlError::Proc { pid, source };
    let cgroups = Process::new(pid)
        .and_then(|p| p.cgroups())
        .map_err(proc_err)?;
    let mounts = Process::myself()
        .and_then(|p| p.mountinfo())
        .map_err(proc_err)?;
    let memory = cgroups
        .0
        .iter()
        .find(|c| c.controllers.iter().any(|name| name == "memory"));
    let Some(cgroup) = memory else {
        return Ok(());
    };
    let Some(dir) =
        crate::cgroup_procs::directory(&mounts.0, &cgroup.controllers, &cgroup.pathname)
    else {
        return Ok(());
    };
    let path = dir.join("memory.oom_control");
    std::fs::write(&path, "1").map_err(|source| OomControlError::Write { path, source })
}
