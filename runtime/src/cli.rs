//! The command line: runc's global flags and subcommands, parsed by `liboci-cli`'s clap
//! structs so that runw accepts exactly what containerd, conmon and CRI-O pass to runc.
//!
//! Two runc behaviours those structs lack are added: a flag given twice takes its last
//! value (`--root` twice, as some callers and test suites pass it), and `kill` without a
//! signal sends SIGTERM.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use liboci_cli::{CommonCmd, GlobalOpts, StandardCmd};

use crate::commands::cache::Cache;
use crate::commands::completion::Completion;
use crate::commands::man::Man;

/// runw: an OCI container runtime for Linux containers and WASI WebAssembly modules.
#[derive(Parser, Debug)]
#[command(name = "runw", version = crate::version::SHORT)]
#[command(args_override_self = true)]
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
    /// Write runw's manual pages (packages install these)
    #[command(hide = true)]
    Man(Man),
}

/// runw's command line as clap sees it, with runc's `kill` default and runw's help text.
pub fn command() -> clap::Command {
    crate::help_text::apply(Opts::command()).mut_subcommand("kill", |kill| {
        kill.mut_arg("signal", |signal| {
            signal.required(false).default_value("SIGTERM")
        })
    })
}

/// Parses this process's command line, exiting with clap's message when it is invalid.
/// `--version` is answered here: only then is the executor asked for its version.
pub fn parse() -> Opts {
    parse_from(std::env::args_os()).unwrap_or_else(|err| {
        if err.kind() == clap::error::ErrorKind::DisplayVersion {
            print!("{}", crate::version::long());
            std::process::exit(0);
        }
        err.exit()
    })
}

fn parse_from<I, T>(args: I) -> Result<Opts, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Opts::from_arg_matches(&command().try_get_matches_from(args)?)
}

#[cfg(test)]
mod tests {
    use liboci_cli::StandardCmd;

    use super::*;

    #[test]
    fn verify_cli() {
        command().debug_assert();
    }

    #[test]
    fn the_last_root_wins() {
        let opts = parse_from(["runw", "--root", "/a", "--root", "/b", "list"]).expect("parses");
        assert_eq!(
            opts.global.root.as_deref(),
            Some(std::path::Path::new("/b"))
        );
    }

    #[test]
    fn kill_defaults_to_term() {
        let opts = parse_from(["runw", "kill", "id1"]).expect("parses");
        let Command::Standard(cmd) = opts.command else {
            panic!("not kill")
        };
        let StandardCmd::Kill(kill) = *cmd else {
            panic!("not kill")
        };
        assert_eq!(kill.signal, "SIGTERM");
    }

    #[test]
    fn parses_runc_style_invocations() {
        // What containerd's runc shim passes for create.
        let opts = parse_from([
            "runw",
            "--root",
            "/run/x",
            "--log",
            "/tmp/log.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "--preserve-fds",
            "2",
            "id1",
        ])
        .expect("containerd's create must parse");
        assert!(opts.global.systemd_cgroup);
        assert_eq!(opts.global.log_format.as_deref(), Some("json"));
        // What conmon passes for an exec with a terminal.
        parse_from([
            "runw",
            "exec",
            "--process",
            "/p.json",
            "--tty",
            "--console-socket",
            "/s",
            "--detach",
            "--pid-file",
            "/pid",
            "id1",
        ])
        .expect("conmon's exec must parse");
        parse_from(["runw", "kill", "--all", "id1", "9"]).expect("kill --all");
        parse_from(["runw", "delete", "--force", "id1"]).expect("delete --force");
        parse_from(["runw", "events", "--stats", "id1"]).expect("events --stats");
        parse_from(["runw", "cache", "clear"]).expect("cache clear");
    }
}
