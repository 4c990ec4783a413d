//! Code made executable in place, wherever it lies: what lets wasmtime run an artifact from
//! the page cache (a private mapping of runw's cache entry, see
//! [`runw_shared::Precompiled`]) instead of copying it into memory of its own first.
//!
//! wasmtime makes only memory it allocated executable; memory it is lent
//! (`Module::deserialize_raw`) goes through a [`CustomCodeMemory`], which here is one
//! `mprotect`. Installed on x86_64 only, whose instruction cache is coherent with its data
//! cache (elsewhere wasmtime's own publishing also flushes the instruction cache, and lent
//! memory is not used).

use std::sync::Arc;

use wasmtime::CustomCodeMemory;

/// `mprotect` of page-aligned code: read+execute when published, read+write after.
struct Mprotect {
    page: usize,
}

/// The code memory to configure the engine with, where the architecture allows it.
pub fn in_place() -> Option<Arc<dyn CustomCodeMemory>> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page).ok().filter(|p| p.is_power_of_two())?;
    Some(Arc::new(Mprotect { page }))
}

impl Mprotect {
    fn protect(&self, ptr: *const u8, len: usize, prot: libc::c_int) -> wasmtime::Result<()> {
        // SAFETY: wasmtime passes a range of its code memory aligned to `required_alignment`
        // (the page size), which it owns or was lent for the module's life; changing its
        // protection is what publishing means.
        let done = unsafe { libc::mprotect(ptr.cast_mut().cast(), len, prot) };
        if done != 0 {
            let err = std::io::Error::last_os_error();
            return Err(wasmtime::Error::msg(format!("mprotect of code: {err}")));
        }
        Ok(())
    }
}

impl CustomCodeMemory for Mprotect {
    fn required_alignment(&self) -> usize {
        self.page
    }

    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        self.protect(ptr, len, libc::PROT_READ | libc::PROT_EXEC)
    }

    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        self.protect(ptr, len, libc::PROT_READ | libc::PROT_WRITE)
    }
}
