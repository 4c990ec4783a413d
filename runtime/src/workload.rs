//! What runs as the container's process once libcontainer has finished init: the choice
//! between an ordinary Linux process and a wasm executor is made here and nowhere else.
//!
//! `RunwExecutor` is built by runw before the container exists ([`RunwExecutor::for_spec`]):
//! for a container whose annotations ask for wasm it opens the executor binary then, while
//! the host's filesystem is still visible, opens the guest's view of the filesystem
//! ([`GuestView`]), and takes the compiled module from the compile cache (compiling it on a
//! miss). libcontainer calls [`Executor::validate`] in the
//! init process after pivot_root, before it reports the container created (an error there
//! fails `create`), and [`Executor::exec`] after the start signal.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use libcontainer::oci_spec::runtime::Spec;
use libcontainer::workload::default;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use runw_shared::Task;

use crate::compile_cache::{Artifact, CompileCache};
use crate::wasm::annotations::{self, Handler};
use crate::wasm::guest_view::{GuestView, GuestViewError};
use crate::wasm::{entrypoint, executor_binary, host_module, launch};

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(transparent)]
    Executor(#[from] executor_binary::ExecutorBinaryError),
    #[error(transparent)]
    GuestView(#[from] GuestViewError),
}

#[derive(Clone)]
pub struct RunwExecutor {
    handler: Handler,
    /// The wasm executor, opened before pivot_root; `None` for Linux containers, and for
    /// smart ones on a node with no executor installed.
    executor: Option<Arc<executor_binary::ExecutorBinary>>,
    /// The entrypoint compiled by that executor, from the compile cache, when the host could
    /// see the module and the cache could provide it.
    precompiled: Option<Arc<Artifact>>,
    /// The directories the guest may open, opened on the host with the executor; for a
    /// smart container, why they could not be is told only if it turns out to be wasm.
    guest_view: Option<Arc<Result<GuestView, GuestViewError>>>,
    /// What `validate` decided: a wasm task, or `None` for a Linux process.
    decision: Arc<OnceLock<Option<Task>>>,
}

impl RunwExecutor {
    /// The executor for a container with this spec and bundle. Fails, before anything is
    /// created, for a wasm container when no wasm executor is installed or its rootfs
    /// cannot be preopened.
    pub fn for_spec(spec: &Spec, bundle: &Path) -> Result<Self, WorkloadError> {
        let mut executor = Self::without_cache(spec)?;
        executor.open_guest_view(spec, bundle)?;
        if let Some(binary) = &executor.executor {
            executor.precompiled = precompiled(spec, bundle, binary).map(Arc::new);
        }
        Ok(executor)
    }

    /// Opens the guest's view when the container may be wasm; an error is returned at once
    /// only for a container that is wasm whatever its entrypoint.
    fn open_guest_view(&mut self, spec: &Spec, bundle: &Path) -> Result<(), GuestViewError> {
        if self.executor.is_none() {
            return Ok(());
        }
        match GuestView::open(spec, bundle) {
            Err(err) if self.handler == Handler::Wasm => Err(err),
            view => {
                self.guest_view = Some(Arc::new(view));
                Ok(())
            }
        }
    }

    fn without_cache(spec: &Spec) -> Result<Self, executor_binary::ExecutorBinaryError> {
        let handler = annotations::handler(spec.annotations().as_ref());
        let executor = match handler {
            Handler::Linux => None,
            Handler::Wasm => Some(Arc::new(executor_binary::open()?)),
            Handler::Smart => executor_binary::open().ok().map(Arc::new),
        };
        Ok(RunwExecutor { handler, executor, precompiled: None, guest_view: None, decision: Arc::default() })
    }

    /// The executor for a process exec'd into an existing container (`runw exec`): wasm when
    /// the container is and the program is a module, Linux otherwise, so that a shell or a
    /// debugging tool can still be exec'd into a wasm container. A module sees the same
    /// view as the container's (`bundle` is the container's); it is compiled in the
    /// container: the compile cache serves container starts.
    pub fn for_exec(spec: &Spec, bundle: &Path) -> Result<Self, WorkloadError> {
        let mut executor = Self::without_cache(spec)?;
        if executor.handler == Handler::Wasm {
            executor.handler = Handler::Smart;
        }
        executor.open_guest_view(spec, bundle)?;
        Ok(executor)
    }

    /// The guest's view, or why there is none.
    fn view(&self) -> Result<&GuestView, String> {
        match self.guest_view.as_deref() {
            Some(Ok(view)) => Ok(view),
            Some(Err(err)) => Err(err.to_string()),
            None => Err("the guest's view of the filesystem was not opened".into()),
        }
    }

    /// Decides Linux or wasm for the process in `spec`, judging the entrypoint by content.
    fn decide(&self, spec: &Spec) -> Result<Option<Task>, String> {
        if self.handler == Handler::Linux {
            return Ok(None);
        }
        let entry = entrypoint::resolve(spec)?;
        match (self.handler, entry.kind) {
            (_, Some(_)) if self.executor.is_none() => Err(format!(
                "{} is a wasm module but no wasm executor is installed (runw's default is {})",
                entry.path.display(),
                executor_binary::DEFAULT
            )),
            (_, Some(_)) => {
                self.view()?;
                Ok(Some(launch::task(spec, entry.path, entry.function)))
            }
            (Handler::Smart, None) => Ok(None),
            (_, None) => Err(format!(
                "entrypoint {} is not a wasm module or WAT file, but the container is annotated as wasm",
                entry.path.display()
            )),
        }
    }
}

impl Executor for RunwExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let decision = self.decide(spec).map_err(ExecutorValidationError::ArgValidationError)?;
        let is_linux = decision.is_none();
        let _ = self.decision.set(decision);
        if is_linux {
            return default::get_executor().validate(spec);
        }
        Ok(())
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        crate::stdio::repair_dev_null()
            .map_err(|err| ExecutorError::Other(format!("failed to repair stdio: {err}")))?;
        let decision = match self.decision.get() {
            Some(decision) => decision.clone(),
            None => self.decide(spec).map_err(ExecutorError::Other)?,
        };
        match (decision, &self.executor) {
            (Some(task), Some(executor)) => {
                let view = self.view().map_err(ExecutorError::Other)?;
                let cwd = spec.process().as_ref().map_or(Path::new("/"), |p| p.cwd().as_path());
                let err = launch::exec(executor, &task, view, cwd, self.precompiled.as_deref());
                Err(ExecutorError::Other(format!("failed to exec {}: {err}", executor.name)))
            }
            _ => {
                let err = launch::exec_linux(spec);
                // This process was to become the container's: its stderr is where the user
                // looks (runc reports the same through its own stderr).
                eprintln!("runw: {err}");
                Err(ExecutorError::Other(err))
            }
        }
    }
}

/// The compiled entrypoint from the compile cache. Any failure here only costs speed: it is
/// logged and the executor compiles the module in the container.
fn precompiled(spec: &Spec, bundle: &Path, executor: &executor_binary::ExecutorBinary) -> Option<Artifact> {
    let cache = match CompileCache::from_env() {
        Ok(Some(cache)) => cache,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!("compile cache disabled: {err}");
            return None;
        }
    };
    match cache.artifact(executor, || host_module::read(spec, bundle)) {
        Ok(artifact) => artifact,
        Err(err) => {
            tracing::warn!("compile cache: {err}");
            None
        }
    }
}
