//! The one line a failure prints: runw's context, then the root cause, each said once.
//!
//! libcontainer 0.7 wraps a failure of the container's init process in three layers of
//! its own (`failed to create container: exec process failed with error error in executing
//! process : failed to unix syscall`) and keeps only the top line of the init's error; the
//! cause comes from [`crate::init_cause`] instead.

/// What libcontainer puts around an init failure, outermost first.
const INIT_FAILURE_WRAPPERS: [&str; 3] = [
    "failed to create container: ",
    "exec process failed with error ",
    "error in executing process : ",
];

/// `err` as one line: with a cause reported by a container process when the init failed,
/// `CONTEXT: CAUSE`, else the whole chain without libcontainer's repeated wrappers.
pub fn render(err: &anyhow::Error) -> String {
    let full = format!("{err:#}");
    let init_failed = full.contains(INIT_FAILURE_WRAPPERS[2]);
    let cause = if init_failed {
        crate::init_cause::first()
    } else {
        None
    };
    match cause {
        Some(cause) if err.chain().count() > 1 => format!("{err}: {cause}"),
        Some(cause) => cause,
        None => without_wrappers(&full),
    }
}

fn without_wrappers(line: &str) -> String {
    INIT_FAILURE_WRAPPERS
        .iter()
        .fold(line.to_owned(), |line, wrapper| line.replace(wrapper, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcontainer_wrappers_are_dropped() {
        let line =
            "failed to create container \"x\": failed to create container: exec process failed \
                    with error error in executing process : executable 'nope' not found in $PATH";
        assert_eq!(
            without_wrappers(line),
            "failed to create container \"x\": executable 'nope' not found in $PATH"
        );
    }
}
