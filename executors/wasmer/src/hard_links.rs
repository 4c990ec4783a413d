//! Hard links are refused (ENOTSUP) rather than faked.
//!
//! wasmer-wasix cannot make a hard link on disk: virtual-fs 0.704's `MountFileSystem` calls
//! `hard_link` on an `Arc<dyn FileSystem>`, whose blanket implementation does not forward
//! that one method and answers `Unsupported`, and wasmer-wasix's `path_link` then fakes the
//! link in its own memory: success for the guest, nothing on disk. So `path_link` is
//! replaced by a function that refuses. ([`crate::preopen_fs`] makes real links with
//! `linkat`, should wasmer-wasix ever reach it.)

use wasmer::{Function, Imports, Store};
use wasmer_wasix::wasmer_wasix_types::wasi::Errno;

/// The 32-bit WASI namespaces, whose `path_link` takes seven i32 and returns an errno.
const NAMESPACES: [&str; 3] = ["wasi_snapshot_preview1", "wasi_unstable", "wasix_32v1"];

/// Replaces `path_link` wherever `imports` has it.
pub fn refuse(store: &mut Store, imports: &mut Imports) {
    for namespace in NAMESPACES {
        if imports.exists(namespace, "path_link") {
            imports.define(namespace, "path_link", Function::new_typed(store, refused));
        }
    }
}

fn refused(
    _fd: i32,
    _flags: i32,
    _from: i32,
    _from_len: i32,
    _to_fd: i32,
    _to: i32,
    _to_len: i32,
) -> i32 {
    Errno::Notsup as i32
}
