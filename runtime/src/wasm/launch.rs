//! Turning the container's spec into a [`Task`] and exec'ing the executor with it. Runs in
//! the container's init process, after pivot_root and the start signal.

use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, AtFlags, FcntlArg, FdFlag};
use oci_spec::runtime::Spec;
use runw_shared::{PrecompiledRef, Task};

use super::entrypoint;
use super::guest_view::GuestView;
use crate::compile_cache::Artifact;
use crate::executor_binary::ExecutorBinary;

/// Why the container's program could not be exec'd (`exec /x: Exec format error`).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("process.args is empty")]
    NoArgs,
    #[error("exec {0}: an argument holds a NUL byte")]
    NulInArgs(String),
    #[error("exec {0}: the path holds a NUL byte")]
    NulInPath(String),
    #[error("exec {name}: {}", errno.desc())]
    Linux { name: String, errno: Errno },
    #[error("exec {name}: {}", describe(source))]
    Executor {
        name: String,
        source: std::io::Error,
    },
}

/// An OS error as `strerror` words it (`Permission denied`), anything else as it is.
fn describe(err: &std::io::Error) -> String {
    err.raw_os_error()
        .map_or(err.to_string(), |n| Errno::from_raw(n).desc().to_owned())
}

/// The task for `spec`: module = `process.args[0]` as resolved in the container, with an
/// optional `#function` suffix; argv and env exactly as the spec gives them. Its preopens
/// are added by [`exec`], from the guest's view.
pub fn task(spec: &Spec, module: PathBuf, function: Option<String>) -> Task {
    let process = spec.process().as_ref();
    let strings = |v: Option<&Vec<String>>| -> Vec<OsString> {
        v.map(|v| v.iter().map(OsString::from).collect())
            .unwrap_or_default()
    };
    let mut args = strings(process.and_then(|p| p.args().as_ref()));
    if let (Some(first), Some(_)) = (args.first_mut(), &function) {
        // argv[0] is the module path as given, without the `#function` selector.
        let given = first.as_bytes();
        let cut = given
            .iter()
            .rposition(|&b| b == b'#')
            .unwrap_or(given.len());
        *first = OsString::from_vec(given[..cut].to_vec());
    }
    Task {
        module,
        function,
        args,
        env: strings(process.and_then(|p| p.env().as_ref())),
        preopens: Vec::new(),
        precompiled: None,
    }
}

/// Replaces this process with the executor, handing it the guest's view (with `cwd` as
/// `.`) and `precompiled` when there is one (kept open across the exec). Returns only on
/// failure.
pub fn exec(
    executor: &ExecutorBinary,
    task: &Task,
    view: &GuestView,
    cwd: &Path,
    precompiled: Option<&Artifact>,
) -> std::io::Error {
    let mut task = task.clone();
    task.preopens = match view.hand_over(cwd) {
        Ok(preopens) => preopens,
        Err(err) => return err,
    };
    if let Some(artifact) = precompiled {
        if let Err(errno) = fcntl(artifact.fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty())) {
            return errno.into();
        }
        task.precompiled = Some(PrecompiledRef {
            fd: artifact.fd.as_raw_fd(),
            module_digest: artifact.module_digest.clone(),
            module_identity: artifact.module_identity.clone(),
        });
    }
    let to_c =
        |s: &[u8]| CString::new(s).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL));
    let mut argv = Vec::with_capacity(task.args.len() + task.preopens.len() * 2 + 4);
    for arg in std::iter::once(OsString::from(&executor.name)).chain(task.to_args()) {
        match to_c(arg.as_bytes()) {
            Ok(arg) => argv.push(arg),
            Err(err) => return err,
        }
    }
    let mut envp = Vec::with_capacity(task.env.len());
    for entry in &task.env {
        match to_c(entry.as_bytes()) {
            Ok(entry) => envp.push(entry),
            Err(err) => return err,
        }
    }
    match nix::unistd::execveat(
        Some(executor.fd.as_raw_fd()),
        c"",
        &argv,
        &envp,
        AtFlags::AT_EMPTY_PATH,
    ) {
        Ok(never) => match never {},
        Err(errno) => std::io::Error::from(errno),
    }
}

/// Replaces this process with the Linux program of `spec`, as runc does: found through
/// `PATH` like execvp (the lookup of [`entrypoint::find_program`]), but never retried
/// through `/bin/sh` when the kernel cannot execute the file (glibc's execvp does that,
/// running a wasm module or a data file as a shell script). Returns only on failure, with
/// the reason.
pub fn exec_linux(spec: &Spec) -> LaunchError {
    let Some(args) = spec
        .process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .filter(|a| !a.is_empty())
    else {
        return LaunchError::NoArgs;
    };
    let name = args[0].clone();
    let argv: Result<Vec<CString>, _> = args.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(argv) = argv else {
        return LaunchError::NulInArgs(name);
    };
    let program = entrypoint::find_program(spec, &name).unwrap_or_else(|| PathBuf::from(&name));
    let Ok(program) = CString::new(program.into_os_string().into_vec()) else {
        return LaunchError::NulInPath(name);
    };
    match nix::unistd::execv(&program, &argv) {
        Ok(never) => match never {},
        Err(errno) => LaunchError::Linux { name, errno },
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{Process, Spec};

    use super::*;

    fn spec(args: &[&str], env: &[&str]) -> Spec {
        let mut process = Process::default();
        process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        process.set_env(Some(env.iter().map(|e| e.to_string()).collect()));
        let mut spec = Spec::default();
        spec.set_process(Some(process));
        spec
    }

    fn os(strings: &[&str]) -> Vec<OsString> {
        strings.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_task_carries_args_and_env_exactly() {
        let spec = spec(&["m.wasm", "a b", ""], &["K=V", "PATH=/x"]);
        let task = task(&spec, PathBuf::from("/bin/m.wasm"), None);
        assert_eq!(task.module, PathBuf::from("/bin/m.wasm"));
        assert_eq!(task.function, None);
        assert_eq!(task.args, os(&["m.wasm", "a b", ""]));
        assert_eq!(task.env, os(&["K=V", "PATH=/x"]));
        assert!(task.preopens.is_empty() && task.precompiled.is_none());
    }

    #[test]
    fn argv0_has_no_function_selector() {
        let spec = spec(&["/app/m#x.wasm#run", "arg#1"], &[]);
        let task = task(&spec, PathBuf::from("/app/m#x.wasm"), Some("run".into()));
        assert_eq!(task.function.as_deref(), Some("run"));
        assert_eq!(task.args, os(&["/app/m#x.wasm", "arg#1"]));
    }

    #[test]
    fn a_file_named_with_a_hash_keeps_its_name_as_argv0() {
        let spec = spec(&["/app/m.wasm#run"], &[]);
        let task = task(&spec, PathBuf::from("/app/m.wasm#run"), None);
        assert_eq!(task.args, os(&["/app/m.wasm#run"]));
    }

    #[test]
    fn linux_exec_failures_name_the_program() {
        let err = exec_linux(&spec(&[], &[])).to_string();
        assert_eq!(err, "process.args is empty");
        let err = exec_linux(&spec(&["/bin/x", "a\0b"], &[])).to_string();
        assert_eq!(err, "exec /bin/x: an argument holds a NUL byte");
        let err = exec_linux(&spec(&["/nonexistent/runw-test"], &[])).to_string();
        assert_eq!(
            err,
            "exec /nonexistent/runw-test: No such file or directory"
        );
    }
}
