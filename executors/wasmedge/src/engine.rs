//! The WasmEdge engine: load (assembling `.wat` text first), set up WASI, run, and turn the
//! outcome into an exit status. Core modules only: components are not run.
//!
//! WasmEdge built without LLVM interprets: there is no compiled form to cache, so `--engine-id`
//! tells the runtime so and the compile cache keeps nothing for this executor.

use std::collections::HashMap;

use runw_shared::{exit_code, Failure, Preopen, Program, Task};
use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
use wasmedge_sdk::vm::SyncInst;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{Module, Store, Vm};

pub struct WasmEdge;

impl runw_shared::executor_main::Engine for WasmEdge {
    fn id(&self) -> Option<String> {
        None
    }

    fn runs_components(&self) -> bool {
        false
    }

    fn precompile(&self, _wasm: &[u8], _program: Program) -> Result<Vec<u8>, String> {
        Err("WasmEdge interprets: nothing to precompile".into())
    }

    fn run(
        &self,
        task: &Task,
        program: Program,
        _precompiled: Option<runw_shared::Precompiled>,
    ) -> Result<u8, Failure> {
        // WasmEdge logs errors on stdout, which is the guest's: the outcome is reported here,
        // on one line of stderr.
        wasmedge_sdk::log::LogManager::log_off();
        let bytes = load(task, program).map_err(Failure::load)?;
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
        // GUEST:HOST[:readonly]. WasmEdge names a preopen other than `/` without its leading
        // `/` (`/data` is `data`), which wasi-libc ignores: paths resolve as in a container.
        let preopens: Vec<String> = task.preopens.iter().map(preopen).collect();
        if let Some(bad) = args
            .iter()
            .chain(&env)
            .chain(&preopens)
            .find(|s| s.contains('\0'))
        {
            return Err(Failure::load(format!("{bad:?} holds a NUL byte")));
        }
        let mut wasi =
            WasiModule::create(Some(strs(&args)), Some(strs(&env)), Some(strs(&preopens)))
                .map_err(Failure::load)?;
        let function = task.function.as_deref().unwrap_or("_start");
        let result = call(&mut wasi, bytes, function);
        match result {
            // WasmEdge ends a run that called proc_exit as if it returned: the code is the
            // WASI module's (0 when the guest just returned).
            Ok(()) => Ok(exit_code::guest_exit(wasi.exit_code() as i32)),
            // Or as "terminated", depending on where the guest was.
            Err(Ended::Run(err)) if is_termination(&err) => {
                Ok(exit_code::guest_exit(wasi.exit_code() as i32))
            }
            Err(Ended::Run(err)) => Err(Failure::trap(err)),
            Err(Ended::Load(err)) => Err(Failure::Load(err)),
        }
    }
}

/// How a call that did not return ended.
enum Ended {
    Load(String),
    Run(Box<WasmEdgeError>),
}

/// The module's binary: read, or assembled from text.
fn load(task: &Task, program: Program) -> Result<Vec<u8>, String> {
    if program.text {
        wat::parse_file(&task.module).map_err(|e| e.to_string())
    } else {
        std::fs::read(&task.module).map_err(|e| e.to_string())
    }
}

/// Instantiates the module with WASI and calls `function`.
fn call(wasi: &mut WasiModule, bytes: Vec<u8>, function: &str) -> Result<(), Ended> {
    let name = wasi.name().to_owned();
    let mut instances: HashMap<String, &mut dyn SyncInst> = HashMap::new();
    instances.insert(name, wasi.as_mut());
    let store = Store::new(None, instances).map_err(|e| Ended::Load(e.to_string()))?;
    let mut vm = Vm::new(store);
    let module = Module::from_bytes(None, bytes).map_err(|e| Ended::Load(e.to_string()))?;
    vm.register_module(None, module)
        .map_err(|e| Ended::Load(e.to_string()))?;
    runw_shared::heap::release_free();
    vm.run_func(None, function, [])
        .map(drop)
        .map_err(|err| match *err {
            WasmEdgeError::Core(CoreError::Execution(_))
            | WasmEdgeError::Core(CoreError::Common(_)) => Ended::Run(err),
            // Not run at all: the export is missing or not callable.
            _ => Ended::Load(format!("export {function:?}: {err}")),
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
