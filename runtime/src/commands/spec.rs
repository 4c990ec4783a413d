//! `runw spec`: write a default config.json for a new bundle, as `runc spec` does.

use std::io::Write;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub fn spec(args: liboci_cli::Spec) -> Result<()> {
    let spec = match args.rootless {
        true => rootless_spec(),
        false => default_spec(),
    };
    let path = args.bundle.unwrap_or_default().join("config.json");
    let json = serde_json::to_string_pretty(&spec)?;
    let mut file = std::fs::File::create_new(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// oci-spec's default (runc's template), without a cgroup namespace on hosts whose cgroup
/// hierarchy is not unified, where joining one would hide the host's v1 controllers.
fn default_spec() -> Spec {
    without_v1_cgroup_namespace(Spec::default())
}

/// runc's `spec --rootless`: the default with a user namespace mapping root in the container
/// to the caller's own uid and gid, no network namespace, `/sys` bound from the host (a
/// sysfs cannot be mounted without a network namespace of one's own), no `gid=5` on
/// `/dev/pts`, and no resource limits.
fn rootless_spec() -> Spec {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let template = Spec::rootless(uid, gid);
    let mut spec = Spec::default();
    spec.set_mounts(template.mounts().clone());
    if let (Some(linux), Some(rootless)) = (spec.linux_mut().as_mut(), template.linux()) {
        linux
            .set_namespaces(rootless.namespaces().clone())
            .set_uid_mappings(rootless.uid_mappings().clone())
            .set_gid_mappings(rootless.gid_mappings().clone())
            .set_resources(None);
    }
    without_v1_cgroup_namespace(spec)
}

fn without_v1_cgroup_namespace(mut spec: Spec) -> Spec {
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
