//! Files that the host hands to a container by descriptor, opened through a private,
//! read-only clone of their directory's mount (`open_tree(OPEN_TREE_CLONE)` +
//! `mount_setattr(MOUNT_ATTR_RDONLY)`).
//!
//! A descriptor opened that way cannot be turned into a writable one: reopening it through
//! `/proc/<pid>/fd/N` or `/proc/<pid>/exe` resolves to the read-only mount and fails with
//! EROFS, even for root in the container. runw uses it for the executor binary (the
//! CVE-2019-5736 class of attack) and for compile-cache artifacts.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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
pub fn open(dir: &Path) -> std::io::Result<OwnedFd> {
    let dir = c_path(dir)?;
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
            tree.as_raw_fd(),
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

/// Opens `name` (relative) in `tree` with `flags` (`O_CLOEXEC` is always added).
pub fn open_in(tree: &OwnedFd, name: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let name = c_path(name)?;
    // SAFETY: `tree` is a valid descriptor and `name` a NUL-terminated string; the result is
    // checked before it is owned.
    let fd = unsafe { libc::openat(tree.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    owned(fd)
}

fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

fn owned(fd: libc::c_int) -> std::io::Result<OwnedFd> {
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of open(2)-like calls is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
