//! Tells the suites whether ci/build built wasmedge-exec (it does only where libwasmedge is
//! installed): `cfg(wasmedge_built)`.
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wasmedge_built)");
    println!("cargo:rerun-if-env-changed=RUNW_BIN");
    // OUT_DIR is <target>/<profile>/build/<pkg>/out; runw and the executors are in <profile>.
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let Some(profile_dir) = out.ancestors().nth(3) else {
        return;
    };
    let executor = profile_dir.join("wasmedge-exec");
    println!("cargo:rerun-if-changed={}", executor.display());
    if executor.exists() {
        println!("cargo:rustc-cfg=wasmedge_built");
    }
}
