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

/// The directory of the id locks, a name no container id can take (`@` is not allowed in
/// ids); `list` skips it (it holds no state.json).
const LOCKS: &str = "@locks";

/// The right to create container `id`, held from the existence check until `create` has
/// finished, so that of two creates of one id exactly one goes ahead and the other touches
/// nothing of the winner's. Dropping it removes the lock file.
pub struct IdClaim {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for IdClaim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits for the id lock of `id`, then checks that no container `id` exists.
pub fn claim(root: &Path, id: &str) -> Result<IdClaim> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let dir = container_dir(root, id)?;
    let locks = root.join(LOCKS);
    if !locks.is_dir() {
        create_private_dir(&locks)?;
    }
    let path = locks.join(id);
    let file = loop {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("cannot lock container id {id:?} ({})", path.display()))?;
        // A POSIX record lock, not flock: it belongs to this process, so the container's
        // init, forked while it is held and waiting for `start`, does not hold it too.
        let mut lock: libc::flock = zeroed_flock();
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
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
        // The holder before removed the file as it let go: lock the one at the path now.
        let held = file.metadata()?;
        if std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.ino() == held.ino() && m.dev() == held.dev())
        {
            break file;
        }
    };
    if dir.exists() {
        bail!("container {id:?} already exists");
    }
    Ok(IdClaim { path, _file: file })
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
