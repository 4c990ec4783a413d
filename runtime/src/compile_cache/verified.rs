//! Entries whose MAC was checked in full, remembered until the next boot, so that a warm
//! start does not reread a many-megabyte entry to authenticate it again.
//!
//! `verified/KEY` holds a MAC, keyed with the cache's secret, over the entry's key, the
//! [`file_identity`] of the entry file that verified, and this boot's id. It is written only
//! after a full check ([`super::entry`]) of an entry whose last change was long enough
//! before that check began ([`super::settled`]), and it vouches for the entry
//! only while the entry file has that identity:
//!
//! - an entry is never written in place by runw (entries are renamed into place, and their
//!   use is recorded on this memo's modification time, not the entry's), so a write,
//!   truncation or replacement by anyone else gives it another identity: the kernel sets the
//!   change time (not settable but by setting the clock), a replacement has another inode
//!   or birth time, and a write in the tick of the last change is excluded by `settled`;
//! - the MAC binds key, identity and boot, so a memo cannot be forged nor moved to another
//!   entry by whoever can write the directory but not read the secret;
//! - the boot id ends every memo at reboot: what a crash left half-written on disk, or what
//!   the disk altered, is read again and checked in full once per boot. Within a boot the
//!   page cache serves the bytes that were checked.

use std::io::Write;

use runw_shared::digest::file_identity;

use super::key::Key;
use super::layout::Layout;
use super::secret::Secret;

/// The MAC that `verified/KEY` holds for an entry of `identity`.
fn mac(secret: &Secret, key: &Key, identity: &str) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(secret.bytes());
    hasher.update(b"runw verified entry v1\0");
    hasher.update(key.bytes());
    hasher.update(identity.as_bytes());
    hasher.update(b"\0");
    hasher.update(boot_id().as_bytes());
    hasher.finalize()
}

/// This boot's id (the kernel makes a random one at each boot); empty if unreadable, which
/// makes memos useless (nothing is remembered without one) rather than wrong.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .unwrap_or_default()
}

/// Whether the entry for `key`, whose file has metadata `meta`, verified in full in this
/// boot with this very identity.
pub fn is_verified(layout: &Layout, key: &Key, secret: &Secret, meta: &std::fs::Metadata) -> bool {
    if boot_id().is_empty() {
        return false;
    }
    let Ok(stored) = std::fs::read(layout.verified_memo(key)) else {
        return false;
    };
    let Ok(stored) = <[u8; 32]>::try_from(stored.as_slice()) else {
        return false;
    };
    // blake3::Hash compares in constant time.
    mac(secret, key, &file_identity(meta)) == blake3::Hash::from_bytes(stored)
}

/// Remembers that the entry for `key`, with metadata `meta`, just verified in full. Best
/// effort: a failure only costs the next start a full check.
pub fn remember(layout: &Layout, key: &Key, secret: &Secret, meta: &std::fs::Metadata) {
    if boot_id().is_empty() {
        return;
    }
    let mac = mac(secret, key, &file_identity(meta));
    let Ok(mut tmp) = layout.temp_file() else {
        return;
    };
    if tmp.write_all(mac.as_bytes()).is_ok() {
        let _ = tmp.persist(layout.verified_memo(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_vouches_for_its_entry_identity_only() {
        let dir = tempfile::tempdir().expect("dir");
        let layout = Layout::open(&dir.path().join("cache")).expect("layout");
        let secret = Secret::of([7; 32]);
        let key = Key::new("module", "engine");
        let entry = tempfile::NamedTempFile::new().expect("entry");
        let meta = entry.as_file().metadata().expect("stat");
        assert!(
            !is_verified(&layout, &key, &secret, &meta),
            "nothing remembered"
        );
        remember(&layout, &key, &secret, &meta);
        assert!(is_verified(&layout, &key, &secret, &meta));
        let other = Key::new("module", "another engine");
        assert!(!is_verified(&layout, &other, &secret, &meta), "another key");
        assert!(
            !is_verified(&layout, &key, &Secret::of([8; 32]), &meta),
            "another secret"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(entry.path(), b"written").expect("write");
        let written = entry.as_file().metadata().expect("stat");
        assert!(
            !is_verified(&layout, &key, &secret, &written),
            "a written entry"
        );
    }
}
