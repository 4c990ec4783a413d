//! Detached clones of one mount (`open_tree(OPEN_TREE_CLONE)`, never `AT_RECURSIVE`), with
//! attributes set on the clone alone (`mount_setattr`): what runw hands to a container by
//! descriptor.
//!
//! A clone holds the one mount it was taken from, rooted at the directory given: no mount
//! below it comes along (their mountpoints are plain directories in the clone), and nothing
//! mounted later reaches it (its propagation is private). It lives while a descriptor of it,
//! or of a file opened through it, is open.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `MOUNT_ATTR_*` of <linux/mount.h>.
pub const RDONLY: u64 = 0x1;
pub const NOSUID: u64 = 0x2;
pub const NODEV: u64 = 0x4;
pub const NOEXEC: u64 = 0x8;

/// `struct mount_attr` of <linux/mount.h>.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;

/// A detached clone of the mount holding `dir`, rooted at `dir`, with the `MOUNT_ATTR_*`
/// bits `attrs` set and private propagation. `dir` is resolved from the current directory
/// and its symlinks are followed.
pub fn clone(dir: &Path, attrs: u64) -> std::io::Result<OwnedFd> {
    let dir = c_path(dir)?;
    open_tree(libc::AT_FDCWD, &dir, 0, attrs)
}

/// The same as [`clone`], of the file `opened` refers to (an `O_PATH` descriptor will do).
pub fn clone_of(opened: &OwnedFd, attrs: u64) -> std::io::Result<OwnedFd> {
    open_tree(
        opened.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH as libc::c_uint,
        attrs,
    )
}

fn open_tree(
    dirfd: libc::c_int,
    path: &CStr,
    flags: libc::c_uint,
    attrs: u64,
) -> std::io::Result<OwnedFd> {
    let flags = flags | OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: open_tree takes a dirfd, a NUL-terminated path and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) };
    let tree = owned(fd as libc::c_int)?;
    set_attributes(&tree, attrs)?;
    Ok(tree)
}

fn set_attributes(tree: &OwnedFd, attrs: u64) -> std::io::Result<()> {
    let propagation = libc::MS_PRIVATE;
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
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
    Ok(())
}

pub fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
}

/// The descriptor returned by an open(2)-like call, or its error.
pub fn owned(fd: libc::c_int) -> std::io::Result<OwnedFd> {
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of open(2)-like calls is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
