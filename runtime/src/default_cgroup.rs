//! The cgroup of a bundle that names none (`linux.cgroupsPath` absent): runc's `/<id>`, or
//! with the systemd driver `system.slice:runw:<id>` (runc: `system.slice:runc:<id>`).
//! libcontainer 0.7.0 would use `:youki:<id>` (`utils::get_cgroup_path`) and reads the spec
//! only from `<bundle>/config.json`, so runw hands it a shadow bundle: a directory in the
//! state root holding the bundle's config with the cgroup path and an absolute rootfs (and,
//! on a cgroup v1 host, its `cgroup` mount rewritten by [`crate::cgroup_v1_mount`]). It is
//! removed once the container exists, and the container's state names the real bundle again.

use std::path::{Path, PathBuf};

use libcontainer::container::Container;
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
pub enum DefaultCgroupError {
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    #[error(transparent)]
    CgroupMount(#[from] crate::cgroup_v1_mount::CgroupMountError),
    #[error("cannot write the shadow bundle {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve the rootfs of bundle {}: {source}", bundle.display())]
    Rootfs {
        bundle: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record bundle {} in the state of container {id}: {source}", bundle.display())]
    State {
        id: String,
        bundle: PathBuf,
        source: Box<libcontainer::error::LibcontainerError>,
    },
}

/// What runc names the cgroup of container `id` when the bundle names none.
pub fn path_for(id: &str, systemd: bool) -> PathBuf {
    match systemd {
        true => PathBuf::from(format!("system.slice:runw:{id}")),
        false => PathBuf::from(format!("/{id}")),
    }
}

/// The bundle libcontainer is to read: `bundle` itself, or a shadow of it when its config
/// names no cgroup or has a `cgroup` mount runw rewrites ([`crate::cgroup_v1_mount`]).
/// Dropping it removes the shadow.
pub struct BundleForBuild {
    shadow: Option<tempfile::TempDir>,
    bundle: PathBuf,
}

impl BundleForBuild {
    pub fn new(
        spec: &Spec,
        bundle: &Path,
        root: &Path,
        id: &str,
        systemd: bool,
    ) -> Result<Self, DefaultCgroupError> {
        let mut spec = spec.clone();
        let named = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
        let cgroup_path = named.clone().unwrap_or_else(|| path_for(id, systemd));
        crate::rootless::check_limits_have_a_cgroup(&spec, &cgroup_path, systemd)?;
        let remounted = crate::cgroup_v1_mount::rewrite(&mut spec, &cgroup_path)?;
        if named.is_some() && !remounted {
            return Ok(BundleForBuild {
                shadow: None,
                bundle: bundle.to_path_buf(),
            });
        }
        absolute_rootfs(&mut spec, bundle)?;
        if let Some(linux) = spec.linux_mut() {
            linux.set_cgroups_path(Some(cgroup_path));
        }
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DefaultCgroupError::Write { path, source }
        };
        let shadow = tempfile::Builder::new()
            .prefix(".bundle-")
            .tempdir_in(root)
            .map_err(write_err(root))?;
        let config = shadow.path().join("config.json");
        let text = serde_json::to_vec(&spec).map_err(|err| write_err(&config)(err.into()))?;
        std::fs::write(&config, text).map_err(write_err(&config))?;
        Ok(BundleForBuild {
            shadow: Some(shadow),
            bundle: bundle.to_path_buf(),
        })
    }

    /// The bundle path to give libcontainer.
    pub fn path(&self) -> &Path {
        self.shadow.as_ref().map_or(&self.bundle, |dir| dir.path())
    }

    /// Makes the state of `container`, built from the shadow, name the real bundle, on disk
    /// (`create`: the container waits for a `start` that may never come).
    pub fn restore(&self, container: &mut Container) -> Result<(), DefaultCgroupError> {
        if !self.restore_in_memory(container) {
            return Ok(());
        }
        let id = container.id().to_owned();
        let state_err = |source| DefaultCgroupError::State {
            id,
            bundle: self.bundle.clone(),
            source,
        };
        container.save().map_err(|err| state_err(Box::new(err)))
    }

    /// Makes `container`'s state name the real bundle in memory only, for a caller that saves
    /// the state next anyway (`run`: libcontainer's `start` saves it as running). Each save
    /// rewrites state.json in place (libcontainer 0.7 opens it with O_TRUNC): on ext4 the
    /// truncate waits for the writeback the previous save's close started (auto_da_alloc) and
    /// frees its blocks (a synchronous discard where mounted with `discard`), up to ~20 ms
    /// measured under write load. Returns false when there is no shadow (the state names
    /// the real bundle already).
    pub fn restore_in_memory(&self, container: &mut Container) -> bool {
        if self.shadow.is_none() {
            return false;
        }
        let bundle = std::fs::canonicalize(&self.bundle).unwrap_or_else(|_| self.bundle.clone());
        container.state.bundle = bundle;
        true
    }
}

/// Makes `root.path` absolute (the shadow is elsewhere than the bundle it came from).
fn absolute_rootfs(spec: &mut Spec, bundle: &Path) -> Result<(), DefaultCgroupError> {
    let Some(root) = spec.root_mut() else {
        return Ok(());
    };
    let rootfs = std::fs::canonicalize(bundle.join(root.path())).map_err(|source| {
        DefaultCgroupError::Rootfs {
            bundle: bundle.to_path_buf(),
            source,
        }
    })?;
    root.set_path(rootfs);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runc_names() {
        assert_eq!(super::path_for("abc", false), std::path::Path::new("/abc"));
        assert_eq!(
            super::path_for("abc", true),
            std::path::Path::new("system.slice:runw:abc")
        );
    }
}

/// libcontainer 0.7.0 puts an exec'd process in the cgroup the bundle's `config.json` names,
/// or `:youki:<id>` (`container/tenant_builder.rs`, `load_init_spec`), not in the one the
/// container was created in. For a container created with runw's default, this process
/// (`runw exec`, before it builds the process) moves to a mount namespace of its own and
/// there, and only there, covers the bundle's config with one naming the container's
/// cgroup. The exec'd process joins the container's mount namespace, so it never sees it.
pub fn cover_config_for_exec(container: &Container) -> Result<(), ExecCoverError> {
    let config = container.bundle().join("config.json");
    let mut spec = Spec::load(&config).map_err(|source| ExecCoverError::Spec {
        path: config.clone(),
        source: Box::new(source),
    })?;
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .is_some()
    {
        return Ok(());
    }
    let saved = container.spec().map_err(|source| ExecCoverError::Saved {
        id: container.id().to_owned(),
        source: Box::new(source),
    })?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_cgroups_path(Some(saved.cgroup_path));
    }
    let mount_err = |source: std::io::Error| ExecCoverError::Mount {
        path: config.clone(),
        source,
    };
    let cover = tempfile::NamedTempFile::new().map_err(mount_err)?;
    let text = serde_json::to_vec(&spec).map_err(|err| mount_err(err.into()))?;
    std::fs::write(cover.path(), text).map_err(mount_err)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| mount_err(e.into()))?;
    // Nothing this namespace mounts may reach the host's.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| mount_err(e.into()))?;
    mount(
        Some(cover.path()),
        &config,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| mount_err(e.into()))?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ExecCoverError {
    #[error("cannot read {}: {source}", path.display())]
    Spec {
        path: PathBuf,
        source: Box<oci_spec::OciSpecError>,
    },
    #[error("cannot read the saved config of container {id}: {source}")]
    Saved {
        id: String,
        source: Box<libcontainer::error::LibcontainerError>,
    },
    #[error("cannot cover {} with the container's cgroup: {source}", path.display())]
    Mount {
        path: PathBuf,
        source: std::io::Error,
    },
}
