//! When a file's identity ([`runw_shared::digest::file_identity`]) may vouch for what was
//! read of it: its last change was long enough before the read began that any later write
//! gives it another change time.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

/// How long before a read the file's last change must be: a write in the same tick of the
/// filesystem's clock (a jiffy; whole seconds on some filesystems) as the last change leaves
/// the change time as it was.
const SETTLED: Duration = Duration::from_secs(2);

/// Whether `meta`, taken after a read that began at `began`, may vouch for what was read.
pub fn before(meta: &std::fs::Metadata, began: SystemTime) -> bool {
    let secs = u64::try_from(meta.ctime()).unwrap_or(u64::MAX);
    let nanos = u32::try_from(meta.ctime_nsec()).unwrap_or(0);
    let changed = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999));
    changed + SETTLED <= began
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_just_written_is_not_settled_and_is_later() {
        let file = tempfile::tempfile().expect("file");
        let meta = file.metadata().expect("stat");
        let now = std::time::SystemTime::now();
        assert!(!super::before(&meta, now));
        assert!(super::before(&meta, now + super::SETTLED + super::SETTLED));
    }
}
