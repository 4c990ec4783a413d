//! The cache directory: its subdirectories, who may use it, temporary files renamed into
//! place, per-key locks, and least-recently-used eviction.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::key::Key;
use super::CacheError;

const ENTRIES: &str = "entries";
const ENGINES: &str = "engines";
const LOCKS: &str = "locks";
const TMP: &str = "tmp";
const VERIFIED: &str = "verified";

/// How often a wait for a lock or a compile slot looks again.
const POLL: Duration = Duration::from_millis(20);

pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    /// The directory, created `0700` if missing; refused if anyone but its owner (this user)
    /// can get in, or if anyone else could replace it (a directory above it that another
    /// user owns or may write), since whoever can write it can plant what the executor loads.
    pub fn open(dir: &Path) -> Result<Layout, CacheError> {
        let dir = &std::path::absolute(dir).map_err(CacheError::io(dir))?;
        check_ancestors(dir)?;
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        if !dir.is_dir() {
            builder.create(dir).map_err(CacheError::io(dir))?;
        }
        check_private(dir)?;
        for sub in [ENTRIES, ENGINES, LOCKS, TMP, VERIFIED] {
            let path = dir.join(sub);
            if !path.is_dir() {
                builder.create(&path).map_err(CacheError::io(&path))?;
            }
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    pub fn entries(&self) -> PathBuf {
        self.dir.join(ENTRIES)
    }

    pub fn entry_path(&self, key: &Key) -> PathBuf {
        self.entries().join(key.name())
    }

    /// Where the entry for `key` is remembered as verified, and its use recorded.
    pub fn verified_memo(&self, key: &Key) -> PathBuf {
        self.dir.join(VERIFIED).join(key.name())
    }

    pub fn engine_memo(&self, name: &str) -> PathBuf {
        self.dir.join(ENGINES).join(name)
    }

    /// A new file in `tmp/` (mode 0600), locked by this process while it lives (so that
    /// [`Layout::sweep`] knows its writer is alive), removed on drop unless persisted
    /// (renamed into place atomically: readers see the old entry or the whole new one).
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile, CacheError> {
        let tmp = self.dir.join(TMP);
        // Named after this process, so that a sweep by another runw never takes it for a
        // killed writer's in the moment between its creation and its lock.
        let file = tempfile::Builder::new()
            .prefix(&format!("{}.", std::process::id()))
            .tempfile_in(&tmp)
            .map_err(CacheError::io(&tmp))?;
        if !try_lock(file.as_file()) {
            return Err(CacheError::Unsafe {
                path: file.path().to_path_buf(),
                reason: "a new temporary file is locked by another process".into(),
            });
        }
        Ok(file)
    }

    /// Removes temporary files and per-key lock files that a killed runw left (no one holds
    /// their lock). Best effort.
    pub fn sweep(&self) {
        let locks = list_any(&self.dir.join(LOCKS))
            .into_iter()
            .filter(|p| !is_slot(p));
        let tmp = list_any(&self.dir.join(TMP))
            .into_iter()
            .filter(|p| !writer_alive(p));
        for path in tmp.chain(locks) {
            let Ok(file) = open_nonblocking(&path) else {
                continue;
            };
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            // A lock taker that opened this file before it goes finds it unlinked and
            // takes the one at the path instead (see `lock_until`).
            if !regular || try_lock(&file) {
                tracing::debug!(path = %path.display(), "compile cache: removing a file a killed runw left");
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Holds `locks/KEY` exclusively until the guard drops (which removes the file), or
    /// `None` if it is not free by `deadline`.
    pub fn lock_until(&self, key: &Key, deadline: Instant) -> Result<Option<KeyLock>, CacheError> {
        let path = self.dir.join(LOCKS).join(key.name());
        loop {
            let file = open_lock_file(&path)?;
            if try_lock(&file) {
                // The holder before us removes the file as it lets go: a lock on a removed
                // file guards nothing, so take the one at the path now.
                let same = std::fs::symlink_metadata(&path).is_ok_and(|m| {
                    file.metadata()
                        .is_ok_and(|f| f.ino() == m.ino() && f.dev() == m.dev())
                });
                if same {
                    return Ok(Some(KeyLock { path, _file: file }));
                }
                continue;
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    /// One of `jobs` compile slots, held until the guard drops; `None` if none is free by
    /// `deadline`.
    pub fn compile_slot(&self, jobs: usize, deadline: Instant) -> Result<Option<File>, CacheError> {
        loop {
            for n in 0..jobs.max(1) {
                let path = self.dir.join(LOCKS).join(format!("slot.{n}"));
                let file = open_lock_file(&path)?;
                if try_lock(&file) {
                    return Ok(Some(file));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Marks an entry used now, for eviction order: on its `verified/` memo when it has one,
    /// so that the entry file itself keeps the identity the memo vouches for. Best effort.
    pub fn touch(&self, key: &Key) {
        let now = nix::sys::time::TimeSpec::from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        let memo = self.verified_memo(key);
        let path = if memo.is_file() {
            memo
        } else {
            self.entry_path(key)
        };
        let _ = nix::sys::stat::utimensat(
            None,
            &path,
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
        // An entry's last use is recorded on its memo when it has one (see `touch`).
        for entry in &mut entries {
            let memo = entry
                .path
                .file_name()
                .map(|n| self.dir.join(VERIFIED).join(n));
            let memo_used = memo.and_then(|m| std::fs::metadata(m).ok()?.modified().ok());
            entry.used = entry.used.max(memo_used.unwrap_or(entry.used));
        }
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
                if let Some(name) = entry.path.file_name() {
                    let _ = std::fs::remove_file(self.dir.join(VERIFIED).join(name));
                }
                total = total.saturating_sub(entry.size);
                tracing::debug!(path = %entry.path.display(), "compile cache: evicted");
            }
        }
    }
}

/// A held per-key lock; dropping it removes the lock file, then lets go.
pub struct KeyLock {
    path: PathBuf,
    _file: File,
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the process a temporary file is named after (`PID.…`) still runs.
fn writer_alive(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = name
        .split_once('.')
        .and_then(|(pid, _)| pid.parse::<u32>().ok());
    pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// A lock file, created `0600` if missing, never through a symlink.
fn open_lock_file(path: &Path) -> Result<File, CacheError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(CacheError::io(path))
}

fn is_slot(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("slot."))
}

/// `flock(LOCK_EX | LOCK_NB)`: true when this open file now holds the lock.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a descriptor `file` keeps open.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Opens without following a symlink or blocking (a FIFO planted here must not hang runw).
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Every name in `dir`, whatever it is.
fn list_any(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten().map(|e| e.path()).collect()
}

/// Refuses a cache directory below one that another user owns or may write (without the
/// sticky bit): they could rename it away and put their own in its place.
fn check_ancestors(dir: &Path) -> Result<(), CacheError> {
    // SAFETY: geteuid cannot fail and has no preconditions.
    let euid = unsafe { libc::geteuid() };
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let writable_by_others = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
        let trusted = meta.uid() == 0 || meta.uid() == euid || owned_outside_namespace(&meta);
        if !trusted || writable_by_others {
            return Err(CacheError::Unsafe {
                path: dir.to_path_buf(),
                reason: format!(
                    "{} above it is owned by uid {} with mode {:o}: another user could replace the cache",
                    ancestor.display(),
                    meta.uid(),
                    meta.mode() & 0o7777
                ),
            });
        }
    }
    Ok(())
}

/// In a user namespace (a rootless runw under rootless podman, its uid 0 being the user), the
/// host's root and every other user outside it own files as the overflow uid: a directory
/// above the user's own cache (`/home`, `/`) is owned so. Such a directory is accepted when
/// no one may write it but its owner, which the namespace cannot tell apart from root.
fn owned_outside_namespace(meta: &std::fs::Metadata) -> bool {
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    overflow == Some(meta.uid()) && libcontainer::utils::is_in_new_userns().unwrap_or(false)
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
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some(Listed {
                path: e.path(),
                size: meta.len(),
                used: meta.modified().ok()?,
            })
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
    Ok(Usage {
        entries: listed.len(),
        bytes: listed.iter().map(|e| e.size).sum(),
    })
}

/// Empties entries, memos, locks and temporary files; returns what was removed.
pub fn clear(dir: &Path) -> Result<Usage, CacheError> {
    let removed = usage(dir)?;
    for sub in [ENTRIES, ENGINES, LOCKS, TMP, VERIFIED] {
        for path in list_any(&dir.join(sub)) {
            std::fs::remove_file(&path).map_err(CacheError::io(&path))?;
        }
    }
    Ok(removed)
}
