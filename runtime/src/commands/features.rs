//! `runw features`: the OCI runtime features document, which callers (containerd, CRI-O)
//! read to learn what this runtime supports: seccomp as libcontainer applies it (with the
//! libseccomp runw is linked with) and, in `annotations`, the wasm annotations runw honours.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, Result};
use libcontainer::syscall::linux::MountOption;
use liboci_cli::Features as FeaturesArgs;
use oci_spec::runtime::{
    ApparmorBuilder, Arch, CgroupBuilder, Features, FeaturesBuilder, IDMapBuilder, IntelRdtBuilder,
    LinuxFeatureBuilder, LinuxNamespaceType, LinuxSeccompAction, MountExtensionsBuilder, Seccomp,
    SeccompBuilder, SelinuxBuilder, VERSION,
};

use crate::wasm::annotations;

pub fn features(_: FeaturesArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(&document()?)?;
    match writeln!(std::io::stdout().lock(), "{json}") {
        // A reader that stopped early (`runw features | head -1`) is not an error.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write the features document"),
    }
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
        .seccomp(seccomp()?)
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
        .annotations(implementation_annotations())
        .build()?)
}

/// What libcontainer 0.7 translates into a libseccomp filter (`libcontainer::seccomp`).
fn seccomp() -> Result<Seccomp> {
    use LinuxSeccompAction::*;
    let flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    .map(str::to_owned)
    .to_vec();
    Ok(SeccompBuilder::default()
        .enabled(true)
        .actions(vec![
            ScmpActKill,
            ScmpActKillProcess,
            ScmpActKillThread,
            ScmpActTrap,
            ScmpActErrno,
            ScmpActTrace,
            ScmpActAllow,
            ScmpActLog,
            ScmpActNotify,
        ])
        .operators(
            [
                "SCMP_CMP_NE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_MASKED_EQ",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
        .archs(archs())
        .known_flags(flags.clone())
        .supported_flags(flags)
        .build()?)
}

/// The architectures a filter may name (those libcontainer maps to libseccomp's).
fn archs() -> Vec<Arch> {
    use Arch::*;
    vec![
        ScmpArchX86,
        ScmpArchX86_64,
        ScmpArchX32,
        ScmpArchArm,
        ScmpArchAarch64,
        ScmpArchMips,
        ScmpArchMips64,
        ScmpArchMips64n32,
        ScmpArchMipsel,
        ScmpArchMipsel64,
        ScmpArchMipsel64n32,
        ScmpArchPpc,
        ScmpArchPpc64,
        ScmpArchPpc64le,
        ScmpArchS390,
        ScmpArchS390x,
        ScmpArchRiscv64,
        ScmpArchParisc,
        ScmpArchParisc64,
        ScmpArchLoongarch64,
        ScmpArchM68k,
        ScmpArchSh,
        ScmpArchSheb,
    ]
}

/// runw's version, libseccomp's (runc's key), and the annotations that make a container a
/// wasm workload, each with the values runw honours.
fn implementation_annotations() -> HashMap<String, String> {
    let mut map = HashMap::from([
        (
            "org.runw.version".to_owned(),
            crate::version::SHORT.to_owned(),
        ),
        (
            format!("org.runw.wasm.annotation.{}", annotations::HANDLER),
            "wasm,wasm-smart".to_owned(),
        ),
        (
            format!("org.runw.wasm.annotation.{}", annotations::VARIANT),
            "compat,compat-smart".to_owned(),
        ),
    ]);
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        map.insert(
            "io.github.seccomp.libseccomp.version".to_owned(),
            format!("{}.{}.{}", v.major, v.minor, v.micro),
        );
    }
    map
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

    #[test]
    fn seccomp_and_wasm_annotations_are_reported() {
        let json = serde_json::to_value(document().expect("features")).expect("json");
        let seccomp = &json["linux"]["seccomp"];
        assert_eq!(seccomp["enabled"], true, "{seccomp}");
        assert!(seccomp["actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "SCMP_ACT_ERRNO")));
        assert!(seccomp["archs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "SCMP_ARCH_X86_64")));
        let annotations = &json["annotations"];
        assert_eq!(
            annotations["org.runw.wasm.annotation.run.oci.handler"],
            "wasm,wasm-smart"
        );
        assert_eq!(
            annotations["org.runw.wasm.annotation.module.wasm.image/variant"],
            "compat,compat-smart"
        );
        assert!(annotations["io.github.seccomp.libseccomp.version"].is_string());
    }
}
