//! wasmedge-exec: runs one WASI module as a container's process, on WasmEdge.
//!
//! runw execs it after container init with a [`runw_shared::Task`] on its command line; the
//! exit status follows [`runw_shared::exit_code`].

mod engine;

fn main() -> std::process::ExitCode {
    runw_shared::executor_main::run(
        "wasmedge-exec",
        env!("RUNW_ENGINE_VERSION"),
        &engine::WasmEdge,
    )
}
