//! Container ids name a directory under the state root, so they are checked before any
//! command touches the disk: runc's rule, letters, digits and `_ + - .`, never `.` or `..`.

use anyhow::{bail, Result};

pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("invalid container id: it is empty");
    }
    if id == "." || id == ".." {
        bail!("invalid container id {id:?}: it is a path component");
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        bail!("invalid container id {id:?}: character {bad:?} is not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "abc-123", "k8s_POD.x+1", "4f1a..b"] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_paths_and_empties() {
        for id in ["", ".", "..", "a/b", "../x", "/abs", "a b", "ü"] {
            assert!(validate(id).is_err(), "{id:?}");
        }
    }
}
