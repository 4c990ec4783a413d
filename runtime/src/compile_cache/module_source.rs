//! The module as the compile cache reads it on the host: its digest, streamed (computed
//! aside, in a forked child, while runw builds the container: [`Digesting`]), and for a
//! compile a sealed in-memory snapshot, so that what is compiled is exactly what was hashed
//! even if the file changes meanwhile (a writable volume), and so that the compiler maps it
//! rather than runw and the compiler each holding a copy.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use runw_shared::digest::file_identity;

use super::settled;

/// BLAKE3 reads: many 1 KiB chunks at once fill its SIMD lanes.
const CHUNK: usize = 1 << 20;

/// The module's digest, and its file's identity when that vouches for the digest: the file
/// did not change while it was read, and its last change was [`settled::before`] the read
/// began, so that any later write gives it another identity.
pub fn digest(file: &File) -> std::io::Result<(String, Option<String>)> {
    let began = SystemTime::now();
    let before = file.metadata()?;
    let digest = digest_of(file)?;
    let after = file.metadata()?;
    let identity = file_identity(&after);
    let vouches = identity == file_identity(&before) && settled::before(&after, began);
    Ok((digest, vouches.then_some(identity)))
}

/// A [`digest`] being computed by a child of runw while runw goes on building the container,
/// which needs no digest until the artifact is handed over: on a node with a core to spare,
/// hashing a module of many megabytes then costs a start nothing. The child is forked while
/// runw is single-threaded, only reads the module and writes one line to a pipe, and dies
/// with runw; [`Digesting::finish`] reaps it, and so does dropping an unfinished one.
pub enum Digesting {
    Aside(Child),
    /// Computed in runw itself (a module under [`ASIDE_FROM`], or the fork failed).
    Done(std::io::Result<(String, Option<String>)>),
}

/// The child computing a digest, killed and reaped on drop unless already reaped.
pub struct Child {
    pid: libc::pid_t,
    pipe: File,
    reaped: bool,
}

/// What the child writes: `DIGEST IDENTITY` (`-` for none) on success, `!ERROR` on failure.
const FAILED: char = '!';

/// The size from which a module is hashed aside: below it, hashing in runw (about 0.3 ms a
/// MiB here) costs less than forking the child.
const ASIDE_FROM: u64 = 1 << 20;

impl Digesting {
    /// Starts computing [`digest`] of `file` aside (computes it at once for a small file).
    /// Call only while runw is single-threaded.
    pub fn start(file: &File) -> Digesting {
        if file.metadata().map_or(true, |m| m.len() < ASIDE_FROM) {
            return Digesting::Done(digest(file));
        }
        let Ok((read, write)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            return Digesting::Done(digest(file));
        };
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: runw is single-threaded here (the container is not built yet), so the
        // child is a whole copy of it; it runs only `child`, which ends in `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the forked child, as `child` requires.
            unsafe { child(file, write.as_raw_fd(), parent) }
        }
        drop(write);
        if pid < 0 {
            return Digesting::Done(digest(file));
        }
        Digesting::Aside(Child {
            pid,
            pipe: File::from(read),
            reaped: false,
        })
    }

    /// The digest and the identity that vouches for it, once computed.
    pub fn finish(self) -> std::io::Result<(String, Option<String>)> {
        let mut child = match self {
            Digesting::Done(result) => return result,
            Digesting::Aside(child) => child,
        };
        let mut line = String::new();
        let read = child.pipe.read_to_string(&mut line);
        let exited = child.reap();
        read?;
        parse(&line).unwrap_or_else(|| {
            Err(std::io::Error::other(match exited {
                Some(code) => format!("the digest's child exited with status {code} and no digest"),
                None => "the digest's child was killed".to_owned(),
            }))
        })
    }
}

impl Child {
    /// Waits for the child; its exit status, `None` when a signal ended it.
    fn reap(&mut self) -> Option<i32> {
        self.reaped = true;
        super::child_status::wait(self.pid)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            self.reap();
        }
    }
}

/// The forked child: [`digest`] of `file`, one line to `pipe`, exit.
///
/// # Safety
/// Call only in a child forked from a single-threaded runw; it never returns.
unsafe fn child(file: &File, pipe: std::os::fd::RawFd, parent: libc::pid_t) -> ! {
    // SAFETY: prctl with an integer option and signal; getppid reads our parent's pid.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
    let line = match digest(file) {
        Ok((digest, identity)) => format!("{digest} {}", identity.as_deref().unwrap_or("-")),
        Err(err) => format!("{FAILED}{err}"),
    };
    // SAFETY: `pipe` is the write end this child owns; the File is never dropped, the
    // process ends in `_exit` without running destructors or flushing runw's buffers.
    let mut out = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(pipe) });
    let code = i32::from(out.write_all(line.as_bytes()).is_err());
    // SAFETY: ends the child at once.
    unsafe { libc::_exit(code) }
}

/// The child's line, as [`digest`]'s result; `None` when it is not one.
fn parse(line: &str) -> Option<std::io::Result<(String, Option<String>)>> {
    if let Some(err) = line.strip_prefix(FAILED) {
        return Some(Err(std::io::Error::other(err.to_owned())));
    }
    let (digest, identity) = line.split_once(' ')?;
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    hex(digest).then(|| {
        let identity = (identity != "-").then(|| identity.to_owned());
        Ok((digest.to_owned(), identity))
    })
}

/// The module's digest ([`runw_shared::digest::module_digest`] of its bytes), read from
/// offset 0 without moving the file's offset.
fn digest_of(file: &File) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    for_each_chunk(file, |chunk| {
        hasher.update(chunk);
        Ok(())
    })?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// A sealed memfd holding the module's bytes (positioned at 0), and their digest.
pub fn snapshot(file: &File) -> std::io::Result<(File, String)> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the result is checked.
    let fd = unsafe {
        libc::memfd_create(
            c"runw-module".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nothing else owns.
    let mut copy = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut hasher = blake3::Hasher::new();
    for_each_chunk(file, |chunk| {
        hasher.update(chunk);
        copy.write_all(chunk)
    })?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a descriptor we own, with an integer argument.
    if unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&copy),
            libc::F_ADD_SEALS,
            seals,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    std::io::Seek::rewind(&mut copy)?;
    Ok((copy, hasher.finalize().to_hex().to_string()))
}

fn for_each_chunk(
    file: &File,
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buf, offset) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                f(&buf[..n])?;
                offset += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    #[test]
    fn a_digest_computed_aside_is_the_digest() {
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(&vec![7u8; super::ASIDE_FROM as usize])
            .expect("write");
        let aside = super::Digesting::start(&file);
        assert!(matches!(aside, super::Digesting::Aside(_)), "forked");
        assert_eq!(
            aside.finish().expect("digest"),
            super::digest(&file).expect("digest")
        );
    }

    #[test]
    fn an_unfinished_digest_leaves_no_child() {
        let file = tempfile::tempfile().expect("tempfile");
        file.set_len(super::ASIDE_FROM).expect("grow");
        let aside = super::Digesting::start(&file);
        let super::Digesting::Aside(child) = aside else {
            panic!("not forked");
        };
        let pid = child.pid;
        drop(child);
        // SAFETY: kill with signal 0 only asks whether `pid` exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        assert!(!alive, "child {pid} is still there");
    }

    #[test]
    fn a_small_file_is_hashed_at_once() {
        let file = tempfile::tempfile().expect("tempfile");
        let at_once = super::Digesting::start(&file);
        assert!(matches!(at_once, super::Digesting::Done(Ok(_))));
    }

    #[test]
    fn a_line_that_is_not_a_digest_is_refused() {
        assert!(super::parse("").is_none());
        assert!(super::parse("abc -").is_none());
        assert!(super::parse("!boom").is_some_and(|r| r.is_err()));
        let digest = "a".repeat(64);
        let parsed = super::parse(&format!("{digest} 1.2.3")).expect("a line");
        assert_eq!(parsed.expect("ok"), (digest.clone(), Some("1.2.3".into())));
        let parsed = super::parse(&format!("{digest} -")).expect("a line");
        assert_eq!(parsed.expect("ok"), (digest, None));
    }

    #[test]
    fn digest_and_snapshot_agree_with_the_shared_digest() {
        let mut file = tempfile::tempfile().expect("tempfile");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).expect("write");
        let expected = runw_shared::digest::module_digest(&bytes);
        assert_eq!(super::digest_of(&file).expect("digest"), expected);
        let (digest, identity) = super::digest(&file).expect("digest");
        assert_eq!(digest, expected);
        assert_eq!(identity, None, "just written: not settled");
        let (mut copy, digest) = super::snapshot(&file).expect("snapshot");
        assert_eq!(digest, expected);
        let mut read = Vec::new();
        copy.read_to_end(&mut read).expect("read");
        assert_eq!(read, bytes);
        assert!(copy.write_all(b"x").is_err(), "sealed against writes");
    }
}
