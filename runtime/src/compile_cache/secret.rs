//! The cache's secret: 32 random bytes, readable by the cache's owner alone (root, or a rootless
//! user: one secret per user), that key every entry's MAC.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use super::layout::Layout;
use super::CacheError;

const FILE: &str = "secret";

pub struct Secret([u8; 32]);

impl Secret {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The secret, made on first use. Concurrent first uses agree on one: each writes a
/// candidate and hard-links it into place; the link that loses reads the winner's.
pub fn load_or_create(layout: &Layout) -> Result<Secret, CacheError> {
    let path = layout.dir.join(FILE);
    if let Some(secret) = read(&path)? {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    getrandom(&mut bytes).map_err(CacheError::io(&path))?;
    let mut tmp = layout.temp_file()?;
    tmp.write_all(&bytes).map_err(CacheError::io(tmp.path()))?;
    match std::fs::hard_link(tmp.path(), &path) {
        Ok(()) => Ok(Secret(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            read(&path)?.ok_or_else(|| CacheError::Unsafe {
                path,
                reason: "secret vanished".into(),
            })
        }
        Err(err) => Err(CacheError::Io { path, source: err }),
    }
}

/// `None` if there is no secret yet; an unreadable or malformed one is an error (removing
/// it would silently invalidate every entry, so an operator should look).
fn read(path: &std::path::Path) -> Result<Option<Secret>, CacheError> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(CacheError::Io {
                path: path.to_path_buf(),
                source: err,
            })
        }
    };
    let mut bytes = Vec::with_capacity(33);
    Read::by_ref(&mut file)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(CacheError::io(path))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| CacheError::Unsafe {
        path: path.to_path_buf(),
        reason: "the secret is not 32 bytes; remove it (and the entries) to start over".into(),
    })?;
    Ok(Some(Secret(bytes)))
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid writable buffer of the length passed.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += n as usize;
    }
    Ok(())
}

#[cfg(test)]
impl Secret {
    /// A secret made of `bytes`, for tests.
    pub fn of(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }
}
