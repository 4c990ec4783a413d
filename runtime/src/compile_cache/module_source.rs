//! The module as the compile cache reads it on the host: its digest, streamed, and for a
//! compile a sealed in-memory snapshot, so that what is compiled is exactly what was hashed
//! even if the file changes meanwhile (a writable volume), and so that the compiler maps it
//! rather than runw and the compiler each holding a copy.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use runw_shared::digest::file_identity;

use super::settled;

/// BLAKE3 reads: many 1 KiB chunks at once fill its SIMD lanes.
const CHUNK: usize = 1 << 20;

/// The module's digest, and its file's identity when that vouches for the digest: the file
/// did not change while it was read, and its last change was [`settled::before`] the read
/// began, so that any later write gives it another identity.
pub fn digest(file: &File) -> std::io::Result<(String, Option<String>)> {
    let began = SystemTime::now();
    let before = file.metadata()?;
    let digest = digest_of(file)?;
    let after = file.metadata()?;
    let identity = file_identity(&after);
    let vouches = identity == file_identity(&before) && settled::before(&after, began);
    Ok((digest, vouches.then_some(identity)))
}

/// The module's digest ([`runw_shared::digest::module_digest`] of its bytes), read from
/// offset 0 without moving the file's offset.
fn digest_of(file: &File) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    for_each_chunk(file, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// A sealed memfd holding the module's bytes (positioned at 0), and their digest.
pub fn snapshot(file: &File) -> std::io::Result<(File, String)> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the result is checked.
    let fd = unsafe {
        libc::memfd_create(
            c"runw-module".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nothing else owns.
    let mut copy = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut hasher = blake3::Hasher::new();
    for_each_chunk(file, |chunk| {
        hasher.update(chunk);
        copy.write_all(chunk)
    })?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a descriptor we own, with an integer argument.
    if unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&copy),
            libc::F_ADD_SEALS,
            seals,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    std::io::Seek::rewind(&mut copy)?;
    Ok((copy, hasher.finalize().to_hex().to_string()))
}

fn for_each_chunk(
    file: &File,
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buf, offset) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                f(&buf[..n])?;
                offset += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn digest_and_snapshot_agree_with_the_shared_digest() {
        let mut file = tempfile::tempfile().expect("tempfile");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).expect("write");
        let expected = runw_shared::digest::module_digest(&bytes);
        assert_eq!(super::digest_of(&file).expect("digest"), expected);
        let (digest, identity) = super::digest(&file).expect("digest");
        assert_eq!(digest, expected);
        assert_eq!(identity, None, "just written: not settled");
        let (mut copy, digest) = super::snapshot(&file).expect("snapshot");
        assert_eq!(digest, expected);
        let mut read = Vec::new();
        copy.read_to_end(&mut read).expect("read");
        assert_eq!(read, bytes);
        assert!(copy.write_all(b"x").is_err(), "sealed against writes");
    }
}
