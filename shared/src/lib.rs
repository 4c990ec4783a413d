//! The contract between the runw runtime and its wasm executors.
//!
//! The runtime builds a [`Task`] from the OCI spec; an executor (`wasmtime-exec`, ...) runs
//! it and knows nothing of OCI. The task crosses a process boundary through `execve`: the
//! guest's argv and environment travel as the executor's own argv tail and environment, so
//! they carry every byte an OS string can hold, and the guest's working directory is the
//! executor's (libcontainer has already changed to `process.cwd`). See [`task`].
//!
//! The policies every executor follows live here too: [`exit_code`] (what the exit status
//! means), [`signals`] (termination as PID 1), [`module_kind`] (core, component or text),
//! [`digest`] (what names a module's content), and [`executor_main`], the `main` every
//! executor shares, with its host-side modes for the runtime's compile cache.

pub mod digest;
pub mod engine_environment;
pub mod executor_main;
pub mod exit_code;
pub mod heap;
pub mod lockfile;
pub mod module_kind;
pub mod precompiled;
pub mod signals;
pub mod task;

pub use executor_main::Failure;
pub use module_kind::{ModuleKind, Program};
pub use precompiled::Precompiled;
pub use task::{PrecompiledRef, Preopen, Task, TaskError};
