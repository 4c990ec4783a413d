//! `runw delete`: remove a stopped container's state, cgroup and mounts; `--force` kills a
//! running one first.

use std::path::Path;

use anyhow::{bail, Context, Result};
use libcontainer::container::ContainerStatus;
use liboci_cli::Delete;

use crate::state_root;

pub fn delete(args: Delete, root: &Path) -> Result<()> {
    let dir = state_root::container_dir(root, &args.container_id)?;
    if args.force && !dir.exists() {
        return Ok(());
    }
    let mut container = state_root::load(root, &args.container_id)?;
    container.refresh_status()?;
    if !args.force && !matches!(container.status(), ContainerStatus::Stopped | ContainerStatus::Created) {
        bail!(
            "cannot delete container {:?}: it is {}; stop it first or use --force",
            args.container_id,
            super::status_name(container.status())
        );
    }
    container
        .delete(args.force)
        .with_context(|| format!("failed to delete container {:?}", args.container_id))
}
