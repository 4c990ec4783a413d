//! An open file of a preopen: wasmer-wasix's host file, except that unlinking it removes the
//! entry beneath the preopen (the host file would remove its path in the executor's own
//! filesystem, following any symlink on the way).

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustix::fs::AtFlags;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use wasmer_wasix::virtual_fs::{host_fs, Result, VirtualFile};

use super::beneath;

#[derive(Debug)]
pub struct PreopenFile {
    inner: host_fs::File,
    /// The preopen's directory and the file's path beneath it, for `unlink`.
    dir: Arc<OwnedFd>,
    rel: PathBuf,
}

impl PreopenFile {
    pub fn new(inner: host_fs::File, dir: Arc<OwnedFd>, rel: PathBuf) -> Self {
        PreopenFile { inner, dir, rel }
    }
}

impl VirtualFile for PreopenFile {
    fn last_accessed(&self) -> u64 {
        self.inner.last_accessed()
    }
    fn last_modified(&self) -> u64 {
        self.inner.last_modified()
    }
    fn created_time(&self) -> u64 {
        self.inner.created_time()
    }
    fn set_times(&mut self, atime: Option<u64>, mtime: Option<u64>) -> Result<()> {
        self.inner.set_times(atime, mtime)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn set_len(&mut self, new_size: u64) -> Result<()> {
        self.inner.set_len(new_size)
    }
    fn unlink(&mut self) -> Result<()> {
        let (parent, name) = beneath::parent(&*self.dir, &self.rel).map_err(beneath::fs_error)?;
        rustix::fs::unlinkat(&parent, name, AtFlags::empty()).map_err(beneath::fs_error)
    }
    fn get_special_fd(&self) -> Option<u32> {
        self.inner.get_special_fd()
    }
    fn poll_read_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_ready(cx)
    }
    fn poll_write_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_ready(cx)
    }
}

impl AsyncRead for PreopenFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PreopenFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl AsyncSeek for PreopenFile {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.inner).start_seek(position)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.inner).poll_complete(cx)
    }
}
