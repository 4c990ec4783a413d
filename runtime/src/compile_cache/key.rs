//! What names a cache entry: the module's digest and the engine's identity, hashed.

/// What names an entry: the module's digest and the engine's identity, hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    pub fn new(module_digest: &str, engine_id: &str) -> Key {
        let mut hasher = blake3::Hasher::new_derive_key("runw compile cache entry key v1");
        hasher.update(module_digest.as_bytes());
        hasher.update(&[0]);
        hasher.update(engine_id.as_bytes());
        Key(*hasher.finalize().as_bytes())
    }

    /// The key's bytes, as an entry's header holds them.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The entry's file name: the key in hex.
    pub fn name(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}
