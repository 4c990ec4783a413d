//! The wasmtime engine: load (or deserialize what `--precompile` made), link WASI, run, and
//! turn the outcome into an exit status.
//!
//! Core modules get WASI preview 1 (`wasmtime_wasi::p1`), components the preview 2
//! `wasi:cli/command` world, or are served (see [`crate::http_proxy`]) when they export
//! `wasi:http/incoming-handler`; `.wat` text is compiled by wasmtime's `wat` support.

use std::hash::{Hash, Hasher};
use std::path::Path;

use runw_shared::{exit_code, ModuleKind, Task};

use crate::world::World;

pub(crate) const EXECUTOR: &str = "wasmtime-exec";
use wasmtime::component::{Component, Linker as ComponentLinker};
use wasmtime::{Config, Engine, Linker, Module, Precompiled, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// wasmtime with the one configuration both modes use: what `--precompile` compiles with is
/// what runs.
pub struct Wasmtime {
    engine: wasmtime::Result<Engine>,
}

impl Wasmtime {
    pub fn new() -> Self {
        Wasmtime {
            engine: Engine::new(&Config::new()),
        }
    }
}

/// A compiled module or component, ready to instantiate.
enum Program {
    Core(Module),
    Component(Component),
}

impl runw_shared::executor_main::Engine for Wasmtime {
    fn id(&self) -> Option<String> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        match &self.engine {
            // The compatibility hash covers wasmtime's version, the target and every
            // code-generation setting of the config.
            Ok(engine) => engine.precompile_compatibility_hash().hash(&mut hasher),
            Err(err) => err.to_string().hash(&mut hasher),
        }
        Some(format!(
            "wasmtime-exec {} wasmtime-48 {:016x}",
            env!("CARGO_PKG_VERSION"),
            hasher.finish()
        ))
    }

    fn precompile(&self, wasm: &[u8]) -> Result<Vec<u8>, String> {
        let engine = self.engine.as_ref().map_err(|e| e.to_string())?;
        let is_component = match runw_shared::module_kind::of_bytes(wasm) {
            Some(ModuleKind::Core) => false,
            Some(ModuleKind::Component) => true,
            Some(ModuleKind::Text) => text_is_component(&String::from_utf8_lossy(wasm)),
            None => return Err("not a wasm module or WAT text".into()),
        };
        // A core module is validated whole before any function is compiled, so that a module
        // invalid in its last function fails at once rather than after compiling the rest.
        if !is_component && runw_shared::module_kind::of_bytes(wasm) == Some(ModuleKind::Core) {
            Module::validate(engine, wasm).map_err(|e| format!("invalid module: {e:#}"))?;
        }
        let artifact = if is_component {
            engine.precompile_component(wasm)
        } else {
            engine.precompile_module(wasm)
        };
        artifact.map_err(|e| e.to_string())
    }

    fn run(&self, task: &Task, precompiled: Option<Vec<u8>>) -> u8 {
        let engine = match &self.engine {
            Ok(engine) => engine,
            Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, err),
        };
        let loaded = match precompiled.map(|bytes| deserialize(engine, &bytes)) {
            Some(Ok(program)) => Ok(program),
            Some(Err(err)) => {
                eprintln!(
                    "{EXECUTOR}: precompiled {} rejected ({err}); compiling it",
                    task.module.display()
                );
                compile(engine, &task.module)
            }
            None => compile(engine, &task.module),
        };
        let program = match loaded {
            Ok(program) => program,
            Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
        };
        if let Program::Component(component) = &program {
            match crate::world::of(engine, component) {
                World::HttpProxy => return crate::http_proxy::serve(engine, component, task),
                World::Neither => {
                    return exit_code::load_failed(EXECUTOR, &task.module, &World::NEITHER)
                }
                World::Command => {}
            }
        }
        let wasi = match wasi_context(task) {
            Ok(wasi) => wasi,
            Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
        };
        let mut store = Store::new(engine, wasi);
        match program {
            Program::Core(module) => run_core(engine, &mut store, task, &module),
            Program::Component(component) => run_component(engine, &mut store, task, &component),
        }
    }
}

/// Compiles the module file, whichever kind it is.
fn compile(engine: &Engine, path: &Path) -> Result<Program, String> {
    let kind = match runw_shared::module_kind::of_file(path) {
        Ok(Some(kind)) => kind,
        Ok(None) => return Err("not a wasm module or WAT text".into()),
        Err(err) => return Err(err.to_string()),
    };
    let is_component = match kind {
        ModuleKind::Core => false,
        ModuleKind::Component => true,
        // Text may hold either; wasmtime parses it for both.
        ModuleKind::Text => std::fs::read_to_string(path).is_ok_and(|t| text_is_component(&t)),
    };
    if is_component {
        Component::from_file(engine, path)
            .map(Program::Component)
            .map_err(|e| e.to_string())
    } else {
        Module::from_file(engine, path)
            .map(Program::Core)
            .map_err(|e| e.to_string())
    }
}

/// Loads an artifact of `--precompile`.
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Program> {
    match Engine::detect_precompiled(bytes) {
        // SAFETY: the runtime hands over only artifacts its compile cache wrote from this
        // executor's `--precompile` output and authenticated before passing them (a keyed
        // MAC that no container can forge); wasmtime itself rejects artifacts of another
        // version or configuration.
        Some(Precompiled::Module) => {
            unsafe { Module::deserialize(engine, bytes) }.map(Program::Core)
        }
        // SAFETY: as above.
        Some(Precompiled::Component) => {
            unsafe { Component::deserialize(engine, bytes) }.map(Program::Component)
        }
        None => Err(wasmtime::Error::msg("not a wasmtime artifact")),
    }
}

/// WASI context, read top to bottom: args, env, stdio, network, preopens.
fn wasi_context(task: &Task) -> wasmtime::Result<WasiP1Ctx> {
    Ok(wasi_builder(task)?.build_p1())
}

/// The WASI context of `task`, before it is built for preview 1 or 2. Components get
/// `wasi:sockets` (TCP, UDP, name lookup) on any address of the container's network
/// namespace, as a Linux process there; core modules have no standard sockets.
pub(crate) fn wasi_builder(task: &Task) -> wasmtime::Result<WasiCtxBuilder> {
    let mut wasi = WasiCtxBuilder::new();
    // wasmtime's WASI takes UTF-8 strings: other bytes become U+FFFD.
    for arg in &task.args {
        wasi.arg(arg.to_string_lossy());
    }
    for (key, value) in task.env_pairs() {
        wasi.env(key.to_string_lossy(), value.to_string_lossy());
    }
    wasi.inherit_stdio();
    wasi.inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    for preopen in &task.preopens {
        let perms = if preopen.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        let guest = preopen.guest.to_string_lossy();
        wasi.preopened_dir(&preopen.host, guest, perms)?;
    }
    Ok(wasi)
}

fn run_core(engine: &Engine, store: &mut Store<WasiP1Ctx>, task: &Task, module: &Module) -> u8 {
    let mut linker = Linker::new(engine);
    if let Err(err) = wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx) {
        return exit_code::load_failed(EXECUTOR, &task.module, &err);
    }
    let instance = match linker.instantiate(&mut *store, module) {
        Ok(instance) => instance,
        Err(err) => return outcome(&task.module, Err(err)),
    };
    let name = task.function.as_deref().unwrap_or("_start");
    let func = match instance.get_typed_func::<(), ()>(&mut *store, name) {
        Ok(func) => func,
        Err(err) => {
            return exit_code::load_failed(
                EXECUTOR,
                &task.module,
                &format!("export {name:?}: {err}"),
            )
        }
    };
    outcome(&task.module, func.call(&mut *store, ()))
}

fn run_component(
    engine: &Engine,
    store: &mut Store<WasiP1Ctx>,
    task: &Task,
    component: &Component,
) -> u8 {
    if let Some(function) = &task.function {
        return exit_code::load_failed(
            EXECUTOR,
            &task.module,
            &format!("components run wasi:cli/run, not {function:?}"),
        );
    }
    let mut linker = ComponentLinker::new(engine);
    if let Err(err) = wasmtime_wasi::p2::add_to_linker_sync(&mut linker) {
        return exit_code::load_failed(EXECUTOR, &task.module, &err);
    }
    let command = match Command::instantiate(&mut *store, component, &linker) {
        Ok(command) => command,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    match command.wasi_cli_run().call_run(&mut *store) {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(err) => outcome(&task.module, Err(err)),
    }
}

/// A finished call as an exit status: return is 0, `proc_exit(n)` is n, a trap is
/// [`exit_code::TRAP`] with a one-line message.
fn outcome(module: &Path, result: wasmtime::Result<()>) -> u8 {
    let err = match result {
        Ok(()) => return 0,
        Err(err) => err,
    };
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return exit_code::guest_exit(exit.0);
    }
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        return exit_code::trapped(EXECUTOR, module, trap);
    }
    // Instantiation can fail on a missing import: a load failure, not a guest trap.
    if err.downcast_ref::<wasmtime::UnknownImportError>().is_some() {
        return exit_code::load_failed(EXECUTOR, module, &err);
    }
    exit_code::trapped(EXECUTOR, module, &err)
}

/// WAT text of a component starts with `(component` once comments are skipped.
fn text_is_component(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(";;"))
        .is_some_and(|l| l.starts_with("(component"))
}
