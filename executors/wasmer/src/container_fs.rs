//! The container's filesystem as wasmer-wasix sees it: the host filesystem at `/` (inside
//! the container, that is the rootfs and its mounts), with one repair.
//!
//! wasmer-wasix asks for write access when the guest opens a file for reading, which a
//! read-only mount or rootfs refuses, so every read there failed. An open that asked for
//! write access without creating, truncating or appending, and was refused, is retried
//! read-only: the guest reads, and a later write fails as it must.

use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use wasmer_wasix::virtual_fs::host_fs;
use wasmer_wasix::virtual_fs::{
    FileOpener, FileSystem, Metadata, OpenOptions, OpenOptionsConfig, ReadDir, Result, VirtualFile,
};

#[derive(Debug)]
pub struct ContainerFs {
    host: host_fs::FileSystem,
}

impl ContainerFs {
    pub fn new() -> Result<Self> {
        Ok(ContainerFs { host: host_fs::FileSystem::new(tokio::runtime::Handle::current(), "/")? })
    }
}

impl FileOpener for ContainerFs {
    fn open(&self, path: &Path, conf: &OpenOptionsConfig) -> Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        let first = self.host.new_open_options().options(conf.clone()).open(path);
        let may_read_only = conf.read && conf.write && !(conf.create || conf.create_new || conf.truncate || conf.append);
        match first {
            Err(_) if may_read_only => {
                let read_only = OpenOptionsConfig { write: false, ..conf.clone() };
                self.host.new_open_options().options(read_only).open(path)
            }
            other => other,
        }
    }
}

impl FileSystem for ContainerFs {
    fn readlink(&self, path: &Path) -> Result<PathBuf> {
        self.host.readlink(path)
    }
    fn read_dir(&self, path: &Path) -> Result<ReadDir> {
        self.host.read_dir(path)
    }
    fn create_dir(&self, path: &Path) -> Result<()> {
        self.host.create_dir(path)
    }
    fn create_symlink(&self, source: &Path, target: &Path) -> Result<()> {
        self.host.create_symlink(source, target)
    }
    fn hard_link(&self, source: &Path, target: &Path) -> Result<()> {
        self.host.hard_link(source, target)
    }
    fn remove_dir(&self, path: &Path) -> Result<()> {
        self.host.remove_dir(path)
    }
    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> BoxFuture<'a, Result<()>> {
        self.host.rename(from, to)
    }
    fn metadata(&self, path: &Path) -> Result<Metadata> {
        self.host.metadata(path)
    }
    fn symlink_metadata(&self, path: &Path) -> Result<Metadata> {
        self.host.symlink_metadata(path)
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.host.remove_file(path)
    }
    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}
