//! `runw features`: the OCI runtime features document, which callers (containerd, CRI-O)
//! read to learn what this runtime supports.

use anyhow::Result;
use libcontainer::syscall::linux::MountOption;
use liboci_cli::Features as FeaturesArgs;
use oci_spec::runtime::{
    ApparmorBuilder, CgroupBuilder, Features, FeaturesBuilder, IDMapBuilder, IntelRdtBuilder,
    LinuxFeatureBuilder, LinuxNamespaceType, MountExtensionsBuilder, SelinuxBuilder, VERSION,
};

pub fn features(_: FeaturesArgs) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&document()?)?);
    Ok(())
}

fn document() -> Result<Features> {
    use LinuxNamespaceType::*;
    let linux = LinuxFeatureBuilder::default()
        .namespaces(vec![Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time])
        .capabilities(
            caps::all()
                .iter()
                .map(|cap| cap.to_string())
                .collect::<Vec<_>>(),
        )
        .cgroup(
            CgroupBuilder::default()
                .v1(true)
                .v2(true)
                .systemd(true)
                .systemd_user(true)
                .rdma(false)
                .build()?,
        )
        .apparmor(ApparmorBuilder::default().enabled(true).build()?)
        .selinux(SelinuxBuilder::default().enabled(false).build()?)
        .intel_rdt(IntelRdtBuilder::default().enabled(true).build()?)
        .mount_extensions(
            MountExtensionsBuilder::default()
                .idmap(IDMapBuilder::default().enabled(false).build()?)
                .build()?,
        )
        .build()?;
    Ok(FeaturesBuilder::default()
        .oci_version_min("1.0.0".to_owned())
        .oci_version_max(VERSION.to_owned())
        .hooks(
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
        .mount_options(MountOption::known_options())
        .linux(linux)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_serializes_with_oci_keys() {
        let json = serde_json::to_value(document().expect("features")).expect("json");
        assert_eq!(json["ociVersionMin"], "1.0.0");
        assert!(json["linux"]["namespaces"]
            .as_array()
            .is_some_and(|ns| ns.len() == 8));
        assert!(json["mountOptions"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x == "ro")));
    }
}
