//! `runw ps`: list the processes in a container's cgroup, as a `ps` table or JSON pids.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use libcgroups::common::CgroupManager;
use liboci_cli::Ps;

use super::cgroup_manager;
use crate::state_root;

pub fn ps(args: Ps, root: &Path) -> Result<()> {
    let container = state_root::load(root, &args.container_id)?;
    let pids: Vec<i32> = cgroup_manager(&container)?
        .get_all_pids()
        .with_context(|| format!("failed to list the processes of {:?}", args.container_id))?
        .iter()
        .map(|pid| pid.as_raw())
        .collect();
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => print!("{}", ps_table(&pids, &args.ps_options)?),
        other => bail!("invalid ps format {other:?}: expected table or json"),
    }
    Ok(())
}

/// Runs `ps` (with `-ef` unless options are given) and keeps the header and the rows whose
/// PID column is one of `pids`.
fn ps_table(pids: &[i32], options: &[String]) -> Result<String> {
    let default = ["-ef".to_owned()];
    let options = if options.is_empty() {
        &default[..]
    } else {
        options
    };
    let output = Command::new("ps")
        .args(options)
        .output()
        .context("failed to run ps")?;
    if !output.status.success() {
        bail!(
            "ps failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    filter_rows(&String::from_utf8_lossy(&output.stdout), pids)
}

fn filter_rows(table: &str, pids: &[i32]) -> Result<String> {
    let mut lines = table.lines();
    let header = lines.next().context("ps printed nothing")?;
    let column = header
        .split_whitespace()
        .position(|title| title == "PID")
        .context("ps output has no PID column")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|f| f.parse::<i32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_container_rows() {
        let table = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 43 42 sleep\n";
        let out = filter_rows(table, &[42, 43]).expect("filter");
        assert_eq!(out, "UID PID PPID CMD\nroot 42 1 sh\nroot 43 42 sleep\n");
    }

    #[test]
    fn table_without_pid_column_is_an_error() {
        assert!(filter_rows("UID CMD\n", &[1]).is_err());
    }
}
