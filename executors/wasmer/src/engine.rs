//! The wasmer engine: load, set up WASI (wasmer-wasix), run, and turn the outcome into an
//! exit status. Core modules only: wasmer does not run components.

use std::path::Path;
use std::sync::Arc;

use runw_shared::{exit_code, ModuleKind, Task};

use crate::container_fs::ContainerFs;

const EXECUTOR: &str = "wasmer-exec";
use wasmer::{Instance, Module, RuntimeError, Store};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiError};

/// Runs the task; returns the executor's exit status.
pub fn run(task: &Task) -> u8 {
    match runw_shared::module_kind::of_file(&task.module) {
        Ok(Some(ModuleKind::Component)) => {
            return exit_code::load_failed(EXECUTOR, &task.module, &"wasmer cannot run components")
        }
        Ok(Some(_)) => {}
        Ok(None) => return exit_code::load_failed(EXECUTOR, &task.module, &"not a wasm module or WAT text"),
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    }
    let tokio = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(tokio) => tokio,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let _guard = tokio.handle().enter();
    let runtime = PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));

    let mut store = Store::default();
    // Module::from_file compiles WAT text as well as binaries.
    let module = match Module::from_file(&store, &task.module) {
        Ok(module) => module,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let mut env = match wasi_env(task, runtime).and_then(|b| b.finalize(&mut store).map_err(|e| e.to_string())) {
        Ok(env) => env,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let imports = match env.import_object(&mut store, &module) {
        Ok(imports) => imports,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let instance = match Instance::new(&mut store, &module, &imports) {
        Ok(instance) => instance,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    if let Err(err) = env.initialize(&mut store, instance.clone()) {
        return exit_code::load_failed(EXECUTOR, &task.module, &err);
    }
    let name = task.function.as_deref().unwrap_or("_start");
    let func = match instance.exports.get_function(name) {
        Ok(func) => func,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &format!("export {name:?}: {err}")),
    };
    let status = outcome(&task.module, func.call(&mut store, &[]).map(drop));
    env.on_exit(&mut store, None);
    status
}

/// WASI environment, read top to bottom: argv, env, preopens. Stdio is inherited.
fn wasi_env(task: &Task, runtime: PluggableRuntime) -> Result<wasmer_wasix::WasiEnvBuilder, String> {
    let mut args = task.args.iter().map(|a| a.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_default();
    // wasmer-wasix's default filesystem is a scratch tmpfs: the guest gets the container's.
    let fs = ContainerFs::new().map_err(|e| format!("container filesystem: {e}"))?;
    let mut builder = WasiEnv::builder(program)
        .args(args)
        .runtime(Arc::new(runtime))
        .fs(Arc::new(fs) as Arc<dyn wasmer_wasix::virtual_fs::FileSystem + Send + Sync>);
    for (key, value) in task.env_pairs() {
        use std::os::unix::ffi::OsStrExt;
        builder.add_env(key.as_bytes(), value.as_bytes());
    }
    for preopen in &task.preopens {
        let guest = preopen.guest.to_string_lossy().into_owned();
        let writable = !preopen.read_only;
        builder
            .add_preopen_build(|p| {
                p.directory(&preopen.guest).alias(&guest).read(true).write(writable).create(writable)
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(builder)
}

/// A finished call as an exit status: return is 0, `proc_exit(n)` is n, a trap is
/// [`exit_code::TRAP`] with a one-line message.
fn outcome(module: &Path, result: Result<(), RuntimeError>) -> u8 {
    let err = match result {
        Ok(()) => return 0,
        Err(err) => err,
    };
    if let Some(WasiError::Exit(code)) = err.downcast_ref::<WasiError>() {
        return exit_code::guest_exit(code.raw());
    }
    exit_code::trapped(EXECUTOR, module, &err.message())
}

