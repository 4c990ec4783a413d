//! `runw spec`: write a default config.json for a new bundle, as `runc spec` does.

use std::io::Write;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub fn spec(args: liboci_cli::Spec) -> Result<()> {
    if args.rootless {
        anyhow::bail!("runw spec --rootless is not supported: runw runs containers as root");
    }
    let path = args.bundle.unwrap_or_default().join("config.json");
    let json = serde_json::to_string_pretty(&default_spec())?;
    let mut file = std::fs::File::create_new(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// oci-spec's default (runc's template), without a cgroup namespace on hosts whose cgroup
/// hierarchy is not unified, where joining one would hide the host's v1 controllers.
fn default_spec() -> Spec {
    let mut spec = Spec::default();
    let unified = matches!(
        libcgroups::common::get_cgroup_setup(),
        Ok(libcgroups::common::CgroupSetup::Unified)
    );
    if let Some(namespaces) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        if !unified {
            namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::Cgroup);
        }
    }
    spec
}
