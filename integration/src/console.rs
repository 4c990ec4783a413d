//! A `--console-socket` peer, as conmon and containerd are: it receives the pty master that
//! runw sends over a unix socket, and reads what the container writes to its terminal.

use std::io::{IoSliceMut, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

pub struct ConsoleSocket {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    receiver: Option<JoinHandle<OwnedFd>>,
}

impl ConsoleSocket {
    /// Listens on a fresh socket path and accepts one connection in the background.
    pub fn listen() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let receiver = std::thread::spawn(move || receive_fd(&listener));
        ConsoleSocket {
            path,
            _dir: dir,
            receiver: Some(receiver),
        }
    }

    /// The pty master runw sent, as a file.
    pub fn master(&mut self) -> std::fs::File {
        let handle = self.receiver.take().expect("master already taken");
        std::fs::File::from(handle.join().unwrap())
    }
}

fn receive_fd(listener: &UnixListener) -> OwnedFd {
    use std::os::fd::AsRawFd;
    let (stream, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel just installed this descriptor in our table for us alone.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no file descriptor arrived on the console socket");
}

/// Reads the terminal until it closes (EIO once the container side is gone) or until
/// `until` appears, giving up after `seconds`.
pub fn read_terminal(mut master: std::fs::File, until: &str, seconds: u64) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut text = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(chunk) => text.extend(chunk),
            Err(_) => break,
        }
        if String::from_utf8_lossy(&text).contains(until) {
            break;
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}
