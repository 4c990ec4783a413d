//! Paths resolved beneath a preopen's directory descriptor. The kernel walks every component
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`), so neither `..` nor a symlink
//! (absolute, relative or magic) leads outside the descriptor, whatever the guest or anyone
//! else changes between two calls; an operation on an entry then opens its parent that way
//! and acts on the last component with the `*at` call on the parent's descriptor.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use wasmer_wasix::virtual_fs::FsError;

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// Opens `rel` (empty: the directory itself) beneath `dir`, close-on-exec.
pub fn open(dir: impl AsFd, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(dir, rel, flags | OFlags::CLOEXEC, mode, RESOLVE)
}

/// The directory holding `rel`'s last component, opened beneath `dir`, and that component.
/// A path without one (empty, `.`, `..`) names no entry that can be made, removed or moved.
pub fn parent(dir: impl AsFd, rel: &Path) -> Result<(OwnedFd, &OsStr), Errno> {
    let Some(Component::Normal(name)) = rel.components().next_back() else {
        return Err(Errno::INVAL);
    };
    let parent = rel.parent().unwrap_or(Path::new(""));
    let fd = open(dir, parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
    Ok((fd, name))
}

/// The kernel's answer in wasmer-wasix's vocabulary, which has no EXDEV, EROFS or ELOOP: a
/// path that would leave its preopen (EXDEV from `RESOLVE_BENEATH`), a rename or link across
/// mounts and a write to a read-only mount are all refused as `PermissionDenied`, never
/// `Unsupported` (wasmer-wasix answers an unsupported `hard_link` by faking the link in its
/// own memory).
pub fn fs_error(errno: Errno) -> FsError {
    match errno {
        Errno::NOENT => FsError::EntryNotFound,
        Errno::EXIST => FsError::AlreadyExists,
        Errno::NOTDIR => FsError::BaseNotDirectory,
        Errno::ISDIR => FsError::NotAFile,
        Errno::NOTEMPTY => FsError::DirectoryNotEmpty,
        Errno::INVAL | Errno::NAMETOOLONG => FsError::InvalidInput,
        Errno::BADF => FsError::InvalidFd,
        Errno::NOSPC | Errno::DQUOT => FsError::WriteZero,
        Errno::INTR => FsError::Interrupted,
        Errno::AGAIN => FsError::WouldBlock,
        Errno::ACCESS | Errno::PERM | Errno::ROFS | Errno::XDEV | Errno::LOOP | Errno::NOTSUP => {
            FsError::PermissionDenied
        }
        _ => FsError::IOError,
    }
}
