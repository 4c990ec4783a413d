//! The state root (`--root`): one directory per container, as runc keeps `/run/runc`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::Container;

use crate::container_id;

/// runw's default state root, beside runc's `/run/runc`.
pub const DEFAULT: &str = "/run/runw";

/// The canonical state root, created (mode 0700) if missing: `root` (`--root`), else
/// `$XDG_RUNTIME_DIR/runw` for a rootless runw ([`crate::rootless::state_root`]), else
/// [`DEFAULT`].
pub fn resolve(root: Option<PathBuf>) -> Result<PathBuf> {
    let root = match root {
        Some(root) => root,
        None => crate::rootless::state_root()?.unwrap_or_else(|| PathBuf::from(DEFAULT)),
    };
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

/// The file whose byte ranges lock ids, a name no container id can take (`@` is not allowed
/// in ids); `list` skips it (it is not a directory holding a state.json). It stays: a lock
/// file per id, made and removed by every create, cost two inode operations per start in the
/// state root (on ext4, an inode allocation scanning past every inode deleted in the last
/// seconds, `recently_deleted`, when many containers start at once).
const ID_LOCKS: &str = "@ids.lock";

/// The right to create container `id`, held from the existence check until `create` has
/// finished, so that of two creates of one id exactly one goes ahead and the other touches
/// nothing of the winner's. Dropping it closes the lock file, which lets go of the lock.
pub struct IdClaim {
    _file: std::fs::File,
}

/// Waits for the lock of `id` (one byte of [`ID_LOCKS`], at an offset hashed from the id: two
/// ids of one hash only wait for each other), then checks that no container `id` exists.
pub fn claim(root: &Path, id: &str) -> Result<IdClaim> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = container_dir(root, id)?;
    let path = root.join(ID_LOCKS);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("cannot lock container id {id:?} ({})", path.display()))?;
    // A POSIX record lock, not flock: it belongs to this process, so the container's init,
    // forked while it is held and waiting for `start`, does not hold it too. runw opens the
    // file once per process: closing any other descriptor of it would let go of the lock.
    let mut lock: libc::flock = zeroed_flock();
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = lock_offset(id);
    lock.l_len = 1;
    // SAFETY: F_SETLKW on a descriptor `file` keeps open, with a valid flock struct.
    while unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::F_SETLKW,
            &lock,
        )
    } != 0
    {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("cannot lock container id {id:?}"));
        }
    }
    if dir.exists() {
        bail!("container {id:?} already exists");
    }
    Ok(IdClaim { _file: file })
}

/// Where in [`ID_LOCKS`] the lock of `id` lies: FNV-1a of the id, the same in every runw,
/// kept within `off_t`'s positive range.
fn lock_offset(id: &str) -> libc::off_t {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    libc::off_t::try_from(hash >> 1).unwrap_or(0)
}

fn zeroed_flock() -> libc::flock {
    // SAFETY: `struct flock` is plain data for which all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// Loads an existing container, or fails naming the id.
pub fn load(root: &Path, id: &str) -> Result<Container> {
    let dir = container_dir(root, id)?;
    if !libcontainer::container::state::State::file_path(&dir).exists() {
        // runc's words, which callers look for, then which id and where.
        bail!(
            "container does not exist: {id:?} (state root {})",
            root.display()
        );
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
                return Err(err)
                    .with_context(|| format!("failed to load the state of container {id:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lock_offset;

    #[test]
    fn lock_offsets_are_stable_positive_and_spread() {
        assert_eq!(lock_offset("abc"), lock_offset("abc"));
        assert_ne!(lock_offset("abc"), lock_offset("abd"));
        for id in ["", "a", "many16-99", &"x".repeat(1024)] {
            assert!(lock_offset(id) >= 0, "{id}");
        }
    }
}
