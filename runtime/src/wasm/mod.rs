//! Wasm workloads: which containers are wasm (`annotations`), what their entrypoint is
//! (`entrypoint`), what the guest may open (`preopens`), and how the executor is found
//! (`executor_binary`) and started (`launch`).

pub mod annotations;
pub mod entrypoint;
pub mod executor_binary;
pub mod launch;
pub mod preopens;
