//! `runw resume`: thaw a paused container.

use std::path::Path;

use anyhow::{Context, Result};
use liboci_cli::Resume;

use crate::state_root;

pub fn resume(args: Resume, root: &Path) -> Result<()> {
    let mut container = state_root::load(root, &args.container_id)?;
    container
        .resume()
        .with_context(|| format!("failed to resume container {:?}", args.container_id))
}
