//! `runw exec`: run another process inside a running container.
//!
//! The process is built as runc builds it ([`exec_process`]) and handed to libcontainer as a
//! process file; the container's seccomp filter ([`ExecSeccomp`]) and user namespace
//! ([`ExecUserNamespace`]), which libcontainer 0.7 leaves out for exec'd processes, are
//! runw's.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use liboci_cli::Exec;
use nix::sys::wait::waitpid;
use oci_spec::runtime::{Process, Spec};

use super::exit_code;
use crate::exec_process;
use crate::exec_seccomp::ExecSeccomp;
use crate::exec_user_namespace::ExecUserNamespace;
use crate::state_root;
use crate::workload::RunwExecutor;

pub fn exec(args: Exec, root: &Path) -> Result<i32> {
    // Fail early, naming the id, if there is no such container.
    let container = state_root::load(root, &args.container_id)?;
    crate::default_cgroup::cover_config_for_exec(&container)?;
    let config = container.bundle().join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("cannot read {}", config.display()))?;
    let mut process = exec_process::build(&spec, &args)?;
    let user_namespace = ExecUserNamespace::prepare(&container, &mut process)?;
    let seccomp = match &user_namespace {
        Some(join) => {
            ExecSeccomp::after_join(&spec, process.no_new_privileges(), join.capabilities())
        }
        None => ExecSeccomp::prepare(&spec, &mut process),
    };
    let file = ProcessFile::write(&container, &process)?;
    let executor = RunwExecutor::for_exec(&spec, container.bundle(), seccomp, user_namespace)?;
    let pid = ContainerBuilder::new(args.container_id.clone(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(root)?
        .with_console_socket(args.console_socket.as_ref())
        .with_pid_file(args.pid_file.as_ref())?
        .with_preserved_fds(args.preserve_fds)
        .validate_id()?
        .as_tenant()
        // libcontainer accepts a console socket only when detached; runw waits itself.
        .with_detach(args.detach || args.console_socket.is_some())
        .with_process(Some(&file.0))
        .with_ignore_paused(args.ignore_paused)
        .with_sub_cgroup(args.cgroup)
        .build()
        .with_context(|| format!("failed to exec in container {:?}", args.container_id))?;
    drop(file);
    if args.detach {
        return Ok(0);
    }
    let status = waitpid(pid, None).with_context(|| {
        format!(
            "failed to wait for the exec'd process in {:?}",
            args.container_id
        )
    })?;
    Ok(exit_code(status))
}

/// The exec'd process as a process.json in the container's state dir, the one form in
/// which libcontainer takes every setting of it. Removed on drop.
struct ProcessFile(PathBuf);

impl ProcessFile {
    fn write(container: &Container, process: &Process) -> Result<Self> {
        let path = container
            .root
            .join(format!("exec-process-{}.json", std::process::id()));
        let json = serde_json::to_vec(process)?;
        std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ProcessFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
