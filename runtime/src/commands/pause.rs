//! `runw pause`: freeze every process of a running container.

use std::path::Path;

use anyhow::{Context, Result};
use liboci_cli::Pause;

use crate::state_root;

pub fn pause(args: Pause, root: &Path) -> Result<()> {
    let mut container = state_root::load(root, &args.container_id)?;
    container
        .pause()
        .with_context(|| format!("failed to pause container {:?}", args.container_id))
}
