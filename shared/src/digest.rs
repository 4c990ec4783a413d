//! The digest that names a module's content, for the runtime's compile cache and for the
//! executor's check that a precompiled artifact was made from the module it is asked to run.

/// BLAKE3 of the module's bytes, lowercase hex.
pub fn module_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// What identifies a file's content without reading it, as `stat` reports it: device,
/// inode, birth time (where the filesystem keeps one), size, and modification and change
/// times to the nanosecond, dot-separated decimals. The kernel sets the change time on
/// every write, rename or attribute change, and nobody can set it back but by setting the
/// system clock; so equal identities mean the same, unchanged file, provided the change
/// time was not in the same clock tick as the read it vouches for (see the runtime's
/// compile cache).
pub fn file_identity(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}.{}.{}.{}.{}.{}.{}.{}",
        meta.dev(),
        meta.ino(),
        born,
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_write_changes_the_identity() {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().expect("file");
        let before = super::file_identity(&file.as_file().metadata().expect("stat"));
        let again = super::file_identity(&std::fs::metadata(file.path()).expect("stat"));
        assert_eq!(
            before, again,
            "the same file, unchanged, by path or descriptor"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        file.write_all(b"x").expect("write");
        let after = super::file_identity(&file.as_file().metadata().expect("stat"));
        assert_ne!(before, after);
    }

    #[test]
    fn digest_is_blake3_hex() {
        // The BLAKE3 test vector for empty input.
        assert_eq!(
            super::module_digest(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
