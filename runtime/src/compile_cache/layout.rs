//! The cache directory: its subdirectories, who may use it, temporary files renamed into
//! place, per-key locks, and least-recently-used eviction.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::entry::Key;
use super::CacheError;

const ENTRIES: &str = "entries";
const ENGINES: &str = "engines";
const LOCKS: &str = "locks";
const TMP: &str = "tmp";

/// A temporary file left by a crashed writer is removed after this long.
const STALE_TMP: Duration = Duration::from_secs(600);

pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    /// The directory, created `0700` if missing; refused if anyone but its owner (this user)
    /// can get in, since whoever can write it can plant what the executor loads.
    pub fn open(dir: &Path) -> Result<Layout, CacheError> {
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        if !dir.is_dir() {
            builder.create(dir).map_err(CacheError::io(dir))?;
        }
        check_private(dir)?;
        for sub in [ENTRIES, ENGINES, LOCKS, TMP] {
            let path = dir.join(sub);
            if !path.is_dir() {
                builder.create(&path).map_err(CacheError::io(&path))?;
            }
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    pub fn entries(&self) -> PathBuf {
        self.dir.join(ENTRIES)
    }

    pub fn entry_path(&self, key: &Key) -> PathBuf {
        self.entries().join(key.name())
    }

    pub fn engine_memo(&self, name: &str) -> PathBuf {
        self.dir.join(ENGINES).join(name)
    }

    /// A new file in `tmp/` (mode 0600), removed on drop unless persisted (renamed into
    /// place atomically: readers see the old entry or the whole new one).
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, CacheError> {
        let tmp = self.dir.join(TMP);
        tempfile::NamedTempFile::new_in(&tmp).map_err(CacheError::io(&tmp))
    }

    /// Holds `locks/KEY` exclusively until the guard drops.
    pub fn lock(&self, key: &Key) -> Result<nix::fcntl::Flock<File>, CacheError> {
        let path = self.dir.join(LOCKS).join(key.name());
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(CacheError::io(&path))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| CacheError::Io { path, source: errno.into() })
    }

    /// Marks an entry used now, for eviction order. Best effort.
    pub fn touch(&self, key: &Key) {
        let now = nix::sys::time::TimeSpec::from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
        let _ = nix::sys::stat::utimensat(
            None,
            &self.entry_path(key),
            &now,
            &now,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
    }

    /// Removes least recently used entries until the total fits in `max_bytes` (never `keep`,
    /// the entry just written), and temporary files left by crashed writers. Best effort.
    pub fn evict(&self, max_bytes: u64, keep: Option<&Key>) {
        let mut entries = list(&self.entries());
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        entries.sort_by_key(|e| e.used);
        let keep = keep.map(Key::name);
        for entry in entries {
            if total <= max_bytes {
                break;
            }
            if keep.as_deref() == entry.path.file_name().and_then(|n| n.to_str()) {
                continue;
            }
            if std::fs::remove_file(&entry.path).is_ok() {
                total = total.saturating_sub(entry.size);
                tracing::debug!(path = %entry.path.display(), "compile cache: evicted");
            }
        }
        let now = SystemTime::now();
        for tmp in list(&self.dir.join(TMP)) {
            if now.duration_since(tmp.used).is_ok_and(|age| age > STALE_TMP) {
                let _ = std::fs::remove_file(&tmp.path);
            }
        }
    }
}

/// Refuses a directory that anyone but this user can enter, or that is a symlink.
fn check_private(dir: &Path) -> Result<(), CacheError> {
    let meta = std::fs::symlink_metadata(dir).map_err(CacheError::io(dir))?;
    // SAFETY: geteuid cannot fail and has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(CacheError::Unsafe {
            path: dir.to_path_buf(),
            reason: format!(
                "owned by uid {} with mode {:o}; it must be {euid}'s alone (a directory, mode 700)",
                meta.uid(),
                meta.mode() & 0o7777
            ),
        });
    }
    Ok(())
}

struct Listed {
    path: PathBuf,
    size: u64,
    used: SystemTime,
}

fn list(dir: &Path) -> Vec<Listed> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    read.flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some(Listed { path: e.path(), size: meta.len(), used: meta.modified().ok()? })
        })
        .collect()
}

/// What the cache holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub entries: usize,
    pub bytes: u64,
}

pub fn usage(dir: &Path) -> Result<Usage, CacheError> {
    let entries = dir.join(ENTRIES);
    if !dir.exists() {
        return Ok(Usage::default());
    }
    check_private(dir)?;
    let listed = list(&entries);
    Ok(Usage { entries: listed.len(), bytes: listed.iter().map(|e| e.size).sum() })
}

/// Empties entries, memos, locks and temporary files; returns what was removed.
pub fn clear(dir: &Path) -> Result<Usage, CacheError> {
    let removed = usage(dir)?;
    for sub in [ENTRIES, ENGINES, LOCKS, TMP] {
        for item in list(&dir.join(sub)) {
            std::fs::remove_file(&item.path).map_err(CacheError::io(&item.path))?;
        }
    }
    Ok(removed)
}
