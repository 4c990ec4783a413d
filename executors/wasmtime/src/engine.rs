//! The wasmtime engine: load, link WASI, run, and turn the outcome into an exit status.
//!
//! Core modules get WASI preview 1 (`wasmtime_wasi::p1`), components the preview 2
//! `wasi:cli/command` world; `.wat` text is compiled by wasmtime's `wat` support.

use std::path::Path;

use runw_shared::{exit_code, ModuleKind, Task};

const EXECUTOR: &str = "wasmtime-exec";
use wasmtime::component::{Component, Linker as ComponentLinker};
use wasmtime::{Config, Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// Runs the task; returns the executor's exit status.
pub fn run(task: &Task) -> u8 {
    let engine = match Engine::new(&Config::new()) {
        Ok(engine) => engine,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let kind = match runw_shared::module_kind::of_file(&task.module) {
        Ok(Some(kind)) => kind,
        Ok(None) => return exit_code::load_failed(EXECUTOR, &task.module, &"not a wasm module or WAT text"),
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let wasi = match wasi_context(task) {
        Ok(wasi) => wasi,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let is_component = match kind {
        ModuleKind::Core => false,
        ModuleKind::Component => true,
        // Text may hold either; wasmtime parses it for both.
        ModuleKind::Text => text_is_component(&task.module),
    };
    let mut store = Store::new(&engine, wasi);
    if is_component {
        run_component(&engine, &mut store, task)
    } else {
        run_core(&engine, &mut store, task)
    }
}

/// WASI context, read top to bottom: args, env, stdio, preopens.
fn wasi_context(task: &Task) -> wasmtime::Result<WasiP1Ctx> {
    let mut wasi = WasiCtxBuilder::new();
    // wasmtime's WASI takes UTF-8 strings: other bytes become U+FFFD.
    for arg in &task.args {
        wasi.arg(arg.to_string_lossy());
    }
    for (key, value) in task.env_pairs() {
        wasi.env(key.to_string_lossy(), value.to_string_lossy());
    }
    wasi.inherit_stdio();
    for preopen in &task.preopens {
        let perms = if preopen.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
        let guest = preopen.guest.to_string_lossy();
        wasi.preopened_dir(&preopen.guest, guest, perms)?;
    }
    Ok(wasi.build_p1())
}

fn run_core(engine: &Engine, store: &mut Store<WasiP1Ctx>, task: &Task) -> u8 {
    let module = match Module::from_file(engine, &task.module) {
        Ok(module) => module,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let mut linker = Linker::new(engine);
    if let Err(err) = wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx) {
        return exit_code::load_failed(EXECUTOR, &task.module, &err);
    }
    let instance = match linker.instantiate(&mut *store, &module) {
        Ok(instance) => instance,
        Err(err) => return outcome(&task.module, Err(err)),
    };
    let name = task.function.as_deref().unwrap_or("_start");
    let func = match instance.get_typed_func::<(), ()>(&mut *store, name) {
        Ok(func) => func,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &format!("export {name:?}: {err}")),
    };
    outcome(&task.module, func.call(&mut *store, ()))
}

fn run_component(engine: &Engine, store: &mut Store<WasiP1Ctx>, task: &Task) -> u8 {
    if let Some(function) = &task.function {
        return exit_code::load_failed(EXECUTOR, &task.module, &format!("components run wasi:cli/run, not {function:?}"));
    }
    let component = match Component::from_file(engine, &task.module) {
        Ok(component) => component,
        Err(err) => return exit_code::load_failed(EXECUTOR, &task.module, &err),
    };
    let mut linker = ComponentLinker::new(engine);
    if let Err(err) = wasmtime_wasi::p2::add_to_linker_sync(&mut linker) {        return exit_code::load_failed(EXECUTOR, &task.module, &err);
    }
    let command = match Command::instantiate(&mut *store, &component, &linker) {
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
fn text_is_component(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with(";;"))
            .is_some_and(|l| l.starts_with("(component"))
    })
}
