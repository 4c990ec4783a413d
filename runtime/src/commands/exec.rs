//! `runw exec`: run another process inside a running container.
//!
//! The process is built as runc builds it ([`exec_process`]) and handed to libcontainer as a
//! process file; the container's seccomp filter is installed by runw ([`ExecSeccomp`]),
//! which libcontainer 0.7 leaves out for exec'd processes.

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
use crate::state_root;
use crate::workload::RunwExecutor;

pub fn exec(args: Exec, root: &Path) -> Result<i32> {
    // Fail early, naming the id, if there is no such container.
    let container = state_root::load(root, &args.container_id)?;
    refuse_outside_its_user_namespace(&container)?;
    crate::default_cgroup::cover_config_for_exec(&container)?;
    let config = container.bundle().join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("cannot read {}", config.display()))?;
    let mut process = exec_process::build(&spec, &args)?;
    let seccomp = ExecSeccomp::prepare(&spec, &mut process);
    let file = ProcessFile::write(&container, &process)?;
    let executor = RunwExecutor::for_exec(&spec, container.bundle(), seccomp)?;
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

/// Refuses to exec in a container whose init is in another user namespace than this runw.
/// libcontainer 0.7's tenant builder joins every namespace of the container but the user
/// namespace (`NAMESPACE_TYPES` in `container/tenant_builder.rs`): as root, the process would
/// run as the host's root, with its capabilities in the host's user namespace, inside a
/// container whose root is an unprivileged host user (podman `--userns`, Kubernetes
/// `hostUsers: false`). A rootless runw joins the namespace before it gets here (see
/// `rootless::hide_undelegated_cgroups`), so this holds only where joining is not done yet.
fn refuse_outside_its_user_namespace(container: &Container) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(pid) = container.pid() else {
        return Ok(());
    };
    // A container that is not running has no namespace to read: libcontainer says so below.
    let Ok(theirs) = std::fs::metadata(format!("/proc/{pid}/ns/user")) else {
        return Ok(());
    };
    let ours =
        std::fs::metadata("/proc/self/ns/user").context("cannot read runw's own user namespace")?;
    if (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino()) {
        anyhow::bail!(
            "cannot exec in container {:?}: it has a user namespace of its own, which runw cannot yet join for an exec'd process (it would run as the host's root)",
            container.id()
        );
    }
    Ok(())
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
