//! wasmer-exec's engine identity (`--engine-id`), part of the key of every artifact runw's
//! compile cache keeps for it.
//!
//! wasmer's deterministic id names the compiler but neither wasmer's version nor the CPU
//! features code is tuned to, and its deserialisation checks little: the identity names all
//! three. The version is that of the `wasmer-compiler` crate actually linked (which owns the
//! artifact format, and which `wasmer` pins to its own version exactly), not a number
//! written here, so that an update of wasmer never reuses the old build's artifacts.

/// The identity of `engine`, compiling for this host.
pub fn of(engine: &wasmer::Engine) -> String {
    let target = wasmer::sys::Target::default();
    format!(
        "wasmer-exec {} wasmer-{} {} {} {:?} {:?}",
        env!("CARGO_PKG_VERSION"),
        wasmer_compiler::VERSION,
        engine.deterministic_id(),
        engine.artifact_format(),
        target.triple().to_string(),
        target.cpu_features()
    )
}

#[cfg(test)]
mod tests {
    /// The version Cargo.lock resolved for `crate_name`.
    fn locked_version(crate_name: &str) -> Option<&'static str> {
        let lock = include_str!("../../../Cargo.lock");
        let entry = format!("name = \"{crate_name}\"\nversion = \"");
        let start = lock.find(&entry)? + entry.len();
        lock[start..].split('"').next()
    }

    #[test]
    fn the_id_names_the_wasmer_that_is_linked() {
        let wasmer = locked_version("wasmer");
        assert!(wasmer.is_some(), "wasmer is not in Cargo.lock");
        assert_eq!(Some(wasmer_compiler::VERSION), wasmer);
        let id = super::of(&wasmer::Engine::default());
        assert!(
            id.contains(&format!(" wasmer-{} ", wasmer_compiler::VERSION)),
            "{id}"
        );
    }
}
