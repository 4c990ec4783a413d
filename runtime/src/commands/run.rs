//! `runw run`: create and start a container; in the foreground, forward signals to it, wait
//! for it, delete it and return its exit code.

use std::path::Path;

use anyhow::{Context, Result};
use libcontainer::container::Container;
use liboci_cli::Run;
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::SigSet;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{build_init, InitOptions};
use super::exit_code;

pub fn run(args: Run, root: &Path, systemd_cgroup: bool) -> Result<i32> {
    let options = InitOptions {
        id: &args.container_id,
        bundle: &args.bundle,
        pid_file: args.pid_file.as_deref(),
        console_socket: args.console_socket.as_deref(),
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        detach: args.detach,
        systemd_cgroup,
        start_follows: true,
    };
    let mut container = build_init(root, &options)?;
    // Block signals before the process runs, so none sent at once is lost.
    let signals = SigSet::all();
    if !args.detach {
        signals.thread_block().context("failed to block signals")?;
    }
    if let Err(err) = container.start() {
        let _ = container.delete(true);
        return Err(err)
            .with_context(|| format!("failed to start container {:?}", args.container_id));
    }
    if args.detach {
        return Ok(0);
    }
    let code = match container.pid() {
        Some(pid) => wait_forwarding_signals(pid, &signals)?,
        None => anyhow::bail!("container {:?} has no init pid", args.container_id),
    };
    if !args.keep {
        remove(&mut container)?;
    }
    Ok(code)
}

/// Deletes the exited container. A concurrent `runw kill` may still be saving the state
/// it just signalled (libcontainer saves after the signal), which makes removing the state
/// dir fail with ENOTEMPTY: such a failure is retried a few times.
fn remove(container: &mut Container) -> Result<()> {
    let mut attempts = 0;
    loop {
        match container.delete(true) {
            Ok(()) => return Ok(()),
            Err(_) if attempts < 5 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10 * attempts));
            }
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("failed to delete container {:?}", container.id()))
            }
        }
    }
}

/// Waits for `init` to exit, forwarding every signal runw receives to it, as runc does.
fn wait_forwarding_signals(init: Pid, signals: &SigSet) -> Result<i32> {
    loop {
        match signals.wait().context("failed to wait for signals")? {
            Signal::SIGCHLD => {
                if let Some(code) = reap(init)? {
                    return Ok(code);
                }
            }
            // SIGURG is Go's preemption signal and SIGWINCH concerns runw's own terminal.
            Signal::SIGURG | Signal::SIGWINCH => {}
            signal => {
                if let Err(err) = kill(init, signal) {
                    tracing::warn!(?signal, %err, "failed to forward signal to the container");
                }
            }
        }
    }
}

/// Reaps exited children; returns init's exit code once it has exited.
fn reap(init: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(status) if status.pid() == Some(init) => return Ok(Some(exit_code(status))),
            Ok(_) => {}
            Err(err) => return Err(err).context("failed to reap the container process"),
        }
    }
}
