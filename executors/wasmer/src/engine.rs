//! The wasmer engine: load (or deserialize what `--precompile` made), set up WASI (wasmer-wasix), run, and turn the outcome into an
//! exit status. Core modules only: wasmer does not run components. Guests get WASIX as well
//! as WASI preview 1, sockets included, on the container's network stack.

use std::path::Path;
use std::sync::Arc;

use runw_shared::{exit_code, Failure, Precompiled, Preopen, Program, Task};

use crate::preopen_fs::PreopenFs;

const EXECUTOR: &str = "wasmer-exec";
use wasmer::{Instance, Module, RuntimeError, Store};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::{LocalNetworking, PluggableRuntime, WasiEnv, WasiError};

/// wasmer with its default engine (Cranelift, tuned to this host's CPU), the same for
/// `--precompile` and for running.
pub struct Wasmer {
    store: Store,
}

impl Wasmer {
    pub fn new() -> Self {
        Wasmer {
            store: Store::default(),
        }
    }
}

impl runw_shared::executor_main::Engine for Wasmer {
    fn id(&self) -> Option<String> {
        Some(crate::engine_id::of(self.store.engine()))
    }

    fn runs_components(&self) -> bool {
        false
    }

    fn precompile(&self, wasm: &[u8], _program: Program) -> Result<Vec<u8>, String> {
        let module = Module::new(&self.store, wasm).map_err(|e| e.to_string())?;
        module
            .serialize()
            .map(|bytes| bytes.to_vec())
            .map_err(|e| e.to_string())
    }

    fn run(
        &self,
        task: &Task,
        _program: Program,
        precompiled: Option<Precompiled>,
    ) -> Result<u8, Failure> {
        run(&self.store, task, precompiled)
    }
}

fn run(store: &Store, task: &Task, precompiled: Option<Precompiled>) -> Result<u8, Failure> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(runw_shared::engine_environment::COMMAND_IO_WORKERS)
        .enable_all()
        .build()
        .map_err(Failure::load)?;
    let _guard = tokio.handle().enter();
    let mut runtime =
        PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));
    // WASIX sockets are the host's, unfiltered: the executor runs in the container's network
    // namespace, which bounds the guest exactly as it bounds a Linux process there.
    runtime.set_networking_implementation(LocalNetworking::default());

    let mut store = Store::new(store.engine().clone());
    let module = load(&store, task, precompiled).map_err(Failure::load)?;
    let (builder, rootfs_fd) = wasi_env(task, runtime).map_err(Failure::load)?;
    let mut env = builder.finalize(&mut store).map_err(Failure::load)?;
    // A wasm32-wasip1 program that uses WASIX calls (sockets) imports both namespaces.
    let mut imports = env
        .import_object_for_all_wasi_versions(&mut store, &module)
        .map_err(Failure::load)?;
    crate::hard_links::refuse(&mut store, &mut imports);
    crate::errno_fixes::apply(&mut store, &mut imports);
    if let Some(fd) = rootfs_fd {
        crate::root_at_fd3::apply(&mut store, &mut imports, fd);
    }
    let instance = Instance::new(&mut store, &module, &imports).map_err(Failure::load)?;
    env.initialize(&mut store, instance.clone())
        .map_err(Failure::load)?;
    let name = task.function.as_deref().unwrap_or("_start");
    let func = instance
        .exports
        .get_function(name)
        .map_err(|err| Failure::load(format!("export {name:?}: {err}")))?;
    runw_shared::heap::release_free();
    let status = outcome(func.call(&mut store, &[]).map(drop));
    env.on_exit(&mut store, None);
    status
}

/// The precompiled artifact when there is one and wasmer takes it, else the module compiled.
/// wasmer reads the artifact where it lies (it copies only the code it makes executable).
fn load(store: &Store, task: &Task, precompiled: Option<Precompiled>) -> Result<Module, String> {
    if let Some(artifact) = precompiled {
        let bytes = bytes::Bytes::from_static(artifact.bytes());
        // SAFETY: the runtime hands over only artifacts its compile cache wrote from this
        // executor's `--precompile` output (same engine identity) and authenticated before
        // passing them, with a keyed MAC no container can forge: wasmer's own
        // deserialization checks little, so that check is what makes this sound.
        match unsafe { Module::deserialize(store, bytes) } {
            Ok(module) => return Ok(module),
            Err(err) => eprintln!(
                "{EXECUTOR}: precompiled {} rejected ({err}); compiling it",
                task.module.display()
            ),
        }
    }
    // Module::from_file compiles WAT text as well as binaries.
    Module::from_file(store, &task.module).map_err(|e| e.to_string())
}

/// WASI environment, read top to bottom: argv, env, preopens. Stdio is inherited. Also
/// returns the descriptor the rootfs gets: it is registered last, and
/// [`crate::root_at_fd3`] shows it to the guest as fd 3.
///
/// wasmer-wasix follows symlinks and `..` itself, in its own tree: a symlink's target is
/// resolved against the symlink's guest path and looked up from its virtual root, whose
/// entries are the preopens keyed by their alias without the leading `/`. So a relative
/// symlink in preopen `/a` to `../b/secret` reached preopen `/b`, and so did `/a/../b`.
/// Each preopen is therefore registered without an alias, keyed by its whole guest path
/// (`/a`), which no path component equals, the root with the alias `/` (key ``, where
/// the key `/` would catch every unknown name) and the cwd with the alias `.` (key `.`, a
/// component wasmer-wasix resolves itself, never by key): from the virtual root nothing is found, and
/// wasmer-wasix follows no symlink and no `..` out of a preopen (ENOTCAPABLE), nor any
/// symlink at all. The guest still sees each preopen by its guest path, the rootfs as fd 3
/// (`/`), and [`PreopenFs`] resolves every path beneath its preopen's descriptor.
fn wasi_env(
    task: &Task,
    runtime: PluggableRuntime,
) -> Result<(wasmer_wasix::WasiEnvBuilder, Option<u32>), String> {
    let mut args = task.args.iter().map(|a| a.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_default();
    let preopens = cwd_by_its_path(&task.preopens);
    // wasmer-wasix's default filesystem is a scratch tmpfs: the guest gets its preopens.
    let fs = PreopenFs::open(&preopens)?;
    let mut builder = WasiEnv::builder(program)
        .args(args)
        .runtime(Arc::new(runtime))
        .fs(Arc::new(fs)
            as Arc<
                dyn wasmer_wasix::virtual_fs::FileSystem + Send + Sync,
            >);
    for (key, value) in task.env_pairs() {
        use std::os::unix::ffi::OsStrExt;
        builder.add_env(key.as_bytes(), value.as_bytes());
    }
    let (root, others): (Vec<_>, Vec<_>) = preopens
        .iter()
        .zip(&task.preopens)
        .partition(|(_, given)| given.guest == Path::new("/"));
    // fd 3 is wasmer-wasix's virtual root, the others follow it in the contract's order
    // (from fd 4), and the rootfs comes last.
    let rootfs_fd = if root.is_empty() {
        None
    } else {
        u32::try_from(4 + others.len()).ok()
    };
    for (preopen, given) in others.into_iter().chain(root) {
        let writable = !preopen.read_only;
        builder
            .add_preopen_build(|p| {
                let p = p
                    .directory(&preopen.guest)
                    .read(true)
                    .write(writable)
                    .create(writable);
                if given.guest == Path::new("/") || given.guest == Path::new(".") {
                    p.alias(&given.guest.to_string_lossy())
                } else {
                    p
                }
            })
            .map_err(|e| e.to_string())?;
    }
    Ok((builder, rootfs_fd))
}

/// The preopens, the cwd's (`.`) given by its guest path: wasmer-wasix makes a path
/// absolute before it asks the filesystem, so beneath a preopen registered as `.` it asked
/// for `/NAME`, and the guest's relative paths resolved in `/`. Registered by the cwd's
/// guest path (the executor's own working directory, which is the guest's) and shown to the
/// guest as `.`, the cwd's paths are resolved beneath its descriptor by [`PreopenFs`]. A
/// cwd the executor cannot name keeps `.`.
fn cwd_by_its_path(preopens: &[Preopen]) -> Vec<Preopen> {
    let cwd = std::env::current_dir().ok().filter(|cwd| cwd.is_absolute());
    preopens
        .iter()
        .map(|preopen| match &cwd {
            Some(cwd) if preopen.guest == Path::new(".") => Preopen {
                guest: cwd.clone(),
                ..preopen.clone()
            },
            _ => preopen.clone(),
        })
        .collect()
}

/// A finished call as an exit status: return is 0, `proc_exit(n)` is n, anything else a
/// trap.
fn outcome(result: Result<(), RuntimeError>) -> Result<u8, Failure> {
    let err = match result {
        Ok(()) => return Ok(0),
        Err(err) => err,
    };
    if let Some(WasiError::Exit(code)) = err.downcast_ref::<WasiError>() {
        return Ok(exit_code::guest_exit(code.raw()));
    }
    Err(Failure::trap(err.message()))
}
