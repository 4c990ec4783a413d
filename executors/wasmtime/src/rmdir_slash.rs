//! `path_remove_directory` of `DIR/` (a trailing slash) removes `DIR`, as POSIX `rmdir` does.
//!
//! wasmtime-wasi 48 hands the path to cap-std, which takes the trailing slash for a last
//! component `.` and fails with EINVAL. The call is wrapped: trailing slashes are dropped
//! from the guest's path before wasmtime-wasi's own `path_remove_directory` runs. A file
//! named with a trailing slash still fails with ENOTDIR, from that same call.

use wasmtime::{Caller, Extern, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

const MODULE: &str = "wasi_snapshot_preview1";
const NAME: &str = "path_remove_directory";

/// Replaces `path_remove_directory` in `linker` (used with `store` only) by the wrapper.
pub fn wrap(linker: &mut Linker<WasiP1Ctx>, store: &mut Store<WasiP1Ctx>) -> wasmtime::Result<()> {
    let Ok(Extern::Func(original)) = linker.get(&mut *store, MODULE, NAME) else {
        return Ok(());
    };
    let original = original.typed::<(i32, i32, i32), i32>(&*store)?;
    linker.allow_shadowing(true);
    linker.func_wrap(
        MODULE,
        NAME,
        move |mut caller: Caller<'_, WasiP1Ctx>, fd: i32, path: i32, len: i32| {
            let len = without_trailing_slashes(&mut caller, path, len);
            original.call(&mut caller, (fd, path, len))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The length of the guest's path at `path` without its trailing slashes (a path of
/// slashes only keeps one); `len` itself when the path is not in memory (the call then
/// fails as it would have).
fn without_trailing_slashes(caller: &mut Caller<'_, WasiP1Ctx>, path: i32, len: i32) -> i32 {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return len;
    };
    let (Ok(start), Ok(count)) = (usize::try_from(path), usize::try_from(len)) else {
        return len;
    };
    let Some(bytes) = memory
        .data(&*caller)
        .get(start..start.saturating_add(count))
    else {
        return len;
    };
    let kept = bytes
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1, |last| last + 1);
    i32::try_from(kept.min(count)).unwrap_or(len)
}
