//! `runw list`: the containers under the state root, as a table, JSON or ids only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use libcontainer::container::state::State;
use libcontainer::container::{Container, ContainerStatus};
use liboci_cli::List;
use serde::Serialize;
use tabwriter::TabWriter;

/// One container as `runc list --format json` prints it.
#[derive(Serialize)]
struct Entry {
    id: String,
    pid: i32,
    status: ContainerStatus,
    bundle: PathBuf,
    created: Option<DateTime<Utc>>,
}

pub fn list(args: List, root: &Path) -> Result<()> {
    let entries = load_all(root)?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for entry in &entries {
            writeln!(out, "{}", entry.id)?;
        }
        return Ok(());
    }
    match args.format.as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
        "table" => {
            let mut table = TabWriter::new(out);
            writeln!(table, "ID\tPID\tSTATUS\tBUNDLE\tCREATED")?;
            for e in &entries {
                let created = e.created.map(|c| c.to_rfc3339()).unwrap_or_default();
                let status = super::status_name(e.status);
                writeln!(
                    table,
                    "{}\t{}\t{}\t{}\t{}",
                    e.id,
                    e.pid,
                    status,
                    e.bundle.display(),
                    created
                )?;
            }
            table.flush()?;
        }
        other => bail!("invalid list format {other:?}: expected table or json"),
    }
    Ok(())
}

fn load_all(root: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let dirs =
        std::fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))?;
    for dir in dirs {
        let dir = dir?.path();
        if !State::file_path(&dir).exists() {
            continue;
        }
        let mut container = Container::load(dir.clone())
            .with_context(|| format!("failed to load container state in {}", dir.display()))?;
        container.refresh_status()?;
        let pid = match container.status() {
            ContainerStatus::Stopped => 0,
            _ => container.pid().map_or(0, |p| p.as_raw()),
        };
        entries.push(Entry {
            id: container.id().to_owned(),
            pid,
            status: container.status(),
            bundle: container.bundle().clone(),
            created: container.created(),
        });
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(entries)
}
