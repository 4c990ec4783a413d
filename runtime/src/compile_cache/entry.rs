//! One cache entry: a header that authenticates it, then the executor's artifact.
//!
//! ```text
//! magic "RUNWART2" (8) | key (32) | artifact length, u64 LE (8) | MAC (32) | hole | artifact
//! ```
//!
//! The artifact starts at [`HEADER_LEN`], 64 KiB (a hole, which takes no disk space): a page
//! boundary on every page size Linux uses, so that an executor maps the artifact from the
//! page cache instead of copying it ([`runw_shared::Precompiled`]).
//!
//! MAC = BLAKE3 keyed with the cache's secret, over magic, key, length and artifact. Only a
//! writer holding the secret (runw, as root, on this host) can make an entry that verifies;
//! an entry that does not verify is removed and never handed to an executor. The header is
//! checked at every use, the MAC once per boot and entry file ([`super::verified`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::key::Key;
use super::layout::Layout;
use super::secret::Secret;
use super::{settled, verified, CacheError};
use crate::read_only_tree;

const MAGIC: &[u8; 8] = b"RUNWART2";
/// The header's fields.
const FIELDS_LEN: usize = 80;
/// Header length; the artifact starts at this offset, a page boundary.
pub const HEADER_LEN: u64 = 64 << 10;

/// Why an entry is not used (it is then removed).
#[derive(Debug, thiserror::Error)]
enum Unverified {
    #[error("not a regular file")]
    NotRegular,
    #[error("truncated header")]
    TruncatedHeader,
    #[error("not a runw cache entry")]
    NotAnEntry,
    #[error("the header names another key")]
    OtherKey,
    #[error("{size} bytes where the header says {expected}")]
    Size { size: u64, expected: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("MAC mismatch: corrupt, or not written by this runw")]
    MacMismatch,
}

fn mac(
    secret: &Secret,
    key: &Key,
    len: u64,
    artifact: &mut impl Read,
) -> std::io::Result<blake3::Hash> {
    let mut hasher = blake3::Hasher::new_keyed(secret.bytes());
    hasher.update(MAGIC);
    hasher.update(key.bytes());
    hasher.update(&len.to_le_bytes());
    // Large reads: BLAKE3 hashes many 1 KiB chunks in parallel SIMD lanes only when handed
    // many at once (io::copy's 8 KiB buffer halves its speed).
    let mut buf = vec![0u8; 1 << 20];
    let mut artifact = artifact.take(len);
    let mut hashed = 0u64;
    loop {
        match artifact.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                hashed += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    if hashed != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "artifact shorter than its header says",
        ));
    }
    Ok(hasher.finalize())
}

/// Makes room for the header in a new, empty `file` and moves its offset past it: the
/// artifact is written from there.
pub fn begin(mut file: &File) -> std::io::Result<()> {
    file.set_len(HEADER_LEN)?;
    file.seek(SeekFrom::Start(HEADER_LEN)).map(drop)
}

/// Writes the header of `file`, whose artifact was written from offset [`HEADER_LEN`].
pub fn seal(file: &File, key: &Key, secret: &Secret) -> std::io::Result<()> {
    let total = file.metadata()?.len();
    let len = total
        .checked_sub(HEADER_LEN)
        .filter(|len| *len > 0)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the executor wrote no artifact",
            )
        })?;
    let mut reader = file;
    reader.seek(SeekFrom::Start(HEADER_LEN))?;
    let mac = mac(secret, key, len, &mut reader)?;
    let mut header = Vec::with_capacity(FIELDS_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(key.bytes());
    header.extend_from_slice(&len.to_le_bytes());
    header.extend_from_slice(mac.as_bytes());
    file.write_all_at(&header, 0)
}

/// The entry for `key`, opened read-only through a read-only mount and positioned at its
/// artifact, if it exists and verifies. An entry that fails verification is removed.
pub fn open_verified(
    layout: &Layout,
    key: &Key,
    secret: &Secret,
) -> Result<Option<OwnedFd>, CacheError> {
    let entries = layout.entries();
    let tree = read_only_tree::open(&entries).map_err(CacheError::io(&entries))?;
    // Never follow a symlink nor block on a FIFO planted here: anything but a regular file
    // is removed.
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let fd = match read_only_tree::open_in(&tree, Path::new(&key.name()), flags) {
        Ok(fd) => fd,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            let _ = std::fs::remove_file(layout.entry_path(key));
            return Ok(None);
        }
        Err(err) => {
            return Err(CacheError::Io {
                path: layout.entry_path(key),
                source: err,
            })
        }
    };
    let mut file = File::from(fd);
    let checked = check(&mut file, layout, key, secret);
    match checked {
        Ok(()) => {
            file.seek(SeekFrom::Start(HEADER_LEN))
                .map_err(CacheError::io(&layout.entry_path(key)))?;
            Ok(Some(OwnedFd::from(file)))
        }
        Err(reason) => {
            let path = layout.entry_path(key);
            tracing::warn!(path = %path.display(), "compile cache: removing an entry that does not verify: {reason}");
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
    }
}

/// Checks the header, and the MAC unless this entry file verified earlier in this boot
/// ([`verified`]); remembers a full check that the entry's age lets vouch.
fn check(file: &mut File, layout: &Layout, key: &Key, secret: &Secret) -> Result<(), Unverified> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Unverified::NotRegular);
    }
    let len = check_header(file, key)?;
    if verified::is_verified(layout, key, secret, &meta) {
        return Ok(());
    }
    let began = std::time::SystemTime::now();
    check_mac(file, key, secret, len)?;
    if settled::before(&meta, began) {
        verified::remember(layout, key, secret, &meta);
    }
    Ok(())
}

/// Checks header and MAC; `Err` says what is wrong.
#[cfg(test)]
fn verify(file: &mut File, key: &Key, secret: &Secret) -> Result<(), Unverified> {
    let len = check_header(file, key)?;
    check_mac(file, key, secret, len)
}

/// Checks the header's fields and the file's size; returns the artifact's length.
fn check_header(file: &mut File, key: &Key) -> Result<u64, Unverified> {
    let mut header = [0u8; FIELDS_LEN];
    file.read_exact(&mut header)
        .map_err(|_| Unverified::TruncatedHeader)?;
    if &header[..8] != MAGIC {
        return Err(Unverified::NotAnEntry);
    }
    if header[8..40] != key.bytes()[..] {
        return Err(Unverified::OtherKey);
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&header[40..48]);
    let len = u64::from_le_bytes(len);
    let size = file.metadata()?.len();
    let expected = HEADER_LEN.saturating_add(len);
    if size != expected {
        return Err(Unverified::Size { size, expected });
    }
    Ok(len)
}

/// Checks the MAC of the entry (its header already checked) against the artifact's bytes.
fn check_mac(file: &mut File, key: &Key, secret: &Secret, len: u64) -> Result<(), Unverified> {
    let mut header = [0u8; FIELDS_LEN];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut header)
        .map_err(|_| Unverified::TruncatedHeader)?;
    // The bytes between the fields and the artifact are not read by anyone: not covered.
    file.seek(SeekFrom::Start(HEADER_LEN))?;
    let computed = mac(secret, key, len, file)?;
    let mut stored = [0u8; 32];
    stored.copy_from_slice(&header[48..80]);
    // blake3::Hash compares in constant time.
    if computed != blake3::Hash::from_bytes(stored) {
        return Err(Unverified::MacMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const ARTIFACT: &[u8] = b"compiled code";

    fn key() -> Key {
        Key::new("module digest", "engine id")
    }

    /// An entry sealed with `secret`, positioned at its first byte.
    fn sealed(artifact: &[u8], secret: &Secret) -> File {
        let mut file = tempfile::tempfile().expect("temp file");
        begin(&file).expect("begin");
        file.write_all(artifact).expect("artifact");
        seal(&file, &key(), secret).expect("seal");
        file.rewind().expect("rewind");
        file
    }

    fn verified(mut file: File, key: &Key, secret: &Secret) -> Result<(), Unverified> {
        file.rewind().expect("rewind");
        verify(&mut file, key, secret)
    }

    #[test]
    fn a_sealed_entry_verifies() {
        let secret = Secret::of([7; 32]);
        let mut file = sealed(ARTIFACT, &secret);
        verify(&mut file, &key(), &secret).expect("verifies");
        let mut artifact = Vec::new();
        file.seek(SeekFrom::Start(HEADER_LEN)).expect("seek");
        file.read_to_end(&mut artifact).expect("read");
        assert_eq!(artifact, ARTIFACT);
    }

    #[test]
    fn a_changed_artifact_byte_fails_the_mac() {
        let secret = Secret::of([7; 32]);
        let file = sealed(ARTIFACT, &secret);
        file.write_all_at(b"C", HEADER_LEN).expect("tamper");
        let err = verified(file, &key(), &secret);
        assert!(matches!(err, Err(Unverified::MacMismatch)), "{err:?}");
    }

    #[test]
    fn an_entry_sealed_with_another_secret_fails_the_mac() {
        let file = sealed(ARTIFACT, &Secret::of([1; 32]));
        let err = verified(file, &key(), &Secret::of([2; 32]));
        assert!(matches!(err, Err(Unverified::MacMismatch)), "{err:?}");
    }

    #[test]
    fn an_entry_of_another_key_is_refused() {
        let secret = Secret::of([7; 32]);
        let file = sealed(ARTIFACT, &secret);
        let other = Key::new("module digest", "another engine");
        let err = verified(file, &other, &secret);
        assert!(matches!(err, Err(Unverified::OtherKey)), "{err:?}");
    }

    #[test]
    fn a_truncated_or_extended_entry_is_refused() {
        let secret = Secret::of([7; 32]);
        let file = sealed(ARTIFACT, &secret);
        file.set_len(HEADER_LEN + 3).expect("truncate");
        let err = verified(file, &key(), &secret);
        assert!(matches!(err, Err(Unverified::Size { .. })), "{err:?}");
        let mut file = sealed(ARTIFACT, &secret);
        file.seek(SeekFrom::End(0)).expect("seek");
        file.write_all(b"more").expect("extend");
        let err = verified(file, &key(), &secret);
        assert!(matches!(err, Err(Unverified::Size { .. })), "{err:?}");
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let secret = Secret::of([7; 32]);
        let file = sealed(ARTIFACT, &secret);
        file.write_all_at(b"ELF", 0).expect("magic");
        let err = verified(file, &key(), &secret);
        assert!(matches!(err, Err(Unverified::NotAnEntry)), "{err:?}");
        let empty = tempfile::tempfile().expect("temp file");
        let err = verified(empty, &key(), &secret);
        assert!(matches!(err, Err(Unverified::TruncatedHeader)), "{err:?}");
    }

    #[test]
    fn an_empty_artifact_is_not_sealed() {
        let file = tempfile::tempfile().expect("temp file");
        begin(&file).expect("begin");
        assert!(seal(&file, &key(), &Secret::of([7; 32])).is_err());
    }
}
