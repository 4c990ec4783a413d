//! Repairs the container's stdio before its process starts.
//!
//! libcontainer 0.7 points stdio descriptors that were the host's `/dev/null` at the
//! container's `/dev/null`, but opens that one read-only: a process whose stdout or stderr is
//! `/dev/null` (`runw run > /dev/null`, a caller that discards output) then fails every write
//! with EBADF, where runc gives it a working sink. Called in the init process, after
//! pivot_root, right before the container's program is exec'd.

use std::os::fd::{AsRawFd, RawFd};

use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::{fstat, major, minor, Mode, SFlag};

/// Gives read-write `/dev/null` to every stdio descriptor that is a read-only `/dev/null`.
pub fn repair_dev_null() -> nix::Result<()> {
    for fd in 0..3 {
        if is_read_only_dev_null(fd)? {
            let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())?;
            // SAFETY: `null` is a descriptor we just opened and own; dup2 onto a stdio number
            // that is open replaces it, and `null` is closed when `owned` drops.
            let owned =
                unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(null) };
            nix::unistd::dup2(owned.as_raw_fd(), fd)?;
        }
    }
    Ok(())
}

fn is_read_only_dev_null(fd: RawFd) -> nix::Result<bool> {
    let stat = match fstat(fd) {
        Ok(stat) => stat,
        Err(nix::errno::Errno::EBADF) => return Ok(false),
        Err(err) => return Err(err),
    };
    let is_char = SFlag::from_bits_truncate(stat.st_mode).contains(SFlag::S_IFCHR);
    let is_null = is_char && major(stat.st_rdev) == 1 && minor(stat.st_rdev) == 3;
    if !is_null {
        return Ok(false);
    }
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    Ok((flags & OFlag::O_ACCMODE) == OFlag::O_RDONLY)
}
