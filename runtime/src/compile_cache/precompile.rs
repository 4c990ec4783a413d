//! Asking the executor for its engine's identity (`--engine-id`), from the same descriptor
//! the container will exec, so the artifact and the code that loads it come from one binary.
//! (`--precompile`, which reads untrusted input, runs jailed: [`super::jail`].)

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use runw_shared::executor_main::{ENGINE_ID, NO_COMPILED_FORM};

use super::CacheError;
use crate::executor_binary::ExecutorBinary;

/// The executor, started with an empty environment in `/`, unable to gain privileges.
fn command(executor: &ExecutorBinary, mode: &str) -> Command {
    // The descriptor is O_PATH: exec through its /proc link, as fexecve does.
    let mut command = Command::new(format!("/proc/self/fd/{}", executor.fd.as_raw_fd()));
    command
        .arg0(&executor.name)
        .arg(mode)
        .env_clear()
        .current_dir("/");
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) is async-signal-safe and touches no memory of the
    // parent, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

fn failed(executor: &ExecutorBinary, mode: &'static str, message: String) -> CacheError {
    CacheError::Executor {
        executor: executor.name.clone(),
        mode,
        message,
    }
}

/// The first line the executor wrote on stderr, or its exit status.
fn reason(status: std::process::ExitStatus, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .find(|l| !l.trim().is_empty())
        .map_or_else(|| status.to_string(), str::to_owned)
}

/// `EXECUTOR --engine-id`: one line naming the engine, `None` for an engine with no
/// compiled form.
pub fn engine_id(executor: &ExecutorBinary) -> Result<Option<String>, CacheError> {
    let output = command(executor, ENGINE_ID)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| failed(executor, ENGINE_ID, err.to_string()))?;
    if output.status.code() == Some(i32::from(NO_COMPILED_FORM)) {
        return Ok(None);
    }
    if !output.status.success() {
        return Err(failed(
            executor,
            ENGINE_ID,
            reason(output.status, &output.stderr),
        ));
    }
    let id = String::from_utf8(output.stdout).unwrap_or_default();
    let id = id.trim_end_matches('\n');
    if id.is_empty() || id.contains('\n') || id.len() > 1024 {
        return Err(failed(
            executor,
            ENGINE_ID,
            format!("printed {id:?}, not one line"),
        ));
    }
    Ok(Some(id.to_owned()))
}
