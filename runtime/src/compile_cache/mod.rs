//! runw's compile cache: modules compiled once per node, not once per container start.
//!
//! Before a wasm container exists, runw (on the host) opens the entrypoint module and starts
//! looking up the artifact its executor made of that module ([`CompileCache::lookup`]); the
//! module is hashed aside while the container is built, and the lookup ends once the container
//! exists ([`PendingLookup::finish`]). A miss is compiled once the container exists
//! ([`Miss::compile`]): the executor's `--precompile` mode runs jailed ([`jail`]), inside the
//! container's own cgroups, so the pod's memory and CPU limits bound it, within a timeout and
//! a node-wide number of compiles at once ([`settings`]). The artifact reaches the executor
//! in the container as a descriptor (`--precompiled FD:DIGEST`); the cache directory is
//! never mounted in a container.
//!
//! Layout of the cache directory (its owner's only, `0700`: root's on a node, a rootless user's
//! own under their home):
//!
//! ```text
//! secret            32 random bytes: the key that authenticates entries (0600)
//! entries/KEY       one artifact: a header (see [`entry`]) and the executor's output
//! engines/ID        an executor binary's `--engine-id`, memoised by file identity
//! verified/KEY      entry KEY's MAC checked in full in this boot, for its file's identity
//!                   (see [`verified`]); its mtime is the entry's last use
//! locks/KEY         held while KEY is compiled, so concurrent starts compile once
//! locks/slot.N      one per compile allowed at once on the node
//! tmp/              entries and memos being written (each locked by its writer), renamed
//!                   into place when complete; one whose writer died is removed at next use
//! ```
//!
//! KEY is derived from the module's digest and the engine's identity, which names the
//! engine, its version and every setting that changes generated code. Loading an artifact
//! runs native code, so an entry is used only if its MAC, keyed with `secret`, verifies:
//! a corrupt, truncated or foreign file is removed and rebuilt, never handed over. The MAC
//! is read in full once per boot and entry file ([`verified`]); any later write to the
//! entry gives its file another identity and the next start checks it in full again. The
//! descriptor handed over is opened through a read-only clone of the mount
//! ([`crate::read_only_tree`]), so a container cannot reopen it for writing. Entries are
//! evicted least recently used first beyond a size bound; `runw cache clear` empties it.

mod child_status;
mod engine_id;
mod entry;
mod jail;
mod key;
mod layout;
mod module_source;
mod precompile;
mod seccomp_filter;
mod secret;
pub mod settings;
mod settled;
mod verified;

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use layout::Usage;
use settings::{CompileLimits, Settings};

use crate::executor_binary::ExecutorBinary;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("compile cache {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("compile cache {}: {reason}", path.display())]
    Unsafe { path: PathBuf, reason: String },
    #[error("{executor} {mode} failed: {message}")]
    Executor {
        executor: String,
        mode: &'static str,
        message: String,
    },
    #[error(transparent)]
    Setting(#[from] settings::BadSetting),
    #[error("compile cache: {0}")]
    Module(String),
}

impl CacheError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
        move |source| CacheError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An artifact ready to hand over: positioned at its first byte.
pub struct Artifact {
    pub fd: OwnedFd,
    pub module_digest: String,
    /// The module file's [`file_identity`](runw_shared::digest::file_identity), when it
    /// vouches for `module_digest` (see [`module_source::digest`]).
    pub module_identity: Option<String>,
}

/// The cache in one directory, bounded in size.
pub struct CompileCache {
    settings: Settings,
}

/// What the cache has for a module, before the container exists.
pub enum Lookup {
    Hit(Artifact),
    /// Compile once the container exists ([`Miss::compile`]).
    Miss(Miss),
}

/// A lookup whose module digest is being computed ([`CompileCache::lookup`]).
pub struct PendingLookup {
    layout: layout::Layout,
    engine: String,
    secret: secret::Secret,
    module: File,
    digesting: module_source::Digesting,
    limits: CompileLimits,
    max_bytes: u64,
}

/// A module to compile for the cache.
pub struct Miss {
    layout: layout::Layout,
    key: key::Key,
    secret: secret::Secret,
    module: File,
    module_digest: String,
    module_identity: Option<String>,
    limits: CompileLimits,
    max_bytes: u64,
}

impl CompileCache {
    /// The cache as the environment configures it (see [`settings`]); `None` when off.
    pub fn from_env() -> Result<Option<CompileCache>, CacheError> {
        Ok(Settings::from_env()?.map(|settings| CompileCache { settings }))
    }

    pub fn dir(&self) -> &Path {
        &self.settings.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.settings.max_bytes
    }

    /// Begins looking up what the cache has of the module `open_module` opens (a regular
    /// file, read on the host), as `executor` compiles it: the module's digest is computed
    /// aside while runw builds the container ([`module_source::Digesting`]), and
    /// [`PendingLookup::finish`] says what the cache has. `None` for an executor whose engine
    /// has no compiled form (an interpreter: the module is then not opened at all) or when
    /// there is no module to read. Call only while runw is single-threaded.
    pub fn lookup(
        &self,
        executor: &ExecutorBinary,
        open_module: impl FnOnce() -> Option<File>,
    ) -> Result<Option<PendingLookup>, CacheError> {
        let layout = layout::Layout::open(&self.settings.dir)?;
        // What a killed runw left goes at the next start (two directory reads when empty).
        layout.sweep();
        let Some(engine) = engine_id::of(&layout, executor)? else {
            return Ok(None);
        };
        let Some(module) = open_module() else {
            return Ok(None);
        };
        let digesting = module_source::Digesting::start(&module);
        let secret = secret::load_or_create(&layout)?;
        Ok(Some(PendingLookup {
            layout,
            engine,
            secret,
            module,
            digesting,
            limits: self.settings.limits.clone(),
            max_bytes: self.settings.max_bytes,
        }))
    }

    /// What the cache holds now.
    pub fn usage(&self) -> Result<Usage, CacheError> {
        layout::usage(&self.settings.dir)
    }

    /// Removes every entry, memo and temporary file (the secret stays).
    pub fn clear(&self) -> Result<Usage, CacheError> {
        layout::clear(&self.settings.dir)
    }
}

impl PendingLookup {
    /// What the cache has for the module: an entry made from exactly the bytes hashed, or a
    /// miss to compile.
    pub fn finish(self) -> Result<Lookup, CacheError> {
        let PendingLookup {
            layout,
            engine,
            secret,
            module,
            digesting,
            limits,
            max_bytes,
        } = self;
        let (module_digest, module_identity) = digesting
            .finish()
            .map_err(|e| CacheError::Module(format!("cannot read the module: {e}")))?;
        let key = key::Key::new(&module_digest, &engine);
        if let Some(fd) = entry::open_verified(&layout, &key, &secret)? {
            layout.touch(&key);
            tracing::debug!(key = %key.name(), "compile cache: hit");
            return Ok(Lookup::Hit(Artifact {
                fd,
                module_digest,
                module_identity,
            }));
        }
        Ok(Lookup::Miss(Miss {
            layout,
            key,
            secret,
            module,
            module_digest,
            module_identity,
            limits,
            max_bytes,
        }))
    }
}

impl Miss {
    /// Compiles the module with `executor`, jailed and charged to the cgroups of process
    /// `container_pid` (the container's init), and stores the result. `Ok(None)` when the
    /// compile could not start before the timeout (other compiles held every slot).
    pub fn compile(
        self,
        executor: &ExecutorBinary,
        container_pid: i32,
    ) -> Result<Option<Artifact>, CacheError> {
        let Miss {
            layout,
            key,
            secret,
            module,
            module_digest,
            module_identity,
            limits,
            max_bytes,
        } = self;
        let deadline = Instant::now() + limits.timeout;
        let Some(_lock) = layout.lock_until(&key, deadline)? else {
            tracing::warn!(key = %key.name(), "compile cache: another compile of this module outlasted the timeout");
            return Ok(None);
        };
        // Whoever held the lock before may have compiled it.
        if let Some(fd) = entry::open_verified(&layout, &key, &secret)? {
            tracing::debug!(key = %key.name(), "compile cache: hit after waiting for another compile");
            return Ok(Some(Artifact {
                fd,
                module_digest,
                module_identity,
            }));
        }
        let Some(_slot) = layout.compile_slot(limits.jobs, deadline)? else {
            tracing::warn!(
                jobs = limits.jobs,
                "compile cache: no compile slot free before the timeout (RUNW_COMPILE_JOBS)"
            );
            return Ok(None);
        };
        let started = Instant::now();
        let (snapshot, digest) = module_source::snapshot(&module)
            .map_err(|e| CacheError::Module(format!("cannot read the module: {e}")))?;
        if digest != module_digest {
            return Err(CacheError::Module(
                "the module changed while it was being read".into(),
            ));
        }
        let tmp = layout.temp_file()?;
        entry::begin(tmp.as_file()).map_err(CacheError::io(tmp.path()))?;
        let cgroups = crate::cgroup_procs::of(container_pid).map_err(|e| {
            CacheError::Module(format!("cannot charge the compile to the container: {e}"))
        })?;
        let failed = |message: String| CacheError::Executor {
            executor: executor.name.clone(),
            mode: "--precompile",
            message,
        };
        let jail = jail::Jail {
            executor: executor.fd.as_fd(),
            argv: vec![
                jail::c_string(&executor.name).map_err(|e| failed(e.to_string()))?,
                c"--precompile".to_owned(),
            ],
            stdin: snapshot.as_fd(),
            stdout: tmp.as_file().as_fd(),
            cgroups: &cgroups,
            address_space: limits.memory,
            output_size: max_bytes.saturating_add(entry::HEADER_LEN),
            deadline,
        };
        jail::run(&jail).map_err(|e| failed(e.to_string()))?;
        entry::seal(tmp.as_file(), &key, &secret).map_err(CacheError::io(tmp.path()))?;
        let dest = layout.entry_path(&key);
        tmp.persist(&dest).map_err(|err| CacheError::Io {
            path: dest,
            source: err.error,
        })?;
        tracing::debug!(key = %key.name(), ms = started.elapsed().as_millis() as u64, "compile cache: compiled");
        layout.evict(max_bytes, Some(&key));
        let fd =
            entry::open_verified(&layout, &key, &secret)?.ok_or_else(|| CacheError::Unsafe {
                path: layout.entry_path(&key),
                reason: "the entry just written does not verify".into(),
            })?;
        Ok(Some(Artifact {
            fd,
            module_digest,
            module_identity,
        }))
    }
}
