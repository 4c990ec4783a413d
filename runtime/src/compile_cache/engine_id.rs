//! The identity of the installed executor's engine, part of every entry's key.
//!
//! Asking the executor (`--engine-id`) costs a process start, so the answer is memoised in
//! `engines/`, named after the executor file's identity (device, inode, size, modification
//! and change times): upgrading the executor package makes a new file, hence a new question.
//! An engine with no compiled form (an interpreter) is memoised as [`NONE`].

use std::io::Write;
use std::os::unix::fs::MetadataExt;

use super::layout::Layout;
use super::{precompile, CacheError};
use crate::executor_binary::ExecutorBinary;

/// The memo of an engine with no compiled form: not a line any engine prints.
const NONE: &str = "\n";

pub fn of(layout: &Layout, executor: &ExecutorBinary) -> Result<Option<String>, CacheError> {
    let meta = std::fs::File::from(
        executor
            .fd
            .try_clone()
            .map_err(CacheError::io(&layout.dir))?,
    )
    .metadata()
    .map_err(CacheError::io(&layout.dir))?;
    let identity = format!(
        "{} {} {} {} {} {} {} {}",
        executor.name,
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let memo = layout.engine_memo(&blake3::hash(identity.as_bytes()).to_hex());
    if let Ok(id) = std::fs::read_to_string(&memo) {
        if id == NONE {
            return Ok(None);
        }
        if !id.is_empty() {
            return Ok(Some(id));
        }
    }
    let id = precompile::engine_id(executor)?;
    let mut tmp = layout.temp_file()?;
    tmp.write_all(id.as_deref().unwrap_or(NONE).as_bytes())
        .map_err(CacheError::io(tmp.path()))?;
    tmp.persist(&memo).map_err(|err| CacheError::Io {
        path: memo.clone(),
        source: err.error,
    })?;
    Ok(id)
}
