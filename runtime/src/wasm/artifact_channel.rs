//! How the compiled module reaches the container: a socket pair made before the container
//! exists. The container's init inherits one end; runw keeps the other and, once the
//! artifact is ready (a cache hit, or a compile done after the container's cgroups exist),
//! sends its descriptor and the digest of the module it was compiled from, before `create`
//! returns. At exec, init takes whatever arrived without waiting: nothing means the executor
//! compiles the module itself.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// The longest digest a message carries (BLAKE3 hex is 64 bytes).
const MAX_DIGEST: usize = 128;

/// runw's end.
pub struct Sender(OwnedFd);
/// The container's end.
pub struct Receiver(OwnedFd);

pub fn pair() -> std::io::Result<(Sender, Receiver)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Sender(a), Receiver(b)))
}

impl Sender {
    /// Sends `artifact` (a descriptor) with the digest of its module.
    pub fn send(self, artifact: &OwnedFd, module_digest: &str) -> std::io::Result<()> {
        let fds = [artifact.as_raw_fd()];
        let iov = [IoSlice::new(module_digest.as_bytes())];
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )?;
        Ok(())
    }
}

impl Receiver {
    /// The artifact and its module's digest, if runw sent them.
    pub fn try_receive(&self) -> Option<(OwnedFd, String)> {
        let mut digest = [0u8; MAX_DIGEST];
        let mut iov = [IoSliceMut::new(&mut digest)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            self.0.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT,
        )
        .ok()?;
        let bytes = msg.bytes;
        let fd = msg.cmsgs().ok()?.find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })?;
        // SAFETY: SCM_RIGHTS installed this descriptor in this process for us alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let digest = std::str::from_utf8(&digest[..bytes]).ok()?.to_owned();
        Some((fd, digest))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    #[test]
    fn a_descriptor_and_its_digest_cross_or_nothing_does() {
        let (sender, receiver) = super::pair().expect("socketpair");
        assert!(receiver.try_receive().is_none(), "nothing sent yet");
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(b"artifact").expect("write");
        file.rewind().expect("rewind");
        sender
            .send(&file.try_clone().expect("dup").into(), "ab12")
            .expect("send");
        let (fd, digest) = receiver.try_receive().expect("received");
        let mut text = String::new();
        std::fs::File::from(fd)
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!((text.as_str(), digest.as_str()), ("artifact", "ab12"));
    }
}
