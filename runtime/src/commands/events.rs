//! `runw events`: print a container's cgroup statistics as JSON, once with `--stats`,
//! otherwise every `--interval` seconds.

use std::path::Path;

use anyhow::{Context, Result};
use liboci_cli::Events;

use crate::state_root;

pub fn events(args: Events, root: &Path) -> Result<()> {
    let mut container = state_root::load(root, &args.container_id)?;
    container
        .events(args.interval, args.stats)
        .with_context(|| format!("failed to read events of container {:?}", args.container_id))
}
