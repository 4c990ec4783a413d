//! What runs as the container's process once libcontainer has finished init: the choice
//! between an ordinary Linux process and a wasm executor is made here and nowhere else.
//!
//! `RunwExecutor` is built by runw before the container exists ([`RunwExecutor::for_spec`]):
//! for a container whose annotations ask for wasm it opens the executor binary then, while
//! the host's filesystem is still visible, opens the guest's view of the filesystem
//! ([`GuestView`]), and looks the module up in the compile cache. libcontainer calls
//! [`Executor::validate`] in the init process after pivot_root, before it reports the
//! container created (an error there fails `create`), and [`Executor::exec`] after the start
//! signal. Between the two, runw hands the compiled module over
//! ([`PendingArtifact::deliver`]: a hit at once, a miss compiled inside the container's
//! cgroups), through a socket whose other end init inherited.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use libcontainer::workload::default;
use libcontainer::workload::{
    Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use oci_spec::runtime::Spec;
use runw_shared::Task;

use crate::compile_cache::{CompileCache, Lookup, PendingLookup};
use crate::exec_seccomp::{ExecSeccomp, ExecSeccompError};
use crate::exec_user_namespace::{ExecUserNamespace, ExecUserNamespaceError};
use crate::executor_binary;
use crate::wasm::annotations::{self, Handler};
use crate::wasm::entrypoint::{self, EntrypointError};
use crate::wasm::guest_view::{GuestView, GuestViewError};
use crate::wasm::launch::{self, LaunchError};
use crate::wasm::{artifact_channel, host_module};

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(transparent)]
    Executor(#[from] executor_binary::ExecutorBinaryError),
    #[error(transparent)]
    GuestView(#[from] GuestViewError),
}

/// Why the container's process cannot be started, found in `validate` or `exec`; flattened
/// to a string only where libcontainer's [`Executor`] API asks for one.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Entrypoint(#[from] EntrypointError),
    #[error("{} is a wasm module but {reason}", path.display())]
    NoExecutor {
        path: std::path::PathBuf,
        reason: Arc<executor_binary::ExecutorBinaryError>,
    },
    #[error("entrypoint {} is not a wasm module or WAT file, but the container is annotated as wasm", path.display())]
    NotWasm { path: std::path::PathBuf },
    #[error(transparent)]
    GuestView(Arc<GuestViewError>),
    #[error("the guest's view of the filesystem was not opened")]
    NoGuestView,
    #[error(transparent)]
    Seccomp(#[from] ExecSeccompError),
    #[error(transparent)]
    UserNamespace(#[from] ExecUserNamespaceError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

#[derive(Clone)]
pub struct RunwExecutor {
    handler: Handler,
    /// The wasm executor, opened before pivot_root; `None` for Linux containers, and for
    /// smart ones on a node with no executor installed.
    executor: Option<Arc<executor_binary::ExecutorBinary>>,
    /// Why a smart container has no executor, told only if it turns out to be wasm.
    no_executor: Option<Arc<executor_binary::ExecutorBinaryError>>,
    /// Where the compiled entrypoint arrives, when the host could see the module and the
    /// cache could look it up.
    artifacts: Option<Arc<artifact_channel::Receiver>>,
    /// The directories the guest may open, opened on the host with the executor; for a
    /// smart container, why they could not be is told only if it turns out to be wasm.
    guest_view: Option<Result<Arc<GuestView>, Arc<GuestViewError>>>,
    /// What `validate` decided: a wasm task, or `None` for a Linux process.
    decision: Arc<OnceLock<Option<Task>>>,
    /// For a process exec'd into a running container: the container's seccomp filter,
    /// which libcontainer leaves out (see [`ExecSeccomp`]).
    exec_seccomp: Option<Arc<ExecSeccomp>>,
    /// For a process exec'd into a container with a user namespace of its own: that
    /// namespace, which libcontainer does not join (see [`ExecUserNamespace`]).
    exec_user_namespace: Option<Arc<ExecUserNamespace>>,
    /// True for a process exec'd into a running container, whose failure `runw exec` reports.
    exec_into: bool,
}

impl RunwExecutor {
    /// The executor for a container with this spec and bundle, and what runw still has to
    /// hand it once the container exists. Fails, before anything is created, for a wasm
    /// container when no wasm executor is installed or its rootfs cannot be preopened.
    pub fn for_spec(
        spec: &Spec,
        bundle: &Path,
    ) -> Result<(Self, Option<PendingArtifact>), WorkloadError> {
        let mut executor = Self::without_cache(spec)?;
        executor.open_guest_view(spec, bundle)?;
        let pending = executor
            .executor
            .as_ref()
            .and_then(|binary| PendingArtifact::look_up(spec, bundle, binary));
        if let Some((_, receiver)) = &pending {
            executor.artifacts = Some(receiver.clone());
        }
        Ok((executor, pending.map(|(pending, _)| pending)))
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
                self.guest_view = Some(view.map(Arc::new).map_err(Arc::new));
                Ok(())
            }
        }
    }

    fn without_cache(spec: &Spec) -> Result<Self, executor_binary::ExecutorBinaryError> {
        let handler = annotations::handler(spec.annotations().as_ref());
        tracing::debug!("{}", annotations::explain(spec.annotations().as_ref()));
        let (executor, no_executor) = match handler {
            Handler::Linux => (None, None),
            Handler::Wasm => (Some(Arc::new(executor_binary::open()?)), None),
            Handler::Smart => match executor_binary::open() {
                Ok(binary) => (Some(Arc::new(binary)), None),
                Err(err) => (None, Some(Arc::new(err))),
            },
        };
        Ok(RunwExecutor {
            handler,
            executor,
            no_executor,
            artifacts: None,
            guest_view: None,
            decision: Arc::default(),
            exec_seccomp: None,
            exec_user_namespace: None,
            exec_into: false,
        })
    }

    /// The executor for a process exec'd into an existing container (`runw exec`): wasm when
    /// the container is and the program is a module, Linux otherwise, so that a shell or a
    /// debugging tool can still be exec'd into a wasm container. A module sees the same
    /// view as the container's (`bundle` is the container's); it is compiled in the
    /// container: the compile cache serves container starts. Just before the process is
    /// exec'd, it joins `user_namespace` and `seccomp` is installed ([`Self::confine`]).
    pub fn for_exec(
        spec: &Spec,
        bundle: &Path,
        seccomp: Option<ExecSeccomp>,
        user_namespace: Option<ExecUserNamespace>,
    ) -> Result<Self, WorkloadError> {
        let mut executor = Self::without_cache(spec)?;
        if executor.handler == Handler::Wasm {
            executor.handler = Handler::Smart;
        }
        executor.exec_seccomp = seccomp.map(Arc::new);
        executor.exec_user_namespace = user_namespace.map(Arc::new);
        executor.exec_into = true;
        executor.open_guest_view(spec, bundle)?;
        Ok(executor)
    }

    /// The guest's view, or why there is none.
    fn view(&self) -> Result<&GuestView, StartError> {
        match &self.guest_view {
            Some(Ok(view)) => Ok(view),
            Some(Err(err)) => Err(StartError::GuestView(err.clone())),
            None => Err(StartError::NoGuestView),
        }
    }

    /// What libcontainer leaves out for an exec'd process, in order: the container's user
    /// namespace with the process's ids there, and its capabilities dropped before or after
    /// the container's seccomp filter (see [`ExecSeccomp`]).
    fn confine(&self) -> Result<(), StartError> {
        if let Some(join) = &self.exec_user_namespace {
            join.enter()?;
            if !self
                .exec_seccomp
                .as_ref()
                .is_some_and(|seccomp| seccomp.drops_capabilities())
            {
                join.drop_capabilities()?;
            }
        }
        if let Some(seccomp) = &self.exec_seccomp {
            seccomp.install()?;
        }
        Ok(())
    }

    /// Decides Linux or wasm for the process in `spec`, judging the entrypoint by content.
    fn decide(&self, spec: &Spec) -> Result<Option<Task>, StartError> {
        if self.handler == Handler::Linux {
            tracing::debug!("runs as Linux: not annotated as wasm");
            return Ok(None);
        }
        let entry = entrypoint::resolve(spec)?;
        log_decision(self.handler, &entry, self.executor.as_deref());
        match (self.handler, entry.kind) {
            (_, Some(_)) if self.executor.is_none() => Err(StartError::NoExecutor {
                path: entry.path,
                reason: self
                    .no_executor
                    .clone()
                    .unwrap_or_else(|| Arc::new(executor_binary::ExecutorBinaryError::NotFound)),
            }),
            (_, Some(_)) => {
                self.view()?;
                Ok(Some(launch::task(spec, entry.path, entry.function)))
            }
            (Handler::Smart, None) => Ok(None),
            (_, None) => Err(StartError::NotWasm { path: entry.path }),
        }
    }
}

impl Executor for RunwExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let decision = self
            .decide(spec)
            .map_err(|err| ExecutorValidationError::ArgValidationError(err.to_string()))?;
        let is_linux = decision.is_none();
        let _ = self.decision.set(decision);
        if is_linux {
            if let Some(missing) = missing_program(spec) {
                return Err(ExecutorValidationError::ArgValidationError(missing));
            }
            return default::get_executor().validate(spec);
        }
        Ok(())
    }

    /// libcontainer's, but for a process that joins the container's user namespace, whose
    /// `HOME` libcontainer looked up for runw's user (see [`ExecUserNamespace::home`]).
    fn setup_envs(&self, mut envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        if let Some(join) = &self.exec_user_namespace {
            join.home(&mut envs);
        }
        default::get_executor().setup_envs(envs)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        crate::stdio::repair_dev_null()
            .map_err(|err| ExecutorError::Other(format!("failed to repair stdio: {err}")))?;
        let decision = match self.decision.get() {
            Some(decision) => decision.clone(),
            None => self
                .decide(spec)
                .map_err(|err| ExecutorError::Other(err.to_string()))?,
        };
        let failure = match (self.confine(), decision, &self.executor) {
            (Err(err), _, _) => err,
            (Ok(()), Some(task), Some(executor)) => match self.view() {
                Err(err) => err,
                Ok(view) => {
                    let cwd = spec
                        .process()
                        .as_ref()
                        .map_or(Path::new("/"), |p| p.cwd().as_path());
                    let artifact = self.artifacts.as_ref().and_then(|r| r.try_receive());
                    let source = launch::exec(executor, &task, view, cwd, artifact.as_ref());
                    StartError::from(LaunchError::Executor {
                        name: executor.name.clone(),
                        source,
                    })
                }
            },
            (Ok(()), _, _) => StartError::from(launch::exec_linux(spec)),
        };
        // This process was to become the container's: its stderr is where the user looks
        // (runc reports the same through its own stderr). `runw exec` prints what it returns.
        if !self.exec_into {
            eprintln!("runw: {failure}");
        }
        Err(ExecutorError::Other(failure.to_string()))
    }
}

/// Says (at debug level) why a container annotated as wasm runs as wasm or Linux.
fn log_decision(
    handler: Handler,
    entry: &entrypoint::Entrypoint,
    executor: Option<&executor_binary::ExecutorBinary>,
) {
    let path = entry.path.display();
    match (entry.kind, executor) {
        (Some(kind), Some(executor)) => {
            tracing::debug!(
                "entrypoint {path} is wasm ({kind:?}): runs as wasm on {}",
                executor.name
            )
        }
        (Some(kind), None) => tracing::debug!("entrypoint {path} is wasm ({kind:?}), no executor"),
        (None, _) if handler == Handler::Smart => {
            tracing::debug!("entrypoint {path} is not wasm: runs as Linux (-smart annotation)")
        }
        (None, _) => tracing::debug!("entrypoint {path} is not wasm, but wasm is required"),
    }
}

/// runc's words for a Linux entrypoint that is not there (libcontainer's validation says
/// "executable 'x' not found in $PATH" of a path too).
fn missing_program(spec: &Spec) -> Option<String> {
    let name = spec.process().as_ref()?.args().as_ref()?.first()?;
    if name.contains('/') {
        return (!Path::new(name).exists())
            .then(|| format!("exec {name}: no such file or directory"));
    }
    let missing = entrypoint::find_program(spec, name).is_none();
    missing.then(|| format!("exec {name:?}: executable file not found in $PATH"))
}

/// runw's side of a wasm container's compile cache: the artifact to hand over once the
/// container exists.
pub struct PendingArtifact {
    lookup: PendingLookup,
    executor: Arc<executor_binary::ExecutorBinary>,
    sender: artifact_channel::Sender,
}

impl PendingArtifact {
    /// Looks the entrypoint up in the compile cache. Any failure here only costs speed: it is
    /// logged, and the executor compiles the module in the container.
    fn look_up(
        spec: &Spec,
        bundle: &Path,
        executor: &Arc<executor_binary::ExecutorBinary>,
    ) -> Option<(PendingArtifact, Arc<artifact_channel::Receiver>)> {
        let cache = match CompileCache::from_env() {
            Ok(Some(cache)) => cache,
            Ok(None) => {
                tracing::debug!("compile cache: off (RUNW_CACHE=off)");
                return None;
            }
            Err(err) => {
                tracing::warn!("compile cache disabled: {err}");
                return None;
            }
        };
        let lookup = match cache.lookup(executor, || host_module::open(spec, bundle)) {
            Ok(Some(lookup)) => lookup,
            Ok(None) => {
                tracing::debug!(
                    "compile cache: nothing to look up ({} has no compiled form, or the module is not a file on the host)",
                    executor.name
                );
                return None;
            }
            Err(err) => {
                tracing::warn!("compile cache: {err}");
                return None;
            }
        };
        let (sender, receiver) = match artifact_channel::pair() {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!("compile cache: cannot make the artifact channel: {err}");
                return None;
            }
        };
        Some((
            PendingArtifact {
                lookup,
                executor: executor.clone(),
                sender,
            },
            Arc::new(receiver),
        ))
    }

    /// Hands the artifact to the container whose init is `container_pid`: at once for a hit,
    /// after compiling a miss inside that container's cgroups. Runs after the container
    /// exists and before `create` returns; a failure is logged and the executor compiles.
    pub fn deliver(self, container_pid: i32) {
        let artifact = match self.lookup.finish() {
            Err(err) => {
                tracing::warn!("compile cache: {err}");
                None
            }
            Ok(Lookup::Hit(artifact)) => Some(artifact),
            Ok(Lookup::Miss(miss)) => {
                tracing::debug!("compile cache: miss, compiling in the container's cgroups");
                match miss.compile(&self.executor, container_pid) {
                    Ok(artifact) => artifact,
                    Err(err) => {
                        tracing::warn!("compile cache: {err}");
                        None
                    }
                }
            }
        };
        if let Some(artifact) = artifact {
            if let Err(err) = self.sender.send(&artifact) {
                tracing::warn!("compile cache: cannot hand the artifact to the container: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use oci_spec::runtime::{Process, Spec};

    use super::*;
    use crate::executor_binary::{ExecutorBinary, ExecutorBinaryError};

    /// A container directory holding a core module and a shell script.
    fn files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("m.wasm"), b"\0asm\x01\0\0\0").expect("module");
        std::fs::write(dir.path().join("run.sh"), b"#!/bin/sh\n").expect("script");
        dir
    }

    fn spec(entrypoint: &Path) -> Spec {
        let mut process = Process::default();
        process.set_args(Some(vec![entrypoint.display().to_string()]));
        let mut spec = Spec::default();
        spec.set_process(Some(process));
        spec
    }

    fn executor(handler: Handler, installed: bool) -> RunwExecutor {
        let binary = installed.then(|| {
            let fd = OwnedFd::from(std::fs::File::open("/dev/null").expect("/dev/null"));
            let name = executor_binary::DEFAULT.to_owned();
            Arc::new(ExecutorBinary { fd, name })
        });
        let no_executor = (!installed).then(|| Arc::new(ExecutorBinaryError::NotFound));
        RunwExecutor {
            handler,
            executor: binary,
            no_executor,
            artifacts: None,
            guest_view: None,
            decision: Arc::default(),
            exec_seccomp: None,
            exec_user_namespace: None,
            exec_into: false,
        }
    }

    /// What `handler` decides for `entrypoint` with or without an executor installed.
    fn decide(handler: Handler, installed: bool, entrypoint: &Path) -> Result<bool, StartError> {
        let decision = executor(handler, installed).decide(&spec(entrypoint))?;
        Ok(decision.is_some())
    }

    #[test]
    fn a_linux_container_is_linux_whatever_its_entrypoint() {
        let dir = files();
        for name in ["m.wasm", "run.sh", "missing"] {
            let decided = decide(Handler::Linux, true, &dir.path().join(name));
            assert!(matches!(decided, Ok(false)), "{name}: {decided:?}");
        }
    }

    #[test]
    fn a_smart_container_runs_a_script_as_linux() {
        let dir = files();
        for installed in [true, false] {
            let decided = decide(Handler::Smart, installed, &dir.path().join("run.sh"));
            assert!(matches!(decided, Ok(false)), "{decided:?}");
        }
    }

    #[test]
    fn a_wasm_container_refuses_a_script() {
        let dir = files();
        let decided = decide(Handler::Wasm, true, &dir.path().join("run.sh"));
        assert!(
            matches!(decided, Err(StartError::NotWasm { .. })),
            "{decided:?}"
        );
    }

    #[test]
    fn a_module_without_an_executor_says_why() {
        let dir = files();
        for handler in [Handler::Wasm, Handler::Smart] {
            let decided = decide(handler, false, &dir.path().join("m.wasm"));
            let Err(err @ StartError::NoExecutor { .. }) = decided else {
                panic!("{decided:?}")
            };
            assert!(
                err.to_string().contains("no wasm executor installed"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_module_is_wasm_only_with_the_guest_view() {
        let dir = files();
        for handler in [Handler::Wasm, Handler::Smart] {
            let decided = decide(handler, true, &dir.path().join("m.wasm"));
            assert!(
                matches!(decided, Err(StartError::NoGuestView)),
                "{decided:?}"
            );
        }
    }

    #[test]
    fn a_missing_entrypoint_is_named() {
        let dir = files();
        let missing = dir.path().join("missing");
        for handler in [Handler::Wasm, Handler::Smart] {
            let decided = decide(handler, true, &missing);
            assert!(
                matches!(
                    decided,
                    Err(StartError::Entrypoint(EntrypointError::NotFound(_)))
                ),
                "{decided:?}"
            );
        }
    }
}
