// The part of an executor's build script that names its engine: sets RUNW_ENGINE_VERSION
// (e.g. "wasmtime 48.0.0") from the workspace's Cargo.lock, which `--version` prints.
// Included by each executor's build.rs with `#[path]`.

#[path = "../src/lockfile.rs"]
#[allow(dead_code)]
mod lockfile;

/// Tells cargo `RUNW_ENGINE_VERSION` for the engine crate `package`, shown as `engine`.
pub fn emit(engine: &str, package: &str) {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock_path = std::path::Path::new(&manifest_dir).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    let version = match lockfile::package_version(&lock, package) {
        Some(version) => version,
        None => {
            println!(
                "cargo:warning=no single {package} version in {}",
                lock_path.display()
            );
            "unknown"
        }
    };
    println!("cargo:rustc-env=RUNW_ENGINE_VERSION={engine} {version}");
}
