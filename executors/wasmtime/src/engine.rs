//! The wasmtime engine: load (or deserialize what `--precompile` made), link WASI, run, and
//! turn the outcome into an exit status.
//!
//! Core modules get WASI preview 1 (`wasmtime_wasi::p1`), components the preview 2
//! `wasi:cli/command` world, or are served (see [`crate::http_proxy`]) when they export
//! `wasi:http/incoming-handler`; `.wat` text is compiled by wasmtime's `wat` support.

use std::path::Path;
use std::ptr::NonNull;

use runw_shared::{exit_code, Failure, Precompiled, Program, Task};

use crate::world::World;

pub(crate) const EXECUTOR: &str = "wasmtime-exec";
use wasmtime::component::{Component, Linker as ComponentLinker};
use wasmtime::{Config, Engine, Linker, Module, Precompiled as ArtifactKind, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// wasmtime with the one configuration both modes use: what `--precompile` compiles with is
/// what runs (publishing code in place, [`crate::code_memory`], changes no generated code).
pub struct Wasmtime {
    engine: wasmtime::Result<Engine>,
    in_place: bool,
}

impl Wasmtime {
    pub fn new() -> Self {
        let (config, in_place) = config_with_code_memory();
        Wasmtime {
            engine: Engine::new(&config),
            in_place,
        }
    }
}

/// The configuration every engine of wasmtime-exec starts from (the serving engine adds
/// only its instance allocator): what `--precompile` compiles with is what runs.
pub(crate) fn config() -> Config {
    Config::new()
}

/// [`config`] publishing code in place ([`crate::code_memory`]) where the architecture
/// allows, so that a mapped artifact runs where it lies; whether it does.
fn config_with_code_memory() -> (Config, bool) {
    let mut config = config();
    let code_memory = crate::code_memory::in_place();
    let in_place = code_memory.is_some();
    config.with_custom_code_memory(code_memory);
    (config, in_place)
}

/// A compiled module or component, ready to instantiate.
enum Loaded {
    Core(Module),
    Component(Component),
}

impl runw_shared::executor_main::Engine for Wasmtime {
    fn id(&self) -> Option<String> {
        Some(crate::engine_id::of(&self.engine))
    }

    fn runs_components(&self) -> bool {
        true
    }

    fn precompile(&self, wasm: &[u8], program: Program) -> Result<Vec<u8>, String> {
        let engine = self.engine.as_ref().map_err(|e| e.to_string())?;
        // A core module is validated whole before any function is compiled, so that a module
        // invalid in its last function fails at once rather than after compiling the rest.
        if program
            == (Program {
                component: false,
                text: false,
            })
        {
            Module::validate(engine, wasm).map_err(|e| format!("invalid module: {e:#}"))?;
        }
        let artifact = if program.component {
            engine.precompile_component(wasm)
        } else {
            engine.precompile_module(wasm)
        };
        artifact.map_err(|e| e.to_string())
    }

    fn run(
        &self,
        task: &Task,
        program: Program,
        precompiled: Option<Precompiled>,
    ) -> Result<u8, Failure> {
        let engine = self.engine.as_ref().map_err(Failure::load)?;
        let loaded = match precompiled.map(|p| self.deserialize(engine, p)) {
            Some(Ok(loaded)) => loaded,
            Some(Err(err)) => {
                eprintln!(
                    "{EXECUTOR}: precompiled {} rejected ({err}); compiling it",
                    task.module.display()
                );
                compile(engine, &task.module, program).map_err(Failure::load)?
            }
            None => compile(engine, &task.module, program).map_err(Failure::load)?,
        };
        if let Loaded::Component(component) = &loaded {
            match crate::world::of(engine, component) {
                World::HttpProxy => return crate::http_proxy::serve(engine, component, task),
                World::Neither => return Err(Failure::load(World::NEITHER)),
                World::Command => {}
            }
        };
        let wasi = wasi_context(task).map_err(Failure::load)?;
        let mut store = Store::new(engine, wasi);
        match loaded {
            Loaded::Core(module) => run_core(engine, &mut store, task, &module),
            Loaded::Component(component) => run_component(engine, &mut store, task, &component),
        }
    }
}

/// Compiles the module file, whichever program it holds (wasmtime parses text itself).
fn compile(engine: &Engine, path: &Path, program: Program) -> wasmtime::Result<Loaded> {
    if program.component {
        Component::from_file(engine, path).map(Loaded::Component)
    } else {
        Module::from_file(engine, path).map(Loaded::Core)
    }
}

impl Wasmtime {
    /// Loads an artifact of `--precompile`: in place when it is mapped from the file (its
    /// code runs from the page cache), else copied; a mapping wasmtime cannot use in place
    /// (a `noexec` mount refuses executable pages) is copied instead.
    fn deserialize(&self, engine: &Engine, artifact: Precompiled) -> wasmtime::Result<Loaded> {
        let bytes = artifact.bytes();
        let kind = Engine::detect_precompiled(bytes)
            .ok_or_else(|| wasmtime::Error::msg("not a wasmtime artifact"))?;
        if self.in_place && artifact.is_mapped() {
            match deserialize_in_place(engine, bytes, kind) {
                Ok(loaded) => return Ok(loaded),
                Err(err) => {
                    eprintln!("{EXECUTOR}: artifact not usable in place ({err:#}); copying it")
                }
            }
        }
        match kind {
            ArtifactKind::Module => {
                // SAFETY: the runtime hands over only artifacts its compile cache wrote from
                // this executor's `--precompile` output and authenticated before passing
                // them (a keyed MAC that no container can forge); wasmtime itself rejects
                // artifacts of another version or configuration.
                unsafe { Module::deserialize(engine, bytes) }.map(Loaded::Core)
            }
            ArtifactKind::Component => {
                // SAFETY: as for a module, above.
                unsafe { Component::deserialize(engine, bytes) }.map(Loaded::Component)
            }
        }
    }
}

/// Loads an artifact from memory lent for the life of the process, without copying it.
fn deserialize_in_place(
    engine: &Engine,
    bytes: &'static [u8],
    kind: ArtifactKind,
) -> wasmtime::Result<Loaded> {
    let memory = NonNull::from(bytes);
    match kind {
        ArtifactKind::Module => {
            // SAFETY: as in `Wasmtime::deserialize` for the artifact's origin; and `memory`
            // is a private mapping of a file that is never written, kept until the process
            // exits, page-aligned, which wasmtime makes executable through
            // `crate::code_memory`.
            unsafe { Module::deserialize_raw(engine, memory) }.map(Loaded::Core)
        }
        ArtifactKind::Component => {
            // SAFETY: as for a module, above.
            unsafe { Component::deserialize_raw(engine, memory) }.map(Loaded::Component)
        }
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

fn run_core(
    engine: &Engine,
    store: &mut Store<WasiP1Ctx>,
    task: &Task,
    module: &Module,
) -> Result<u8, Failure> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).map_err(Failure::load)?;
    crate::rmdir_slash::replace(&mut linker).map_err(Failure::load)?;
    let instance = match linker.instantiate(&mut *store, module) {
        Ok(instance) => instance,
        Err(err) => return outcome(Err(err)),
    };
    let name = task.function.as_deref().unwrap_or("_start");
    let func = instance
        .get_typed_func::<(), ()>(&mut *store, name)
        .map_err(|err| Failure::load(format!("export {name:?}: {err}")))?;
    runw_shared::heap::release_free();
    outcome(func.call(&mut *store, ()))
}

fn run_component(
    engine: &Engine,
    store: &mut Store<WasiP1Ctx>,
    task: &Task,
    component: &Component,
) -> Result<u8, Failure> {
    if let Some(function) = &task.function {
        return Err(Failure::load(format!(
            "components run wasi:cli/run, not {function:?}"
        )));
    }
    let mut linker = ComponentLinker::new(engine);
    // Links `wasi:cli/exit`'s `exit-with-code` (WASI 0.2.12) too: its code is the status.
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(Failure::load)?;
    let command = Command::instantiate(&mut *store, component, &linker).map_err(Failure::load)?;
    runw_shared::heap::release_free();
    match command.wasi_cli_run().call_run(&mut *store) {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(err) => outcome(Err(err)),
    }
}

/// A finished call as an exit status: return is 0, `proc_exit(n)` (or `exit-with-code(n)`)
/// is n, anything else a failure.
fn outcome(result: wasmtime::Result<()>) -> Result<u8, Failure> {
    match result {
        Ok(()) => Ok(0),
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit_code::guest_exit(exit.0)),
            None => Err(failure(&err)),
        },
    }
}

/// A trap, or a failure to instantiate (a missing import): a load failure, not a trap.
fn failure(err: &wasmtime::Error) -> Failure {
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        return Failure::trap(trap);
    }
    if err.downcast_ref::<wasmtime::UnknownImportError>().is_some() {
        return Failure::load(err);
    }
    Failure::trap(err)
}
