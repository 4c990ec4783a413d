//! `runw start`: let a created container run its process.

use std::path::Path;

use anyhow::{bail, Context, Result};
use libcontainer::container::ContainerStatus;
use liboci_cli::Start;

use crate::state_root;

pub fn start(args: Start, root: &Path) -> Result<()> {
    let mut container = state_root::load(root, &args.container_id)?;
    if container.status() != ContainerStatus::Created {
        bail!(
            "cannot start container {:?}: it is {}, not created",
            args.container_id,
            super::status_name(container.status())
        );
    }
    container
        .start()
        .with_context(|| format!("failed to start container {:?}", args.container_id))
}
