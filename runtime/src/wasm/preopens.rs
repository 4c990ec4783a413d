//! Which directories a wasm guest may open: the preopen policy, in one place. The guest's
//! view holds no pseudo filesystem: nothing of `/proc`, `/sys`, `/dev`, the container's or
//! the host's, by any route.
//!
//! - the rootfs as `/`, read-only when `root.readonly` is set: a clone of its one mount on
//!   the host, so the mounts made in it (`/proc`, `/sys`, `/dev`, volumes, files such as
//!   `/etc/hosts`) are not part of it;
//! - every bind mount of a directory, at its destination, read-only when the mount has the
//!   `ro` option: a clone of the one mount of its source on the host (mounts below the
//!   source, which `rbind` brings to a Linux process, are not part of it);
//! - every other directory mount (a `tmpfs`, say), at its destination: opened in the
//!   container, and only if it is a mount root with nothing mounted on it;
//! - never anything at or below `/proc`, `/sys` or `/dev`, nor mounts of type proc, sysfs,
//!   cgroup, cgroup2, mqueue, devpts or any other pseudo filesystem ([`pseudo_type`]), nor
//!   a source that lies on one (the host's `/proc`, `/sys`, `/dev` or anything in them),
//!   known by its `statfs` magic ([`pseudo_filesystem`]) and its mount's type and place
//!   ([`pseudo_mount`]);
//! - the process's cwd as `.` when it is not `/` (WASI has no cwd of its own), resolved
//!   inside the preopen that holds it, with that preopen's access.
//!
//! Every preopen is nosuid, nodev and noexec: a device node in an image or volume cannot be
//! opened.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};

const PSEUDO_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Kernel filesystems that expose the kernel, processes or devices: `statfs` magic
/// (<linux/magic.h>) and type name (a spec's mount type, /proc/self/mountinfo's). The host's
/// `devtmpfs` is one too, but its magic is tmpfs's: it is known by name.
const PSEUDO_MAGICS: [(u32, &str); 22] = [
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x1cd1, "devpts"),
    (0x1980_0202, "mqueue"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0x6165_676c, "pstore"),
    (0xde5e_81e4, "efivarfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6573_5543, "fusectl"),
    (0x6e73_6673, "nsfs"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x0765_5821, "resctrl"),
    (0x9fa2, "usbdevfs"),
    (0x0904_1934, "anon_inodefs"),
    (0x0187, "autofs"),
];

/// Where a preopened directory comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The bundle's rootfs, on the host.
    Rootfs(PathBuf),
    /// The source of a bind mount, on the host.
    Host(PathBuf),
    /// A mount with no source on the host, opened at its destination in the container.
    Container,
}

/// A directory the guest is to see at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub guest: PathBuf,
    pub source: Source,
    pub read_only: bool,
}

/// The preopens of `spec` (bundle paths made absolute), the rootfs first; the cwd is
/// placed later, by [`cwd`].
pub fn plan(spec: &Spec, bundle: &Path) -> Vec<Planned> {
    let root_ro = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    let root = spec
        .root()
        .as_ref()
        .map_or_else(|| PathBuf::from("rootfs"), |r| r.path().clone());
    let mut planned = vec![Planned {
        guest: "/".into(),
        source: Source::Rootfs(bundle.join(root)),
        read_only: root_ro,
    }];
    for mount in spec.mounts().iter().flatten() {
        if !mount.destination().is_absolute() || mount.typ().as_deref().is_some_and(pseudo_type) {
            continue;
        }
        let dest = lexically_normal(mount.destination());
        if pseudo_place(&dest) || dest == Path::new("/") {
            continue;
        }
        let source = match (is_bind(mount), mount.source()) {
            (true, Some(source)) => Source::Host(bundle.join(source)),
            (true, None) => continue,
            (false, _) => Source::Container,
        };
        let read_only = mount.options().iter().flatten().any(|o| o == "ro");
        planned.retain(|p| p.guest != dest);
        planned.push(Planned {
            guest: dest,
            source,
            read_only,
        });
    }
    planned
}

/// Whether `path` (absolute, on the host or in the container) is at or below `/proc`,
/// `/sys` or `/dev`.
pub fn pseudo_place(path: &Path) -> bool {
    let path = lexically_normal(path);
    PSEUDO_ROOTS.iter().any(|root| path.starts_with(root))
}

/// The name of the pseudo filesystem with `statfs` magic `f_type`, if it is one.
pub fn pseudo_filesystem(f_type: i64) -> Option<&'static str> {
    let magic = u32::try_from(f_type).ok()?;
    PSEUDO_MAGICS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

/// Whether a filesystem type (`proc`, `tmpfs`...) is a pseudo filesystem.
pub fn pseudo_type(name: &str) -> bool {
    name == "devtmpfs" || PSEUDO_MAGICS.iter().any(|(_, pseudo)| *pseudo == name)
}

/// Whether a mount of type `fstype` at `mount_point` (in runw's or the container's mount
/// namespace) is, or belongs to, a pseudo filesystem: the tmpfs of a cgroup v1 hierarchy at
/// `/sys/fs/cgroup` is; so is a tmpfs at `/dev/shm`.
pub fn pseudo_mount(fstype: &str, mount_point: &Path) -> bool {
    pseudo_type(fstype) || pseudo_place(mount_point)
}

/// Where the process's cwd is preopened from: the index of the preopen (by guest path)
/// that holds it and the path below that, or `None` when it is `/`.
pub fn cwd(cwd: &Path, guests: &[&Path]) -> Option<(usize, PathBuf)> {
    let cwd = lexically_normal(cwd);
    if cwd == Path::new("/") {
        return None;
    }
    let (index, guest) = guests
        .iter()
        .enumerate()
        .filter(|(_, guest)| cwd.starts_with(guest))
        .max_by_key(|(_, guest)| guest.as_os_str().len())?;
    let rest = cwd.strip_prefix(guest).ok()?;
    Some((
        index,
        if rest.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rest.to_path_buf()
        },
    ))
}

fn is_bind(mount: &Mount) -> bool {
    mount.typ().as_deref() == Some("bind")
        || mount
            .options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

/// `path` with `.` removed and `..` applied (never above `/`): `/a/../proc` is at `/proc`.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("spec")
    }

    fn summary(planned: &[Planned]) -> Vec<(&str, Source, bool)> {
        planned
            .iter()
            .map(|p| {
                (
                    p.guest.to_str().unwrap_or(""),
                    p.source.clone(),
                    p.read_only,
                )
            })
            .collect()
    }

    #[test]
    fn rootfs_binds_and_other_mounts_but_no_pseudo_filesystems() {
        let spec = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"mounts":[
            {"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev/shm","type":"tmpfs","source":"shm"},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"},
            {"destination":"/data","type":"bind","source":"/srv","options":["rbind","rw"]},
            {"destination":"/config","source":"conf","options":["rbind","ro"]},
            {"destination":"/scratch","type":"tmpfs","source":"tmpfs"},
            {"destination":"/run/q","type":"mqueue","source":"mqueue"},
            {"destination":"/dbg","type":"debugfs","source":"debugfs"},
            {"destination":"/x/../dev/y","type":"bind","source":"/srv"},
            {"destination":"/y/./z/","type":"bind","source":"/srv"},
            {"destination":"relative","type":"bind","source":"/srv"}]}"#,
        );
        let planned = plan(&spec, Path::new("/b"));
        assert_eq!(
            summary(&planned),
            vec![
                ("/", Source::Rootfs("/b/rootfs".into()), true),
                ("/data", Source::Host("/srv".into()), false),
                ("/config", Source::Host("/b/conf".into()), true),
                ("/scratch", Source::Container, false),
                ("/y/z", Source::Host("/srv".into()), false),
            ]
        );
    }

    #[test]
    fn writable_rootfs_by_default_and_a_later_mount_replaces_an_earlier_one() {
        let spec = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"/abs/rootfs"},"mounts":[
            {"destination":"/data","type":"tmpfs","source":"tmpfs"},
            {"destination":"/data","type":"bind","source":"/srv","options":["ro"]}]}"#,
        );
        let planned = plan(&spec, Path::new("/b"));
        assert_eq!(
            summary(&planned),
            vec![
                ("/", Source::Rootfs("/abs/rootfs".into()), false),
                ("/data", Source::Host("/srv".into()), true)
            ]
        );
    }

    #[test]
    fn pseudo_places_and_filesystems() {
        for path in [
            "/proc",
            "/proc/1/root",
            "/sys/fs/cgroup",
            "/dev",
            "/dev/shm",
            "/a/../proc",
            "/../sys",
        ] {
            assert!(pseudo_place(Path::new(path)), "{path}");
        }
        for path in ["/", "/procfs", "/data/proc", "/srv/dev"] {
            assert!(!pseudo_place(Path::new(path)), "{path}");
        }
        assert_eq!(pseudo_filesystem(libc::PROC_SUPER_MAGIC), Some("proc"));
        assert_eq!(pseudo_filesystem(libc::SYSFS_MAGIC), Some("sysfs"));
        assert_eq!(
            pseudo_filesystem(libc::CGROUP2_SUPER_MAGIC),
            Some("cgroup2")
        );
        assert_eq!(pseudo_filesystem(libc::NSFS_MAGIC), Some("nsfs"));
        assert_eq!(pseudo_filesystem(libc::TMPFS_MAGIC), None);
        assert_eq!(pseudo_filesystem(libc::OVERLAYFS_SUPER_MAGIC), None);
        assert_eq!(pseudo_filesystem(libc::EXT4_SUPER_MAGIC), None);
        for name in [
            "proc", "sysfs", "cgroup2", "mqueue", "devpts", "devtmpfs", "debugfs", "bpf",
        ] {
            assert!(pseudo_type(name), "{name}");
        }
        for name in ["tmpfs", "overlay", "ext4", "xfs", "nfs", "bind"] {
            assert!(!pseudo_type(name), "{name}");
        }
        assert!(pseudo_mount("tmpfs", Path::new("/sys/fs/cgroup")));
        assert!(pseudo_mount("devtmpfs", Path::new("/mnt/dev")));
        assert!(!pseudo_mount("tmpfs", Path::new("/run")));
    }

    #[test]
    fn the_cwd_is_held_by_the_deepest_preopen() {
        let guests = [Path::new("/"), Path::new("/data"), Path::new("/data/sub")];
        assert_eq!(cwd(Path::new("/"), &guests), None);
        assert_eq!(cwd(Path::new("/app/x"), &guests), Some((0, "app/x".into())));
        assert_eq!(cwd(Path::new("/data"), &guests), Some((1, ".".into())));
        assert_eq!(
            cwd(Path::new("/data/sub/y/"), &guests),
            Some((2, "y".into()))
        );
        assert_eq!(
            cwd(Path::new("/data/sub/../z"), &guests),
            Some((1, "z".into()))
        );
        assert_eq!(cwd(Path::new("/datum"), &guests), Some((0, "datum".into())));
    }
}
