//! runw's compile cache: modules compiled once per node, not once per container start.
//!
//! Before a wasm container exists, runw (on the host) reads the entrypoint module, looks up
//! the artifact its executor made of that module, and hands it to the executor in the
//! container as an inherited descriptor (`--precompiled FD:DIGEST`); the cache directory is
//! never mounted in a container. A miss runs the executor's `--precompile` mode on the host.
//!
//! Layout of the cache directory (root only, `0700`):
//!
//! ```text
//! secret            32 random bytes: the key that authenticates entries (0600)
//! entries/KEY       one artifact: a header (see [`entry`]) and the executor's output
//! engines/ID        an executor binary's `--engine-id`, memoised by file identity
//! locks/KEY         held while KEY is compiled, so concurrent starts compile once
//! tmp/              entries and memos being written, renamed into place when complete
//! ```
//!
//! KEY is derived from the module's digest and the engine's identity, which names the
//! engine, its version and every setting that changes generated code. Loading an artifact
//! runs native code, so an entry is used only if its MAC, keyed with `secret`, verifies:
//! a corrupt, truncated or foreign file is removed and rebuilt, never handed over. The
//! descriptor handed over is opened through a read-only clone of the mount
//! ([`crate::read_only_tree`]), so a container cannot reopen it for writing. Entries are
//! evicted least recently used first beyond a size bound; `runw cache clear` empties it.

mod engine_id;
mod entry;
mod layout;
mod precompile;
mod secret;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::wasm::executor_binary::ExecutorBinary;

pub use layout::Usage;

/// Where the cache lives unless `RUNW_CACHE_DIR` says otherwise.
pub const DEFAULT_DIR: &str = "/var/cache/runw";
/// The size bound unless `RUNW_CACHE_MAX` says otherwise.
pub const DEFAULT_MAX: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("compile cache {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("compile cache {}: {reason}", path.display())]
    Unsafe { path: PathBuf, reason: String },
    #[error("{executor} {mode} failed: {message}")]
    Executor { executor: String, mode: &'static str, message: String },
    #[error("RUNW_CACHE_MAX={0:?} is not a size (bytes, or a number with K, M or G)")]
    BadMax(String),
}

impl CacheError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
        move |source| CacheError::Io { path: path.to_path_buf(), source }
    }
}

/// An artifact ready to hand over: positioned at its first byte.
pub struct Artifact {
    pub fd: OwnedFd,
    pub module_digest: String,
}

/// The cache in one directory, bounded in size.
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompileCache {
    /// The cache as the environment configures it: `RUNW_CACHE=off` disables it,
    /// `RUNW_CACHE_DIR` moves it, `RUNW_CACHE_MAX` bounds it (`512M`, `2G`, bytes).
    pub fn from_env() -> Result<Option<CompileCache>, CacheError> {
        if std::env::var_os("RUNW_CACHE").is_some_and(|v| v == "off") {
            return Ok(None);
        }
        let dir = std::env::var_os("RUNW_CACHE_DIR").map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
        let max_bytes = match std::env::var("RUNW_CACHE_MAX") {
            Ok(value) => parse_size(&value).ok_or(CacheError::BadMax(value))?,
            Err(_) => DEFAULT_MAX,
        };
        Ok(Some(CompileCache { dir, max_bytes }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The artifact `executor` made of the module `read_module` returns, compiled now if the
    /// cache has no valid one; `None` for an executor whose engine has no compiled form (an
    /// interpreter: the module is then not read at all) or when there is no module to read.
    pub fn artifact(
        &self,
        executor: &ExecutorBinary,
        read_module: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Result<Option<Artifact>, CacheError> {
        let layout = layout::Layout::open(&self.dir)?;
        let Some(engine) = engine_id::of(&layout, executor)? else {
            return Ok(None);
        };
        let Some(module) = read_module() else {
            return Ok(None);
        };
        let secret = secret::load_or_create(&layout)?;
        let module_digest = runw_shared::digest::module_digest(&module);
        let key = entry::Key::new(&module_digest, &engine);
        let hit = |how: &str| -> Result<Option<Artifact>, CacheError> {
            let fd = entry::open_verified(&layout, &key, &secret)?;
            if fd.is_some() {
                layout.touch(&key);
                tracing::debug!(key = %key.name(), "compile cache: {how}");
            }
            Ok(fd.map(|fd| Artifact { fd, module_digest: module_digest.clone() }))
        };
        if let Some(artifact) = hit("hit")? {
            return Ok(Some(artifact));
        }
        let _lock = layout.lock(&key)?;
        // Whoever held the lock before may have compiled it.
        if let Some(artifact) = hit("hit after waiting for another compile")? {
            return Ok(Some(artifact));
        }
        let started = std::time::Instant::now();
        let tmp = layout.temp_file()?;
        entry::begin(tmp.as_file()).map_err(CacheError::io(tmp.path()))?;
        precompile::run(executor, &module, tmp.as_file())?;
        entry::seal(tmp.as_file(), &key, &secret).map_err(CacheError::io(tmp.path()))?;
        let dest = layout.entry_path(&key);
        tmp.persist(&dest).map_err(|err| CacheError::Io { path: dest, source: err.error })?;
        tracing::debug!(key = %key.name(), ms = started.elapsed().as_millis() as u64, "compile cache: compiled");
        layout.evict(self.max_bytes, Some(&key));
        let fd = entry::open_verified(&layout, &key, &secret)?.ok_or_else(|| CacheError::Unsafe {
            path: layout.entry_path(&key),
            reason: "the entry just written does not verify".into(),
        })?;
        Ok(Some(Artifact { fd, module_digest }))
    }

    /// What the cache holds now.
    pub fn usage(&self) -> Result<Usage, CacheError> {
        layout::usage(&self.dir)
    }

    /// Removes every entry, memo and temporary file (the secret stays).
    pub fn clear(&self) -> Result<Usage, CacheError> {
        layout::clear(&self.dir)
    }
}

/// `123`, `300K`, `512M`, `2G` (powers of 1024).
fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, shift) = match value.char_indices().last()? {
        (i, 'K' | 'k') => (&value[..i], 10),
        (i, 'M' | 'm') => (&value[..i], 20),
        (i, 'G' | 'g') => (&value[..i], 30),
        _ => (value, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("123"), Some(123));
        assert_eq!(super::parse_size("300K"), Some(300 << 10));
        assert_eq!(super::parse_size(" 512M "), Some(512 << 20));
        assert_eq!(super::parse_size("2g"), Some(2 << 30));
        assert_eq!(super::parse_size("M"), None);
        assert_eq!(super::parse_size("-1"), None);
        assert_eq!(super::parse_size("99999999999G"), None);
    }
}
