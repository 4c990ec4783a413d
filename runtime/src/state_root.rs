//! The state root (`--root`): one directory per container, as runc keeps `/run/runc`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::Container;

use crate::container_id;

/// runw's default state root, beside runc's `/run/runc`.
pub const DEFAULT: &str = "/run/runw";

/// The canonical state root, created (mode 0700) if missing.
pub fn resolve(root: Option<PathBuf>) -> Result<PathBuf> {
    let root = root.unwrap_or_else(|| PathBuf::from(DEFAULT));
    if !root.exists() {
        create_private_dir(&root)?;
    }
    root.canonicalize()
        .with_context(|| format!("invalid state root {}", root.display()))
}

fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("failed to create state root {}", path.display()))
}

/// The directory that holds container `id`'s state, after checking the id.
pub fn container_dir(root: &Path, id: &str) -> Result<PathBuf> {
    container_id::validate(id)?;
    Ok(root.join(id))
}

/// Loads an existing container, or fails naming the id.
pub fn load(root: &Path, id: &str) -> Result<Container> {
    let dir = container_dir(root, id)?;
    if !libcontainer::container::state::State::file_path(&dir).exists() {
        // runc's words, which callers look for, then which id and where.
        bail!("container does not exist: {id:?} (state root {})", root.display());
    }
    // libcontainer 0.7 rewrites state.json in place: a reader racing a writer (containerd
    // polling `state` while `start` saves) can see it empty. Such a read is retried.
    let mut attempts = 0;
    loop {
        match Container::load(dir.clone()) {
            Ok(container) => return Ok(container),
            Err(_) if attempts < 20 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(err) => {
                return Err(err).with_context(|| format!("failed to load the state of container {id:?}"))
            }
        }
    }
}
