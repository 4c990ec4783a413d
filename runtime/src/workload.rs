//! What runs as the container's process once libcontainer has finished init: the choice
//! between an ordinary Linux process and a wasm executor is made here and nowhere else.
//!
//! `RunwExecutor` is built by runw before the container exists ([`RunwExecutor::for_spec`]):
//! for a container whose annotations ask for wasm it opens the executor binary then, while
//! the host's filesystem is still visible. libcontainer calls [`Executor::validate`] in the
//! init process after pivot_root, before it reports the container created (an error there
//! fails `create`), and [`Executor::exec`] after the start signal.

use std::sync::{Arc, OnceLock};

use libcontainer::oci_spec::runtime::Spec;
use libcontainer::workload::default;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use runw_shared::Task;

use crate::wasm::annotations::{self, Handler};
use crate::wasm::{entrypoint, executor_binary, launch};

#[derive(Clone)]
pub struct RunwExecutor {
    handler: Handler,
    /// The wasm executor, opened before pivot_root; `None` for Linux containers, and for
    /// smart ones on a node with no executor installed.
    executor: Option<Arc<executor_binary::ExecutorBinary>>,
    /// What `validate` decided: a wasm task, or `None` for a Linux process.
    decision: Arc<OnceLock<Option<Task>>>,
}

impl RunwExecutor {
    /// The executor for a container with this spec. Fails, before anything is created, for a
    /// wasm container when no wasm executor is installed.
    pub fn for_spec(spec: &Spec) -> Result<Self, executor_binary::ExecutorBinaryError> {
        let handler = annotations::handler(spec.annotations().as_ref());
        let executor = match handler {
            Handler::Linux => None,
            Handler::Wasm => Some(Arc::new(executor_binary::open()?)),
            Handler::Smart => executor_binary::open().ok().map(Arc::new),
        };
        Ok(RunwExecutor { handler, executor, decision: Arc::default() })
    }

    /// The executor for a process exec'd into an existing container (`runw exec`): wasm when
    /// the container is and the program is a module, Linux otherwise, so that a shell or a
    /// debugging tool can still be exec'd into a wasm container.
    pub fn for_exec(spec: &Spec) -> Result<Self, executor_binary::ExecutorBinaryError> {
        let mut executor = Self::for_spec(spec)?;
        if executor.handler == Handler::Wasm {
            executor.handler = Handler::Smart;
        }
        Ok(executor)
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
            (_, Some(_)) => Ok(Some(launch::task(spec, entry.path, entry.function))),
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
                let err = launch::exec(executor, &task);
                Err(ExecutorError::Other(format!("failed to exec {}: {err}", executor.name)))
            }
            _ => default::get_executor().exec(spec),
        }
    }
}
