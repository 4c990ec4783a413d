//! The user namespace a rootless runw started by the user directly (not by rootless podman,
//! which starts it as root of a user namespace already) works in: the privilege it holds
//! there over namespaces made after it is what [`crate::rootless::hide_undelegated_cgroups`]
//! needs to mount over `/sys/fs/cgroup` in a mount namespace of its own. runw keeps its uid
//! in a namespace of its own ([`enter`]); the container's user namespace, which the bundle
//! of a rootless user must have, is made inside it, and `runw exec` works from that one
//! ([`join`]).

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{getegid, geteuid, Pid};

/// Set once [`enter`] made this process's user namespace.
static ENTERED: AtomicBool = AtomicBool::new(false);

/// True when this process runs in a user namespace of its own ([`enter`]), where no id but
/// the user's own is mapped: it cannot become `nobody` there, nor drop its supplementary
/// groups (`setgroups` is denied).
pub fn entered() -> bool {
    ENTERED.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum OwnUserNamespaceError {
    #[error("cannot make a user namespace: {0}")]
    Unshare(nix::Error),
    #[error("cannot write {path}: {source}")]
    Map {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("cannot open the user namespace of process {pid}: {source}")]
    Open { pid: Pid, source: std::io::Error },
    #[error("cannot join the user namespace of process {pid}: {errno}")]
    Join { pid: Pid, errno: nix::Error },
}

/// Moves this (single-threaded) process to a new user namespace where its effective uid and
/// gid map to themselves; it holds every capability there.
pub fn enter() -> Result<(), OwnUserNamespaceError> {
    let (uid, gid) = (geteuid(), getegid());
    unshare(CloneFlags::CLONE_NEWUSER).map_err(OwnUserNamespaceError::Unshare)?;
    // An unprivileged writer must deny setgroups before it may write a gid map.
    write("/proc/self/setgroups", "deny")?;
    write("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
    ENTERED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Moves this (single-threaded) process to the user namespace of container process `pid`,
/// for `runw exec`: libcontainer 0.7's tenant builder joins every namespace of the container
/// but its user namespace (`NAMESPACE_TYPES` in `container/tenant_builder.rs`), so the
/// process it starts would stay where runw is, where the container's ids are not mapped;
/// and a namespace of runw's own ([`enter`]) would hold no privilege over the container's.
pub fn join(pid: Pid) -> Result<(), OwnUserNamespaceError> {
    let namespace = std::fs::File::open(format!("/proc/{pid}/ns/user"))
        .map_err(|source| OwnUserNamespaceError::Open { pid, source })?;
    setns(namespace, CloneFlags::CLONE_NEWUSER)
        .map_err(|errno| OwnUserNamespaceError::Join { pid, errno })
}

fn write(path: &'static str, text: &str) -> Result<(), OwnUserNamespaceError> {
    std::fs::write(path, text).map_err(|source| OwnUserNamespaceError::Map { path, source })
}
