//! The executor's own environment, kept apart from the guest's.
//!
//! An executor starts with the guest's environment as its own (see [`crate::task`]). Once
//! the task is read, the process needs none of it, but the engines' libraries read the
//! process environment: tokio sizes its thread pools from `TOKIO_WORKER_THREADS` (and panics
//! on a value it cannot parse), Rust's runtime reads `RUST_BACKTRACE` when it panics. A
//! variable meant for the guest must not change or crash its engine, so [`set`] replaces the
//! environment with exactly what the engine is meant to see. (What glibc reads before `main`,
//! `GLIBC_TUNABLES` and `MALLOC_*`, it has read already: the pod's author sets those for the
//! container's own process, as for any Linux container.)

/// Worker threads of the engine's I/O runtime for a command guest (WASI preview 1 or
/// `wasi:cli/run`). The guest runs on the main thread and its host calls block there; the
/// workers only drive background I/O. tokio's default is one per CPU the process may use:
/// on a 64-core node, 64 threads in every idle container, each with its stack and allocator
/// arena resident (about 12 KiB of PSS) and 16 KiB of kernel stack.
pub const COMMAND_IO_WORKERS: usize = 1;

/// Empties the process environment, then sets what the engine reads: its I/O runtime's
/// worker count (wasmtime-wasi builds its runtime itself, from the environment). Call after
/// the task was read and before the engine starts, while no other thread reads the
/// environment (the signal watcher never does).
pub fn set() {
    // SAFETY: glibc's clearenv only resets `environ` (entries it did not allocate are left
    // alone); no other thread of this process reads the environment while it runs (see
    // above). std's `vars_os`/`remove_var` are not used because a key that starts with `=`
    // (possible in a container's environment) makes `remove_var` panic.
    unsafe {
        libc::clearenv();
    }
    std::env::set_var("TOKIO_WORKER_THREADS", COMMAND_IO_WORKERS.to_string());
}
