//! Finding the wasm executor and opening it so that no container can modify it.
//!
//! The default executor is chosen at build time by one setting, the environment variable
//! `RUNW_DEFAULT_EXECUTOR` seen by `cargo build` (`wasmtime-exec`, the default when unset,
//! `wasmer-exec` or `wasmedge-exec`; any other value fails the build). `RUNW_EXECUTOR` (for
//! development) names one outright; otherwise runw looks in `/usr/libexec/runw/` and beside
//! its own binary, and a node with exactly one executor installed uses that one whatever the
//! build default, so that installing one executor package per node just works. It is opened here, in runw,
//! before the container's init process exists, so that init can exec it after pivot_root
//! from a rootfs that holds only the module.
//!
//! The descriptor is taken through a private, read-only clone of the executor's directory
//! mount (`open_tree` + `mount_setattr`): the running executor's `/proc/<pid>/exe` then
//! resolves to a read-only mount, and a process in the container (or a sidecar sharing the
//! pod's PID namespace) that reopens it for writing gets EROFS instead of the host's binary
//! (the CVE-2019-5736 class of attack).
//!
//! Cloning a mount needs CAP_SYS_ADMIN over the mount namespace: root has it, and so has a
//! rootless runw under rootless podman, which runs it as root of the user namespace owning
//! its mount namespace. Where runw may not clone the mount (an unprivileged runw outside a
//! user namespace of its own, or a directory with mounts below it locked into a user
//! namespace), it execs a sealed copy instead, as runc does: a memfd holding the binary,
//! sealed against writes, growing and shrinking ([`sealed_copy`]). A process that reopens
//! `/proc/<pid>/exe` then reaches that private copy and cannot write it either; it costs a
//! copy of the executor per container.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::read_only_tree;

/// The executor this runw was built to use by default (`RUNW_DEFAULT_EXECUTOR` at build time).
pub const DEFAULT: &str = match known(option_env!("RUNW_DEFAULT_EXECUTOR")) {
    Some(name) => name,
    None => panic!("RUNW_DEFAULT_EXECUTOR must be wasmtime-exec, wasmer-exec or wasmedge-exec"),
};

/// The executor a build setting names: one of [`KNOWN`], `wasmtime-exec` when unset, `None`
/// for anything else.
const fn known(setting: Option<&str>) -> Option<&'static str> {
    let Some(setting) = setting else {
        return Some(KNOWN[0]);
    };
    let mut i = 0;
    while i < KNOWN.len() {
        if setting.eq_ignore_ascii_case(KNOWN[i]) {
            return Some(KNOWN[i]);
        }
        i += 1;
    }
    None
}

/// Every executor runw knows, by binary name.
pub const KNOWN: [&str; 3] = ["wasmtime-exec", "wasmer-exec", "wasmedge-exec"];

/// Where packages install executors.
pub const LIBEXEC: &str = "/usr/libexec/runw";

#[derive(Debug, thiserror::Error)]
pub enum ExecutorBinaryError {
    #[error("no wasm executor installed (looked for {DEFAULT} and the others in {LIBEXEC}/ and beside runw)")]
    NotFound,
    #[error("runw's default wasm executor {DEFAULT} is not installed and several others are ({}): set RUNW_EXECUTOR to the one to use", .installed.join(", "))]
    DefaultNotInstalled { installed: Vec<String> },
    #[error("cannot open wasm executor {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An executor opened for exec: its descriptor and the name it runs under.
pub struct ExecutorBinary {
    pub fd: OwnedFd,
    pub name: String,
}

/// Finds the executor and opens it `O_PATH` through a read-only private mount, or where
/// runw may not clone the mount, makes a sealed copy of it.
pub fn open() -> Result<ExecutorBinary, ExecutorBinaryError> {
    let path = locate()?;
    tracing::debug!("wasm executor: {}", path.display());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fd = open_read_only(&path).map_err(|source| ExecutorBinaryError::Open { path, source })?;
    Ok(ExecutorBinary { fd, name })
}

/// `RUNW_EXECUTOR`; else the one executor installed, whichever it is, when a node has
/// exactly one; else the build's default.
pub fn locate() -> Result<PathBuf, ExecutorBinaryError> {
    if let Some(path) = std::env::var_os("RUNW_EXECUTOR") {
        return Ok(PathBuf::from(path));
    }
    let beside_runw = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let dirs: Vec<PathBuf> = [Some(PathBuf::from(LIBEXEC)), beside_runw]
        .into_iter()
        .flatten()
        .collect();
    let installed: Vec<PathBuf> = KNOWN
        .iter()
        .filter_map(|name| dirs.iter().map(|dir| dir.join(name)).find(|p| p.is_file()))
        .collect();
    choose(installed)
}

/// The single installed executor, or the default among several.
fn choose(installed: Vec<PathBuf>) -> Result<PathBuf, ExecutorBinaryError> {
    if installed.len() <= 1 {
        return installed
            .into_iter()
            .next()
            .ok_or(ExecutorBinaryError::NotFound);
    }
    if let Some(default) = installed
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == DEFAULT))
    {
        return Ok(default.clone());
    }
    let installed = installed.iter().map(|p| p.display().to_string()).collect();
    Err(ExecutorBinaryError::DefaultNotInstalled { installed })
}

fn open_read_only(path: &Path) -> std::io::Result<OwnedFd> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EISDIR))?;
    match read_only_tree::open(dir) {
        Ok(tree) => read_only_tree::open_in(&tree, Path::new(name), libc::O_PATH),
        Err(err) if may_not_clone(&err) => {
            tracing::debug!(
                "cannot clone the mount of {} ({err}): running a sealed copy of the executor",
                dir.display()
            );
            sealed_copy(path)
        }
        Err(err) => Err(err),
    }
}

/// Errors of `open_tree`/`mount_setattr` that mean this runw may not clone that mount.
fn may_not_clone(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EPERM | libc::EINVAL | libc::ENOSYS)
    )
}

/// A memfd holding a copy of the binary at `path`, sealed so that nothing can write,
/// grow, shrink it or change its seals: what runw execs where it cannot clone the mount.
pub fn sealed_copy(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let mut source = std::fs::File::open(path)?;
    let name = c"runw-executor";
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the result is checked.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    let copy = crate::mount_clone::owned(fd)?;
    let mut file = std::fs::File::from(copy);
    std::io::copy(&mut source, &mut file)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on a memfd this function owns, with a valid seal mask.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_copy_holds_the_binary_and_cannot_be_written() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = dir.path().join("exec");
        std::fs::write(&binary, b"\x7fELF not really").expect("binary");
        let copy = std::fs::File::from(sealed_copy(&binary).expect("sealed copy"));
        let fd = std::os::fd::AsRawFd::as_raw_fd(&copy);
        let reopened = format!("/proc/self/fd/{fd}");
        assert_eq!(
            std::fs::read(&reopened).expect("read"),
            b"\x7fELF not really"
        );
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&reopened)
            .expect("reopen for writing");
        let err = writer
            .write_all(b"pwned")
            .expect_err("a sealed copy was written");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert!(copy.set_len(1).is_err(), "a sealed copy was truncated");
    }

    #[test]
    fn one_installed_executor_is_used_whatever_the_default() {
        let other = KNOWN
            .iter()
            .find(|n| **n != DEFAULT)
            .copied()
            .unwrap_or("wasmer-exec");
        let only = PathBuf::from("/usr/libexec/runw").join(other);
        assert_eq!(choose(vec![only.clone()]).ok(), Some(only));
    }

    #[test]
    fn the_default_wins_among_several() {
        let all: Vec<PathBuf> = KNOWN.iter().map(|n| Path::new(LIBEXEC).join(n)).collect();
        assert_eq!(choose(all).ok(), Some(Path::new(LIBEXEC).join(DEFAULT)));
    }

    #[test]
    fn none_installed_is_not_found() {
        let err = choose(vec![])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("no wasm executor installed"), "{err}");
    }

    #[test]
    fn several_without_the_default_names_them_and_runw_executor() {
        let others: Vec<PathBuf> = KNOWN
            .iter()
            .filter(|n| **n != DEFAULT)
            .map(|n| Path::new(LIBEXEC).join(n))
            .collect();
        let err = choose(others.clone())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for other in &others {
            assert!(err.contains(&other.display().to_string()), "{err}");
        }
        assert!(
            err.contains(DEFAULT) && err.contains("RUNW_EXECUTOR"),
            "{err}"
        );
        assert!(!err.contains("no wasm executor installed"), "{err}");
    }

    #[test]
    fn the_build_setting_names_a_known_executor_or_nothing() {
        assert_eq!(known(None), Some("wasmtime-exec"));
        assert_eq!(known(Some("wasmer-exec")), Some("wasmer-exec"));
        assert_eq!(known(Some("wasmedge-exec")), Some("wasmedge-exec"));
        assert_eq!(known(Some("wasmtime")), None);
        assert_eq!(known(Some("")), None);
        assert!(KNOWN.contains(&DEFAULT));
    }
}
