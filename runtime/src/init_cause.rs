//! Why libcontainer's container processes failed, for the one line runw prints.
//!
//! libcontainer 0.7's init process reports a failure to runw as the error's top line only
//! (`e.to_string()` sent over its channel: "failed to prepare rootfs", "failed to unix
//! syscall"); the cause (ENOTDIR, ENOENT) is only in the error records it logs first
//! (`tracing::error!(?err, "failed to chdir")`), which reach the `--log` file at best. The
//! intermediate and init processes are forks of runw sharing its tracing subscriber: the
//! [`CauseLayer`] there writes each error record that names an OS error to a pipe, as
//! `failed to chdir: no such file or directory`, and runw reads the first after a failure.
//! Where no record names one (`failed to prepare rootfs err=Mount(Procfs(NotFound(..)))`),
//! the first record with an error field is the cause, its field as libcontainer logs it.

use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// runw's own pid: records of this process are not causes from a container process.
    runw: u32,
}

static PIPE: OnceLock<Pipe> = OnceLock::new();

/// Opens the pipe; call before any container process is forked. Both ends close on exec,
/// so no container program inherits them.
pub fn open() {
    if let Ok((read, write)) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
        let _ = PIPE.set(Pipe {
            read,
            write,
            runw: std::process::id(),
        });
    }
}

/// The first cause a container process of this runw reported, if any.
pub fn first() -> Option<String> {
    let pipe = PIPE.get()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&pipe.read), &mut buf)
    {
        text.extend_from_slice(&buf[..n]);
    }
    pick(&String::from_utf8_lossy(&text))
}

/// Marks of the pipe's lines: a record naming an OS error, or only an error field.
const OS_ERROR: &str = "E ";
const DETAIL: &str = "D ";

/// The first line naming an OS error, else the first with an error field, unmarked.
fn pick(text: &str) -> Option<String> {
    let first = |mark: &str| text.lines().find_map(|l| l.strip_prefix(mark));
    first(OS_ERROR).or_else(|| first(DETAIL)).map(str::to_owned)
}

/// Forwards error records naming an OS error from container processes to runw.
pub struct CauseLayer;

impl<S: Subscriber> Layer<S> for CauseLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(pipe) = PIPE.get().filter(|p| p.runw != std::process::id()) else {
            return;
        };
        let mut record = Record::default();
        event.record(&mut record);
        let line = match (record.errno, &record.detail) {
            (Some(errno), _) => {
                let desc = errno.desc().to_lowercase();
                format!("{OS_ERROR}{}: {desc}", record.message)
            }
            (None, Some(detail)) => format!("{DETAIL}{}: {detail}", record.message),
            (None, None) => return,
        };
        let line = format!("{}\n", line.replace('\n', " "));
        // The pipe is non-blocking: a full pipe loses a cause rather than hangs init.
        let _ = nix::unistd::write(pipe.write.as_fd(), line.as_bytes());
    }
}

/// An error record's message, the first OS error its other fields name, and the first of
/// those fields as logged.
#[derive(Default)]
struct Record {
    message: String,
    errno: Option<Errno>,
    detail: Option<String>,
}

impl Visit for Record {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
            return;
        }
        if self.errno.is_none() {
            self.errno = errno_in(&text);
        }
        self.detail.get_or_insert(text);
    }
}

/// The OS error a debug rendering names: `Os { code: 20, .. }` (std::io::Error), `(os
/// error 2)`, or an errno name (`ENOENT`, nix's Errno).
fn errno_in(text: &str) -> Option<Errno> {
    for marker in ["code: ", "os error "] {
        if let Some(at) = text.find(marker) {
            let digits: String = text[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(code) = digits.parse::<i32>() {
                return Some(Errno::from_raw(code));
            }
        }
    }
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(errno_named)
}

fn errno_named(token: &str) -> Option<Errno> {
    if !token.starts_with('E')
        || token.len() < 4
        || !token
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return None;
    }
    (1..134)
        .map(Errno::from_raw)
        .find(|errno| format!("{errno:?}") == token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_wins_over_an_earlier_detail_and_a_detail_is_the_fallback() {
        let both =
            "D failed to prepare rootfs: Mount(Procfs(..))\nE failed to chdir: not a directory\n";
        assert_eq!(
            pick(both).as_deref(),
            Some("failed to chdir: not a directory")
        );
        let detail = "D failed to prepare rootfs: Mount(Procfs(NotFound(Some(\"/proc/11\"))))\n";
        assert_eq!(
            pick(detail).as_deref(),
            Some("failed to prepare rootfs: Mount(Procfs(NotFound(Some(\"/proc/11\"))))")
        );
        assert_eq!(pick(""), None);
    }

    #[test]
    fn os_errors_are_found_in_debug_renderings() {
        assert_eq!(errno_in("ENOENT"), Some(Errno::ENOENT));
        assert_eq!(errno_in("SyscallOther(Nix(EPERM))"), Some(Errno::EPERM));
        let io =
            r#"Mount(Pathrs(Os { code: 20, kind: NotADirectory, message: "Not a directory" }))"#;
        assert_eq!(errno_in(io), Some(Errno::ENOTDIR));
        assert_eq!(
            errno_in("No such file or directory (os error 2)"),
            Some(Errno::ENOENT)
        );
        assert_eq!(errno_in("Mount { destination: \"/tmp/ENV\" }"), None);
    }
}
