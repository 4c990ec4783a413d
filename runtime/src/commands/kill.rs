//! `runw kill`: send a signal to a container's init process, or with `--all` to all of them.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use libcgroups::common::WrappedIoError;
use libcontainer::container::ContainerStatus;
use libcontainer::signal::Signal;
use liboci_cli::Kill;

use crate::state_root;

pub fn kill(args: Kill, root: &Path) -> Result<()> {
    let signal = Signal::try_from(args.signal.as_str())
        .map_err(|_| anyhow!("unknown signal {:?}", args.signal))?;
    let mut container = state_root::load(root, &args.container_id)?;
    match container.kill(signal, args.all) {
        // With the systemd driver, systemd removes a scope's cgroup once its last process has
        // exited, so `kill --all` of a stopped container (containerd sends one after every
        // exit) finds no cgroup. As in runc, nothing is left to signal: success. libcontainer
        // 0.7 fails reading the missing directory instead, and containerd retries forever.
        Err(err)
            if args.all
                && container.status() == ContainerStatus::Stopped
                && cgroup_missing(&err) =>
        {
            tracing::debug!(id = %args.container_id, "kill --all: the stopped container's cgroup is gone");
            Ok(())
        }
        result => {
            result.with_context(|| format!("failed to kill container {:?}", args.container_id))
        }
    }
}

/// Whether `err` was caused by a cgroup file or directory that does not exist.
fn cgroup_missing(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<WrappedIoError>() {
            return io.inner().kind() == std::io::ErrorKind::NotFound;
        }
        cause = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use libcgroups::common::AnyManagerError;
    use libcgroups::systemd::manager::SystemdManagerError;
    use libcontainer::error::LibcontainerError;

    use super::*;

    fn read_error(kind: std::io::ErrorKind) -> LibcontainerError {
        let io = WrappedIoError::Read {
            err: kind.into(),
            path: PathBuf::from("/sys/fs/cgroup/x.slice/y.scope"),
        };
        AnyManagerError::from(SystemdManagerError::from(io)).into()
    }

    #[test]
    fn a_missing_cgroup_is_recognised_through_libcontainers_errors() {
        assert!(cgroup_missing(&read_error(std::io::ErrorKind::NotFound)));
    }

    #[test]
    fn other_cgroup_errors_are_not() {
        assert!(!cgroup_missing(&read_error(
            std::io::ErrorKind::PermissionDenied
        )));
        assert!(!cgroup_missing(&LibcontainerError::Other("x".into())));
    }
}
