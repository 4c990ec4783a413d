//! The rootfs at fd 3, named `/`, as the contract and wasmtime give it.
//!
//! wasmer-wasix 0.704 hard-wires fd 3 to its virtual root: a directory named `/` that holds
//! nothing but the preopens (keyed so that no path finds them, see [`crate::engine`]), from
//! which every absolute path and symlink target is resolved. fd 3 cannot be closed or
//! renumbered onto (it is a preopen) and `get_fd_inode(3)` answers the virtual root whatever
//! fd 3's table entry holds. So the rootfs is registered after the other preopens, at the
//! first descriptor past them, and the guest's calls are redirected at the import boundary:
//!
//! - calls that take a directory descriptor (`path_*`, and `fd_*` that a directory answers:
//!   `fd_readdir`, `fd_filestat_get`, ...) made with fd 3 act on the rootfs's descriptor;
//! - `fd_prestat_get` and `fd_prestat_dir_name` of the rootfs's descriptor fail with EBADF,
//!   so the guest lists `/`, then the mounts, then `.`, and nothing else.
//!
//! The virtual root itself stays the dead end it was, so symlinks and `..` still lead out of
//! no preopen. The rootfs's own descriptor stays open (wasmer-wasix never closes a preopen):
//! the guest's first opened file gets the descriptor after it.

use wasmer::{Extern, Function, FunctionEnv, FunctionEnvMut, Imports, RuntimeError, Store, Value};
use wasmer_wasix::wasmer_wasix_types::wasi::Errno;

/// wasmer-wasix's virtual root, the guest's `/`.
const FD3: i32 = 3;

/// Every namespace wasmer-wasix answers: the descriptor arguments are i32 in each.
const NAMESPACES: [&str; 4] = [
    "wasi_snapshot_preview1",
    "wasi_unstable",
    "wasix_32v1",
    "wasix_64v1",
];

/// Calls taking directory descriptors, and which arguments are descriptors.
const REDIRECTED: [(&str, &[usize]); 21] = [
    ("path_create_directory", &[0]),
    ("path_filestat_get", &[0]),
    ("path_filestat_set_times", &[0]),
    ("path_link", &[0, 4]),
    ("path_open", &[0]),
    ("path_open2", &[0]),
    ("path_readlink", &[0]),
    ("path_remove_directory", &[0]),
    ("path_rename", &[0, 3]),
    ("path_symlink", &[2]),
    ("path_unlink_file", &[0]),
    ("fd_readdir", &[0]),
    ("fd_filestat_get", &[0]),
    ("fd_filestat_set_times", &[0]),
    ("fd_filestat_set_size", &[0]),
    ("fd_fdstat_get", &[0]),
    ("fd_fdstat_set_flags", &[0]),
    ("fd_fdstat_set_rights", &[0]),
    ("fd_advise", &[0]),
    ("fd_sync", &[0]),
    ("fd_datasync", &[0]),
];

/// Calls that must not show the rootfs's own descriptor as a preopen.
const HIDDEN: [&str; 2] = ["fd_prestat_get", "fd_prestat_dir_name"];

/// wasmer-wasix's function, the descriptor arguments it takes, and the rootfs's descriptor.
struct Redirect {
    original: Function,
    fd_args: &'static [usize],
    rootfs: i32,
}

/// Redirects fd 3 to `rootfs` (the rootfs's descriptor) and hides `rootfs` from the preopen
/// list, wherever `imports` has the calls.
pub fn apply(store: &mut Store, imports: &mut Imports, rootfs: u32) {
    let Ok(rootfs) = i32::try_from(rootfs) else {
        return;
    };
    let hidden = HIDDEN.iter().map(|name| (*name, &[0][..]));
    for namespace in NAMESPACES {
        for (name, fd_args) in REDIRECTED.into_iter().chain(hidden.clone()) {
            let Some(Extern::Function(original)) = imports.get_export(namespace, name) else {
                continue;
            };
            let ty = original.ty(store);
            let redirect = Redirect {
                original,
                fd_args,
                rootfs,
            };
            let env = FunctionEnv::new(store, redirect);
            let wrapper = if HIDDEN.contains(&name) {
                Function::new_with_env(store, &env, ty, hide)
            } else {
                Function::new_with_env(store, &env, ty, redirect_fd3)
            };
            imports.define(namespace, name, wrapper);
        }
    }
}

/// Calls the original with every descriptor argument that is fd 3 made the rootfs's.
fn redirect_fd3(
    mut env: FunctionEnvMut<Redirect>,
    args: &[Value],
) -> Result<Vec<Value>, RuntimeError> {
    let (original, fd_args, rootfs) = {
        let redirect = env.data();
        (redirect.original.clone(), redirect.fd_args, redirect.rootfs)
    };
    let mut args = args.to_vec();
    for &index in fd_args {
        if let Some(arg @ Value::I32(FD3)) = args.get_mut(index) {
            *arg = Value::I32(rootfs);
        }
    }
    original.call(&mut env, &args).map(Vec::from)
}

/// EBADF for the rootfs's own descriptor, else the original's answer.
fn hide(mut env: FunctionEnvMut<Redirect>, args: &[Value]) -> Result<Vec<Value>, RuntimeError> {
    let (original, rootfs) = {
        let redirect = env.data();
        (redirect.original.clone(), redirect.rootfs)
    };
    if args.first() == Some(&Value::I32(rootfs)) {
        return Ok(vec![Value::I32(Errno::Badf as i32)]);
    }
    original.call(&mut env, args).map(Vec::from)
}
