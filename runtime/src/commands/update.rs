//! `runw update`: change a running container's cgroup limits, from `--resources FILE` (or
//! `-` for stdin) or `--pids-limit`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use libcgroups::common::{CgroupManager, ControllerOpt};
use liboci_cli::Update;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};

use super::cgroup_manager;
use crate::state_root;

pub fn update(args: Update, root: &Path) -> Result<()> {
    let container = state_root::load(root, &args.container_id)?;
    let resources = match &args.resources {
        Some(path) if path.as_os_str() == "-" => {
            serde_json::from_reader(std::io::stdin()).context("malformed resources on stdin")?
        }
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_reader(std::io::BufReader::new(file))
                .with_context(|| format!("malformed resources in {}", path.display()))?
        }
        None => from_flags(&args)?,
    };
    cgroup_manager(&container)?
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        })
        .with_context(|| format!("failed to update container {:?}", args.container_id))
}

/// The resources named by runc's individual flags.
fn from_flags(args: &Update) -> Result<LinuxResources> {
    if args.l3_cache_schema.is_some() || args.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema and --mem-bw-schema are not supported by runw");
    }
    if args.cpu_rt_period.is_some() || args.cpu_rt_runtime.is_some() {
        bail!("--cpu-rt-period and --cpu-rt-runtime are not supported by runw");
    }
    let mut builder = LinuxResourcesBuilder::default();
    if let Some(limit) = args.pids_limit {
        builder = builder.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    if args.memory.is_some() || args.memory_reservation.is_some() || args.memory_swap.is_some() {
        let mut memory = LinuxMemoryBuilder::default();
        if let Some(limit) = args.memory {
            memory = memory.limit(i64::try_from(limit).context("--memory is too large")?);
        }
        if let Some(reservation) = args.memory_reservation {
            memory = memory.reservation(
                i64::try_from(reservation).context("--memory-reservation is too large")?,
            );
        }
        if let Some(swap) = args.memory_swap {
            memory = memory.swap(swap);
        }
        builder = builder.memory(memory.build()?);
    }
    let cpu_set = args.cpu_period.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_share.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some();
    if cpu_set {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(period) = args.cpu_period {
            cpu = cpu.period(period);
        }
        if let Some(quota) = args.cpu_quota {
            cpu = cpu.quota(i64::try_from(quota).context("--cpu-quota is too large")?);
        }
        if let Some(shares) = args.cpu_share {
            cpu = cpu.shares(shares);
        }
        if let Some(cpus) = &args.cpuset_cpus {
            cpu = cpu.cpus(cpus.clone());
        }
        if let Some(mems) = &args.cpuset_mems {
            cpu = cpu.mems(mems.clone());
        }
        builder = builder.cpu(cpu.build()?);
    }
    if let Some(weight) = args.blkio_weight {
        let weight = u16::try_from(weight).context("--blkio-weight is too large")?;
        builder = builder.block_io(LinuxBlockIoBuilder::default().weight(weight).build()?);
    }
    Ok(builder.build()?)
}
