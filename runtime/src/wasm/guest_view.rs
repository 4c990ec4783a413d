//! The guest's view of the filesystem, as descriptors: opened by runw on the host before
//! the container exists ([`GuestView::open`]) and handed to the executor by the container's
//! init just before the exec ([`GuestView::hand_over`]), as `/proc/self/fd/N` preopens.
//! Which directories, and why, is the policy of [`preopens`]; this module carries it out.
//!
//! The rootfs and bind sources are detached, non-recursive clones of their one mount
//! ([`mount_clone`]), nosuid, nodev, noexec (and read-only for a read-only preopen): the
//! `/proc`, `/sys` and `/dev` that the container's init mounts in the rootfs are not in
//! them, whatever the guest's path (`..`, symlinks). The descriptors are inherited by the
//! init process (libcontainer marks them close-on-exec, and `hand_over` clears that for the
//! executor). So a `runw exec` of a shell still sees the container's `/proc`.

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use runw_shared::Preopen;

use super::mountinfo;
use super::preopens::{self, Source};
use crate::mount_clone;

/// The directories a guest may open.
pub struct GuestView {
    dirs: Vec<Dir>,
}

struct Dir {
    guest: PathBuf,
    read_only: bool,
    /// The clone, for a directory opened on the host; `None` for one opened in the
    /// container (a tmpfs mount, say).
    clone: Option<OwnedFd>,
}

#[derive(Debug, thiserror::Error)]
pub enum GuestViewError {
    #[error("cannot preopen rootfs {}: {reason}", path.display())]
    Rootfs { path: PathBuf, reason: Refused },
}

/// Why a directory is not preopened.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is on a pseudo filesystem ({0})")]
    Pseudo(String),
    #[error("its mount is not in this mount namespace")]
    Unlisted,
    #[error("it is not the root of a mount")]
    NotMountRoot,
    #[error("other filesystems are mounted in it")]
    Submounts,
}

impl From<nix::errno::Errno> for Refused {
    fn from(errno: nix::errno::Errno) -> Self {
        Refused::Io(errno.into())
    }
}

impl GuestView {
    /// Opens the preopens of `spec` on the host (bundle paths are relative to `bundle`).
    /// Fails only when the rootfs cannot be; a bind source that cannot be, or lies on a
    /// pseudo filesystem, is left out.
    pub fn open(
        spec: &oci_spec::runtime::Spec,
        bundle: &Path,
    ) -> Result<GuestView, GuestViewError> {
        let mut dirs = Vec::new();
        for planned in preopens::plan(spec, bundle) {
            let clone = match &planned.source {
                Source::Rootfs(path) => {
                    Some(clone_source(path, planned.read_only).map_err(|reason| {
                        GuestViewError::Rootfs {
                            path: path.clone(),
                            reason,
                        }
                    })?)
                }
                Source::Host(path) => match clone_source(path, planned.read_only) {
                    Ok(clone) => Some(clone),
                    Err(reason) => {
                        let guest = planned.guest.display();
                        tracing::debug!(
                            "not preopening {guest}: its source {}: {reason}",
                            path.display()
                        );
                        continue;
                    }
                },
                Source::Container => None,
            };
            dirs.push(Dir {
                guest: planned.guest,
                read_only: planned.read_only,
                clone,
            });
        }
        Ok(GuestView { dirs })
    }

    /// The preopens for the executor, with the process's `cwd` as `.`. Runs in the
    /// container's init after the start signal, just before the executor is exec'd: the
    /// descriptors it names stay open across that exec.
    pub fn hand_over(&self, cwd: &Path) -> std::io::Result<Vec<Preopen>> {
        let mut preopens = Vec::with_capacity(self.dirs.len() + 1);
        let mut fds = Vec::with_capacity(self.dirs.len());
        for dir in &self.dirs {
            let fd = match &dir.clone {
                Some(clone) => {
                    fcntl(clone.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))?;
                    clone.as_raw_fd()
                }
                None => match open_in_container(&dir.guest) {
                    Ok(fd) => fd.into_raw_fd(),
                    Err(reason) => {
                        tracing::debug!("not preopening {}: {reason}", dir.guest.display());
                        continue;
                    }
                },
            };
            preopens.push(preopen(dir.guest.clone(), fd, dir.read_only));
            fds.push(fd);
        }
        let guests: Vec<&Path> = preopens.iter().map(|p| p.guest.as_path()).collect();
        if let Some((holder, below)) = preopens::cwd(cwd, &guests) {
            // Not there (a cwd inside a mount the guest does not see): no `.`, so relative
            // paths find nothing.
            if let Ok(fd) = open_beneath(fds[holder], &below) {
                let read_only = preopens[holder].read_only;
                preopens.push(preopen(".".into(), fd.into_raw_fd(), read_only));
            }
        }
        Ok(preopens)
    }
}

fn preopen(guest: PathBuf, fd: RawFd, read_only: bool) -> Preopen {
    Preopen {
        guest,
        host: PathBuf::from(format!("/proc/self/fd/{fd}")),
        read_only,
    }
}

/// A clone of the one mount of host directory `path`, rooted there, unless that mount is a
/// pseudo filesystem.
fn clone_source(path: &Path, read_only: bool) -> Result<OwnedFd, Refused> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let source = unsafe { OwnedFd::from_raw_fd(nix::fcntl::open(path, flags, Mode::empty())?) };
    // The host's devtmpfs has tmpfs's magic: its mount's type says what it is; the tmpfs of
    // cgroup v1 at /sys/fs/cgroup, its place.
    let (mount, _) = mountinfo::mount_of(&source)?;
    not_pseudo_mount(&mountinfo::read()?, mount)?;
    let mut attrs = mount_clone::NOSUID | mount_clone::NODEV | mount_clone::NOEXEC;
    if read_only {
        attrs |= mount_clone::RDONLY;
    }
    let clone = mount_clone::clone_of(&source, attrs)?;
    not_pseudo(&clone)?;
    Ok(clone)
}

/// Opens container path `guest` (a mount's destination), as the guest is to see it: a
/// mount root, not a pseudo filesystem, with nothing mounted in it. Not close-on-exec.
fn open_in_container(guest: &Path) -> Result<OwnedFd, Refused> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let below = guest.strip_prefix("/").unwrap_or(guest);
    let dir = open_beneath(root.as_raw_fd(), below)?;
    not_pseudo(&dir)?;
    let (mount, is_root) = mountinfo::mount_of(&dir)?;
    if !is_root {
        return Err(Refused::NotMountRoot);
    }
    let table = mountinfo::read()?;
    not_pseudo_mount(&table, mount)?;
    if mountinfo::has_submounts(&table, mount) {
        return Err(Refused::Submounts);
    }
    Ok(dir)
}

/// Opens directory `path` beneath `dirfd` (`O_PATH`, not close-on-exec), every symlink and
/// `..` resolved as if `dirfd` were `/`.
fn open_beneath(dirfd: RawFd, path: &Path) -> std::io::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = nix::fcntl::openat2(dirfd, path, how)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Mount `id` is listed in `table` and is not a pseudo filesystem.
fn not_pseudo_mount(table: &str, id: u64) -> Result<(), Refused> {
    let entry = mountinfo::find(table, id).ok_or(Refused::Unlisted)?;
    if preopens::pseudo_mount(&entry.fstype, &entry.mount_point) {
        return Err(Refused::Pseudo(format!(
            "{} at {}",
            entry.fstype,
            entry.mount_point.display()
        )));
    }
    Ok(())
}

fn not_pseudo(fd: &OwnedFd) -> Result<(), Refused> {
    let stat = nix::sys::statfs::fstatfs(fd)?;
    match preopens::pseudo_filesystem(stat.filesystem_type().0) {
        Some(name) => Err(Refused::Pseudo(name.to_owned())),
        None => Ok(()),
    }
}
