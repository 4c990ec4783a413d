//! Links wasmedge-exec with GNU ld: a static-pie binary holding libwasmedge's C++ (static
//! initialisers, libstdc++) linked by rust-lld crashed in `_init` here; GNU ld's works.
//! Names the engine for `wasmedge-exec --version` (the SDK's version is the C library's).
#[path = "../../shared/build/engine_version.rs"]
mod engine_version;

fn main() {
    println!("cargo:rustc-link-arg-bins=-fuse-ld=bfd");
    engine_version::emit("WasmEdge", "wasmedge-sdk");
}
