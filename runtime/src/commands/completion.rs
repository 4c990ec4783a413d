//! `runw completion SHELL`: print a completion script (packages install these).

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct Completion {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

/// Prints the completion script of `command` (runw's own, [`crate::cli::command`]).
pub fn completion(args: Completion, mut command: clap::Command) -> Result<()> {
    clap_complete::generate(args.shell, &mut command, "runw", &mut std::io::stdout());
    Ok(())
}
