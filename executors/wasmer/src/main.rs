//! wasmer-exec: runs one WASI module as a container's process, on wasmer + wasmer-wasix.
//!
//! runw execs it after container init with a [`runw_shared::Task`] on its command line; the
//! exit status follows [`runw_shared::exit_code`].

mod engine;
mod engine_id;
mod errno_fixes;
mod hard_links;
mod preopen_fs;
mod root_at_fd3;

fn main() -> std::process::ExitCode {
    runw_shared::executor_main::run(
        "wasmer-exec",
        env!("RUNW_ENGINE_VERSION"),
        &engine::Wasmer::new(),
    )
}
