//! The wasm executors the conformance suite runs against, and what each cannot do.
//!
//! `ci/build` builds every executor it can and puts it beside runw; the suite runs each test
//! once per executor (`wasmtime::test`, `wasmer::test`, `wasmedge::test`), so a difference
//! between engines is a failing line, not a missing test. A documented limitation is
//! asserted, not skipped; an executor that was not built has its tests ignored, not passed.

use std::path::PathBuf;

/// Something an engine may lack; the README's executor table lists the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Components (`wasi:cli/command`, WASI preview 2).
    Components,
    /// Relative paths resolving in the spec's cwd (the `.` preopen).
    RelativePathsInCwd,
    /// A compiled form that runw's compile cache keeps (interpreters have none).
    CompiledForm,
    /// Hard links (`path_link`) made on disk.
    HardLinks,
    /// Preopens named exactly by their guest paths (`/`, `/data`, `.`), and no others.
    ExactPreopenNames,
    /// `path_remove_directory` of `DIR/` (a trailing slash) removes `DIR`.
    RmdirTrailingSlash,
    /// TCP sockets from `std::net` in a core (wasm32-wasip1) module.
    CoreModuleSockets,
    /// WASIX sockets (`wasix_32v1` `sock_*`, `resolve`) for core modules.
    WasixSockets,
    /// WasmEdge's socket extension (`sock_*` in `wasi_snapshot_preview1`) for core modules.
    WasmedgeSockets,
}

pub struct Executor {
    pub name: &'static str,
    pub path: PathBuf,
}

impl Executor {
    /// The executor `name`, built by `ci/build` beside runw; panics if it was not built.
    pub fn named(name: &'static str) -> Executor {
        let path = crate::runw::binary().parent().unwrap().join(name);
        assert!(
            path.exists(),
            "{} is missing: ci/build builds the executors",
            path.display()
        );
        Executor { name, path }
    }

    /// Why this executor lacks `feature`, or `None` when it has it.
    pub fn lacks(&self, feature: Feature) -> Option<&'static str> {
        match (self.name, feature) {
            ("wasmer-exec", Feature::Components) => Some("wasmer runs core modules only"),
            ("wasmedge-exec", Feature::Components) => Some("wasmedge-exec runs core modules only"),
            ("wasmedge-exec", Feature::CompiledForm) => {
                Some("WasmEdge built without LLVM interprets: there is nothing to compile ahead")
            }
            ("wasmedge-exec", Feature::ExactPreopenNames) => {
                Some("WasmEdge drops the leading `/` of a preopen's name other than `/`")
            }
            ("wasmer-exec", Feature::HardLinks) => {
                Some("wasmer-wasix cannot reach the filesystem's hard_link: wasmer-exec refuses links (ENOTSUP)")
            }
            ("wasmtime-exec", Feature::CoreModuleSockets) => Some(
                "wasmtime gives core wasip1 modules no standard sockets: components have wasi:sockets",
            ),
            ("wasmer-exec" | "wasmedge-exec", Feature::CoreModuleSockets) => {
                Some("Rust std has no sockets on wasm32-wasip1: wasmer-exec offers WASIX sockets, wasmedge-exec WasmEdge's socket extension")
            }

            ("wasmtime-exec" | "wasmedge-exec", Feature::WasixSockets) => {
                Some("WASIX is wasmer's: the module's `wasix_32v1` imports are unknown (exit 126)")
            }
            ("wasmtime-exec" | "wasmer-exec", Feature::WasmedgeSockets) => {
                Some("WasmEdge's socket calls are its own: `sock_open` is an unknown import (exit 126)")
            }
            _ => None,
        }
    }
}

/// Generates one `#[test]` per executor for each test function `fn name(&Executor)`.
#[macro_export]
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod wasmtime {
            $(#[test] fn $test() { super::$test(&$crate::Executor::named("wasmtime-exec")) })*
        }
        mod wasmer {
            $(#[test] fn $test() { super::$test(&$crate::Executor::named("wasmer-exec")) })*
        }
        // wasmedge-exec is built only where a static libwasmedge is found (always in CI;
        // ci/build says so): elsewhere each of its tests is ignored, and counted as such.
        #[cfg(wasmedge_built)]
        mod wasmedge {
            $(#[test] fn $test() { super::$test(&$crate::Executor::named("wasmedge-exec")) })*
        }
        #[cfg(not(wasmedge_built))]
        mod wasmedge {
            $(
                #[test]
                #[ignore = "wasmedge-exec was not built: no libwasmedge"]
                fn $test() {}
            )*
        }
    };
}
