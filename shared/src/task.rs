//! [`Task`]: what an executor runs, and its encoding as an executor command line.
//!
//! ```text
//! EXECUTOR [--preopen GUEST HOST | --preopen-ro GUEST HOST]... [--invoke FUNC]
//!          [--precompiled FD:DIGEST[:IDENTITY]] MODULE -- ARG0 ARG1...
//! ```
//! The environment of the executor process is the guest's environment, exactly.
//!
//! `--precompiled` names an inherited descriptor holding a module already compiled by this
//! same executor (its `--precompile` mode), read from the descriptor's current offset to its
//! end, and the [`module_digest`](crate::digest::module_digest) of the module it was compiled
//! from. The runtime passes one only after checking that it wrote it (runw's compile cache);
//! the executor uses it only if `MODULE` has that digest, and compiles `MODULE` otherwise.
//! `IDENTITY`, when given, is the [`file_identity`](crate::digest::file_identity) of the
//! module file the runtime read that digest from: a `MODULE` with that identity is that file,
//! unchanged, and is not read again.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A directory the guest may open: shown to the guest as `guest` (its path in the
/// container), opened by the executor at `host` (where the runtime put it for the executor,
/// e.g. `/proc/self/fd/N` of a descriptor it handed over; nothing else of the executor's
/// filesystem is the guest's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub guest: PathBuf,
    pub host: PathBuf,
    pub read_only: bool,
}

/// One wasm program to run, as the runtime resolved it from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The module (core, component or WAT text), a path inside the container.
    pub module: PathBuf,
    /// An exported function to call instead of the command entry (`module.wasm#func`).
    pub function: Option<String>,
    /// The guest's argv, exactly `process.args` (`argv[0]` included).
    pub args: Vec<OsString>,
    /// The guest's environment, exactly `process.env` (`KEY=value` entries).
    pub env: Vec<OsString>,
    pub preopens: Vec<Preopen>,
    /// The compiled module, when the runtime hands one over (`--precompiled`).
    pub precompiled: Option<PrecompiledRef>,
}

/// An inherited descriptor holding a compiled module, and the digest of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecompiledRef {
    pub fd: i32,
    pub module_digest: String,
    /// The identity of the module file that digest was read from, when it vouches for it.
    pub module_identity: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TaskError {
    #[error("executor task: option {0:?} needs a value")]
    MissingValue(String),
    #[error("executor task: unknown option {0:?}")]
    UnknownOption(String),
    #[error("executor task: no module path")]
    NoModule,
    #[error("executor task: no `--` before the guest's argv")]
    NoArgs,
    #[error("executor task: function name {0:?} is not UTF-8")]
    BadFunction(OsString),
    #[error("executor task: {0:?} is not FD:DIGEST[:IDENTITY]")]
    BadPrecompiled(OsString),
}

const PREOPEN: &str = "--preopen";
const PREOPEN_RO: &str = "--preopen-ro";
const INVOKE: &str = "--invoke";
const PRECOMPILED: &str = "--precompiled";

impl Task {
    /// The executor's argv after `argv[0]`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut out = Vec::with_capacity(self.preopens.len() * 2 + self.args.len() + 4);
        for preopen in &self.preopens {
            out.push(
                if preopen.read_only {
                    PREOPEN_RO
                } else {
                    PREOPEN
                }
                .into(),
            );
            out.push(preopen.guest.clone().into_os_string());
            out.push(preopen.host.clone().into_os_string());
        }
        if let Some(function) = &self.function {
            out.push(INVOKE.into());
            out.push(function.into());
        }
        if let Some(precompiled) = &self.precompiled {
            out.push(PRECOMPILED.into());
            let mut value = format!("{}:{}", precompiled.fd, precompiled.module_digest);
            if let Some(identity) = &precompiled.module_identity {
                value = format!("{value}:{identity}");
            }
            out.push(value.into());
        }
        out.push(self.module.clone().into_os_string());
        out.push("--".into());
        out.extend(self.args.iter().cloned());
        out
    }

    /// Parses the executor's argv after `argv[0]`; `env` is the executor's environment.
    pub fn from_args(
        args: impl IntoIterator<Item = OsString>,
        env: Vec<OsString>,
    ) -> Result<Task, TaskError> {
        let mut args = args.into_iter();
        let mut preopens = Vec::new();
        let mut function = None;
        let mut precompiled = None;
        let mut module = None;
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| TaskError::MissingValue(name.to_owned()))
            };
            match arg.as_bytes() {
                b"--" => {
                    let module = module.ok_or(TaskError::NoModule)?;
                    let guest_args = args.collect();
                    return Ok(Task {
                        module,
                        function,
                        args: guest_args,
                        env,
                        preopens,
                        precompiled,
                    });
                }
                b"--preopen" | b"--preopen-ro" => {
                    let read_only = arg.as_bytes() == PREOPEN_RO.as_bytes();
                    let guest = PathBuf::from(value(&arg.to_string_lossy())?);
                    let host = PathBuf::from(value(&arg.to_string_lossy())?);
                    preopens.push(Preopen {
                        guest,
                        host,
                        read_only,
                    });
                }
                b"--invoke" => {
                    let name = value(INVOKE)?;
                    function = Some(name.into_string().map_err(TaskError::BadFunction)?);
                }
                b"--precompiled" => {
                    let given = value(PRECOMPILED)?;
                    precompiled = Some(
                        PrecompiledRef::parse(&given).ok_or(TaskError::BadPrecompiled(given))?,
                    );
                }
                bytes if bytes.starts_with(b"--") => {
                    return Err(TaskError::UnknownOption(arg.to_string_lossy().into_owned()))
                }
                _ if module.is_none() => module = Some(PathBuf::from(arg)),
                _ => return Err(TaskError::UnknownOption(arg.to_string_lossy().into_owned())),
            }
        }
        Err(if module.is_some() {
            TaskError::NoArgs
        } else {
            TaskError::NoModule
        })
    }

    /// The task this executor process was started with: its argv and its environment.
    pub fn from_process() -> Result<Task, TaskError> {
        use std::os::unix::ffi::OsStringExt;
        let mut args = std::env::args_os();
        let _argv0 = args.next();
        let env = std::env::vars_os()
            .map(|(key, value)| {
                let mut entry = key.into_vec();
                entry.push(b'=');
                entry.extend(value.into_vec());
                OsString::from_vec(entry)
            })
            .collect();
        Task::from_args(args, env)
    }

    /// The environment as `(key, value)` pairs; an entry without `=` is a key with no value.
    pub fn env_pairs(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.env.iter().map(|entry| {
            let bytes = entry.as_bytes();
            match bytes.iter().position(|&b| b == b'=') {
                Some(i) => (
                    OsStr::from_bytes(&bytes[..i]),
                    OsStr::from_bytes(&bytes[i + 1..]),
                ),
                None => (entry.as_os_str(), OsStr::new("")),
            }
        })
    }
}

impl PrecompiledRef {
    fn parse(given: &OsStr) -> Option<PrecompiledRef> {
        let mut fields = given.to_str()?.splitn(3, ':');
        let fd = fields.next()?.parse::<i32>().ok().filter(|fd| *fd > 2)?;
        let digest = fields.next()?;
        let is_hex = !digest.is_empty() && digest.bytes().all(|b| b.is_ascii_hexdigit());
        let identity = match fields.next() {
            None => None,
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                Some(id.to_owned())
            }
            Some(_) => return None,
        };
        is_hex.then(|| PrecompiledRef {
            fd,
            module_digest: digest.to_owned(),
            module_identity: identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Task {
        Task {
            module: "/app/hello.wasm".into(),
            function: Some("run".into()),
            args: vec![
                "/app/hello.wasm".into(),
                "--".into(),
                OsString::from_vec(vec![0xff, b'x']),
            ],
            env: vec!["A=1".into(), "B=x=y".into(), "EMPTY".into()],
            preopens: vec![
                Preopen {
                    guest: "/".into(),
                    host: "/proc/self/fd/5".into(),
                    read_only: true,
                },
                Preopen {
                    guest: "/data".into(),
                    host: "/data".into(),
                    read_only: false,
                },
            ],
            precompiled: Some(PrecompiledRef {
                fd: 7,
                module_digest: "00ff".into(),
                module_identity: Some("2049.12.0.7.1.2.3.4".into()),
            }),
        }
    }

    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn round_trips_any_bytes_and_dashes() {
        let task = sample();
        let parsed = Task::from_args(task.to_args(), task.env.clone()).expect("parse");
        assert_eq!(parsed, task);
    }

    #[test]
    fn env_pairs_split_at_the_first_equals() {
        let task = sample();
        let pairs: Vec<_> = task.env_pairs().collect();
        assert_eq!(pairs[1], (OsStr::new("B"), OsStr::new("x=y")));
        assert_eq!(pairs[2], (OsStr::new("EMPTY"), OsStr::new("")));
    }

    #[test]
    fn malformed_command_lines_are_errors() {
        let parse = |args: &[&str]| Task::from_args(args.iter().map(OsString::from), vec![]);
        assert_eq!(parse(&["--", "x"]), Err(TaskError::NoModule));
        assert_eq!(parse(&["m.wasm"]), Err(TaskError::NoArgs));
        assert_eq!(
            parse(&["--preopen"]),
            Err(TaskError::MissingValue("--preopen".into()))
        );
        assert_eq!(
            parse(&["--preopen", "/"]),
            Err(TaskError::MissingValue("--preopen".into()))
        );
        assert_eq!(
            parse(&["--bogus", "m", "--"]),
            Err(TaskError::UnknownOption("--bogus".into()))
        );
        for bad in [
            "-1:00", "1:00", "7", "7:", "7:xyz", "7:00:", "7:00:1:2", "7:00:x",
        ] {
            let err = Err(TaskError::BadPrecompiled(bad.into()));
            assert_eq!(parse(&["--precompiled", bad, "m", "--"]), err);
        }
    }
}
