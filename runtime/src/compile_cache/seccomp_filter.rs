//! The seccomp filter of a host-side compile: a compiler needs memory, threads and the
//! descriptors it was given, nothing else. Everything a compromised compiler could use to
//! reach further is refused: new processes (only threads may be cloned), exec, sockets,
//! mounts and namespaces, tracing other processes, keys, BPF, io_uring and the like.
//! Syscalls of other architectures (a 32-bit `int 0x80`) kill the process.
//!
//! The filter is built with libseccomp before the compiler is forked and loaded there as
//! raw BPF with `prctl`, so the child allocates nothing.

use std::io::{Read, Seek, SeekFrom};

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

/// Refused with EPERM.
const DENIED: &[&str] = &[
    "execve",
    "fork",
    "vfork",
    "socket",
    "socketpair",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "pidfd_open",
    "kill",
    "tkill",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "fspick",
    "mount_setattr",
    "mknod",
    "mknodat",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "name_to_handle_at",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "iopl",
    "ioperm",
    "fanotify_init",
    "personality",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "capset",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "adjtimex",
];

#[derive(Debug, thiserror::Error)]
#[error("cannot build the compile's seccomp filter: {0}")]
pub struct FilterError(String);

/// The filter as BPF instructions, ready for `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`.
pub fn build() -> Result<Vec<libc::sock_filter>, FilterError> {
    let err = |e: &dyn std::fmt::Display| FilterError(e.to_string());
    let mut filter = ScmpFilterContext::new(ScmpAction::Allow).map_err(|e| err(&e))?;
    let deny = ScmpAction::Errno(libc::EPERM);
    for name in DENIED {
        // A name this libseccomp does not know is one this kernel's callers cannot use either.
        if let Ok(syscall) = ScmpSyscall::from_name(name) {
            filter.add_rule(deny, syscall).map_err(|e| err(&e))?;
        }
    }
    // Threads only: clone without CLONE_THREAD makes a process.
    let clone = ScmpSyscall::from_name("clone").map_err(|e| err(&e))?;
    let no_thread =
        ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(libc::CLONE_THREAD as u64), 0);
    filter
        .add_rule_conditional(deny, clone, &[no_thread])
        .map_err(|e| err(&e))?;
    // clone3's flags are behind a pointer: ENOSYS makes libc fall back to clone.
    if let Ok(clone3) = ScmpSyscall::from_name("clone3") {
        filter
            .add_rule(ScmpAction::Errno(libc::ENOSYS), clone3)
            .map_err(|e| err(&e))?;
    }
    let mut bpf = tempfile::tempfile().map_err(|e| err(&e))?;
    filter.export_bpf(&bpf).map_err(|e| err(&e))?;
    let mut bytes = Vec::new();
    bpf.seek(SeekFrom::Start(0))
        .and_then(|_| bpf.read_to_end(&mut bytes))
        .map_err(|e| err(&e))?;
    Ok(instructions(&bytes))
}

/// Raw BPF as libseccomp exports it (host byte order) to instructions.
fn instructions(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_nonempty_program() {
        let program = super::build().expect("filter");
        assert!(
            program.len() > super::DENIED.len(),
            "{} instructions",
            program.len()
        );
    }
}
