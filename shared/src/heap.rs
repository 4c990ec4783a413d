//! Memory an executor no longer needs once its guest is loaded.
//!
//! Loading a module (reading it, validating, building an engine's tables; WasmEdge's
//! interpreter turns every function into its own instruction form) leaves freed chunks in
//! the allocator's heap. glibc keeps them resident, so an idle container would carry them
//! for its whole life: about 0.6 MiB for a small program under WasmEdge. Each executor calls
//! [`release_free`] once, after the guest is instantiated and before its code runs.

/// Returns the heap's free pages to the kernel (glibc `malloc_trim(0)`: unmapped from the
/// top, `MADV_DONTNEED` inside). Costs tens of microseconds for a heap of a few MiB.
pub fn release_free() {
    // SAFETY: malloc_trim only walks and releases the allocator's own free chunks; it takes
    // the allocator's locks, so it is safe with other threads allocating meanwhile.
    unsafe {
        libc::malloc_trim(0);
    }
}
