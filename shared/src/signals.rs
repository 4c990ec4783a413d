//! Termination signals for an executor that is a container's PID 1.
//!
//! PID 1 ignores every signal it has no handler for, so without this `runw kill` and
//! `podman stop` would wait out their timeout and SIGKILL. An executor calls
//! [`exit_on_termination`] first thing: SIGTERM, SIGINT and SIGHUP are blocked in every
//! thread and a dedicated thread waits for them and ends the process with 128 + signal,
//! whatever the guest is doing (running, looping, or blocked in a host call). WASI output is
//! unbuffered in the host, so nothing the guest wrote is lost.

use nix::sys::signal::{SigSet, Signal};

use crate::exit_code;

const TERMINATION: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// Starts the watcher thread. Call before any other thread exists, so all inherit the mask.
pub fn exit_on_termination() -> nix::Result<()> {
    let mut set = SigSet::empty();
    for signal in TERMINATION {
        set.add(signal);
    }
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // `wait` fails only for an invalid set; then the default (ignored) behaviour stays.
            if let Ok(signal) = set.wait() {
                std::process::exit(i32::from(exit_code::signaled(signal as i32)));
            }
        })
        .map_err(|_| nix::errno::Errno::EAGAIN)?;
    Ok(())
}
