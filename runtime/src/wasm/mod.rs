//! Wasm workloads: which containers are wasm (`annotations`), what their entrypoint is
//! (`entrypoint`), what the guest may open (`preopens`, the policy) and how it gets it
//! (`guest_view`, with `mountinfo`), how the executor (found by [`crate::executor_binary`])
//! is started (`launch`), and the module as the host sees it before the container exists
//! (`host_module`, for the compile cache).

pub mod annotations;
pub mod artifact_channel;
pub mod entrypoint;
pub mod guest_view;
pub mod host_module;
pub mod launch;
pub mod mountinfo;
pub mod preopens;
