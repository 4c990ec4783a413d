//! Files that the host hands to a container by descriptor, opened through a private,
//! read-only clone of their directory's mount (`open_tree(OPEN_TREE_CLONE)` +
//! `mount_setattr(MOUNT_ATTR_RDONLY)`).
//!
//! A descriptor opened that way cannot be turned into a writable one: reopening it through
//! `/proc/<pid>/fd/N` or `/proc/<pid>/exe` resolves to the read-only mount and fails with
//! EROFS, even for root in the container. runw uses it for the executor binary (the
//! CVE-2019-5736 class of attack) and for compile-cache artifacts.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::mount_clone::{self, c_path, owned};

/// A detached clone of the mount holding `dir`, made read-only; it lives while fds use it.
pub fn open(dir: &Path) -> std::io::Result<OwnedFd> {
    mount_clone::clone(dir, mount_clone::RDONLY)
}

/// Opens `name` (relative) in `tree` with `flags` (`O_CLOEXEC` is always added).
pub fn open_in(tree: &OwnedFd, name: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let name = c_path(name)?;
    // SAFETY: `tree` is a valid descriptor and `name` a NUL-terminated string; the result is
    // checked before it is owned.
    let fd = unsafe { libc::openat(tree.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    owned(fd)
}
