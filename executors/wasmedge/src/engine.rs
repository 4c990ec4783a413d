//! The WasmEdge engine: load (assembling `.wat` text first), set up WASI, run, and turn the
//! outcome into an exit status. Core modules only: components are not run.
//!
//! WasmEdge built without LLVM interprets: there is no compiled form to cache, so `--engine-id`
//! tells the runtime so and the compile cache keeps nothing for this executor.

use std::collections::HashMap;

use runw_shared::{exit_code, ModuleKind, Preopen, Task};
use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
use wasmedge_sdk::vm::SyncInst;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{Module, Store, Vm};

const EXECUTOR: &str = "wasmedge-exec";

pub struct WasmEdge;

impl runw_shared::executor_main::Engine for WasmEdge {
    fn id(&self) -> Option<String> {
        None
    }

    fn precompile(&self, _wasm: &[u8]) -> Result<Vec<u8>, String> {
        Err("WasmEdge interprets: nothing to precompile".into())
    }

    fn run(&self, task: &Task, _precompiled: Option<Vec<u8>>) -> u8 {
        // WasmEdge logs errors on stdout, which is the guest's: the outcome is reported here,
        // on one line of stderr.
        wasmedge_sdk::log::LogManager::log_off();
        let bytes = match load(task) {
            Ok(bytes) => bytes,
            Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
        };
        // WasmEdge's WASI takes C strings: other bytes become U+FFFD, NUL ends a string.
        let args: Vec<String> = task
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let env: Vec<String> = task
            .env
            .iter()
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        // GUEST:HOST[:readonly]; the guest sees each directory at its container path.
        let preopens: Vec<String> = task.preopens.iter().map(preopen).collect();
        if let Some(bad) = args
            .iter()
            .chain(&env)
            .chain(&preopens)
            .find(|s| s.contains('\0'))
        {
            return exit_code::load_failed(
                EXECUTOR,
                &task.module,
                &format!("{bad:?} holds a NUL byte"),
            );
        }
        let mut wasi =
            match WasiModule::create(Some(strs(&args)), Some(strs(&env)), Some(strs(&preopens))) {
                Ok(wasi) => wasi,
                Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
            };
        let function = task.function.as_deref().unwrap_or("_start");
        let result = call(&mut wasi, bytes, function);
        match result {
            // WasmEdge ends a run that called proc_exit as if it returned: the code is the
            // WASI module's (0 when the guest just returned).
            Ok(()) => exit_code::guest_exit(wasi.exit_code() as i32),
            // Or as "terminated", depending on where the guest was.
            Err(Failure::Run(err)) if is_termination(&err) => {
                exit_code::guest_exit(wasi.exit_code() as i32)
            }
            Err(Failure::Run(err)) => exit_code::trapped(EXECUTOR, &task.module, &err),
            Err(Failure::Load(err)) => exit_code::load_failed(EXECUTOR, &task.module, &err),
        }
    }
}

enum Failure {
    Load(String),
    Run(Box<WasmEdgeError>),
}

/// The module's binary: read, or assembled from text.
fn load(task: &Task) -> Result<Vec<u8>, String> {
    match runw_shared::module_kind::of_file(&task.module) {
        Ok(Some(ModuleKind::Core)) => std::fs::read(&task.module).map_err(|e| e.to_string()),
        Ok(Some(ModuleKind::Text)) => wat::parse_file(&task.module).map_err(|e| e.to_string()),
        Ok(Some(ModuleKind::Component)) => {
            Err("wasmedge-exec runs core modules, not components".into())
        }
        Ok(None) => Err("not a wasm module or WAT text".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// Instantiates the module with WASI and calls `function`.
fn call(wasi: &mut WasiModule, bytes: Vec<u8>, function: &str) -> Result<(), Failure> {
    let name = wasi.name().to_owned();
    let mut instances: HashMap<String, &mut dyn SyncInst> = HashMap::new();
    instances.insert(name, wasi.as_mut());
    let store = Store::new(None, instances).map_err(|e| Failure::Load(e.to_string()))?;
    let mut vm = Vm::new(store);
    let module = Module::from_bytes(None, bytes).map_err(|e| Failure::Load(e.to_string()))?;
    vm.register_module(None, module)
        .map_err(|e| Failure::Load(e.to_string()))?;
    vm.run_func(None, function, [])
        .map(drop)
        .map_err(|err| match *err {
            WasmEdgeError::Core(CoreError::Execution(_))
            | WasmEdgeError::Core(CoreError::Common(_)) => Failure::Run(err),
            // Not run at all: the export is missing or not callable.
            _ => Failure::Load(format!("export {function:?}: {err}")),
        })
}

/// `GUEST:HOST[:readonly]` for WasmEdge's WASI. WasmEdge 0.17.1 opens HOST with
/// `O_NOFOLLOW`, so the `/proc/self/fd/N` (a symlink) that runw hands over fails and the
/// preopen is silently dropped: HOST is given as `HOST/.`, whose last component is no
/// symlink, and which is the same directory.
fn preopen(preopen: &Preopen) -> String {
    let guest = preopen.guest.to_string_lossy();
    let host = preopen.host.join(".");
    let host = host.to_string_lossy();
    if preopen.read_only {
        format!("{guest}:{host}:readonly")
    } else {
        format!("{guest}:{host}")
    }
}

fn is_termination(err: &WasmEdgeError) -> bool {
    matches!(
        err,
        WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated))
    )
}

fn strs(strings: &[String]) -> Vec<&str> {
    strings.iter().map(String::as_str).collect()
}
