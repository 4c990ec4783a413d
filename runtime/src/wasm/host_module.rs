//! The entrypoint module read on the host, before the container exists, for the compile
//! cache: the file the container will see at `process.args[0]`, found in the bundle's rootfs
//! or in the source of a bind mount that covers it.
//!
//! Paths are resolved with `openat2(RESOLVE_IN_ROOT)`, so a symlink in an image cannot make
//! runw read a host file, and opened `O_PATH` first: only a regular file is ever opened for
//! reading (a FIFO would block `create`, a device node is the host's device, outside the
//! container's device cgroup; neither is opened, and the container says why). Resolution here is a prediction (a mount or symlink can make the
//! container see another file): the executor checks the module's digest against the
//! artifact's and compiles the module itself when they differ.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use oci_spec::runtime::Spec;

use super::entrypoint;

/// Modules larger than this are not cached (they are still run, compiled in the container).
const MAX_MODULE: u64 = 512 << 20;

/// The module, open for reading, or `None` when it cannot be found on the host, is not a
/// regular file, or is not wasm.
pub fn open(spec: &Spec, bundle: &Path) -> Option<File> {
    let view = HostView::of(spec, bundle)?;
    let (path, _function) = entrypoint::locate(spec, &|p: &Path| view.open(p).is_some()).ok()?;
    let file = view.open(&path)?;
    if file.metadata().ok()?.len() > MAX_MODULE {
        return None;
    }
    // Judge the head only: a `-smart` container's entrypoint is often a large native binary
    // (a proxy), which must not be read whole on every start.
    let mut head = [0u8; 512];
    let n = file.read_at(&mut head, 0).ok()?;
    runw_shared::module_kind::classify(&head[..n], &path)?;
    Some(file)
}

/// The container's filesystem as seen from the host: the rootfs, with bind mounts over it.
struct HostView {
    rootfs: PathBuf,
    cwd: PathBuf,
    /// (destination in the container, source on the host), longest destination first.
    binds: Vec<(PathBuf, PathBuf)>,
}

impl HostView {
    fn of(spec: &Spec, bundle: &Path) -> Option<HostView> {
        let root = spec.root().as_ref()?.path();
        let rootfs = if root.is_absolute() {
            root.clone()
        } else {
            bundle.join(root)
        };
        let cwd = spec
            .process()
            .as_ref()
            .map_or_else(|| PathBuf::from("/"), |p| p.cwd().clone());
        let mut binds: Vec<(PathBuf, PathBuf)> = spec
            .mounts()
            .iter()
            .flatten()
            .filter(|m| {
                m.typ().as_deref() == Some("bind")
                    || m.options()
                        .iter()
                        .flatten()
                        .any(|o| o == "bind" || o == "rbind")
            })
            .filter_map(|m| {
                let source = m.source().as_ref()?;
                let source = if source.is_absolute() {
                    source.clone()
                } else {
                    bundle.join(source)
                };
                Some((m.destination().clone(), source))
            })
            .collect();
        binds.sort_by_key(|(dest, _)| std::cmp::Reverse(dest.components().count()));
        Some(HostView { rootfs, cwd, binds })
    }

    /// Opens a container path (relative ones from the process's cwd) if it is a regular file.
    fn open(&self, path: &Path) -> Option<File> {
        reopen_if_regular(self.open_path(path)?)
    }

    /// The container path `path` as an `O_PATH` descriptor: nothing is opened yet.
    fn open_path(&self, path: &Path) -> Option<OwnedFd> {
        let absolute = self.cwd.join(path);
        let (root, rest) = self
            .binds
            .iter()
            .find_map(|(dest, source)| Some((source.as_path(), absolute.strip_prefix(dest).ok()?)))
            .unwrap_or((
                self.rootfs.as_path(),
                absolute.strip_prefix("/").unwrap_or(&absolute),
            ));
        let rest = if rest.components().all(|c| c == Component::CurDir) {
            Path::new(".")
        } else {
            rest
        };
        open_in_root(root, rest)
    }
}

/// `rest` beneath `root`, every symlink resolved as if `root` were `/`, as an `O_PATH`
/// descriptor (opening nothing: no FIFO blocks, no device is touched).
fn open_in_root(root: &Path, rest: &Path) -> Option<OwnedFd> {
    let path = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let dir = nix::fcntl::open(
        root,
        path | OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let how = OpenHow::new()
        .flags(path)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = nix::fcntl::openat2(dir.as_raw_fd(), rest, how).ok()?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the file an `O_PATH` descriptor names for reading, only if it is a regular file.
fn reopen_if_regular(path: OwnedFd) -> Option<File> {
    let meta = nix::sys::stat::fstat(path.as_raw_fd()).ok()?;
    if meta.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    // The magic link reopens the very inode the descriptor pins.
    let link = format!("/proc/self/fd/{}", path.as_raw_fd());
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let fd = nix::fcntl::open(link.as_str(), flags, nix::sys::stat::Mode::empty()).ok()?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Some(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(args: &[&str], mounts: serde_json::Value) -> Spec {
        let json = serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": args, "cwd": "/app", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
            "mounts": mounts,
        });
        serde_json::from_value(json).expect("spec")
    }

    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    fn read(spec: &Spec, bundle: &Path) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        open(spec, bundle)?.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    #[test]
    fn finds_the_module_in_the_rootfs_through_cwd_and_path() {
        let bundle = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(bundle.path().join("rootfs/app")).expect("mkdir");
        std::fs::create_dir_all(bundle.path().join("rootfs/bin")).expect("mkdir");
        std::fs::write(bundle.path().join("rootfs/app/m.wasm"), WASM).expect("write");
        std::fs::write(bundle.path().join("rootfs/bin/p.wasm"), WASM).expect("write");
        std::fs::write(bundle.path().join("rootfs/bin/sh"), b"\x7fELF").expect("write");
        let mounts = serde_json::json!([]);
        assert_eq!(
            read(&spec_with(&["/app/m.wasm"], mounts.clone()), bundle.path()).as_deref(),
            Some(WASM)
        );
        assert_eq!(
            read(&spec_with(&["./m.wasm"], mounts.clone()), bundle.path()).as_deref(),
            Some(WASM)
        );
        assert_eq!(
            read(&spec_with(&["p.wasm"], mounts.clone()), bundle.path()).as_deref(),
            Some(WASM)
        );
        assert_eq!(
            read(&spec_with(&["sh"], mounts), bundle.path()),
            None,
            "not wasm"
        );
    }

    #[test]
    fn bind_mounts_cover_the_rootfs_and_symlinks_stay_inside() {
        let bundle = tempfile::tempdir().expect("tempdir");
        let host = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(bundle.path().join("rootfs/app")).expect("mkdir");
        std::fs::write(
            bundle.path().join("rootfs/app/m.wasm"),
            b"\0asm\x01\0\0\0shadowed",
        )
        .expect("write");
        std::fs::write(host.path().join("m.wasm"), WASM).expect("write");
        let mounts = serde_json::json!([{"destination": "/app", "type": "bind", "source": host.path(), "options": ["rbind"]}]);
        assert_eq!(
            read(&spec_with(&["/app/m.wasm"], mounts), bundle.path()).as_deref(),
            Some(WASM)
        );

        // An absolute symlink resolves inside the rootfs, not on the host.
        let outside = host.path().join("outside.wasm");
        std::fs::write(&outside, WASM).expect("write");
        std::os::unix::fs::symlink(&outside, bundle.path().join("rootfs/app/link.wasm"))
            .expect("symlink");
        assert_eq!(
            read(
                &spec_with(&["/app/link.wasm"], serde_json::json!([])),
                bundle.path()
            ),
            None
        );
    }
}

#[cfg(test)]
mod special_files {
    use super::*;

    #[test]
    fn fifos_and_devices_are_never_opened() {
        let bundle = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(bundle.path().join("rootfs")).expect("mkdir");
        let fifo = bundle.path().join("rootfs/m.wasm");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644))
            .expect("mkfifo");
        let json = serde_json::json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"args": ["/m.wasm"], "cwd": "/", "user": {"uid": 0, "gid": 0}}});
        let spec: Spec = serde_json::from_value(json).expect("spec");
        // Returns at once (an open for reading would block for a writer).
        assert!(open(&spec, bundle.path()).is_none());
    }
}
