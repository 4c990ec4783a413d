//! Finding the wasm executor and opening it so that no container can modify it.
//!
//! The default executor is chosen at build time (exactly one cargo feature of runw:
//! `wasmtime`, the default, `wasmer` or `wasmedge`). `RUNW_EXECUTOR` (for development) names
//! one outright; otherwise runw looks in `/usr/libexec/runw/` and beside its own binary, and
//! a node with exactly one executor installed uses that one whatever the build default, so
//! that installing one executor package per node just works. It is opened here, in runw,
//! before the container's init process exists, so that init can exec it after pivot_root
//! from a rootfs that holds only the module.
//!
//! The descriptor is taken through a private, read-only clone of the executor's directory
//! mount (`open_tree` + `mount_setattr`): the running executor's `/proc/<pid>/exe` then
//! resolves to a read-only mount, and a process in the container (or a sidecar sharing the
//! pod's PID namespace) that reopens it for writing gets EROFS instead of the host's binary
//! (the CVE-2019-5736 class of attack).

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The executor this runw was built to use by default.
pub const DEFAULT: &str = if cfg!(feature = "wasmtime") {
    "wasmtime-exec"
} else if cfg!(feature = "wasmer") {
    "wasmer-exec"
} else {
    "wasmedge-exec"
};

#[cfg(any(
    all(feature = "wasmtime", feature = "wasmer"),
    all(feature = "wasmtime", feature = "wasmedge"),
    all(feature = "wasmer", feature = "wasmedge"),
    not(any(feature = "wasmtime", feature = "wasmer", feature = "wasmedge"))
))]
compile_error!("build runw with exactly one executor feature: wasmtime, wasmer or wasmedge");

/// Every executor runw knows, by binary name.
pub const KNOWN: [&str; 3] = ["wasmtime-exec", "wasmer-exec", "wasmedge-exec"];

/// Where packages install executors.
pub const LIBEXEC: &str = "/usr/libexec/runw";

#[derive(Debug, thiserror::Error)]
pub enum ExecutorBinaryError {
    #[error("no wasm executor installed (looked for {DEFAULT} and the others in {LIBEXEC}/ and beside runw)")]
    NotFound,
    #[error("cannot open wasm executor {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
}

/// An executor opened for exec: its descriptor and the name it runs under.
pub struct ExecutorBinary {
    pub fd: OwnedFd,
    pub name: String,
}

/// Finds the executor and opens it `O_PATH` through a read-only private mount.
pub fn open() -> Result<ExecutorBinary, ExecutorBinaryError> {
    let path = locate().ok_or(ExecutorBinaryError::NotFound)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fd = open_read_only(&path).map_err(|source| ExecutorBinaryError::Open { path, source })?;
    Ok(ExecutorBinary { fd, name })
}

/// `RUNW_EXECUTOR`; else the one executor installed, whichever it is, when a node has
/// exactly one; else the build's default.
fn locate() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RUNW_EXECUTOR") {
        return Some(PathBuf::from(path));
    }
    let beside_runw = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    let dirs: Vec<PathBuf> = [Some(PathBuf::from(LIBEXEC)), beside_runw].into_iter().flatten().collect();
    let installed: Vec<PathBuf> = KNOWN
        .iter()
        .filter_map(|name| dirs.iter().map(|dir| dir.join(name)).find(|p| p.is_file()))
        .collect();
    choose(installed)
}

/// The single installed executor, or the default among several.
fn choose(installed: Vec<PathBuf>) -> Option<PathBuf> {
    if installed.len() <= 1 {
        return installed.into_iter().next();
    }
    installed.into_iter().find(|p| p.file_name().is_some_and(|n| n == DEFAULT))
}

fn open_read_only(path: &Path) -> std::io::Result<OwnedFd> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::from_raw_os_error(libc::EISDIR))?;
    let tree = open_tree_read_only(dir)?;
    let name = CString::new(name.as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `tree` is a valid descriptor and `name` a NUL-terminated string; the result is
    // checked before it is owned.
    let fd = unsafe { libc::openat(std_fd(&tree), name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    owned(fd)
}

/// `struct mount_attr` of <linux/mount.h>.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// A detached clone of the mount holding `dir`, made read-only; it lives while fds use it.
fn open_tree_read_only(dir: &Path) -> std::io::Result<OwnedFd> {
    let dir = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: open_tree takes a dirfd, a NUL-terminated path and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, dir.as_ptr(), flags) };
    let tree = owned(fd as libc::c_int)?;
    let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let empty = c"";
    // SAFETY: `tree` is a mount fd from open_tree; `attr` is a valid mount_attr of the size
    // passed; AT_EMPTY_PATH makes the call act on `tree` itself.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            std_fd(&tree),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(tree)
}

fn std_fd(fd: &OwnedFd) -> libc::c_int {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn owned(fd: libc::c_int) -> std::io::Result<OwnedFd> {
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of open(2)-like calls is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_installed_executor_is_used_whatever_the_default() {
        let other = KNOWN.iter().find(|n| **n != DEFAULT).copied().unwrap_or("wasmer-exec");
        let only = PathBuf::from("/usr/libexec/runw").join(other);
        assert_eq!(choose(vec![only.clone()]), Some(only));
    }

    #[test]
    fn the_default_wins_among_several() {
        let all: Vec<PathBuf> = KNOWN.iter().map(|n| Path::new(LIBEXEC).join(n)).collect();
        assert_eq!(choose(all), Some(Path::new(LIBEXEC).join(DEFAULT)));
        assert_eq!(choose(vec![]), None);
    }
}
