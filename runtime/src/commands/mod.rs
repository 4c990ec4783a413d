//! One file per subcommand; each is a few lines around libcontainer.

pub mod cache;
pub mod completion;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod man;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use anyhow::Result;
use libcgroups::common::{create_cgroup_manager, AnyCgroupManager, CgroupConfig};
use libcontainer::container::{Container, ContainerStatus};
use nix::sys::wait::WaitStatus;

/// The cgroup manager of an existing container, as libcontainer created it.
pub(crate) fn cgroup_manager(container: &Container) -> Result<AnyCgroupManager> {
    Ok(create_cgroup_manager(CgroupConfig {
        cgroup_path: container.spec()?.cgroup_path,
        systemd_cgroup: container.systemd(),
        container_name: container.id().to_string(),
    })?)
}

/// A process's wait status as a shell reports it: the exit code, or 128 + the signal.
pub(crate) fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => 0,
    }
}

/// A status as runc prints it in messages and tables: `created`, `running`, ...
pub(crate) fn status_name(status: ContainerStatus) -> String {
    status.to_string().to_ascii_lowercase()
}
