//! Links wasmedge-exec with GNU ld: a static-pie binary holding libwasmedge's C++ (static
//! initialisers, libstdc++) linked by rust-lld crashed in `_init` here; GNU ld's works.
fn main() {
    println!("cargo:rustc-link-arg-bins=-fuse-ld=bfd");
}
