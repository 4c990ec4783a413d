//! A bundle's `cgroup` mount on a cgroup v1 (or hybrid) host, rewritten before libcontainer
//! sees it into what runc mounts there: a tmpfs at the destination and, per v1 hierarchy
//! mounted under `/sys/fs/cgroup`, a bind mount of the container's own cgroup directory
//! (read-only when the mount says `ro`), also at each name of a co-mounted hierarchy
//! (`cpu` and `cpuacct` for `cpu,cpuacct`, where runc makes symlinks).
//!
//! Works around two bugs of libcontainer 0.7.0's `Mount::mount_cgroup_v1`
//! (`src/rootfs/mount.rs`), which runw therefore never calls:
//! - it reads the cgroups of `/proc/<pid>`, taking `<pid>` from the container's own PID
//!   namespace but reading the host's `/proc`: in a joined PID namespace (a pod sharing one)
//!   the create fails (`failed to prepare rootfs`) where no host process has that pid, and
//!   reads an unrelated process where one has;
//! - it binds every hierarchy read-write whatever the mount's options, so a container could
//!   raise its own memory limit through `/sys/fs/cgroup/memory`.
//!
//! The container's cgroup in a hierarchy libcontainer manages is `<mount point>/<cgroupsPath>`
//! (libcgroups' v1 `Manager::get_subsystem_path`); in one it does not manage (`name=systemd`,
//! `rdma`, `misc`) the container stays where runw is, which runw reads from its own
//! `/proc/self/cgroup`, in its own PID namespace.
//!
//! A rootless runw there gives its containers no cgroup
//! ([`crate::rootless::hide_undelegated_cgroups`]): their `cgroup` mount is an empty read-only
//! tmpfs, since there is no cgroup of theirs to show (libcontainer's own cgroup2 mount fails
//! there, the container's user namespace not owning the cgroup namespace).

use std::path::{Path, PathBuf};

use libcgroups::common::CgroupSetup;
use libcontainer::oci_spec::runtime::{Mount, MountBuilder, Spec};
use procfs::process::{MountInfo, Process};
use procfs::ProcessCGroup;

use crate::cgroup_procs;

/// Where the host's v1 hierarchies are mounted (libcontainer mounts only these).
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers libcgroups 0.7.0 puts a container in (`v1::controller_type::CONTROLLERS`).
const MANAGED: [&str; 12] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

#[derive(Debug, thiserror::Error)]
pub enum CgroupMountError {
    #[error("cannot read runw's own cgroups and mounts: {0}")]
    Proc(#[from] procfs::ProcError),
    #[error("cannot build the cgroup bind mount at {}: {source}", destination.display())]
    Build {
        destination: PathBuf,
        source: libcontainer::oci_spec::OciSpecError,
    },
}

/// Replaces each `cgroup` mount of `spec` with tmpfs and bind mounts of the cgroup
/// `cgroup_path` (the container's `linux.cgroupsPath`) on a v1 or hybrid host, or with an
/// empty read-only tmpfs where a rootless runw hid the host's cgroups. Returns whether
/// anything was replaced.
pub fn rewrite(spec: &mut Spec, cgroup_path: &Path) -> Result<bool, CgroupMountError> {
    let Some(mounts) = spec.mounts().as_ref() else {
        return Ok(false);
    };
    if !mounts.iter().any(is_cgroup) {
        return Ok(false);
    }
    if crate::rootless::cgroups_hidden() {
        let empty = mounts
            .iter()
            .map(empty_when_cgroup)
            .collect::<Result<_, _>>()?;
        spec.set_mounts(Some(empty));
        return Ok(true);
    }
    if !on_v1_host() {
        return Ok(false);
    }
    let me = Process::myself()?;
    let sources = hierarchies(&me.mountinfo()?.0, &me.cgroups()?.0, cgroup_path);
    let mut rewritten = Vec::with_capacity(mounts.len() + sources.len());
    for mount in mounts {
        match is_cgroup(mount) {
            true => rewritten.extend(replacement(mount, &sources)?),
            false => rewritten.push(mount.clone()),
        }
    }
    spec.set_mounts(Some(rewritten));
    Ok(true)
}

fn is_cgroup(mount: &Mount) -> bool {
    mount.typ().as_deref() == Some("cgroup")
}

/// `mount`, or an empty read-only tmpfs in its place when it is a `cgroup` mount.
fn empty_when_cgroup(mount: &Mount) -> Result<Mount, CgroupMountError> {
    match is_cgroup(mount) {
        true => build(
            mount.destination(),
            "tmpfs",
            "tmpfs",
            ["ro", "noexec", "nosuid", "nodev", "mode=755"].map(String::from),
        ),
        false => Ok(mount.clone()),
    }
}

/// libcontainer takes the v1 path on these (an unknown setup fails later, in libcontainer).
fn on_v1_host() -> bool {
    matches!(
        libcgroups::common::get_cgroup_setup(),
        Ok(CgroupSetup::Legacy | CgroupSetup::Hybrid)
    )
}

/// One v1 hierarchy as the container sees it: `/sys/fs/cgroup/<name>` shows `source`.
#[derive(Debug, PartialEq)]
struct Hierarchy {
    name: String,
    source: PathBuf,
}

/// The container's cgroup directory in each v1 hierarchy mounted under `/sys/fs/cgroup`.
fn hierarchies(mounts: &[MountInfo], own: &[ProcessCGroup], cgroup_path: &Path) -> Vec<Hierarchy> {
    let relative = cgroup_path.strip_prefix("/").unwrap_or(cgroup_path);
    let mut found = Vec::new();
    for mount in mounts.iter().filter(|m| m.fs_type == "cgroup") {
        if mount.mount_point.parent() != Some(Path::new(CGROUP_ROOT)) {
            continue;
        }
        let Some(name) = mount.mount_point.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let source = match name.split(',').any(|c| MANAGED.contains(&c)) {
            true => Some(mount.mount_point.join(relative)),
            false => own.iter().find_map(|cgroup| {
                cgroup_procs::directory(
                    std::slice::from_ref(mount),
                    &cgroup.controllers,
                    &cgroup.pathname,
                )
            }),
        };
        match source {
            Some(source) => found.push(Hierarchy {
                name: name.to_owned(),
                source,
            }),
            None => tracing::warn!(hierarchy = name, "runw is in no cgroup of this hierarchy"),
        }
    }
    found
}

/// What replaces the `cgroup` mount `mount`: a tmpfs (writable, or the bind mounts could not
/// make their mount points in it, as libcontainer's own), then the hierarchies, each with
/// `mount`'s options.
fn replacement(mount: &Mount, hierarchies: &[Hierarchy]) -> Result<Vec<Mount>, CgroupMountError> {
    let root = mount.destination();
    let tmpfs_options = ["noexec", "nosuid", "nodev", "mode=755"];
    let mut mounts = vec![build(
        root,
        "tmpfs",
        "tmpfs",
        tmpfs_options.map(String::from),
    )?];
    let mut options = mount.options().clone().unwrap_or_default();
    options.push("rbind".into());
    for hierarchy in hierarchies {
        let names = std::iter::once(hierarchy.name.as_str()).chain(
            hierarchy
                .name
                .split(',')
                .filter(|_| hierarchy.name.contains(',')),
        );
        for name in names {
            let source = hierarchy.source.to_string_lossy();
            mounts.push(build(&root.join(name), "bind", &source, options.clone())?);
        }
    }
    Ok(mounts)
}

fn build(
    destination: &Path,
    typ: &str,
    source: &str,
    options: impl Into<Vec<String>>,
) -> Result<Mount, CgroupMountError> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.into())
        .build()
        .map_err(|source| CgroupMountError::Build {
            destination: destination.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mountinfo(line: &str) -> MountInfo {
        MountInfo::from_line(line).expect("mountinfo line")
    }

    fn host() -> Vec<MountInfo> {
        [
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
            "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
            "42 23 0:39 / /elsewhere/memory rw,relatime - cgroup cgroup rw,memory",
        ]
        .map(mountinfo)
        .into()
    }

    fn own() -> Vec<ProcessCGroup> {
        let cgroup = |controllers: &[&str], pathname: &str| ProcessCGroup {
            hierarchy: 0,
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            pathname: pathname.into(),
        };
        vec![
            cgroup(&["name=systemd"], "/session-3"),
            cgroup(&["memory"], "/runw-itself"),
            cgroup(&["cpu", "cpuacct"], "/runw-itself"),
            cgroup(&[], "/"),
        ]
    }

    #[test]
    fn managed_hierarchies_show_the_container_cgroup_others_runw_own() {
        let found = hierarchies(&host(), &own(), Path::new("/pod/ctr"));
        let expected = [
            ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/pod/ctr"),
            ("memory", "/sys/fs/cgroup/memory/pod/ctr"),
            ("systemd", "/sys/fs/cgroup/systemd/session-3"),
        ]
        .map(|(name, source)| Hierarchy {
            name: name.into(),
            source: source.into(),
        });
        assert_eq!(found, expected);
    }

    #[test]
    fn a_relative_cgroup_path_is_under_each_mount_point() {
        let found = hierarchies(&host(), &own(), Path::new("system.slice:runw:x"));
        assert_eq!(
            found[1].source,
            Path::new("/sys/fs/cgroup/memory/system.slice:runw:x")
        );
    }

    #[test]
    fn binds_carry_the_mount_options_and_each_comounted_name() {
        let spec_mount = build(
            Path::new("/sys/fs/cgroup"),
            "cgroup",
            "cgroup",
            vec!["nosuid".into(), "ro".into()],
        )
        .expect("mount");
        let found = hierarchies(&host(), &own(), Path::new("/c"));
        let mounts = replacement(&spec_mount, &found).expect("replacement");
        let at: Vec<_> = mounts.iter().map(|m| m.destination().clone()).collect();
        assert_eq!(
            at,
            [
                "/sys/fs/cgroup",
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd",
            ]
            .map(PathBuf::from)
        );
        assert_eq!(mounts[0].typ().as_deref(), Some("tmpfs"));
        for bind in &mounts[1..] {
            assert_eq!(bind.typ().as_deref(), Some("bind"));
            let options = bind.options().clone().unwrap_or_default();
            assert_eq!(options, ["nosuid", "ro", "rbind"]);
        }
    }
}
