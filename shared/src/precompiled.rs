//! The artifact the runtime handed over (`--precompiled FD:...`), in memory for the life of
//! the executor process.
//!
//! It is mapped, not copied, when its descriptor's offset is page-aligned (runw's cache
//! entries put the artifact at a page boundary, see the runtime's `compile_cache::entry`):
//! the pages are the page cache's, shared by every container that runs the same artifact,
//! and only those the engine touches are read. Otherwise it is read whole into memory.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;

/// An artifact in memory until the process exits (never unmapped nor freed: the engine's
/// code may run from it to the end).
#[derive(Debug, Clone, Copy)]
pub struct Precompiled {
    bytes: &'static [u8],
    mapped: bool,
}

impl Precompiled {
    /// The artifact's bytes.
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }

    /// Whether [`Precompiled::bytes`] is a private read-only mapping of the file starting at
    /// a page boundary, whose pages the engine may `mprotect` (e.g. make its code
    /// executable in place). `false` for bytes read into the heap.
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    /// The artifact in `file`, from its current offset to its end. The file must not change
    /// while the process runs: runw hands over a descriptor on a read-only mount of a cache
    /// entry that is never written in place (entries are replaced by rename).
    pub fn load(file: &File) -> std::io::Result<Precompiled> {
        use std::io::Seek;
        let offset = (&*file).stream_position()?;
        let size = file.metadata()?.len();
        let len = size.checked_sub(offset).filter(|len| *len > 0);
        let len = len.ok_or_else(|| std::io::Error::other("the artifact is empty"))?;
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        if offset % page_size() == 0 {
            if let Some(bytes) = map(file, offset, len) {
                return Ok(Precompiled {
                    bytes,
                    mapped: true,
                });
            }
        }
        let mut bytes = Vec::with_capacity(len);
        (&*file).read_to_end(&mut bytes)?;
        Ok(Precompiled {
            bytes: Vec::leak(bytes),
            mapped: false,
        })
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

/// `len` bytes of `file` from page-aligned `offset`, mapped private and read-only until the
/// process exits; `None` if the kernel refuses. The caller guarantees that the file does not
/// change while the process runs (a cache entry is never written in place; the module
/// runw hands `--precompile` is a sealed memfd).
pub(crate) fn map(file: &File, offset: u64, len: usize) -> Option<&'static [u8]> {
    let offset = libc::off_t::try_from(offset).ok()?;
    // SAFETY: a new private read-only mapping of `len` bytes of an open file at a
    // page-aligned offset; the result is checked, and the mapping is never unmapped, so the
    // slice below stays valid for the life of the process.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            offset,
        )
    };
    if addr == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: `addr` maps `len` readable bytes, for ever (see above). The file is not
    // written while mapped (the caller's guarantee, above).
    Some(unsafe { std::slice::from_raw_parts(addr.cast::<u8>(), len) })
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    #[test]
    fn an_artifact_at_a_page_boundary_is_mapped() {
        let mut file = tempfile::tempfile().expect("file");
        let page = page_size() as usize;
        file.write_all(&vec![b'h'; page]).expect("header");
        file.write_all(b"compiled").expect("artifact");
        file.seek(SeekFrom::Start(page as u64)).expect("seek");
        let loaded = Precompiled::load(&file).expect("load");
        assert!(loaded.is_mapped());
        assert_eq!(loaded.bytes(), b"compiled");
    }

    #[test]
    fn an_artifact_elsewhere_is_read() {
        let mut file = tempfile::tempfile().expect("file");
        file.write_all(b"HEADcompiled").expect("write");
        file.seek(SeekFrom::Start(4)).expect("seek");
        let loaded = Precompiled::load(&file).expect("load");
        assert!(!loaded.is_mapped());
        assert_eq!(loaded.bytes(), b"compiled");
        file.seek(SeekFrom::End(0)).expect("seek");
        assert!(Precompiled::load(&file).is_err(), "nothing to load");
    }
}
