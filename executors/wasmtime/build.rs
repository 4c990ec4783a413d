//! Names the engine for `wasmtime-exec --version`.
#[path = "../../shared/build/engine_version.rs"]
mod engine_version;

fn main() {
    engine_version::emit("wasmtime", "wasmtime");
}
