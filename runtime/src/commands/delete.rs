//! `runw delete`: remove a stopped container's state, cgroup and mounts; `--force` kills a
//! running one first.

use std::path::Path;

use anyhow::{bail, Context, Result};
use libcontainer::container::{Container, ContainerStatus};
use libcontainer::error::LibcontainerError;
use libcontainer::hooks::HookError;
use liboci_cli::Delete;

use crate::state_root;

pub fn delete(args: Delete, root: &Path) -> Result<()> {
    let dir = state_root::container_dir(root, &args.container_id)?;
    if args.force && !dir.exists() {
        return Ok(());
    }
    // Loading refreshes the status from /proc already (`Container::load`).
    let mut container = state_root::load(root, &args.container_id)?;
    if !args.force
        && !matches!(
            container.status(),
            ContainerStatus::Stopped | ContainerStatus::Created
        )
    {
        bail!(
            "cannot delete container {:?}: it is {}; stop it first or use --force",
            args.container_id,
            super::status_name(container.status())
        );
    }
    match container.delete(args.force) {
        Err(LibcontainerError::Hook(err)) => finish_after_hook_failure(&container, &err),
        result => {
            result.with_context(|| format!("failed to delete container {:?}", args.container_id))
        }
    }
}

/// libcontainer runs the poststop hooks after removing the cgroup and before the state dir,
/// and stops at a failing hook, which would leave a container no one can remove (a hook in a
/// bundle that is gone fails every time). As runc does, a hook failure in delete is a warning:
/// the state dir goes anyway.
fn finish_after_hook_failure(container: &Container, err: &HookError) -> Result<()> {
    tracing::warn!(
        id = container.id(),
        "poststop hook failed, deleting anyway: {err}"
    );
    match std::fs::remove_dir_all(&container.root) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err)
            .with_context(|| format!("failed to remove state dir {}", container.root.display())),
        _ => Ok(()),
    }
}
