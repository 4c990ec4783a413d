//! `runw kill`: send a signal to a container's init process, or with `--all` to all of them.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use libcgroups::common::WrappedIoError;
use libcontainer::container::state::StateError;
use libcontainer::container::ContainerStatus;
use libcontainer::error::LibcontainerError;
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
        // libcontainer 0.7 saves the state (as stopped) after sending the signal. A process
        // that exits at once on it (a server stopping when idle) lets `runw run` delete the
        // container first, and the save then finds no state directory: the signal was
        // delivered and the container is gone, as `runc kill` would report (it writes no
        // state). Success.
        Err(err) if deleted_meanwhile(&err, &container.root) => {
            tracing::debug!(id = %args.container_id, "kill: the container was deleted once signalled");
            Ok(())
        }
        result => {
            result.with_context(|| format!("failed to kill container {:?}", args.container_id))
        }
    }
}

/// Whether `err` is libcontainer failing to save the state of a container whose state
/// directory `root` no longer exists.
fn deleted_meanwhile(err: &LibcontainerError, root: &Path) -> bool {
    matches!(
        err,
        LibcontainerError::State(StateError::OpenStateFile { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
    ) && !root.exists()
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
#[allow(clippy::unwrap_used)]
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
    fn a_state_save_into_a_removed_directory_is_a_deletion_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("gone");
        let save = || {
            LibcontainerError::from(StateError::OpenStateFile {
                state_file_path: root.join("state.json"),
                source: std::io::ErrorKind::NotFound.into(),
            })
        };
        assert!(deleted_meanwhile(&save(), &root));
        // The directory still there: a real failure.
        assert!(!deleted_meanwhile(&save(), dir.path()));
        assert!(!deleted_meanwhile(
            &LibcontainerError::Other("x".into()),
            &root
        ));
    }

    #[test]
    fn other_cgroup_errors_are_not() {
        assert!(!cgroup_missing(&read_error(
            std::io::ErrorKind::PermissionDenied
        )));
        assert!(!cgroup_missing(&LibcontainerError::Other("x".into())));
    }
}
