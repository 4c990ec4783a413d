//! Stopping a server: SIGTERM (or SIGINT, SIGHUP) stops accepting, lets the requests in
//! flight finish within [`GRACE`], then the executor exits: [`DRAINED`] when every request
//! was answered, 128 + signal when the grace period ran out. A second signal ends the
//! process at once with 128 + signal.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use runw_shared::{exit_code, signals};
use tokio::sync::watch;

/// How long requests in flight may take to finish once a termination signal arrived. Below
/// the 10 s `podman stop` and `docker stop` wait before SIGKILL (Kubernetes waits 30 s), so
/// the executor exits with its own status first.
pub const GRACE: Duration = Duration::from_secs(8);

/// The exit status after a stop that answered every request in flight.
pub const DRAINED: u8 = 0;

/// The first termination signal received (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Resolves once a termination signal arrives.
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Takes termination signals over from the default watcher, which would exit at once.
    pub fn on_termination_signals() -> Stop {
        let (sender, receiver) = watch::channel(false);
        signals::handle_termination(move |signal| {
            if RECEIVED.swap(signal, Ordering::SeqCst) != 0 {
                std::process::exit(i32::from(exit_code::signaled(signal)));
            }
            // No receiver left means the server is already stopping.
            let _ = sender.send(true);
        });
        Stop(receiver)
    }

    /// Waits for the signal.
    pub async fn requested(&mut self) {
        // An error means the sender is gone (never, it lives in the watcher's handler).
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// The exit status of a stop whose drain did (`drained`) or did not finish in time.
pub fn status(drained: bool) -> u8 {
    if drained {
        return DRAINED;
    }
    exit_code::signaled(RECEIVED.load(Ordering::SeqCst))
}
