//! `runw man DIR` (hidden): write runw's manual pages, generated from the command line's
//! clap definitions, into DIR: `runw.8` and one `runw-SUBCOMMAND.8` per visible subcommand.
//! `ci/package` runs it; the packages install the pages gzip'd in /usr/share/man/man8.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct Man {
    /// Directory to write the pages into (created if missing)
    pub dir: PathBuf,
}

/// runw is a system administration command: section 8, as runc's pages.
const SECTION: &str = "8";

pub fn man(args: Man) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    // Built, each subcommand knows its display name (`runw-create`) and usage (`runw create`).
    let mut runw = crate::cli::command().disable_help_subcommand(true);
    runw.build();
    write_page(&args.dir, runw.clone())?;
    for sub in runw.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(&args.dir, sub.clone())?;
    }
    Ok(())
}

fn write_page(dir: &Path, command: clap::Command) -> Result<()> {
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_owned();
    let path = dir.join(format!("{name}.{SECTION}"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .title(name.to_ascii_uppercase())
        .section(SECTION)
        .source(format!("runw {}", crate::version::SHORT))
        .manual("runw manual")
        .render(&mut page)
        .with_context(|| format!("cannot render {}", path.display()))?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_for_runw_and_each_visible_subcommand() {
        let dir = tempfile::tempdir().expect("tempdir");
        man(Man {
            dir: dir.path().to_path_buf(),
        })
        .expect("man pages");
        let runw = std::fs::read_to_string(dir.path().join("runw.8")).expect("runw.8");
        assert!(runw.contains(".TH RUNW 8"), "{runw}");
        assert!(dir.path().join("runw-create.8").exists());
        assert!(dir.path().join("runw-cache.8").exists());
        assert!(!dir.path().join("runw-man.8").exists());
        assert!(!dir.path().join("runw-checkpointt.8").exists());
    }
}
