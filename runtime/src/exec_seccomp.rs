//! The container's seccomp filter for a process `runw exec` starts.
//!
//! libcontainer 0.7's `TenantContainerBuilder::adapt_spec_for_tenant` rebuilds the spec's
//! `linux` section for an exec'd process without `seccomp`, so libcontainer never installs
//! a filter for it; runc installs the container's. runw installs it itself, from
//! `RunwExecutor::exec` (the last code before execve), in runc's order:
//!
//! - with `noNewPrivileges`, after the capability drop: libcontainer has dropped to the
//!   process's capabilities and set no_new_privs, which lets an unprivileged task install a
//!   filter.
//! - without it, installing a filter needs CAP_SYS_ADMIN, so it must come before the
//!   capability drop. runw asks libcontainer to keep CAP_SYS_ADMIN and CAP_SETPCAP
//!   ([`ExecSeccomp::prepare`] widens the process's sets), installs the filter, then drops to
//!   the process's own capabilities. runc installs the filter before changing uid as well;
//!   here the uid change comes first, which only means fewer syscalls run under the filter.
//!
//! A profile whose rules notify a seccomp agent (`SCMP_ACT_NOTIFY`) gets no agent for an
//! exec'd process: the listener is closed, and the kernel fails those syscalls with ENOSYS.

use libcontainer::seccomp::SeccompError;
use libcontainer::syscall::SyscallError;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxSeccomp, Process, Spec};

/// What an exec'd process needs installed before execve.
#[derive(Clone, Debug)]
pub struct ExecSeccomp {
    filter: LinuxSeccomp,
    /// The process's own capabilities, to drop to once the filter is in; `None` when
    /// libcontainer has already dropped to them.
    drop_to: Option<LinuxCapabilities>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecSeccompError {
    #[error("cannot install the container's seccomp filter: {0}")]
    Install(#[from] SeccompError),
    #[error("cannot drop capabilities after installing the container's seccomp filter: {0}")]
    DropCapabilities(#[from] SyscallError),
}

/// The capabilities installing a filter without no_new_privs needs, and dropping the
/// extra ones afterwards.
const KEPT_FOR_INSTALL: [Capability; 2] = [Capability::SysAdmin, Capability::Setpcap];

impl ExecSeccomp {
    /// The filter of the container whose spec is `container` for `process`, or `None` when
    /// the container has none. Without no_new_privs, widens `process`'s capabilities so that
    /// libcontainer keeps what [`ExecSeccomp::install`] needs.
    pub fn prepare(container: &Spec, process: &mut Process) -> Option<Self> {
        let filter = container.linux().as_ref()?.seccomp().clone()?;
        let drop_to = match (process.no_new_privileges(), process.capabilities()) {
            (Some(true), _) | (_, None) => None,
            (_, Some(own)) => {
                let own = own.clone();
                process.set_capabilities(Some(widened(&own)));
                Some(own)
            }
        };
        Some(ExecSeccomp { filter, drop_to })
    }

    /// The filter of the container whose spec is `container` for a process that joins the
    /// container's user namespace (`ExecUserNamespace`), where it holds every capability
    /// until it drops to `own`: without no_new_privs the filter goes in first, then the
    /// drop; with it, the drop is the join's, before [`ExecSeccomp::install`].
    pub fn after_join(
        container: &Spec,
        no_new_privileges: Option<bool>,
        own: Option<&LinuxCapabilities>,
    ) -> Option<Self> {
        let filter = container.linux().as_ref()?.seccomp().clone()?;
        let drop_to = match no_new_privileges {
            Some(true) => None,
            _ => own.cloned(),
        };
        Some(ExecSeccomp { filter, drop_to })
    }

    /// True when [`ExecSeccomp::install`] drops the process to its own capabilities.
    pub fn drops_capabilities(&self) -> bool {
        self.drop_to.is_some()
    }

    /// Installs the filter, then drops the capabilities kept for it. Runs in the exec'd
    /// process after libcontainer's setup, just before execve.
    pub fn install(&self) -> Result<(), ExecSeccompError> {
        if let Some(listener) = libcontainer::seccomp::initialize_seccomp(&self.filter)? {
            // No agent is told of an exec'd process (see the module doc): closing the
            // listener makes notifying rules fail with ENOSYS.
            let _ = nix::unistd::close(listener);
        }
        if let Some(own) = &self.drop_to {
            let syscall = libcontainer::syscall::syscall::create_syscall();
            libcontainer::capabilities::drop_privileges(own, syscall.as_ref())?;
        }
        Ok(())
    }
}

/// `caps` with [`KEPT_FOR_INSTALL`] added to the sets libcontainer drops to. A missing
/// bounding set is an empty one to libcontainer; missing effective or permitted sets are
/// left alone (libcontainer does not touch them).
fn widened(caps: &LinuxCapabilities) -> LinuxCapabilities {
    let add = |set: Option<&Capabilities>| -> Capabilities {
        set.into_iter()
            .flatten()
            .chain(&KEPT_FOR_INSTALL)
            .copied()
            .collect()
    };
    let mut out = caps.clone();
    out.set_bounding(Some(add(caps.bounding().as_ref())))
        .set_effective(caps.effective().as_ref().map(|set| add(Some(set))))
        .set_permitted(caps.permitted().as_ref().map(|set| add(Some(set))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seccomp: bool) -> Spec {
        let mut value = serde_json::json!({"ociVersion": "1.0.2", "linux": {}});
        if seccomp {
            value["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            });
        }
        serde_json::from_value(value).expect("spec")
    }

    fn process(no_new_privileges: Option<bool>) -> Process {
        serde_json::from_value(serde_json::json!({
            "args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "noNewPrivileges": no_new_privileges,
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
        }))
        .expect("process")
    }

    #[test]
    fn no_filter_no_change() {
        let mut p = process(None);
        assert!(ExecSeccomp::prepare(&spec(false), &mut p).is_none());
        assert_eq!(p, process(None));
    }

    #[test]
    fn without_no_new_privs_the_install_capabilities_are_kept_then_dropped() {
        let mut p = process(Some(false));
        let seccomp = ExecSeccomp::prepare(&spec(true), &mut p).expect("filter");
        let caps = p.capabilities().as_ref().expect("caps");
        for set in [caps.bounding(), caps.effective(), caps.permitted()] {
            let set = set.as_ref().expect("set");
            assert!(set.contains(&Capability::SysAdmin) && set.contains(&Capability::Setpcap));
            assert!(set.contains(&Capability::Kill));
        }
        assert_eq!(
            seccomp.drop_to.as_ref(),
            process(None).capabilities().as_ref()
        );
    }

    #[test]
    fn after_a_join_the_drop_follows_the_filter_only_without_no_new_privs() {
        let own = process(None).capabilities().clone();
        let without = ExecSeccomp::after_join(&spec(true), None, own.as_ref()).expect("filter");
        assert_eq!(without.drop_to, own);
        let with = ExecSeccomp::after_join(&spec(true), Some(true), own.as_ref()).expect("filter");
        assert!(!with.drops_capabilities());
        assert!(ExecSeccomp::after_join(&spec(false), None, own.as_ref()).is_none());
    }

    #[test]
    fn with_no_new_privs_nothing_is_kept() {
        let mut p = process(Some(true));
        let seccomp = ExecSeccomp::prepare(&spec(true), &mut p).expect("filter");
        assert_eq!(p, process(Some(true)));
        assert!(seccomp.drop_to.is_none());
    }
}
