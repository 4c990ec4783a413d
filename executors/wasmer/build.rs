//! Names the engine for `wasmer-exec --version`.
#[path = "../../shared/build/engine_version.rs"]
mod engine_version;

fn main() {
    engine_version::emit("wasmer", "wasmer");
}
