//! What `/proc/self/mountinfo` says of one mount: its type and mount point, and whether
//! anything is mounted on it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// One line of mountinfo: mount id, parent id, mount point (octal escapes left as they
/// are), filesystem type.
#[derive(Debug, PartialEq, Eq)]
struct Line<'a> {
    id: u64,
    parent: u64,
    mount_point: &'a str,
    fstype: &'a str,
}

/// A mount, as this process's mount namespace lists it.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub mount_point: PathBuf,
    pub fstype: String,
}

fn parse(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.lines().filter_map(|line| {
        let mut fields = line.split(' ');
        let id = fields.next()?.parse().ok()?;
        let parent = fields.next()?.parse().ok()?;
        let mount_point = fields.nth(2)?;
        // Optional fields end with a lone "-"; the type follows it.
        let fstype = fields.skip_while(|f| *f != "-").nth(1)?;
        Some(Line {
            id,
            parent,
            mount_point,
            fstype,
        })
    })
}

/// Mount `id`, if it is listed.
pub fn find(text: &str, id: u64) -> Option<Entry> {
    let line = parse(text).find(|l| l.id == id)?;
    Some(Entry {
        mount_point: line.mount_point.into(),
        fstype: line.fstype.to_owned(),
    })
}

/// Whether any mount of this namespace is mounted on mount `id` (below its root).
pub fn has_submounts(text: &str, id: u64) -> bool {
    parse(text).any(|l| l.parent == id && l.id != id)
}

/// This process's mount table.
pub fn read() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
}

/// The mount id of the file `fd` refers to, and whether it is the root of that mount.
pub fn mount_of(fd: &OwnedFd) -> std::io::Result<(u64, bool)> {
    // SAFETY: an all-zero statx is a valid value of the plain C struct.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is a valid descriptor, the path is an empty NUL-terminated string with
    // AT_EMPTY_PATH, and `stx` is a valid statx buffer; the result is checked.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(std::io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let root = libc::STATX_ATTR_MOUNT_ROOT as u64;
    let is_root = stx.stx_attributes_mask & root != 0 && stx.stx_attributes & root != 0;
    Ok((stx.stx_mnt_id, is_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw
23 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw
30 23 0:25 / /scratch rw - tmpfs tmpfs rw
31 30 0:26 /sub /scratch/in rw master:3 shared:4 - tmpfs tmpfs rw
40 23 0:5 / /dev rw shared:2 - devtmpfs udev rw,size=10k
";

    #[test]
    fn types_and_submounts_by_id() {
        let entry = |mount_point: &str, fstype: &str| {
            Some(Entry {
                mount_point: mount_point.into(),
                fstype: fstype.into(),
            })
        };
        assert_eq!(find(TEXT, 22), entry("/proc", "proc"));
        assert_eq!(find(TEXT, 31), entry("/scratch/in", "tmpfs"));
        assert_eq!(find(TEXT, 40), entry("/dev", "devtmpfs"));
        assert_eq!(find(TEXT, 99), None);
        assert!(has_submounts(TEXT, 23));
        assert!(has_submounts(TEXT, 30));
        assert!(!has_submounts(TEXT, 31));
        assert!(!has_submounts(TEXT, 22));
    }
}
