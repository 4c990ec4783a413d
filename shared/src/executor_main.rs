//! What every executor's `main` does around its engine.
//!
//! An executor has three modes, chosen by its first argument:
//!
//! ```text
//! EXECUTOR --version         print `NAME VERSION (ENGINE VERSION)` and exit 0
//! EXECUTOR --engine-id       print the engine's identity (see [`Engine::id`]) and exit 0,
//!                            or exit NO_COMPILED_FORM for an engine that has nothing to cache
//! EXECUTOR --precompile      compile the module read from stdin, write the artifact to stdout
//! EXECUTOR TASK...           run a task (see [`crate::task`]) as the container's PID 1
//! ```
//!
//! The first two run on the host, started by runw for its compile cache; the third runs in
//! the container. In run mode it watches termination signals (it is the container's PID 1),
//! reads its task from its command line and environment, judges the module (a kind the
//! engine cannot run is refused here), loads the precompiled artifact it was handed if any,
//! runs the engine, and exits with the status the engine returns. A failure the engine
//! returns is reported here, once, as one line on stderr (see [`exit_code`]).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd};
use std::path::Path;
use std::process::ExitCode;

use crate::precompiled::Precompiled;
use crate::{digest, exit_code, signals, PrecompiledRef, Program, Task};

/// Prints the executor's and its engine's versions.
pub const VERSION: &str = "--version";
/// Prints the engine identity.
pub const ENGINE_ID: &str = "--engine-id";
/// Compiles stdin to stdout.
pub const PRECOMPILE: &str = "--precompile";
/// The status of `--engine-id` and `--precompile` for an engine with no compiled form (an
/// interpreter): the runtime then keeps no cache for it.
pub const NO_COMPILED_FORM: u8 = 3;

/// What an executor's engine provides; everything else is common.
pub trait Engine {
    /// One line naming the engine, its version and every setting that changes the code it
    /// generates: artifacts are only ever loaded by an engine with the same identity. `None`
    /// for an engine with no compiled form, whose `precompile` is never asked for.
    fn id(&self) -> Option<String>;
    /// Whether the engine runs components; every engine runs core modules, binary or text.
    /// A component is refused before the engine is asked to compile or run it.
    fn runs_components(&self) -> bool;
    /// Compiles `wasm`, which holds `program`, to the engine's serialized form.
    fn precompile(&self, wasm: &[u8], program: Program) -> Result<Vec<u8>, String>;
    /// Runs the task, whose module holds `program`; `precompiled` is the artifact
    /// [`Engine::precompile`] made of its module, when the runtime handed one over. Returns
    /// the exit status of a guest that ran to its end, or why it did not.
    fn run(
        &self,
        task: &Task,
        program: Program,
        precompiled: Option<Precompiled>,
    ) -> Result<u8, Failure>;
}

/// Why an engine did not run a guest to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The module could not be loaded, linked or started ([`exit_code::LOAD_FAILED`]).
    Load(String),
    /// The guest trapped ([`exit_code::TRAP`]).
    Trap(String),
}

impl Failure {
    /// A load failure, its causes on one line.
    pub fn load(err: impl std::fmt::Display) -> Failure {
        Failure::Load(exit_code::one_line(&err))
    }

    /// A trap, its causes on one line.
    pub fn trap(err: impl std::fmt::Display) -> Failure {
        Failure::Trap(exit_code::one_line(&err))
    }
}

/// The program in `module`, if `name`'s engine runs it.
fn judge(
    name: &str,
    engine: &impl Engine,
    module: Option<&[u8]>,
    path: &Path,
) -> Result<Program, String> {
    let program = match module {
        Some(bytes) => Program::of_bytes(bytes),
        None => Program::of_file(path).map_err(|err| err.to_string())?,
    };
    match program {
        None => Err("not a wasm module or WAT text".into()),
        Some(p) if p.component && !engine.runs_components() => {
            Err(format!("{name} runs core modules, not components"))
        }
        Some(p) => Ok(p),
    }
}

/// Runs executor `name` on `engine`, which is `engine_version` (e.g. `wasmtime 48.0.0`);
/// returns the process's exit status.
pub fn run(name: &str, engine_version: &str, engine: &impl Engine) -> ExitCode {
    name_this_process(name);
    let first = std::env::args_os().nth(1);
    match first.as_ref().and_then(|a| a.to_str()) {
        Some(VERSION) => return print_version(name, engine_version),
        Some(ENGINE_ID) => return print_id(name, engine),
        Some(PRECOMPILE) => return precompile(name, engine),
        _ => {}
    }
    if let Err(err) = signals::exit_on_termination() {
        eprintln!("{name}: cannot watch termination signals: {err}");
    }
    let task = match Task::from_process() {
        Ok(task) => task,
        Err(err) => {
            eprintln!("{name}: {err}");
            return ExitCode::from(exit_code::BAD_TASK);
        }
    };
    crate::engine_environment::set();
    let precompiled =
        task.precompiled
            .as_ref()
            .and_then(|p| match load_precompiled(p, &task.module) {
                Ok(bytes) => Some(bytes),
                Err(err) => {
                    eprintln!(
                        "{name}: not using the precompiled module: {err}; compiling {}",
                        task.module.display()
                    );
                    None
                }
            });
    let status = judge(name, engine, None, &task.module)
        .map_err(Failure::Load)
        .and_then(|program| engine.run(&task, program, precompiled));
    ExitCode::from(match status {
        Ok(status) => status,
        Err(Failure::Load(err)) => exit_code::load_failed(name, &task.module, &err),
        Err(Failure::Trap(trap)) => exit_code::trapped(name, &task.module, &trap),
    })
}

/// The artifact from its descriptor's current offset to its end (mapped where it can be, see
/// [`Precompiled`]), if it was made from the module at `module`, byte for byte. The
/// descriptor stays open for the life of the process: the one read-only handle on the
/// artifact that the container can see, before and after loading alike (reopening it
/// through `/proc` for writing fails with EROFS).
fn load_precompiled(precompiled: &PrecompiledRef, module: &Path) -> std::io::Result<Precompiled> {
    // SAFETY: the runtime handed this descriptor to the executor for it alone (`Task` parsing
    // accepts only numbers above 2, so never stdio); nothing else in this process owns or
    // closes it. A number that is not open makes the read fail with EBADF, which is reported.
    let file = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(precompiled.fd) });
    if !is_the_file_hashed(precompiled, module)? {
        let source = std::fs::read(module)?;
        if digest::module_digest(&source) != precompiled.module_digest {
            return Err(std::io::Error::other("it was compiled from another module"));
        }
    }
    Precompiled::load(&file)
}

/// Whether `module` is, unchanged, the file whose digest the runtime took: then its content
/// is known without reading it. Fooling this (only by setting the system clock) gains a
/// container nothing: it would run the authentic compilation of what its own module file
/// held when the runtime read it.
fn is_the_file_hashed(precompiled: &PrecompiledRef, module: &Path) -> std::io::Result<bool> {
    let Some(identity) = &precompiled.module_identity else {
        return Ok(false);
    };
    Ok(digest::file_identity(&std::fs::metadata(module)?) == *identity)
}

/// Started by descriptor (`execveat`), the process would show in `ps` as the descriptor's
/// number: give it its own name.
fn name_this_process(name: &str) {
    let mut comm = [0u8; 16];
    let len = name.len().min(15);
    comm[..len].copy_from_slice(&name.as_bytes()[..len]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, which `comm` is.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr(), 0, 0, 0) };
}

/// The module on stdin, until the process exits: mapped when stdin is a file (runw hands
/// over a memfd sealed against writes and resizing, so the module is not copied again),
/// read otherwise.
fn module_from_stdin() -> std::io::Result<&'static [u8]> {
    let stdin = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let meta = stdin.metadata()?;
    let len = usize::try_from(meta.len()).map_err(std::io::Error::other)?;
    if meta.is_file() && len > 0 {
        if let Some(bytes) = crate::precompiled::map(&stdin, 0, len) {
            return Ok(bytes);
        }
    }
    let mut wasm = Vec::new();
    std::io::stdin().read_to_end(&mut wasm)?;
    Ok(Vec::leak(wasm))
}

/// `wasmtime-exec 0.1.0 (wasmtime 48.0.0)`: what `runw --version` shows of its executor.
fn print_version(name: &str, engine_version: &str) -> ExitCode {
    let version = env!("CARGO_PKG_VERSION");
    match writeln!(std::io::stdout(), "{name} {version} ({engine_version})") {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: cannot write the version: {err}");
            ExitCode::from(exit_code::BAD_TASK)
        }
    }
}

fn print_id(name: &str, engine: &impl Engine) -> ExitCode {
    let Some(id) = engine.id() else {
        return ExitCode::from(NO_COMPILED_FORM);
    };
    match writeln!(std::io::stdout(), "{id}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: cannot write the engine id: {err}");
            ExitCode::from(exit_code::BAD_TASK)
        }
    }
}

fn precompile(name: &str, engine: &impl Engine) -> ExitCode {
    let extra: Vec<OsString> = std::env::args_os().skip(2).collect();
    if !extra.is_empty() {
        eprintln!("{name}: {PRECOMPILE} takes no arguments (module on stdin, artifact on stdout)");
        return ExitCode::from(exit_code::BAD_TASK);
    }
    if engine.id().is_none() {
        eprintln!("{name}: this engine has no compiled form");
        return ExitCode::from(NO_COMPILED_FORM);
    }
    let wasm = match module_from_stdin() {
        Ok(wasm) => wasm,
        Err(err) => {
            eprintln!("{name}: cannot read the module from stdin: {err}");
            return ExitCode::from(exit_code::LOAD_FAILED);
        }
    };
    let program = match judge(name, engine, Some(wasm), Path::new("-")) {
        Ok(program) => program,
        Err(err) => {
            eprintln!("{name}: cannot compile the module: {err}");
            return ExitCode::from(exit_code::LOAD_FAILED);
        }
    };
    let artifact = match engine.precompile(wasm, program) {
        Ok(artifact) => artifact,
        Err(err) => {
            eprintln!("{name}: cannot compile the module: {err}");
            return ExitCode::from(exit_code::LOAD_FAILED);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&artifact).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{name}: cannot write the artifact: {err}");
            ExitCode::from(exit_code::LOAD_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::fd::AsRawFd;

    use super::*;

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    /// A module file and an artifact descriptor positioned past a 4-byte header, as runw
    /// hands it over.
    fn handed_over(dir: &Path) -> (std::path::PathBuf, File) {
        let module = dir.join("m.wasm");
        std::fs::write(&module, MODULE).expect("module");
        let mut artifact = tempfile::tempfile().expect("artifact");
        artifact.write_all(b"HEADcompiled").expect("write");
        artifact.seek(SeekFrom::Start(4)).expect("seek");
        (module, artifact)
    }

    #[test]
    fn an_artifact_of_this_module_is_read_from_its_offset() {
        let dir = tempfile::tempdir().expect("dir");
        let (module, artifact) = handed_over(dir.path());
        let precompiled = PrecompiledRef {
            fd: artifact.as_raw_fd(),
            module_digest: digest::module_digest(MODULE),
            module_identity: None,
        };
        let loaded = load_precompiled(&precompiled, &module).expect("read");
        assert_eq!(loaded.bytes(), b"compiled");
    }

    #[test]
    fn an_artifact_of_another_module_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let (module, artifact) = handed_over(dir.path());
        let precompiled = PrecompiledRef {
            fd: artifact.as_raw_fd(),
            module_digest: digest::module_digest(b"\0asm\x01\0\0\0 another"),
            module_identity: None,
        };
        let err = load_precompiled(&precompiled, &module).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("it was compiled from another module")
        );
        std::fs::write(&module, b"changed").expect("change the module");
        let precompiled = PrecompiledRef {
            module_digest: digest::module_digest(MODULE),
            ..precompiled
        };
        assert!(load_precompiled(&precompiled, &module).is_err());
    }

    #[test]
    fn a_module_of_the_identity_hashed_is_not_reread_and_a_changed_one_is() {
        let dir = tempfile::tempdir().expect("dir");
        let (module, artifact) = handed_over(dir.path());
        let identity = digest::file_identity(&std::fs::metadata(&module).expect("stat"));
        // A digest that does not match: accepted only because the file is not read.
        let precompiled = PrecompiledRef {
            fd: artifact.as_raw_fd(),
            module_digest: digest::module_digest(b"what the runtime read"),
            module_identity: Some(identity),
        };
        assert!(load_precompiled(&precompiled, &module).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&module, MODULE).expect("rewrite, same bytes");
        let err = load_precompiled(&precompiled, &module).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("it was compiled from another module"),
            "a rewritten module is read again"
        );
    }
}
