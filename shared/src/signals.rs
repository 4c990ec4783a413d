//! Termination signals for an executor that is a container's PID 1.
//!
//! PID 1 ignores every signal it has no handler for, so without this `runw kill` and
//! `podman stop` would wait out their timeout and SIGKILL. An executor calls
//! [`exit_on_termination`] first thing: SIGTERM, SIGINT and SIGHUP are blocked in every
//! thread and a dedicated thread waits for them and ends the process with 128 + signal,
//! whatever the guest is doing (running, looping, or blocked in a host call). WASI output is
//! unbuffered in the host, so nothing the guest wrote is lost. An executor that stops
//! gracefully (a server draining its requests) takes the signals over with
//! [`handle_termination`].

use std::sync::OnceLock;

use nix::sys::signal::{SigSet, Signal};

use crate::exit_code;

const TERMINATION: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

type Handler = Box<dyn Fn(i32) + Send + Sync>;

/// What the watcher does with a termination signal instead of ending the process.
static HANDLER: OnceLock<Handler> = OnceLock::new();

/// From now on, each termination signal is passed (as its number) to `handler`, called in
/// the watcher thread, instead of ending the process. The first call wins; returns whether
/// this one did.
pub fn handle_termination(handler: impl Fn(i32) + Send + Sync + 'static) -> bool {
    HANDLER.set(Box::new(handler)).is_ok()
}

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
            while let Ok(signal) = set.wait() {
                match HANDLER.get() {
                    Some(handler) => handler(signal as i32),
                    None => std::process::exit(i32::from(exit_code::signaled(signal as i32))),
                }
            }
        })
        .map_err(|_| nix::errno::Errno::EAGAIN)?;
    Ok(())
}
