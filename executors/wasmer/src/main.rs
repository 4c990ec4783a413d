//! wasmer-exec: runs one WASI module as a container's process, on wasmer + wasmer-wasix.
//!
//! runw execs it after container init with a [`runw_shared::Task`] on its command line; the
//! exit status follows [`runw_shared::exit_code`].

mod container_fs;
mod engine;

use std::process::ExitCode;

use runw_shared::{exit_code, signals, Task};

fn main() -> ExitCode {
    if let Err(err) = signals::exit_on_termination() {
        eprintln!("wasmer-exec: cannot watch termination signals: {err}");
    }
    let task = match Task::from_process() {
        Ok(task) => task,
        Err(err) => {
            eprintln!("wasmer-exec: {err}");
            return ExitCode::from(exit_code::BAD_TASK);
        }
    };
    ExitCode::from(engine::run(&task))
}
