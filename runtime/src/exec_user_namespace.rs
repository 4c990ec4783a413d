//! The container's user namespace for a process `runw exec` starts, joined by runw.
//!
//! libcontainer 0.7's tenant builder joins every namespace of the container but the user
//! namespace (`NAMESPACE_TYPES` in `container/tenant_builder.rs`). In a container with a
//! user namespace of its own (podman `--userns`, Kubernetes `hostUsers: false`) the exec'd
//! process would then run as runw's user (the host's root) with its capabilities in the
//! host's user namespace. runc joins it; runw joins it from `RunwExecutor::exec`, the last
//! code before execve, in these steps:
//!
//! - [`ExecUserNamespace::prepare`], in `runw exec` while the host is still visible: opens
//!   `/proc/PID/ns/user` of the container's init (close-on-exec) and hands libcontainer the
//!   process as runw's own user with no capability, so that libcontainer changes no id the
//!   namespace maps and leaves the process nothing in the host's user namespace.
//! - [`ExecUserNamespace::enter`], in the exec'd process: `setns` to the namespace (allowed
//!   without a capability to the user that owns it, the one that created the container; the
//!   process is single-threaded), which gives it every capability there, bounding set
//!   included; then the process's supplementary groups, gid and uid, which are container
//!   ids.
//! - With a terminal, which libcontainer made before the join (so host root owns it, an id
//!   the namespace does not map), [`ExecUserNamespace::enter`] first gives it to the
//!   process's user, as runc does for stdio made outside the container: libcontainer then
//!   leaves the process `CAP_CHOWN` alone, in the host's user namespace, until the join.
//! - [`ExecUserNamespace::drop_capabilities`] to the process's own, before or after the
//!   container's seccomp filter as `ExecSeccomp` orders it; noNewPrivileges was set by
//!   libcontainer and survives the join.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use libcontainer::container::Container;
use libcontainer::syscall::SyscallError;
use nix::sched::{setns, CloneFlags};
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process, User, UserBuilder};

use crate::id_map::IdMap;

/// A container's user namespace to join, and who the exec'd process is in it.
#[derive(Debug)]
pub struct ExecUserNamespace {
    /// The container's id, for errors.
    id: String,
    /// `/proc/PID/ns/user` of the container's init; taken and closed by [`Self::enter`].
    namespace: Mutex<Option<OwnedFd>>,
    /// The process's user: container ids.
    user: User,
    /// The process's capabilities, in the container's user namespace.
    capabilities: Option<LinuxCapabilities>,
    /// True when the process sets no `HOME`: libcontainer then sets runw's user's, which
    /// [`Self::home`] corrects.
    home_unset: bool,
    /// For a process with a terminal: who gets it before the join ([`TerminalOwner`]).
    terminal_owner: Option<TerminalOwner>,
}

/// The process's user as host ids, and the namespace's gid map: a terminal goes to that
/// user, keeping its group where the namespace maps it (devpts' `gid=5` of a mount made in
/// the namespace), else taking the process's.
#[derive(Debug)]
struct TerminalOwner {
    uid: u32,
    gid: u32,
    gids: IdMap,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecUserNamespaceError {
    #[error("cannot open the user namespace of container {id:?}: {source}")]
    Open { id: String, source: std::io::Error },
    #[error("cannot read runw's own user namespace: {0}")]
    Own(std::io::Error),
    #[error("cannot build the process user for container {id:?}: {source}")]
    User {
        id: String,
        source: oci_spec::OciSpecError,
    },
    #[error("the user namespace of container {id:?} was joined already")]
    Joined { id: String },
    #[error("cannot join the user namespace of container {id:?}: {errno}")]
    Join { id: String, errno: nix::Error },
    #[error(
        "cannot set the supplementary groups in the user namespace of container {id:?}: {source}"
    )]
    Groups { id: String, source: SyscallError },
    #[error(
        "cannot become uid {uid} gid {gid} in the user namespace of container {id:?}: {source}"
    )]
    Ids {
        id: String,
        uid: u32,
        gid: u32,
        source: SyscallError,
    },
    #[error("cannot drop capabilities in the user namespace of container {id:?}: {source}")]
    Capabilities { id: String, source: SyscallError },
    #[error("cannot read the id maps of container {id:?}: {source}")]
    Maps { id: String, source: std::io::Error },
    #[error("cannot give the terminal to the process's user in container {id:?}: {errno}")]
    Terminal { id: String, errno: nix::Error },
}

impl ExecUserNamespace {
    /// The user namespace of `container`'s init when it is not runw's own, or `None` (no
    /// user namespace of its own, the container not running, or a rootless runw that joined
    /// it already: see `rootless::hide_undelegated_cgroups`). Makes `process` what
    /// libcontainer should start: runw's own user, no supplementary group, no capability.
    pub fn prepare(
        container: &Container,
        process: &mut Process,
    ) -> Result<Option<Self>, ExecUserNamespaceError> {
        let Some(pid) = container.pid() else {
            return Ok(None);
        };
        let id = container.id().to_owned();
        let Some(namespace) = foreign_namespace(pid, &id)? else {
            return Ok(None);
        };
        let home_unset = !sets_home(process);
        let (user, capabilities) = (process.user().clone(), process.capabilities().clone());
        let terminal_owner = match process.terminal() {
            Some(true) => TerminalOwner::of(pid.as_raw(), &user).map_err(|source| {
                ExecUserNamespaceError::Maps {
                    id: id.clone(),
                    source,
                }
            })?,
            _ => None,
        };
        let runw = UserBuilder::default()
            .uid(nix::unistd::geteuid().as_raw())
            .gid(nix::unistd::getegid().as_raw())
            .build()
            .map_err(|source| ExecUserNamespaceError::User {
                id: id.clone(),
                source,
            })?;
        let kept = match terminal_owner {
            Some(_) => only_chown(),
            None => no_capabilities(),
        };
        process.set_user(runw).set_capabilities(Some(kept));
        Ok(Some(ExecUserNamespace {
            id,
            namespace: Mutex::new(Some(namespace)),
            user,
            capabilities,
            home_unset,
            terminal_owner,
        }))
    }

    /// The capabilities the process ends with, `None` for all the namespace gives.
    pub fn capabilities(&self) -> Option<&LinuxCapabilities> {
        self.capabilities.as_ref()
    }

    /// Sets `HOME` in `envs` as libcontainer would for the process's user, where it set it
    /// for runw's: from the container's `/etc/passwd`, or unset. Runs in the exec'd
    /// process, in the container's mount namespace, before [`Self::enter`].
    pub fn home(&self, envs: &mut HashMap<String, String>) {
        if !self.home_unset {
            return;
        }
        match libcontainer::utils::get_user_home(self.user.uid()) {
            Some(dir) => envs.insert("HOME".to_owned(), dir.to_string_lossy().into_owned()),
            None => envs.remove("HOME"),
        };
    }

    /// Joins the namespace and becomes the process's user there, holding every capability
    /// of the namespace until [`Self::drop_capabilities`]. Runs in the exec'd process.
    pub fn enter(&self) -> Result<(), ExecUserNamespaceError> {
        let namespace = self
            .namespace
            .lock()
            .ok()
            .and_then(|mut fd| fd.take())
            .ok_or_else(|| ExecUserNamespaceError::Joined {
                id: self.id.clone(),
            })?;
        self.own_terminal()?;
        // setns closes nothing: the fd is dropped (closed) right after.
        setns(&namespace, CloneFlags::CLONE_NEWUSER).map_err(|errno| {
            ExecUserNamespaceError::Join {
                id: self.id.clone(),
                errno,
            }
        })?;
        drop(namespace);
        self.set_ids()
    }

    /// Gives the terminal on stdin (if it is one) to the process's user, while the process
    /// is still the host's root holding `CAP_CHOWN` only: after the join, an owner the
    /// namespace does not map cannot be changed.
    fn own_terminal(&self) -> Result<(), ExecUserNamespaceError> {
        let Some(owner) = &self.terminal_owner else {
            return Ok(());
        };
        let stdin = libc::STDIN_FILENO;
        if !nix::unistd::isatty(stdin).unwrap_or(false) {
            return Ok(());
        }
        let failed = |errno| ExecUserNamespaceError::Terminal {
            id: self.id.clone(),
            errno,
        };
        let now = nix::sys::stat::fstat(stdin).map_err(failed)?;
        let gid = if owner.gids.maps_host(now.st_gid) {
            now.st_gid
        } else {
            owner.gid
        };
        nix::unistd::fchown(
            stdin,
            Some(Uid::from_raw(owner.uid)),
            Some(Gid::from_raw(gid)),
        )
        .map_err(failed)
    }

    /// The process's supplementary groups (none when it names none: runw's own must not
    /// follow it in), gid and uid, as container ids.
    fn set_ids(&self) -> Result<(), ExecUserNamespaceError> {
        let syscall = libcontainer::syscall::syscall::create_syscall();
        let groups: Vec<Gid> = self
            .user
            .additional_gids()
            .iter()
            .flatten()
            .map(|gid| Gid::from_raw(*gid))
            .collect();
        syscall
            .set_groups(&groups)
            .map_err(|source| ExecUserNamespaceError::Groups {
                id: self.id.clone(),
                source,
            })?;
        let (uid, gid) = (self.user.uid(), self.user.gid());
        syscall
            .set_id(Uid::from_raw(uid), Gid::from_raw(gid))
            .map_err(|source| ExecUserNamespaceError::Ids {
                id: self.id.clone(),
                uid,
                gid,
                source,
            })
    }

    /// Drops the bounding, effective, permitted, inheritable and ambient sets to the
    /// process's own; with none given, keeps what the namespace gave (as the container's
    /// init, started in the namespace, keeps it).
    pub fn drop_capabilities(&self) -> Result<(), ExecUserNamespaceError> {
        let Some(own) = &self.capabilities else {
            return Ok(());
        };
        let syscall = libcontainer::syscall::syscall::create_syscall();
        libcontainer::capabilities::drop_privileges(own, syscall.as_ref()).map_err(|source| {
            ExecUserNamespaceError::Capabilities {
                id: self.id.clone(),
                source,
            }
        })
    }
}

/// The user namespace of process `pid` (of container `id`), opened, when it is not runw's
/// own; `None` too when the process is gone, which libcontainer reports. Any other failure
/// to open it fails the exec: it must not run outside the namespace.
fn foreign_namespace(pid: Pid, id: &str) -> Result<Option<OwnedFd>, ExecUserNamespaceError> {
    let open_failed = |source| ExecUserNamespaceError::Open {
        id: id.to_owned(),
        source,
    };
    let namespace = match File::open(format!("/proc/{pid}/ns/user")) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(open_failed(err)),
    };
    let theirs = namespace.metadata().map_err(open_failed)?;
    let ours = std::fs::metadata("/proc/self/ns/user").map_err(ExecUserNamespaceError::Own)?;
    let same = (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino());
    Ok((!same).then(|| namespace.into()))
}

/// True when `process` sets a non-empty `HOME` (libcontainer sets one otherwise).
fn sets_home(process: &Process) -> bool {
    let env = process.env().iter().flatten();
    env.filter_map(|var| var.strip_prefix("HOME="))
        .any(|home| !home.is_empty())
}

impl TerminalOwner {
    /// The owner for `user`'s terminal in the namespace of process `pid`; `None` when the
    /// namespace does not map the user (the join then fails, naming the ids).
    fn of(pid: i32, user: &User) -> std::io::Result<Option<TerminalOwner>> {
        let uids = IdMap::of(pid, "uid_map")?;
        let gids = IdMap::of(pid, "gid_map")?;
        Ok(uids
            .to_host(user.uid())
            .zip(gids.to_host(user.gid()))
            .map(|(uid, gid)| TerminalOwner { uid, gid, gids }))
    }
}

/// What libcontainer leaves a process with a terminal until the join: `CAP_CHOWN`, to give
/// the terminal away ([`ExecUserNamespace::own_terminal`]), and nothing else.
fn only_chown() -> LinuxCapabilities {
    let chown: HashSet<Capability> = [Capability::Chown].into();
    let mut kept = no_capabilities();
    kept.set_bounding(Some(chown.clone()))
        .set_effective(Some(chown.clone()))
        .set_permitted(Some(chown));
    kept
}

/// Capability sets with nothing in them (oci-spec's default holds a few).
fn no_capabilities() -> LinuxCapabilities {
    let mut none = LinuxCapabilities::default();
    none.set_bounding(Some(Default::default()))
        .set_effective(Some(Default::default()))
        .set_permitted(Some(Default::default()))
        .set_inheritable(Some(Default::default()))
        .set_ambient(Some(Default::default()));
    none
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(env: &[&str]) -> Process {
        let env: Vec<String> = env.iter().map(|var| var.to_string()).collect();
        let mut process = Process::default();
        process.set_env(Some(env));
        process
    }

    #[test]
    fn home_is_set_only_when_not_empty() {
        assert!(sets_home(&process(&["PATH=/bin", "HOME=/home/u"])));
        assert!(!sets_home(&process(&["PATH=/bin", "HOME="])));
        assert!(!sets_home(&process(&["PATH=/bin", "XHOME=/x"])));
        assert!(!sets_home(&Process::default().set_env(None).clone()));
    }

    #[test]
    fn libcontainer_gets_no_capability() {
        let none = no_capabilities();
        for set in [
            none.bounding(),
            none.effective(),
            none.permitted(),
            none.inheritable(),
            none.ambient(),
        ] {
            assert_eq!(set.as_ref().map(|set| set.len()), Some(0));
        }
    }
}
