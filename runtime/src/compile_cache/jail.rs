//! Running the executor's `--precompile` on the host, jailed: the firecracker-jailer shape, a
//! numbered list of steps between `fork` and `exec`, each using only raw syscalls on values
//! prepared before the fork (the child allocates nothing).
//!
//! The compiler reads an untrusted module, so it runs with nothing it does not need:
//! 1. it dies with the runw that started it (`PR_SET_PDEATHSIG`);
//! 2. stdin is the module, stdout the cache's temporary file, stderr a pipe to runw;
//! 3. it joins the cgroups of the container it compiles for, so the pod's own memory and CPU
//!    limits bound it, as if the pod compiled in its own container;
//! 4. new mount, network, IPC and UTS namespaces; its root is an empty read-only tmpfs, so no
//!    host file is reachable (the executor is exec'd by descriptor);
//! 5. limits: address space (the node-wide bound, for pods without a memory limit), output
//!    size, no core dumps, few descriptors;
//! 6. no capabilities (bounding set emptied), uid and gid `nobody`, no supplementary groups
//!    (and the parent-death signal again: the change of credentials cleared it); a rootless
//!    runw in a user namespace of its own ([`crate::own_user_namespace::entered`]) maps no
//!    other id than the user's, so there the compiler keeps the user's ids and groups, and
//!    loses its capabilities at exec (its uid is not 0 there);
//! 7. no new privileges, and a seccomp filter ([`super::seccomp_filter`]): no processes, no
//!    exec, no sockets, no mounts;
//! 8. every other descriptor closed at exec.
//!
//! runw waits at most until the deadline, then kills it.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Instant;

use super::seccomp_filter;

/// The uid and gid the compiler runs as (`nobody`).
const NOBODY: libc::uid_t = 65534;
/// Exit statuses of a child that failed before exec, one per step.
const STEP_FAILED: i32 = 200;
const STEPS: [&str; 9] = [
    "parent already gone",
    "set up stdio",
    "join the container's cgroups",
    "make new namespaces",
    "make an empty root",
    "set resource limits",
    "drop privileges",
    "load the seccomp filter",
    "exec the executor",
];

/// What one jailed run needs, all prepared before the fork.
pub struct Jail<'a> {
    /// The executor, an `O_PATH` descriptor (exec'd with `execveat`).
    pub executor: BorrowedFd<'a>,
    /// argv, `argv[0]` included.
    pub argv: Vec<CString>,
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    /// `cgroup.procs` of every cgroup to join, open for writing.
    pub cgroups: &'a [OwnedFd],
    /// `RLIMIT_AS`.
    pub address_space: u64,
    /// `RLIMIT_FSIZE`: the largest file the compiler may write.
    pub output_size: u64,
    pub deadline: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum JailError {
    #[error("{0}")]
    Setup(String),
    #[error("could not {step} for the compile")]
    Step { step: &'static str },
    #[error("killed after the compile timeout")]
    TimedOut,
    #[error("{0}")]
    Failed(String),
}

/// Runs the jailed executor to completion; `Ok` when it exited 0.
pub fn run(jail: &Jail) -> Result<(), JailError> {
    let filter = seccomp_filter::build().map_err(|e| JailError::Setup(e.to_string()))?;
    let (stderr_read, stderr_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| JailError::Setup(format!("cannot make a pipe: {e}")))?;
    let mut argv: Vec<*const libc::c_char> = jail.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let prepared = Prepared {
        parent: std::process::id() as libc::pid_t,
        jail,
        argv: &argv,
        envp: &envp,
        filter: &filter,
        stderr: stderr_write.as_raw_fd(),
        keep_ids: crate::own_user_namespace::entered(),
    };
    // SAFETY: runw is single-threaded here; the child only runs `child`, which makes raw
    // syscalls on the prepared values and ends in exec or `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(JailError::Setup(format!(
            "cannot fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        // SAFETY: in the forked child, as `child` requires.
        unsafe { child(&prepared) }
    }
    drop(stderr_write);
    let (stderr, timed_out) = read_until(stderr_read, jail.deadline);
    if timed_out {
        // SAFETY: kill takes a pid and a signal; `pid` is our child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let status = super::child_status::wait(pid);
    if timed_out {
        return Err(JailError::TimedOut);
    }
    match status {
        Some(0) => Ok(()),
        Some(code) if (STEP_FAILED..STEP_FAILED + STEPS.len() as i32).contains(&code) => {
            Err(JailError::Step {
                step: STEPS[(code - STEP_FAILED) as usize],
            })
        }
        other => {
            let text = String::from_utf8_lossy(&stderr);
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned);
            Err(JailError::Failed(line.unwrap_or_else(|| match other {
                Some(code) => format!("exited with status {code}"),
                None => "killed by a signal (over its memory or CPU limits?)".to_owned(),
            })))
        }
    }
}

/// Reads the child's stderr (its first 4 KiB) until it closes or the deadline passes.
fn read_until(pipe: OwnedFd, deadline: Instant) -> (Vec<u8>, bool) {
    let mut file = std::fs::File::from(pipe);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, true);
        }
        let mut poll = [libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, its count, a timeout.
        let ready = unsafe { libc::poll(poll.as_mut_ptr(), 1, ms) };
        if ready <= 0 {
            continue;
        }
        match file.read(&mut buf) {
            Ok(0) | Err(_) => return (out, false),
            Ok(n) if out.len() < 4096 => out.extend_from_slice(&buf[..n]),
            Ok(_) => {}
        }
    }
}

struct Prepared<'a> {
    parent: libc::pid_t,
    jail: &'a Jail<'a>,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    filter: &'a [libc::sock_filter],
    stderr: RawFd,
    /// Keep the user's ids: `nobody` is not mapped ([`crate::own_user_namespace::entered`]).
    keep_ids: bool,
}

/// The child between fork and exec. Never returns.
///
/// # Safety
/// Only in the child of a fork of a single-threaded process.
unsafe fn child(p: &Prepared) -> ! {
    let mut step = 0;
    // SAFETY: (the whole block) each call is a raw syscall on integers and on pointers to
    // data prepared before the fork, which the child's copy of memory still holds.
    unsafe {
        // 1. Die with runw; it may already be gone.
        let ok = libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == 0
            && libc::getppid() == p.parent;
        check(ok, step);
        // 2. stdio.
        step += 1;
        let j = p.jail;
        let ok = libc::dup2(j.stdin.as_raw_fd(), 0) == 0
            && libc::dup2(j.stdout.as_raw_fd(), 1) == 1
            && libc::dup2(p.stderr, 2) == 2;
        check(ok, step);
        // 3. The container's cgroups: "0" moves the writer.
        step += 1;
        for fd in j.cgroups {
            check(
                libc::write(fd.as_raw_fd(), c"0".as_ptr().cast(), 1) == 1,
                step,
            );
        }
        // 4. Namespaces of its own.
        step += 1;
        let flags =
            libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        check(libc::unshare(flags) == 0, step);
        // 5. An empty, read-only root: a tmpfs over /proc (any directory would do) becomes
        //    the root, and the old root is detached.
        step += 1;
        let none = c"none";
        let ok = libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) == 0
            && libc::mount(
                none.as_ptr(),
                c"/proc".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=4k,mode=555".as_ptr().cast(),
            ) == 0
            && libc::chdir(c"/proc".as_ptr()) == 0
            && libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) == 0
            && libc::umount2(c".".as_ptr(), libc::MNT_DETACH) == 0
            && libc::chdir(c"/".as_ptr()) == 0
            && libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV
                    | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0;
        check(ok, step);
        // 6. Resource limits.
        step += 1;
        let limit = |resource, value: u64| {
            let rl = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            libc::setrlimit(resource, &rl) == 0
        };
        let ok = limit(libc::RLIMIT_AS, j.address_space)
            && limit(libc::RLIMIT_FSIZE, j.output_size)
            && limit(libc::RLIMIT_CORE, 0)
            && limit(libc::RLIMIT_NOFILE, 64);
        check(ok, step);
        // 7. No capabilities, nobody.
        step += 1;
        for cap in 0..=63 {
            // EINVAL past the last capability this kernel knows.
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
        let ok = libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0
            && (p.keep_ids
                || libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setresgid(NOBODY, NOBODY, NOBODY) == 0
                    && libc::setresuid(NOBODY, NOBODY, NOBODY) == 0)
            && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            // A change of credentials clears the parent-death signal: set it again.
            && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == 0
            && libc::getppid() == p.parent;
        check(ok, step);
        // 8. seccomp.
        step += 1;
        let program = libc::sock_fprog {
            len: p.filter.len() as libc::c_ushort,
            filter: p.filter.as_ptr().cast_mut(),
        };
        check(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) == 0,
            step,
        );
        // 9. Close everything else at exec, and exec.
        step += 1;
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        libc::syscall(
            libc::SYS_execveat,
            j.executor.as_raw_fd(),
            c"".as_ptr(),
            p.argv.as_ptr(),
            p.envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
        libc::_exit(STEP_FAILED + step);
    }
}

/// Ends the child with the status of `step` unless `ok`.
fn check(ok: bool, step: i32) {
    if !ok {
        // SAFETY: _exit never returns and is async-signal-safe.
        unsafe { libc::_exit(STEP_FAILED + step) }
    }
}

/// A `CString` of `s`; Rust strings from runw itself hold no NUL.
pub fn c_string(s: &str) -> Result<CString, JailError> {
    CString::new(s).map_err(|_| JailError::Setup(format!("{s:?} holds a NUL byte")))
}
