//! `path_remove_directory` of `DIR/` (trailing slashes) removes `DIR`, as POSIX `rmdir` does
//! and the WASI test suite expects.
//!
//! wasmtime-wasi 48 hands the path to cap-std, which takes the trailing slash for a last
//! component `.` and fails with EINVAL; wasmtime's own CLI links the same function and
//! answers the same (the test suite lists it as wasmtime's expected failure). So the call is
//! replaced: the trailing slashes are dropped from the path's length, then wasmtime-wasi's
//! own preview 1 function runs on the caller's memory, as its generated glue runs it. (A
//! wrapper calling the linked function through `Func::call` cannot work: a host function
//! called from the host has no calling instance, so the glue finds no `memory` export and
//! traps.) A file named with a trailing slash still fails with ENOTDIR.

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::{wasi_snapshot_preview1, WasiP1Ctx};

const MODULE: &str = "wasi_snapshot_preview1";
const NAME: &str = "path_remove_directory";

/// Replaces `path_remove_directory` in `linker`.
pub fn replace(linker: &mut Linker<WasiP1Ctx>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker
        .func_wrap(MODULE, NAME, path_remove_directory)
        .map(drop);
    linker.allow_shadowing(false);
    defined
}

fn path_remove_directory(
    mut caller: Caller<'_, WasiP1Ctx>,
    fd: i32,
    path: i32,
    len: i32,
) -> wasmtime::Result<i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("missing required memory export");
    };
    let fuel = caller.as_context_mut().hostcall_fuel();
    let (data, ctx) = memory.data_and_store_mut(&mut caller);
    let len = without_trailing_slashes(data, path, len);
    wasi_snapshot_preview1::WasiSnapshotPreview1::set_hostcall_fuel(ctx, fuel);
    let mut memory = wiggle::GuestMemory::Unshared(data);
    wasmtime_wasi::runtime::in_tokio(wasi_snapshot_preview1::path_remove_directory(
        ctx,
        &mut memory,
        fd,
        path,
        len,
    ))
}

/// The length of the path at `path` without its trailing slashes (a path of slashes only
/// keeps one); `len` itself when the path is not in memory (the call then fails as it would
/// have).
fn without_trailing_slashes(memory: &[u8], path: i32, len: i32) -> i32 {
    let (Ok(start), Ok(count)) = (usize::try_from(path), usize::try_from(len)) else {
        return len;
    };
    let Some(bytes) = memory.get(start..start.saturating_add(count)) else {
        return len;
    };
    let kept = bytes
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1.min(count), |last| last + 1);
    i32::try_from(kept).unwrap_or(len)
}

#[cfg(test)]
mod tests {
    use super::without_trailing_slashes;

    #[test]
    fn trailing_slashes_are_dropped() {
        let memory = b"dir//file/dir";
        assert_eq!(without_trailing_slashes(memory, 0, 5), 3);
        assert_eq!(without_trailing_slashes(memory, 0, 3), 3);
        assert_eq!(without_trailing_slashes(memory, 3, 2), 1);
        assert_eq!(without_trailing_slashes(memory, 3, 0), 0);
        assert_eq!(without_trailing_slashes(memory, 10, 9), 9);
    }
}
