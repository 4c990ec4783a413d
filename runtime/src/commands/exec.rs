//! `runw exec`: run another process inside a running container.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::oci_spec::runtime::Spec;
use libcontainer::syscall::syscall::SyscallType;
use liboci_cli::Exec;
use nix::sys::wait::waitpid;

use super::exit_code;
use crate::state_root;
use crate::workload::RunwExecutor;

pub fn exec(mut args: Exec, root: &Path) -> Result<i32> {
    // Fail early, naming the id, if there is no such container.
    let container = state_root::load(root, &args.container_id)?;
    let config = container.bundle().join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("cannot read {}", config.display()))?;
    // libcontainer takes a terminal only from a process file: write one for `--tty CMD`.
    let tty_process = match (args.tty, &args.process) {
        (true, None) => Some(TtyProcessFile::write(&container, &spec, &args)?),
        _ => None,
    };
    let executor = RunwExecutor::for_exec(&spec, container.bundle())?;
    if let Some(file) = &tty_process {
        args.process = Some(file.0.clone());
    }
    let (user, group) = match args.user {
        Some((user, group)) => (Some(user), group),
        None => (None, None),
    };
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
        .with_cwd(args.cwd.as_ref())
        .with_env(args.env.into_iter().collect())
        .with_process(args.process.as_ref())
        .with_no_new_privs(args.no_new_privs)
        .with_container_args(args.command)
        .with_additional_gids(args.additional_gids)
        .with_user(user)
        .with_group(group)
        .with_capabilities(args.cap)
        .with_ignore_paused(args.ignore_paused)
        .with_sub_cgroup(args.cgroup)
        .with_apparmor(args.apparmor)
        .build()
        .with_context(|| format!("failed to exec in container {:?}", args.container_id))?;
    drop(tty_process);
    if args.detach {
        return Ok(0);
    }
    let status = waitpid(pid, None)
        .with_context(|| format!("failed to wait for the exec'd process in {:?}", args.container_id))?;
    Ok(exit_code(status))
}

/// A process.json for `exec --tty CMD`: the container's own process (user, capabilities,
/// rlimits, env) with the command, terminal, extra env and cwd of this exec. Removed on drop.
struct TtyProcessFile(PathBuf);

impl TtyProcessFile {
    fn write(container: &Container, spec: &Spec, args: &Exec) -> Result<Self> {
        let mut process = spec.process().clone().unwrap_or_default();
        if args.command.is_empty() {
            bail!("exec needs a command or --process");
        }
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(args.env.iter().map(|(k, v)| format!("{k}={v}")));
        process
            .set_args(Some(args.command.clone()))
            .set_terminal(Some(true))
            .set_env(Some(env));
        if let Some(cwd) = &args.cwd {
            process.set_cwd(cwd.clone());
        }
        if let Some((uid, gid)) = args.user {
            let mut user = process.user().clone();
            user.set_uid(uid);
            if let Some(gid) = gid {
                user.set_gid(gid);
            }
            process.set_user(user);
        }
        let path = container.root.join(format!("exec-tty-{}.json", std::process::id()));
        let json = serde_json::to_vec(&process)?;
        std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TtyProcessFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
