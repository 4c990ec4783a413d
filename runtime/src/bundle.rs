//! Checks a bundle before any side effect, so that a bad one fails with one line naming the
//! file at fault and nothing is created. libcontainer would catch most of these later, but
//! after it has made the state dir and with messages that do not name the bundle.

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Process, Spec};

/// Loads `bundle/config.json` and checks what `create` needs of it.
pub fn check(bundle: &Path) -> Result<Spec> {
    if !bundle.is_dir() {
        bail!(
            "bundle {} does not exist or is not a directory",
            bundle.display()
        );
    }
    let config = bundle.join("config.json");
    let text =
        std::fs::read(&config).with_context(|| format!("cannot read {}", config.display()))?;
    let spec: Spec =
        serde_json::from_slice(&text).with_context(|| format!("malformed {}", config.display()))?;
    let root = spec
        .root()
        .as_ref()
        .with_context(|| format!("{}: root is missing", config.display()))?;
    let rootfs = bundle.join(root.path());
    if !rootfs.is_dir() {
        bail!(
            "{}: rootfs {} does not exist",
            config.display(),
            rootfs.display()
        );
    }
    let args = spec.process().as_ref().and_then(|p| p.args().as_ref());
    if args.is_none_or(|args| args.is_empty()) {
        bail!("{}: process.args is missing or empty", config.display());
    }
    if spec.linux().is_none() {
        bail!("{}: linux section is missing", config.display());
    }
    if let Some(Err(fault)) = spec.process().as_ref().map(nul_free) {
        bail!("{}: {fault}", config.display());
    }
    if let Some(wanted) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        check_oom_score_adj(&config, wanted)?;
    }
    Ok(spec)
}

/// Checks that the strings the process is exec'd with can be C strings: a NUL byte would
/// otherwise fail in the container's init (a panic for `env`, a silent exit for a wasm
/// container's args). The fault names the field and index (`process.env[2] holds a NUL byte`).
pub fn nul_free(process: &Process) -> Result<(), String> {
    let fields = [
        ("process.args", process.args()),
        ("process.env", process.env()),
    ];
    for (field, values) in fields {
        let values = values.as_deref().unwrap_or_default();
        if let Some(index) = values.iter().position(|v| v.contains('\0')) {
            return Err(format!("{field}[{index}] holds a NUL byte"));
        }
    }
    if process.cwd().as_os_str().as_encoded_bytes().contains(&0) {
        return Err("process.cwd holds a NUL byte".into());
    }
    Ok(())
}

/// Lowering the OOM score adjustment below the lowest value a privileged process set needs
/// CAP_SYS_RESOURCE; without it libcontainer fails late with a bare "io error" (runc, alike,
/// with a pipe error). The kernel does not show that floor, so runw tries the value on itself
/// (the container's init inherits runw's) and puts its own back: raising is always allowed.
fn check_oom_score_adj(config: &Path, wanted: i32) -> Result<()> {
    const OWN: &str = "/proc/self/oom_score_adj";
    let Some(current) = std::fs::read_to_string(OWN)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return Ok(());
    };
    if wanted >= current {
        return Ok(());
    }
    match std::fs::write(OWN, wanted.to_string()) {
        Ok(()) => {
            let _ = std::fs::write(OWN, current.to_string());
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "{}: process.oomScoreAdj {wanted} is below what runw may set without CAP_SYS_RESOURCE \
             (its own is {current}); give runw that capability, or raise the value \
             (containerd: restrict_oom_score_adj = true)",
            config.display()
        ),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(config: &str, make_rootfs: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.json"), config).expect("write config");
        if make_rootfs {
            std::fs::create_dir(dir.path().join("rootfs")).expect("mkdir rootfs");
        }
        dir
    }

    fn message(dir: &Path) -> String {
        format!("{:#}", check(dir).expect_err("must fail"))
    }

    #[test]
    fn missing_bundle_is_named() {
        assert!(message(Path::new("/nonexistent/b")).contains("/nonexistent/b"));
    }

    #[test]
    fn malformed_json_names_the_file() {
        let dir = bundle_with("{ not json", true);
        let msg = message(dir.path());
        assert!(
            msg.contains("malformed") && msg.contains("config.json"),
            "{msg}"
        );
    }

    #[test]
    fn missing_rootfs_is_named() {
        let config = r#"{"ociVersion":"1.0.2","root":{"path":"nope"},
            "process":{"args":["/bin/true"],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{}}"#;
        let dir = bundle_with(config, true);
        assert!(message(dir.path()).contains("rootfs"));
    }

    #[test]
    fn empty_args_are_refused() {
        let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"args":[],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{}}"#;
        let dir = bundle_with(config, true);
        assert!(message(dir.path()).contains("process.args"));
    }

    #[test]
    fn nul_bytes_are_refused_naming_field_and_index() {
        let cases = [
            (
                r#""args":["/bin/true","a\u0000b"],"cwd":"/""#,
                "process.args[1]",
            ),
            (r#""args":["/m.wasm#f\u0000"],"cwd":"/""#, "process.args[0]"),
            (
                r#""args":["/bin/true"],"env":["A=1","B=\u0000"],"cwd":"/""#,
                "process.env[1]",
            ),
            (r#""args":["/bin/true"],"cwd":"/tm\u0000p""#, "process.cwd"),
        ];
        for (process, field) in cases {
            let config = format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
                "process":{{{process},"user":{{"uid":0,"gid":0}}}},"linux":{{}}}}"#
            );
            let dir = bundle_with(&config, true);
            let msg = message(dir.path());
            assert!(msg.contains(&format!("{field} holds a NUL byte")), "{msg}");
        }
    }

    #[test]
    fn complete_bundle_passes() {
        let config = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "process":{"args":["/bin/true"],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{}}"#;
        let dir = bundle_with(config, true);
        if let Err(err) = check(dir.path()) {
            panic!("{err:#}");
        }
    }
}
