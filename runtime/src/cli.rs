//! The command line: runc's global flags and subcommands, parsed by `liboci-cli`'s clap
//! structs so that runw accepts exactly what containerd, conmon and CRI-O pass to runc.

use clap::{Parser, Subcommand};
use liboci_cli::{CommonCmd, GlobalOpts, StandardCmd};

use crate::commands::cache::Cache;
use crate::commands::completion::Completion;

/// runw: an OCI container runtime for Linux containers and WASI WebAssembly modules.
#[derive(Parser, Debug)]
#[command(name = "runw", version = crate::version::SHORT, long_version = crate::version::LONG)]
pub struct Opts {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Standard(Box<StandardCmd>),
    #[command(flatten)]
    Common(Box<CommonCmd>),
    /// Print a shell completion script
    Completion(Completion),
    /// Look at or empty the compile cache of wasm modules
    Cache(Cache),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Opts::command().debug_assert();
    }

    #[test]
    fn parses_runc_style_invocations() {
        // What containerd's runc shim passes for create.
        let opts = Opts::try_parse_from([
            "runw", "--root", "/run/x", "--log", "/tmp/log.json", "--log-format", "json",
            "--systemd-cgroup", "create", "--bundle", "/b", "--pid-file", "/p",
            "--console-socket", "/s", "--preserve-fds", "2", "id1",
        ])
        .expect("containerd's create must parse");
        assert!(opts.global.systemd_cgroup);
        assert_eq!(opts.global.log_format.as_deref(), Some("json"));
        // What conmon passes for an exec with a terminal.
        Opts::try_parse_from([
            "runw", "exec", "--process", "/p.json", "--tty", "--console-socket", "/s",
            "--detach", "--pid-file", "/pid", "id1",
        ])
        .expect("conmon's exec must parse");
        Opts::try_parse_from(["runw", "kill", "--all", "id1", "9"]).expect("kill --all");
        Opts::try_parse_from(["runw", "delete", "--force", "id1"]).expect("delete --force");
        Opts::try_parse_from(["runw", "events", "--stats", "id1"]).expect("events --stats");
        Opts::try_parse_from(["runw", "cache", "clear"]).expect("cache clear");
    }
}
