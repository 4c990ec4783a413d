//! What runs as the container's process once libcontainer has finished init.
//!
//! `RunwExecutor` is handed to every `ContainerBuilder`. libcontainer calls
//! [`Executor::validate`] in the init process after pivot_root, before it signals the runtime
//! that the container is created, and [`Executor::exec`] after the start signal. Today every
//! container is an ordinary Linux process; the choice between Linux and wasm is made here and
//! nowhere else.

use libcontainer::oci_spec::runtime::Spec;
use libcontainer::workload::default;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};

#[derive(Clone, Default)]
pub struct RunwExecutor;

impl Executor for RunwExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        default::get_executor().validate(spec)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        crate::stdio::repair_dev_null()
            .map_err(|err| ExecutorError::Other(format!("failed to repair stdio: {err}")))?;
        default::get_executor().exec(spec)
    }
}
