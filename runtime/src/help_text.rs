//! runw's own wording of the help that `liboci-cli`'s clap structs carry (youki's): its
//! typos, foreign names and flags runw accepts but ignores are fixed here, on the command
//! clap builds, so that the parsing stays exactly runc's.
//!
//! Flags runw accepts for runc's callers but does nothing with are hidden, not removed:
//! `--no-new-keyring` (create, run), `--no-subreaper` (run); so is `checkpoint` (youki's
//! `checkpointt`), which runw refuses.

use clap::Command;

/// The console socket, as create, run and exec describe it.
const CONSOLE_SOCKET: &str =
    "Unix socket that receives the file descriptor of the pseudoterminal's master end";

/// `command` with runw's help text.
pub fn apply(command: Command) -> Command {
    command
        .mut_arg("log", |a| {
            a.help(
                "Append log records to this file (warnings and errors; everything with \
                 --debug); without it only --debug records are written, to stderr",
            )
        })
        .mut_arg("debug", |a| {
            a.help("Log at debug level, including why a container runs as wasm or Linux")
        })
        .mut_arg("log_format", |a| {
            a.help("Format of log records: text or json [default: text]")
        })
        .mut_arg("root", |a| {
            a.help("Directory of container state [default: /run/runw]")
        })
        .mut_arg("systemd_cgroup", |a| {
            a.help("Use the systemd cgroup manager instead of cgroupfs")
        })
        .mut_subcommand("create", |c| {
            c.about("Create a container from a bundle; it waits for `start`")
                .mut_arg("container_id", |a| a.help("Container identifier"))
                .mut_arg("console_socket", |a| a.help(CONSOLE_SOCKET))
                .mut_arg("no_pivot", |a| {
                    a.help("Do not use pivot_root to enter the rootfs (for a ramdisk root)")
                })
                .mut_arg("no_new_keyring", |a| a.hide(true))
        })
        .mut_subcommand("run", |c| {
            c.mut_arg("container_id", |a| a.help("Container identifier"))
                .mut_arg("console_socket", |a| a.help(CONSOLE_SOCKET))
                .mut_arg("no_new_keyring", |a| a.hide(true))
                .mut_arg("no_subreaper", |a| a.hide(true))
        })
        .mut_subcommand("exec", |c| {
            c.about("Run another process inside a running container")
                .mut_arg("console_socket", |a| a.help(CONSOLE_SOCKET))
                .mut_arg("process_label", |a| {
                    a.help("Set the SELinux label of the process")
                })
        })
        .mut_subcommand("checkpointt", |c| {
            c.hide(true)
                .alias("checkpoint")
                .about("Not supported by runw")
        })
        .mut_subcommand("events", |c| {
            c.mut_arg("interval", |a| {
                a.help("Seconds between two statistics records")
            })
        })
        .mut_subcommand("ps", |c| {
            c.mut_arg("format", |a| a.help("Output format: table or json"))
                .mut_arg("ps_options", |a| {
                    a.help("Options passed to ps(1) for the table")
                })
        })
        .mut_subcommand("features", |c| {
            c.about(
                "Print what runw supports as the OCI features document (JSON), with the wasm \
                 annotations it honours",
            )
        })
        .mut_subcommand("spec", |c| {
            c.about("Write a template config.json into a bundle")
        })
        .mut_subcommand("delete", |c| {
            c.mut_arg("force", |a| {
                a.help("Delete the container even if it is still running (SIGKILL)")
            })
        })
}

#[cfg(test)]
mod tests {
    /// Every help text an operator can see, the global one and each visible subcommand's.
    fn all_help() -> String {
        let mut command = crate::cli::command();
        let mut text = command.render_long_help().to_string();
        for sub in command.get_subcommands_mut().filter(|s| !s.is_hide_set()) {
            text.push_str(&sub.render_long_help().to_string());
        }
        text
    }

    #[test]
    fn help_has_no_typos_foreign_names_or_ignored_flags() {
        let help = all_help();
        for wrong in [
            "checkpointt",
            "youki",
            "rool",
            "rather then",
            "log-level",
            "path ,",
            "asm process",
            "--no-new-keyring",
            "--no-subreaper",
        ] {
            assert!(!help.contains(wrong), "help says {wrong:?}:\n{help}");
        }
    }

    #[test]
    fn checkpoint_still_parses_to_be_refused() {
        let args = ["runw", "checkpoint", "id1"];
        assert!(crate::cli::command().try_get_matches_from(args).is_ok());
    }
}
