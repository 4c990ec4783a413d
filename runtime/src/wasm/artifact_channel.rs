//! How the compiled module reaches the container: a socket pair made before the container
//! exists. The container's init inherits one end; runw keeps the other and, once the
//! artifact is ready (a cache hit, or a compile done after the container's cgroups exist),
//! sends its descriptor, the digest of the module it was compiled from and, when it vouches
//! for it, the identity of the module file read ([`Artifact`]), before `create` returns. At exec, init takes whatever arrived without waiting: nothing means the executor
//! compiles the module itself.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::compile_cache::Artifact;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// The longest message: `DIGEST[:IDENTITY]` (BLAKE3 hex is 64 bytes, an identity 8 numbers).
const MAX_MESSAGE: usize = 512;

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
    /// Sends `artifact`'s descriptor and what names its module.
    pub fn send(self, artifact: &Artifact) -> std::io::Result<()> {
        let fds = [artifact.fd.as_raw_fd()];
        let mut message = artifact.module_digest.clone();
        if let Some(identity) = &artifact.module_identity {
            message = format!("{message}:{identity}");
        }
        let iov = [IoSlice::new(message.as_bytes())];
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
    /// The artifact, if runw sent it.
    pub fn try_receive(&self) -> Option<Artifact> {
        let mut message = [0u8; MAX_MESSAGE];
        let mut iov = [IoSliceMut::new(&mut message)];
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
        let message = std::str::from_utf8(&message[..bytes]).ok()?;
        let (digest, identity) = match message.split_once(':') {
            Some((digest, identity)) => (digest, Some(identity.to_owned())),
            None => (message, None),
        };
        Some(Artifact {
            fd,
            module_digest: digest.to_owned(),
            module_identity: identity,
        })
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
        let sent = super::Artifact {
            fd: file.try_clone().expect("dup").into(),
            module_digest: "ab12".into(),
            module_identity: Some("1.2.3".into()),
        };
        sender.send(&sent).expect("send");
        let got = receiver.try_receive().expect("received");
        let mut text = String::new();
        std::fs::File::from(got.fd)
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(
            (text.as_str(), got.module_digest.as_str()),
            ("artifact", "ab12")
        );
        assert_eq!(got.module_identity.as_deref(), Some("1.2.3"));
    }
}
