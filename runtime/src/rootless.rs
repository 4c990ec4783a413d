//! Running as an unprivileged user (rootless), as runc and crun do under rootless podman.
//!
//! runw is rootless when its effective uid is not 0, or when it runs in a user namespace
//! other than the host's (libcontainer's `rootless_required`): rootless podman runs its
//! runtime as root of a user namespace that maps the user's own uid and subuids. Then:
//! - the state root defaults to `$XDG_RUNTIME_DIR/runw` (runc's rule, see
//!   [`honors_xdg_runtime_dir`]);
//! - where the user has no cgroup of their own (a cgroup v1 host, where nothing is ever
//!   delegated), runw makes none: see [`hide_undelegated_cgroups`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

/// Where the host's cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Set once this process has left the host's cgroups behind ([`hide_undelegated_cgroups`]).
static CGROUPS_HIDDEN: AtomicBool = AtomicBool::new(false);

/// True when this rootless runw runs containers without cgroups of their own (they stay in
/// runw's): nothing can join a container's cgroups then.
pub fn cgroups_hidden() -> bool {
    CGROUPS_HIDDEN.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("rootless container with resource limits but no cgroup of its own: {} cannot be made (limits need a delegated cgroup: the systemd cgroup driver on cgroup v2)", path.display())]
    LimitsWithoutCgroup { path: PathBuf },
    #[error("cannot read /proc/self/uid_map: {0}")]
    UidMap(std::io::Error),
    #[error(transparent)]
    UserNamespace(#[from] crate::own_user_namespace::OwnUserNamespaceError),
    #[error("rootless runw on a cgroup v1 host cannot {step}: {errno}")]
    Cover {
        step: &'static str,
        errno: nix::Error,
    },
}

/// True when runw runs unprivileged: not uid 0, or in a user namespace of its own.
pub fn required() -> Result<bool, RootlessError> {
    let syscall = libcontainer::syscall::syscall::create_syscall();
    libcontainer::utils::rootless_required(&*syscall).map_err(RootlessError::UidMap)
}

/// runc's rule for the state root: `$XDG_RUNTIME_DIR` is honoured when it is set and runw
/// is not uid 0, or is uid 0 of a user namespace as some user other than root (`$USER`):
/// rootless podman runs its runtime that way. Plain root keeps `/run/runw`.
pub fn honors_xdg_runtime_dir(
    xdg_runtime_dir: Option<&Path>,
    euid_is_root: bool,
    in_user_namespace: bool,
    user: Option<&str>,
) -> bool {
    match xdg_runtime_dir {
        None => false,
        Some(dir) if dir.as_os_str().is_empty() => false,
        Some(_) if !euid_is_root => true,
        Some(_) => in_user_namespace && user != Some("root"),
    }
}

/// The compile cache of a rootless runw: `$XDG_CACHE_HOME/runw`, else `$HOME/.cache/runw`
/// (the user's own cache directory); `None` for root, whose cache is the node's.
pub fn cache_dir() -> Option<PathBuf> {
    if !required().unwrap_or(false) {
        return None;
    }
    let absolute = |var| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("runw"))
}

/// The default state root of a rootless runw: `$XDG_RUNTIME_DIR/runw`, or `None` when the
/// rule of [`honors_xdg_runtime_dir`] keeps runc's system-wide default.
pub fn state_root() -> Result<Option<PathBuf>, RootlessError> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let euid_is_root = nix::unistd::geteuid().is_root();
    let in_user_namespace =
        libcontainer::utils::is_in_new_userns().map_err(RootlessError::UidMap)?;
    let user = std::env::var("USER").ok();
    let honored = honors_xdg_runtime_dir(
        xdg.as_deref(),
        euid_is_root,
        in_user_namespace,
        user.as_deref(),
    );
    Ok(xdg.filter(|_| honored).map(|dir| dir.join("runw")))
}

/// On a cgroup v1 (or hybrid) host, a rootless runw can neither make a cgroup nor join
/// one: nothing is delegated there. libcgroups 0.7's v1 manager knows no rootless mode and
/// fails every container on the first `cgroup.procs` it cannot write, and libcontainer 0.7
/// has no way to run without cgroups. Its v2 manager, though, leaves a rootless container
/// in its parent cgroup when the hierarchy cannot be written. So this process (and the
/// container's init, which starts from its namespaces) moves to a mount and cgroup
/// namespace of its own where `/sys/fs/cgroup` is a read-only cgroup2 mount: libcgroups
/// then takes the v2 path, finds nothing it may write, and the container runs without a
/// cgroup, as runc and crun run it there. Nothing mounted here reaches the host or the
/// caller (the mounts are slaves). Does nothing for root, and on a cgroup v2 host, where
/// libcontainer's rootless v2 and systemd support apply as they are.
///
/// A runw started by the user directly, in no user namespace, first enters one of its own
/// ([`crate::own_user_namespace`]), which it needs to make those namespaces; when `joining`
/// a container (`runw exec`, `joining` being its process), the container's own.
pub fn hide_undelegated_cgroups(joining: Option<Pid>) -> Result<(), RootlessError> {
    if !required()? || on_unified_host() {
        return Ok(());
    }
    tracing::debug!("rootless on a cgroup v1 host: the container gets no cgroup");
    let cover = |step, errno| RootlessError::Cover { step, errno };
    if !libcontainer::utils::is_in_new_userns().map_err(RootlessError::UidMap)? {
        match joining {
            Some(pid) => crate::own_user_namespace::join(pid)?,
            None => crate::own_user_namespace::enter()?,
        }
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| cover("make a mount and cgroup namespace", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| cover("make the mounts slaves", e))?;
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("cgroup2"),
        CGROUP_ROOT,
        Some("cgroup2"),
        flags,
        None::<&str>,
    )
    .map_err(|e| cover("mount a read-only cgroup2 over /sys/fs/cgroup", e))?;
    CGROUPS_HIDDEN.store(true, Ordering::Relaxed);
    Ok(())
}

/// runc's rule for the resource limits of a rootless container: they need a cgroup of its
/// own. Where this runw can make none (nothing delegated: a cgroup v1 host, or cgroup v2
/// with the cgroupfs driver outside a subtree the user owns) it refuses the limits, naming
/// the cgroup, rather than failing on the first limit file libcgroups 0.7 finds missing
/// (whose "No such file or directory" podman reports as a command not found). The systemd
/// driver asks the user's manager, which answers for itself.
pub fn check_limits_have_a_cgroup(
    spec: &Spec,
    cgroup_path: &Path,
    systemd: bool,
) -> Result<(), RootlessError> {
    if systemd || !has_limits(spec) || !required()? {
        return Ok(());
    }
    let path = Path::new(CGROUP_ROOT).join(cgroup_path.strip_prefix("/").unwrap_or(cgroup_path));
    match !cgroups_hidden() && may_create(&path) {
        true => Ok(()),
        false => Err(RootlessError::LimitsWithoutCgroup { path }),
    }
}

/// True when `spec` limits memory, CPU, pids or anything through `unified`.
fn has_limits(spec: &Spec) -> bool {
    let Some(resources) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    let memory = resources
        .memory()
        .as_ref()
        .is_some_and(|m| m.limit().is_some() || m.swap().is_some() || m.reservation().is_some());
    let cpu = resources
        .cpu()
        .as_ref()
        .is_some_and(|c| c.quota().is_some() || c.shares().is_some() || c.cpus().is_some());
    let pids = resources.pids().as_ref().is_some_and(|p| p.limit() > 0);
    let unified = resources.unified().as_ref().is_some_and(|u| !u.is_empty());
    memory || cpu || pids || unified
}

/// True when cgroup directory `path` exists or its nearest existing ancestor is writable.
fn may_create(path: &Path) -> bool {
    let Some(existing) = path.ancestors().find(|p| p.exists()) else {
        return false;
    };
    existing == path || nix::unistd::access(existing, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn on_unified_host() -> bool {
    matches!(
        libcgroups::common::get_cgroup_setup(),
        Ok(libcgroups::common::CgroupSetup::Unified)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_rule_for_the_state_root() {
        let xdg = Some(Path::new("/run/user/1000"));
        assert!(honors_xdg_runtime_dir(xdg, false, false, Some("alice")));
        assert!(honors_xdg_runtime_dir(xdg, false, true, None));
        // rootless podman: root of a user namespace, as the user
        assert!(honors_xdg_runtime_dir(xdg, true, true, Some("alice")));
        assert!(honors_xdg_runtime_dir(xdg, true, true, None));
        // root, on the host or as root in a user namespace
        assert!(!honors_xdg_runtime_dir(xdg, true, false, Some("alice")));
        assert!(!honors_xdg_runtime_dir(xdg, true, true, Some("root")));
        // nothing to honour
        assert!(!honors_xdg_runtime_dir(None, false, false, Some("alice")));
        assert!(!honors_xdg_runtime_dir(
            Some(Path::new("")),
            false,
            false,
            None
        ));
    }
}
