//! The process `runw exec` starts, built as runc builds it: from `--process FILE` as given,
//! or from the container's own `process` (user, capabilities, rlimits, AppArmor profile,
//! noNewPrivileges) with the command and the flags of the exec applied on top.
//!
//! libcontainer 0.7 builds a bare process for `exec CMD` instead (uid 0, no rlimits, no
//! AppArmor profile), so runw always hands it a complete process file.

use std::path::Path;

use anyhow::{bail, Context, Result};
use liboci_cli::Exec;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};

/// The process for this exec of the container whose spec is `spec`.
pub fn build(spec: &Spec, args: &Exec) -> Result<Process> {
    let container = spec
        .process()
        .as_ref()
        .context("the container's config.json has no process")?;
    let process = match &args.process {
        Some(file) => from_file(file, container)?,
        None => from_flags(container, args)?,
    };
    if let Err(fault) = crate::bundle::nul_free(&process) {
        match &args.process {
            Some(file) => bail!("{}: {fault}", file.display()),
            None => bail!("exec: {fault}"),
        }
    }
    if !process.cwd().is_absolute() {
        bail!(
            "exec: cwd {} is not an absolute path",
            process.cwd().display()
        );
    }
    Ok(process)
}

/// `--process FILE`: the file's process; rlimits are the container's unless it sets its own
/// (runc's rule).
fn from_file(file: &Path, container: &Process) -> Result<Process> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut process: Process =
        serde_json::from_slice(&text).with_context(|| format!("malformed {}", file.display()))?;
    if process.rlimits().as_ref().is_none_or(Vec::is_empty) {
        process.set_rlimits(container.rlimits().clone());
    }
    Ok(process)
}

/// `exec [flags] ID CMD...`: the container's process with the command and flags applied.
fn from_flags(container: &Process, args: &Exec) -> Result<Process> {
    if args.command.is_empty() {
        bail!("exec needs a command or --process");
    }
    let mut process = container.clone();
    process
        .set_args(Some(args.command.clone()))
        .set_terminal(Some(args.tty))
        .set_env(Some(merge_env(
            container.env().as_deref().unwrap_or_default(),
            &args.env,
        )));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some(profile) = &args.apparmor {
        process.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        process.set_selinux_label(Some(label.clone()));
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    apply_user(&mut process, args);
    if !args.cap.is_empty() {
        let added = parse_caps(&args.cap)?;
        process.set_capabilities(Some(add_caps(process.capabilities().as_ref(), &added)));
    }
    Ok(process)
}

/// `--user UID[:GID]` and `--additional-gids`: replace the container's.
fn apply_user(process: &mut Process, args: &Exec) {
    let user = process.user_mut();
    if let Some((uid, gid)) = args.user {
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !args.additional_gids.is_empty() {
        user.set_additional_gids(Some(args.additional_gids.clone()));
    }
}

/// The container's environment with `--env KEY=VALUE` entries replacing same-named ones.
fn merge_env(base: &[String], extra: &[(String, String)]) -> Vec<String> {
    let overridden = |entry: &String| {
        let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        extra.iter().any(|(k, _)| k == key)
    };
    let mut env: Vec<String> = base.iter().filter(|e| !overridden(e)).cloned().collect();
    env.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

/// `--cap` values (`CAP_NET_ADMIN` or `NET_ADMIN`).
fn parse_caps(names: &[String]) -> Result<Capabilities> {
    names
        .iter()
        .map(|name| {
            serde_json::from_value::<Capability>(serde_json::Value::from(name.as_str()))
                .map_err(|_| anyhow::anyhow!("exec: unknown capability {name:?}"))
        })
        .collect()
}

/// runc's `--cap`: added to the bounding, effective and permitted sets, and to the ambient
/// set when the process has inheritable capabilities (ambient ones need them).
fn add_caps(caps: Option<&LinuxCapabilities>, added: &Capabilities) -> LinuxCapabilities {
    let union = |set: Option<&Capabilities>| -> Option<Capabilities> {
        Some(set.into_iter().flatten().chain(added).copied().collect())
    };
    let mut out = LinuxCapabilities::default();
    out.set_bounding(union(caps.and_then(|c| c.bounding().as_ref())))
        .set_effective(union(caps.and_then(|c| c.effective().as_ref())))
        .set_permitted(union(caps.and_then(|c| c.permitted().as_ref())))
        .set_inheritable(caps.and_then(|c| c.inheritable().clone()))
        .set_ambient(caps.and_then(|c| c.ambient().clone()));
    if out.inheritable().is_some() {
        out.set_ambient(union(caps.and_then(|c| c.ambient().as_ref())));
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use oci_spec::runtime::PosixRlimit;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        exec: Exec,
    }

    fn exec_args(argv: &[&str]) -> Exec {
        Cli::try_parse_from(std::iter::once("exec").chain(argv.iter().copied()))
            .expect("exec flags parse")
            .exec
    }

    fn container() -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "args": ["sleep", "1000"], "cwd": "/srv",
                "env": ["PATH=/bin", "A=container"],
                "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
                "noNewPrivileges": false,
                "apparmorProfile": "container-profile",
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 123, "soft": 123}],
                "capabilities": {
                    "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
                }
            }
        }))
        .expect("spec")
    }

    fn nofile(limit: u64) -> Vec<PosixRlimit> {
        let rlimit = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}]);
        serde_json::from_value(rlimit).expect("rlimit")
    }

    #[test]
    fn a_command_starts_from_the_containers_process() {
        let process =
            build(&container(), &exec_args(&["id1", "sh", "-c", "true"])).expect("process");
        assert_eq!(
            process.args().as_deref(),
            Some(&["sh".to_owned(), "-c".into(), "true".into()][..])
        );
        assert_eq!(process.rlimits().as_ref(), Some(&nofile(123)));
        assert_eq!((process.user().uid(), process.user().gid()), (1000, 1000));
        assert_eq!(
            process.apparmor_profile().as_deref(),
            Some("container-profile")
        );
        assert_eq!(process.cwd(), Path::new("/srv"));
        assert_eq!(process.terminal(), Some(false));
        let caps = process.capabilities().as_ref().expect("caps");
        assert_eq!(caps.bounding().as_ref().map(|b| b.len()), Some(1));
    }

    #[test]
    fn flags_apply_on_top() {
        let argv = [
            "--env",
            "A=exec",
            "--env",
            "B=new",
            "--cwd",
            "/tmp",
            "--user",
            "7:8",
            "--additional-gids",
            "9",
            "--cap",
            "CAP_NET_ADMIN",
            "--no-new-privs",
            "--tty",
            "id1",
            "sh",
        ];
        let process = build(&container(), &exec_args(&argv)).expect("process");
        assert_eq!(
            process.env().as_deref(),
            Some(&["PATH=/bin".to_owned(), "A=exec".into(), "B=new".into()][..])
        );
        assert_eq!(process.cwd(), Path::new("/tmp"));
        assert_eq!((process.user().uid(), process.user().gid()), (7, 8));
        assert_eq!(process.user().additional_gids().as_deref(), Some(&[9][..]));
        assert_eq!(process.no_new_privileges(), Some(true));
        assert_eq!(process.terminal(), Some(true));
        let caps = process.capabilities().as_ref().expect("caps");
        for set in [caps.bounding(), caps.effective(), caps.permitted()] {
            let set = set.as_ref().expect("set");
            assert!(set.contains(&Capability::NetAdmin) && set.contains(&Capability::Kill));
        }
        assert!(caps.ambient().is_none() && caps.inheritable().is_none());
    }

    #[test]
    fn unknown_capability_is_named() {
        let err = build(
            &container(),
            &exec_args(&["--cap", "CAP_NOPE", "id1", "sh"]),
        )
        .expect_err("refused");
        assert!(format!("{err:#}").contains("CAP_NOPE"));
    }

    #[test]
    fn a_process_file_keeps_its_own_settings_and_gets_the_containers_rlimits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("process.json");
        let own = serde_json::json!({"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
        std::fs::write(&file, own.to_string()).expect("write");
        let path = file.to_str().expect("utf-8");
        let process =
            build(&container(), &exec_args(&["--process", path, "id1"])).expect("process");
        assert_eq!(process.user().uid(), 0);
        assert_eq!(process.rlimits().as_ref(), Some(&nofile(123)));
        let own = serde_json::json!({"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 77, "soft": 77}]});
        std::fs::write(&file, own.to_string()).expect("write");
        let process =
            build(&container(), &exec_args(&["--process", path, "id1"])).expect("process");
        assert_eq!(process.rlimits().as_ref(), Some(&nofile(77)));
    }

    #[test]
    fn nul_bytes_in_a_process_file_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("process.json");
        let own = serde_json::json!({"args": ["sh"], "env": ["A=b\u{0}c"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
        std::fs::write(&file, own.to_string()).expect("write");
        let path = file.to_str().expect("utf-8");
        let err =
            build(&container(), &exec_args(&["--process", path, "id1"])).expect_err("refused");
        assert!(format!("{err:#}").contains("process.env[0]"), "{err:#}");
    }
}
