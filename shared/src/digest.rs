//! The digest that names a module's content, for the runtime's compile cache and for the
//! executor's check that a precompiled artifact was made from the module it is asked to run.

/// BLAKE3 of the module's bytes, lowercase hex.
pub fn module_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_is_blake3_hex() {
        // The BLAKE3 test vector for empty input.
        assert_eq!(
            super::module_digest(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
