//! The harness for runw's end-to-end tests: real bundles on a busybox-static rootfs, the
//! real `runw` binary with a private state root, and checks that nothing is left behind.
//!
//! Tests need root and Debian's busybox-static (`ci/test` installs it); without them they
//! fail saying so, never pass vacuously.
#![allow(clippy::unwrap_used)]

pub mod bundle;
pub mod console;
pub mod containerd;
pub mod cri;
pub mod exe_rewrite;
pub mod executor;
pub mod leftovers;
pub mod pod_network;
pub mod podman;
pub mod rootless;
pub mod runw;
pub mod socket_guests;
pub mod wasm_gen;

pub use bundle::Bundle;
pub use executor::{Executor, Feature};
pub use runw::{Outcome, Runw};

/// A container id unique to this test process and call site.
pub fn unique_id(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("runwtest-{name}-{}-{n}", std::process::id())
}
