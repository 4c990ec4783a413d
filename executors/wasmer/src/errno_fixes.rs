//! Two WASI calls answered as WASI says where wasmer-wasix 0.704 answers otherwise; each
//! wraps wasmer-wasix's own function, which does the work.
//!
//! - `path_open` of a directory asking for `FD_WRITE` among its rights fails with EISDIR in
//!   wasmer-wasix, where rights are only an upper bound in WASI (wasmtime and WasmEdge open
//!   it): a program opening its preopen again with the preopen's own rights (as the WASI
//!   test programs do) failed. `FD_WRITE` is dropped from the rights of a directory open;
//!   no write to a directory descriptor is possible anyway.
//! - `sock_shutdown` checks the `SOCK_SHUTDOWN` right before the kind of descriptor, so
//!   stdout and other non-sockets gave EACCES: a descriptor without that right is no socket
//!   (wasmer-wasix gives sockets every socket right), so EACCES becomes ENOTSOCK.

use wasmer::{Extern, Function, FunctionEnv, FunctionEnvMut, Imports, RuntimeError, Store, Value};
use wasmer_wasix::wasmer_wasix_types::wasi::{Errno, Oflags, Rights};

/// The 32-bit WASI namespaces, whose `path_open` and `sock_shutdown` take i32 pointers.
const NAMESPACES: [&str; 3] = ["wasi_snapshot_preview1", "wasi_unstable", "wasix_32v1"];

/// wasmer-wasix's own function, called by its wrapper.
struct Original(Function);

/// Wraps `path_open` and `sock_shutdown` wherever `imports` has them.
pub fn apply(store: &mut Store, imports: &mut Imports) {
    for namespace in NAMESPACES {
        if let Some(Extern::Function(original)) = imports.get_export(namespace, "path_open") {
            let env = FunctionEnv::new(store, Original(original));
            let wrapper = Function::new_typed_with_env(store, &env, path_open);
            imports.define(namespace, "path_open", wrapper);
        }
        if let Some(Extern::Function(original)) = imports.get_export(namespace, "sock_shutdown") {
            let env = FunctionEnv::new(store, Original(original));
            let wrapper = Function::new_typed_with_env(store, &env, sock_shutdown);
            imports.define(namespace, "sock_shutdown", wrapper);
        }
    }
}

/// Calls the original with `args`; its one result is an errno.
fn call(mut env: FunctionEnvMut<Original>, args: &[Value]) -> Result<i32, RuntimeError> {
    let original = env.data().0.clone();
    let results = original.call(&mut env, args)?;
    match results.first() {
        Some(Value::I32(errno)) => Ok(*errno),
        _ => Err(RuntimeError::new("wasi call returned no errno")),
    }
}

#[allow(clippy::too_many_arguments)]
fn path_open(
    env: FunctionEnvMut<Original>,
    fd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    rights: i64,
    inheriting: i64,
    fdflags: i32,
    opened: i32,
) -> Result<i32, RuntimeError> {
    let directory = i32::from(Oflags::DIRECTORY.bits());
    let rights = if oflags & directory != 0 {
        rights & !(Rights::FD_WRITE.bits() as i64)
    } else {
        rights
    };
    let args = [fd, dirflags, path, path_len, oflags]
        .map(Value::I32)
        .into_iter()
        .chain([Value::I64(rights), Value::I64(inheriting)])
        .chain([fdflags, opened].map(Value::I32))
        .collect::<Vec<_>>();
    call(env, &args)
}

fn sock_shutdown(env: FunctionEnvMut<Original>, fd: i32, how: i32) -> Result<i32, RuntimeError> {
    let errno = call(env, &[Value::I32(fd), Value::I32(how)])?;
    Ok(if errno == Errno::Access as i32 {
        Errno::Notsock as i32
    } else {
        errno
    })
}
