//! wasmtime-exec: runs one WASI module or component as a container's process, on wasmtime.
//!
//! runw execs it after container init with a [`runw_shared::Task`] on its command line; the
//! exit status follows [`runw_shared::exit_code`].

mod code_memory;
mod engine;
mod engine_id;
mod http_proxy;
mod rmdir_slash;
mod world;

fn main() -> std::process::ExitCode {
    runw_shared::executor_main::run(
        "wasmtime-exec",
        env!("RUNW_ENGINE_VERSION"),
        &engine::Wasmtime::new(),
    )
}
