//! How an executor's exit status reports what happened to the guest. The same for every
//! engine, and documented in the README.

/// The guest trapped (unreachable, out-of-bounds access, stack overflow...): 128 + SIGABRT,
/// as a native program that aborts; a one-line message naming the trap goes to stderr.
pub const TRAP: u8 = 134;

/// The module could not be loaded: unreadable, not wasm or WAT, invalid, or needing imports
/// the executor does not provide.
pub const LOAD_FAILED: u8 = 126;

/// The executor was started with a task it cannot parse (a runtime/executor mismatch).
pub const BAD_TASK: u8 = 125;

/// The status for a guest stopped by `signal`, as a shell reports a signal death.
pub fn signaled(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

/// The status for the guest's `proc_exit(code)`: the low eight bits, as the kernel keeps.
pub fn guest_exit(code: i32) -> u8 {
    (code & 0xff) as u8
}

/// Reports a module that cannot be loaded, as one line on stderr; returns [`LOAD_FAILED`].
pub(crate) fn load_failed(
    executor: &str,
    module: &std::path::Path,
    err: &dyn std::fmt::Display,
) -> u8 {
    eprintln!(
        "{executor}: cannot load {}: {}",
        module.display(),
        one_line(err)
    );
    LOAD_FAILED
}

/// Reports a trap, as one line on stderr naming it; returns [`TRAP`].
pub(crate) fn trapped(
    executor: &str,
    module: &std::path::Path,
    trap: &dyn std::fmt::Display,
) -> u8 {
    eprintln!("{executor}: {}: trap: {}", module.display(), one_line(trap));
    TRAP
}

/// An error and its causes on one line.
pub fn one_line(err: &dyn std::fmt::Display) -> String {
    format!("{err:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented_values() {
        assert_eq!((TRAP, LOAD_FAILED, BAD_TASK), (134, 126, 125));
        assert_eq!(signaled(15), 143);
        assert_eq!(guest_exit(42), 42);
        assert_eq!(guest_exit(256 + 3), 3);
        assert_eq!(guest_exit(-1), 255);
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line(&"a\n  b\n\nc"), "a: b: c");
    }
}
