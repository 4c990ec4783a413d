//! runw: an OCI runtime, a drop-in for runc, that also runs WASI WebAssembly modules.
//!
//! `main` only parses the command line, sets up logging and dispatches; each subcommand
//! lives in `commands/`.

mod bundle;
mod cgroup_procs;
mod cgroup_v1_mount;
mod cli;
mod commands;
mod compile_cache;
mod container_id;
mod default_cgroup;
mod error_line;
mod exec_process;
mod exec_seccomp;
mod exec_user_namespace;
mod executor_binary;
mod help_text;
mod id_map;
mod init_cause;
mod logging;
mod mount_clone;
mod oom_control;
mod own_user_namespace;
mod read_only_tree;
mod rootless;
mod state_root;
mod stdio;
mod version;
mod wasm;
mod workload;

use std::process::ExitCode;

use anyhow::Result;
use liboci_cli::{CommonCmd, StandardCmd};

use crate::cli::{Command, Opts};

fn main() -> ExitCode {
    let opts = cli::parse();
    let format = match logging::Format::parse(opts.global.log_format.as_deref()) {
        Ok(format) => format,
        Err(err) => return fail(&err, false),
    };
    let logger = match logging::init(opts.global.log.as_deref(), format, opts.global.debug) {
        Ok(logger) => logger,
        Err(err) => return fail(&err, false),
    };
    tracing::debug!(args = ?std::env::args_os().collect::<Vec<_>>(), "runw started");
    match dispatch(opts) {
        Ok(code) => ExitCode::from(code),
        Err(err) => fail(&err, logger.to_file),
    }
}

/// Reports a failure as runc does: one line on stderr, and an `error` record in the `--log`
/// file, which is what containerd and CRI-O show their users.
fn fail(err: &anyhow::Error, to_log_file: bool) -> ExitCode {
    let msg = error_line::render(err);
    if to_log_file {
        tracing::error!("{msg}");
    }
    eprintln!("runw: {msg}");
    ExitCode::FAILURE
}

/// Runs one subcommand; the result is runw's exit status.
fn dispatch(opts: Opts) -> Result<u8> {
    use commands::*;
    let systemd = opts.global.systemd_cgroup;
    // Every subcommand that works on containers resolves the state root first; a rootless
    // runw on a cgroup v1 host also leaves the host's cgroups behind then.
    let root = || {
        crate::rootless::hide_undelegated_cgroups(None)?;
        state_root::resolve(opts.global.root.clone())
    };
    // `exec` does so from where it may join the container (see `hide_undelegated_cgroups`).
    let root_to_join = |id: &str| {
        let root = state_root::resolve(opts.global.root.clone())?;
        let pid = match crate::rootless::required()? {
            true => state_root::load(&root, id)?.pid(),
            false => None,
        };
        crate::rootless::hide_undelegated_cgroups(pid)?;
        anyhow::Ok(root)
    };
    match opts.command {
        Command::Standard(cmd) => match *cmd {
            StandardCmd::Create(args) => create::create(args, &root()?, systemd)?,
            StandardCmd::Start(args) => start::start(args, &root()?)?,
            StandardCmd::State(args) => state::state(args, &root()?)?,
            StandardCmd::Kill(args) => kill::kill(args, &root()?)?,
            StandardCmd::Delete(args) => delete::delete(args, &root()?)?,
        },
        Command::Common(cmd) => match *cmd {
            CommonCmd::Run(args) => return Ok(status_byte(run::run(args, &root()?, systemd)?)),
            CommonCmd::Exec(args) => {
                let root = root_to_join(&args.container_id)?;
                return Ok(status_byte(exec::exec(args, &root)?));
            }
            CommonCmd::Events(args) => events::events(args, &root()?)?,
            CommonCmd::Features(args) => features::features(args)?,
            CommonCmd::List(args) => list::list(args, &root()?)?,
            CommonCmd::Pause(args) => pause::pause(args, &root()?)?,
            CommonCmd::Resume(args) => resume::resume(args, &root()?)?,
            CommonCmd::Ps(args) => ps::ps(args, &root()?)?,
            CommonCmd::Spec(args) => spec::spec(args)?,
            CommonCmd::Update(args) => update::update(args, &root()?)?,
            CommonCmd::Checkpointt(_) => anyhow::bail!("checkpoint is not supported by runw"),
        },
        Command::Completion(args) => completion::completion(args, cli::command())?,
        Command::Cache(args) => cache::cache(args)?,
        Command::Man(args) => man::man(args)?,
    }
    Ok(0)
}

/// A container's exit code as runw's own status (codes are 0..=255 by construction).
fn status_byte(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(255)
}
