//! The container's filesystem as wasmer-wasix sees it: the task's preopens and nothing else.
//!
//! Each preopen's `host` path is opened once, as a directory descriptor. wasmer-wasix names
//! files by their guest paths; a guest path belongs to the preopen with the longest guest
//! prefix, and the rest of it is resolved beneath that preopen's descriptor by the kernel
//! ([`beneath`]), so nothing outside a preopen is reachable through it. Hard links, renames,
//! symlinks and removals are the kernel's own (`linkat`, `renameat`, ...): a rename or link
//! between two mounts fails, it is never emulated by a copy. A read-only preopen refuses
//! every write.
//!
//! wasmer-wasix asks for write access when the guest opens a file for reading: on a
//! read-only preopen such an open (write access without creating, truncating or appending)
//! is made read-only, and on a writable one it is retried read-only when the kernel refuses
//! it, so the guest reads, and a later write fails as it must.

mod beneath;
mod file;

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use runw_shared::Preopen;
use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use wasmer_wasix::virtual_fs::{
    host_fs, DirEntry, FileOpener, FileSystem, FsError, Metadata, OpenOptions, OpenOptionsConfig,
    ReadDir, Result, VirtualFile,
};

use beneath::fs_error;
use file::PreopenFile;

#[derive(Debug)]
pub struct PreopenFs {
    roots: Vec<Root>,
    tokio: tokio::runtime::Handle,
}

/// One preopen: where the guest sees it and the descriptor everything beneath is reached by.
#[derive(Debug)]
struct Root {
    guest: PathBuf,
    dir: Arc<OwnedFd>,
    read_only: bool,
}

impl PreopenFs {
    /// Opens every preopen's `host` directory; fails naming the first that cannot be opened.
    pub fn open(preopens: &[Preopen]) -> std::result::Result<Self, String> {
        let mut roots = Vec::with_capacity(preopens.len());
        for preopen in preopens {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let dir = rustix::fs::open(&preopen.host, flags, Mode::empty())
                .map_err(|err| format!("preopen {}: {err}", preopen.host.display()))?;
            roots.push(Root {
                guest: preopen.guest.clone(),
                dir: Arc::new(dir),
                read_only: preopen.read_only,
            });
        }
        Ok(PreopenFs {
            roots,
            tokio: tokio::runtime::Handle::current(),
        })
    }

    /// The preopen `path` belongs to (longest guest prefix) and the path beneath it.
    fn locate<'a>(&self, path: &'a Path) -> Result<(&Root, &'a Path)> {
        self.roots
            .iter()
            .filter_map(|root| Some((root, path.strip_prefix(&root.guest).ok()?)))
            .max_by_key(|(root, _)| root.guest.components().count())
            .ok_or(FsError::PermissionDenied)
    }

    /// Like [`locate`](Self::locate), for a change: refused on a read-only preopen.
    fn locate_writable<'a>(&self, path: &'a Path) -> Result<(&Root, &'a Path)> {
        let (root, rel) = self.locate(path)?;
        if root.read_only {
            return Err(FsError::PermissionDenied);
        }
        Ok((root, rel))
    }

    fn open_file(
        &self,
        path: &Path,
        root: &Root,
        rel: &Path,
        conf: &OpenOptionsConfig,
    ) -> Result<PreopenFile> {
        // openat2 takes a mode only for a file it may create (EINVAL otherwise).
        let mode = if conf.create || conf.create_new {
            Mode::from_raw_mode(0o666)
        } else {
            Mode::empty()
        };
        let fd = beneath::open(&*root.dir, rel, open_flags(conf), mode).map_err(fs_error)?;
        let writes = conf.write || conf.append;
        let file = host_fs::File::new(
            self.tokio.clone(),
            File::from(fd),
            path.to_owned(),
            conf.read,
            writes,
            conf.append,
        );
        Ok(PreopenFile::new(file, root.dir.clone(), rel.to_owned()))
    }

    fn stat(&self, path: &Path, flags: OFlags) -> Result<Metadata> {
        let (root, rel) = self.locate(path)?;
        let fd = beneath::open(&*root.dir, rel, OFlags::PATH | flags, Mode::empty())
            .map_err(fs_error)?;
        Ok(File::from(fd).metadata()?.try_into()?)
    }
}

/// Whether `conf` only reads, once write access is taken away (wasmer-wasix asks for write
/// access to read).
fn may_read_only(conf: &OpenOptionsConfig) -> bool {
    conf.read && !(conf.create || conf.create_new || conf.truncate || conf.append)
}

/// Whether an open made with `conf` may change the file system.
fn changes(conf: &OpenOptionsConfig) -> bool {
    conf.write || conf.append || conf.create || conf.create_new || conf.truncate
}

fn open_flags(conf: &OpenOptionsConfig) -> OFlags {
    let mut flags = match (conf.read, conf.write || conf.append) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    for (wanted, flag) in [
        (conf.create, OFlags::CREATE),
        (conf.create_new, OFlags::CREATE | OFlags::EXCL),
        (conf.truncate, OFlags::TRUNC),
        (conf.append, OFlags::APPEND),
    ] {
        if wanted {
            flags |= flag;
        }
    }
    flags | OFlags::NOCTTY
}

impl FileOpener for PreopenFs {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        let (root, rel) = self.locate(path)?;
        let read_only = OpenOptionsConfig {
            write: false,
            ..conf.clone()
        };
        let reads = conf.write && may_read_only(conf);
        let file = if root.read_only && reads {
            self.open_file(path, root, rel, &read_only)
        } else if root.read_only && changes(conf) {
            Err(FsError::PermissionDenied)
        } else {
            match self.open_file(path, root, rel, conf) {
                Err(FsError::PermissionDenied) if reads => {
                    self.open_file(path, root, rel, &read_only)
                }
                other => other,
            }
        }?;
        Ok(Box::new(file))
    }
}

impl FileSystem for PreopenFs {
    fn readlink(&self, path: &Path) -> Result<PathBuf> {
        let (root, rel) = self.locate(path)?;
        let (parent, name) = beneath::parent(&*root.dir, rel).map_err(fs_error)?;
        let target = rustix::fs::readlinkat(&parent, name, Vec::new()).map_err(fs_error)?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    fn read_dir(&self, path: &Path) -> Result<ReadDir> {
        let (root, rel) = self.locate(path)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = beneath::open(&*root.dir, rel, flags, Mode::empty()).map_err(fs_error)?;
        let mut entries = Vec::new();
        for entry in Dir::new(fd).map_err(fs_error)? {
            let name = OsString::from_vec(entry.map_err(fs_error)?.file_name().to_bytes().to_vec());
            if name == "." || name == ".." {
                continue;
            }
            let path = path.join(name);
            let metadata = self.symlink_metadata(&path);
            entries.push(DirEntry { path, metadata });
        }
        Ok(ReadDir::new(entries))
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        let (root, rel) = self.locate_writable(path)?;
        let (parent, name) = beneath::parent(&*root.dir, rel).map_err(fs_error)?;
        rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o777)).map_err(fs_error)
    }

    /// A symlink at `target` whose content is `source`.
    fn create_symlink(&self, source: &Path, target: &Path) -> Result<()> {
        let (root, rel) = self.locate_writable(target)?;
        let (parent, name) = beneath::parent(&*root.dir, rel).map_err(fs_error)?;
        rustix::fs::symlinkat(source, &parent, name).map_err(fs_error)
    }

    fn hard_link(&self, source: &Path, target: &Path) -> Result<()> {
        let (from_root, from_rel) = self.locate(source)?;
        let (to_root, to_rel) = self.locate_writable(target)?;
        let (from_parent, from_name) =
            beneath::parent(&*from_root.dir, from_rel).map_err(fs_error)?;
        let (to_parent, to_name) = beneath::parent(&*to_root.dir, to_rel).map_err(fs_error)?;
        rustix::fs::linkat(
            &from_parent,
            from_name,
            &to_parent,
            to_name,
            AtFlags::empty(),
        )
        .map_err(fs_error)
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        self.unlink(path, AtFlags::REMOVEDIR)
    }

    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (from_root, from_rel) = self.locate_writable(from)?;
            let (to_root, to_rel) = self.locate_writable(to)?;
            let (from_parent, from_name) =
                beneath::parent(&*from_root.dir, from_rel).map_err(fs_error)?;
            let (to_parent, to_name) = beneath::parent(&*to_root.dir, to_rel).map_err(fs_error)?;
            rustix::fs::renameat(&from_parent, from_name, &to_parent, to_name).map_err(fs_error)
        })
    }

    fn metadata(&self, path: &Path) -> Result<Metadata> {
        self.stat(path, OFlags::empty())
    }

    fn symlink_metadata(&self, path: &Path) -> Result<Metadata> {
        self.stat(path, OFlags::NOFOLLOW)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        self.unlink(path, AtFlags::empty())
    }

    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl PreopenFs {
    fn unlink(&self, path: &Path, flags: AtFlags) -> Result<()> {
        let (root, rel) = self.locate_writable(path)?;
        let (parent, name) = beneath::parent(&*root.dir, rel).map_err(fs_error)?;
        rustix::fs::unlinkat(&parent, name, flags).map_err(fs_error)
    }
}
