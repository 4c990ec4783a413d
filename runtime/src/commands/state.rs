//! `runw state`: print the OCI state of a container as JSON.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use libcontainer::container::ContainerStatus;
use liboci_cli::State;
use serde::Serialize;

use crate::state_root;

/// The OCI runtime state, with runc's extra `rootfs`, `created` and `owner` keys.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciState<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: ContainerStatus,
    pid: i32,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a DateTime<Utc>>,
    owner: String,
}

pub fn state(args: State, root: &Path) -> Result<()> {
    let mut container = state_root::load(root, &args.container_id)?;
    container.refresh_status()?;
    let state = &container.state;
    // runc reports pid 0 once the container has stopped.
    let pid = match state.status {
        ContainerStatus::Stopped => 0,
        _ => state.pid.unwrap_or(0),
    };
    let export = OciState {
        oci_version: &state.oci_version,
        id: &state.id,
        status: state.status,
        pid,
        bundle: &state.bundle,
        annotations: state.annotations.as_ref(),
        created: state.created.as_ref(),
        owner: String::new(),
    };
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(())
}
