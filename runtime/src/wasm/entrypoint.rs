//! Resolving the entrypoint inside the container and judging it by content.
//!
//! Runs in the init process after pivot_root, so paths are the container's own. An
//! entrypoint without a slash is looked up through `PATH` from `process.env`, as execvp would.
//! `module.wasm#func` selects an exported function (as runwasi accepts).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use runw_shared::ModuleKind;

/// Why the entrypoint cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum EntrypointError {
    #[error("the spec has no process")]
    NoProcess,
    #[error("process.args is empty")]
    NoArgs,
    #[error("entrypoint {0:?} not found in the container")]
    NotFound(String),
    #[error("entrypoint {name:?} is {kind}, not a regular file")]
    NotRegular { name: String, kind: &'static str },
    #[error("cannot read entrypoint {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The entrypoint, resolved.
#[derive(Debug, PartialEq, Eq)]
pub struct Entrypoint {
    pub path: PathBuf,
    pub function: Option<String>,
    /// `None` when the file is not wasm (an ELF binary, a script).
    pub kind: Option<ModuleKind>,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `process.args[0]`; `Err` names the entrypoint when it cannot be found or read.
pub fn resolve(spec: &Spec) -> Result<Entrypoint, EntrypointError> {
    let (path, function) = locate(spec, &|p: &Path| p.is_file())?;
    let kind = match runw_shared::module_kind::of_file(&path) {
        Ok(kind) => kind,
        Err(source) => return Err(EntrypointError::Unreadable { path, source }),
    };
    Ok(Entrypoint {
        path,
        function,
        kind,
    })
}

/// Finds `process.args[0]` as execvp would, `is_file` telling which container paths are
/// files (relative ones are relative to `process.cwd`); returns the path and the function.
pub fn locate(
    spec: &Spec,
    is_file: &dyn Fn(&Path) -> bool,
) -> Result<(PathBuf, Option<String>), EntrypointError> {
    let process = spec.process().as_ref().ok_or(EntrypointError::NoProcess)?;
    let given = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or(EntrypointError::NoArgs)?;
    let env_path = path_of(spec);
    // `file#func` selects a function, unless a file of that exact name exists.
    let (name, function) = match given.rsplit_once('#') {
        Some((file, func)) if !func.is_empty() && find(given, env_path, is_file).is_none() => {
            (file, Some(func.to_owned()))
        }
        _ => (given.as_str(), None),
    };
    let path = find(name, env_path, is_file).ok_or_else(|| not_found(name))?;
    Ok((path, function))
}

/// Why `name` is not an entrypoint: missing, or there but not a regular file.
fn not_found(name: &str) -> EntrypointError {
    use std::os::unix::fs::FileTypeExt;
    let meta = if name.contains('/') {
        std::fs::metadata(name)
    } else {
        Err(std::io::ErrorKind::NotFound.into())
    };
    let kind = match meta.map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => "a FIFO",
        Ok(t) if t.is_char_device() => "a character device",
        Ok(t) if t.is_block_device() => "a block device",
        Ok(t) if t.is_socket() => "a socket",
        Ok(t) if t.is_dir() => "a directory",
        _ => return EntrypointError::NotFound(name.to_owned()),
    };
    EntrypointError::NotRegular {
        name: name.to_owned(),
        kind,
    }
}

/// `PATH` from `process.env`, or the usual default.
fn path_of(spec: &Spec) -> &str {
    let env = spec.process().as_ref().and_then(|p| p.env().as_ref());
    env.into_iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// Where execvp would find program `name` in the container (run after pivot_root), through
/// `PATH` from `process.env`: the lookup the Linux path execs and libcontainer validated.
pub fn find_program(spec: &Spec, name: &str) -> Option<PathBuf> {
    find(name, path_of(spec), &|p: &Path| p.is_file())
}

fn find(name: &str, env_path: &str, is_file: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_file(&path).then_some(path);
    }
    env_path
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| is_file(candidate))
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{Process, Spec};

    use super::*;

    fn spec(args: &[&str], env: &[&str]) -> Spec {
        let mut process = Process::default();
        process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        process.set_env(Some(env.iter().map(|e| e.to_string()).collect()));
        let mut spec = Spec::default();
        spec.set_process(Some(process));
        spec
    }

    /// `locate` in a container whose files are `files`.
    fn locate_in(
        files: &[&str],
        args: &[&str],
        env: &[&str],
    ) -> Result<(PathBuf, Option<String>), EntrypointError> {
        locate(&spec(args, env), &|p: &Path| {
            files.iter().any(|f| Path::new(f) == p)
        })
    }

    #[test]
    fn a_path_is_taken_as_it_is() {
        let found = locate_in(&["/app/m.wasm"], &["/app/m.wasm", "x"], &[]).ok();
        assert_eq!(found, Some((PathBuf::from("/app/m.wasm"), None)));
    }

    #[test]
    fn a_bare_name_is_looked_up_through_the_spec_path() {
        let files = ["/opt/bin/m.wasm", "/usr/bin/m.wasm"];
        let found = locate_in(&files, &["m.wasm"], &["PATH=/nowhere:/opt/bin"]).ok();
        assert_eq!(found, Some((PathBuf::from("/opt/bin/m.wasm"), None)));
        let found = locate_in(&files, &["m.wasm"], &[]).ok();
        assert_eq!(found, Some((PathBuf::from("/usr/bin/m.wasm"), None)));
    }

    #[test]
    fn a_hash_suffix_selects_a_function() {
        let found = locate_in(&["/app/m.wasm"], &["/app/m.wasm#run"], &[]).ok();
        assert_eq!(
            found,
            Some((PathBuf::from("/app/m.wasm"), Some("run".to_owned())))
        );
    }

    #[test]
    fn a_file_named_with_a_hash_is_that_file() {
        let files = ["/app/m.wasm", "/app/m.wasm#run"];
        let found = locate_in(&files, &["/app/m.wasm#run"], &[]).ok();
        assert_eq!(found, Some((PathBuf::from("/app/m.wasm#run"), None)));
        let found = locate_in(&["/app/m.wasm#"], &["/app/m.wasm#"], &[]).ok();
        assert_eq!(found, Some((PathBuf::from("/app/m.wasm#"), None)));
    }

    #[test]
    fn what_is_missing_is_named() {
        let err = locate_in(&[], &["/app/gone.wasm#run"], &[]).err();
        assert!(
            matches!(&err, Some(EntrypointError::NotFound(name)) if name == "/app/gone.wasm"),
            "{err:?}"
        );
        let err = locate_in(&[], &[], &[]).err();
        assert!(matches!(err, Some(EntrypointError::NoArgs)), "{err:?}");
        let mut no_process = Spec::default();
        no_process.set_process(None);
        let err = locate(&no_process, &|_: &Path| true).err();
        assert!(matches!(err, Some(EntrypointError::NoProcess)), "{err:?}");
    }

    #[test]
    fn a_directory_is_not_an_entrypoint() {
        let err = locate_in(&[], &["/"], &[]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("entrypoint \"/\" is a directory, not a regular file")
        );
    }
}
