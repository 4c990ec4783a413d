//! wasmtime-exec's engine identity (`--engine-id`), part of the key of every artifact runw's
//! compile cache keeps for it.
//!
//! wasmtime's precompile compatibility hash covers its version, the target and every
//! code-generation setting of the config. It is fed to BLAKE3, not to std's `DefaultHasher`,
//! whose algorithm may change between Rust releases: a runw node keeps its cache across
//! rebuilds of the executor, and the identity must change only when the engine does.

use std::hash::{Hash, Hasher};

use wasmtime::Engine;

/// The identity of `engine` (or, when it could not be built, of the reason).
pub fn of(engine: &wasmtime::Result<Engine>) -> String {
    let mut hasher = Blake3Hasher::default();
    match engine {
        Ok(engine) => engine.precompile_compatibility_hash().hash(&mut hasher),
        Err(err) => err.to_string().hash(&mut hasher),
    }
    format!(
        "wasmtime-exec {} wasmtime {}",
        env!("CARGO_PKG_VERSION"),
        hasher.0.finalize().to_hex()
    )
}

/// A [`Hasher`] that feeds BLAKE3: the same bytes give the same digest with any Rust release.
#[derive(Default)]
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest's first 8 bytes; [`of`] uses the whole digest.
    fn finish(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0.finalize().as_bytes()[..8]);
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::Config;

    use super::*;

    #[test]
    fn the_hasher_is_blake3_of_the_bytes_written() {
        let mut hasher = Blake3Hasher::default();
        hasher.write(b"abc");
        assert_eq!(
            hasher.0.finalize().to_hex().as_str(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn the_id_follows_the_engine_settings_and_nothing_else() {
        let engine = || Engine::new(&Config::new());
        assert_eq!(of(&engine()), of(&engine()));
        let mut other = Config::new();
        other.cranelift_opt_level(wasmtime::OptLevel::None);
        assert_ne!(of(&engine()), of(&Engine::new(&other)));
        assert!(of(&engine()).starts_with("wasmtime-exec "));
    }
}
