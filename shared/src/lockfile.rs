//! Reading a package's version from a `Cargo.lock`: how an executor's build script learns
//! the version of the engine crate it links (cargo tells a build script its own version,
//! not its dependencies'). Also compiled into the executors' build scripts (`#[path]`).

/// The version of `package` in the lock file `lock`, when exactly one version is locked.
pub fn package_version<'a>(lock: &'a str, package: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{package}\"");
    let mut versions = lock
        .split("[[package]]")
        .filter(|entry| entry.lines().any(|line| line.trim() == wanted))
        .filter_map(|entry| {
            entry
                .lines()
                .find_map(|line| line.trim().strip_prefix("version = "))
                .map(|v| v.trim_matches('"'))
        });
    let version = versions.next()?;
    versions.next().is_none().then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "version = 4\n\n[[package]]\nname = \"wasmer\"\nversion = \"7.4.2\"\n\
        source = \"registry\"\n\n[[package]]\nname = \"wasmer-wasix\"\nversion = \"0.704.0\"\n\n\
        [[package]]\nname = \"rand\"\nversion = \"0.8.5\"\n\n[[package]]\nname = \"rand\"\n\
        version = \"0.9.1\"\n";

    #[test]
    fn finds_the_exact_package() {
        assert_eq!(package_version(LOCK, "wasmer"), Some("7.4.2"));
        assert_eq!(package_version(LOCK, "wasmer-wasix"), Some("0.704.0"));
        assert_eq!(package_version(LOCK, "wasm"), None);
    }

    #[test]
    fn two_locked_versions_are_no_answer() {
        assert_eq!(package_version(LOCK, "rand"), None);
    }

    #[test]
    fn the_workspace_lock_names_each_engine() {
        let lock = include_str!("../../Cargo.lock");
        for engine in ["wasmtime", "wasmer", "wasmedge-sdk"] {
            assert!(package_version(lock, engine).is_some(), "{engine}");
        }
    }
}
