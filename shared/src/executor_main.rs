//! What every executor's `main` does around its engine: watch termination signals (it is the
//! container's PID 1), read its task from its command line and environment, run the engine,
//! and exit with the status the engine returns.

use std::process::ExitCode;

use crate::{exit_code, signals, Task};

/// Runs `engine` as executor `name`; returns the process's exit status.
pub fn run(name: &str, engine: impl FnOnce(&Task) -> u8) -> ExitCode {
    if let Err(err) = signals::exit_on_termination() {
        eprintln!("{name}: cannot watch termination signals: {err}");
    }
    match Task::from_process() {
        Ok(task) => ExitCode::from(engine(&task)),
        Err(err) => {
            eprintln!("{name}: {err}");
            ExitCode::from(exit_code::BAD_TASK)
        }
    }
}
