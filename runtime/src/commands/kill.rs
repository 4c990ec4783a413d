//! `runw kill`: send a signal to a container's init process, or with `--all` to all of them.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use libcontainer::signal::Signal;
use liboci_cli::Kill;

use crate::state_root;

pub fn kill(args: Kill, root: &Path) -> Result<()> {
    let signal = Signal::try_from(args.signal.as_str())
        .map_err(|_| anyhow!("unknown signal {:?}", args.signal))?;
    let mut container = state_root::load(root, &args.container_id)?;
    container
        .kill(signal, args.all)
        .with_context(|| format!("failed to kill container {:?}", args.container_id))
}
