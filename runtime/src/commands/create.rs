//! `runw create`: set up a container from a bundle and leave it waiting for `start`.

use std::path::Path;

use anyhow::{Context, Result};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use liboci_cli::Create;

use crate::default_cgroup::BundleForBuild;
use crate::state_root;
use crate::workload::RunwExecutor;

pub fn create(args: Create, root: &Path, systemd_cgroup: bool) -> Result<()> {
    let options = InitOptions {
        id: &args.container_id,
        bundle: &args.bundle,
        pid_file: args.pid_file.as_deref(),
        console_socket: args.console_socket.as_deref(),
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        detach: true,
        systemd_cgroup,
        start_follows: false,
    };
    build_init(root, &options).map(drop)
}

/// What `create` and `run` share.
pub struct InitOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    pub detach: bool,
    pub systemd_cgroup: bool,
    /// True for `run`: `start` follows at once and saves the state, so `create` leaves the
    /// bundle it names to that save rather than rewriting state.json itself.
    pub start_follows: bool,
}

/// Creates the container; on failure removes everything this call made (state dir, cgroup),
/// so that a bad bundle leaves nothing behind. The id is claimed first: a concurrent create
/// of the same id waits, then fails without touching this one's container.
pub fn build_init(root: &Path, opts: &InitOptions) -> Result<Container> {
    let claim = state_root::claim(root, opts.id)?;
    let dir = state_root::container_dir(root, opts.id)?;
    let spec = crate::bundle::check(opts.bundle)?;
    let (executor, pending_artifact) = RunwExecutor::for_spec(&spec, opts.bundle)?;
    let build_bundle = BundleForBuild::new(&spec, opts.bundle, root, opts.id, opts.systemd_cgroup)?;
    let result = ContainerBuilder::new(opts.id.to_owned(), SyscallType::default())
        .with_executor(executor)
        .with_root_path(root)?
        .with_pid_file(opts.pid_file)?
        .with_console_socket(opts.console_socket)
        .with_preserved_fds(opts.preserve_fds)
        .validate_id()?
        .as_init(build_bundle.path())
        .with_systemd(opts.systemd_cgroup)
        // libcontainer accepts a console socket only when detached; `run` waits itself.
        .with_detach(opts.detach || opts.console_socket.is_some())
        .with_no_pivot(opts.no_pivot)
        .build();
    let mut container = result
        .map_err(|err| {
            remove_leftovers(&dir);
            anyhow::Error::from(err)
        })
        .with_context(|| format!("failed to create container {:?}", opts.id))?;
    if opts.start_follows {
        build_bundle.restore_in_memory(&mut container);
    } else {
        build_bundle
            .restore(&mut container)
            .inspect_err(|_| remove_leftovers(&dir))?;
    }
    if let Some(pid) = container.pid() {
        crate::oom_control::apply(&spec, pid.as_raw()).inspect_err(|_| remove_leftovers(&dir))?;
    }
    drop(claim);
    // The container exists (its cgroups too) and waits for `start`: hand its executor the
    // compiled module, compiling it now, charged to the container, on a miss.
    if let (Some(pending), Some(pid)) = (pending_artifact, container.pid()) {
        pending.deliver(pid.as_raw());
    }
    Ok(container)
}

/// Best effort: a failed create must not leave a state dir or cgroup that blocks the id.
fn remove_leftovers(dir: &Path) {
    if let Ok(mut container) = Container::load(dir.to_path_buf()) {
        let _ = container.delete(true);
    }
    if dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
