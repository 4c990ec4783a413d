//! Waiting for a child runw forked for the compile cache (the jailed compiler, the module's
//! digest computed aside).

/// Waits for child `pid`; its exit status, `None` when a signal ended it (or it was not
/// runw's child to wait for).
pub fn wait(pid: libc::pid_t) -> Option<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, writing its status into a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}
