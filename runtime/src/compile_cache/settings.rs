//! What an operator sets for the compile cache, from runw's environment (that of containerd,
//! CRI-O or podman): where it lives, how large it may grow, and what one compile may cost.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RUNW_CACHE` | on | `off` disables the cache |
//! | `RUNW_CACHE_DIR` | `/var/cache/runw`; rootless: `$XDG_CACHE_HOME/runw` or `~/.cache/runw` | the cache directory |
//! | `RUNW_CACHE_MAX` | `1G` | size bound; least recently used entries go first |
//! | `RUNW_COMPILE_TIMEOUT` | `60` | seconds one host-side compile may take, waiting included |
//! | `RUNW_COMPILE_MEMORY` | `4G` | address space of one compile (the bound for a pod without a memory limit) |
//! | `RUNW_COMPILE_JOBS` | half the CPUs, at least 1 | compiles at once on the node |

use std::path::PathBuf;
use std::time::Duration;

/// Where the cache lives unless `RUNW_CACHE_DIR` says otherwise.
pub const DEFAULT_DIR: &str = "/var/cache/runw";
/// The size bound unless `RUNW_CACHE_MAX` says otherwise.
pub const DEFAULT_MAX: u64 = 1 << 30;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MEMORY: u64 = 4 << 30;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}={value:?} is not {what}")]
pub struct BadSetting {
    name: &'static str,
    value: String,
    what: &'static str,
}

/// What bounds one host-side compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// Wall time, from asking for a compile slot to the artifact written.
    pub timeout: Duration,
    /// The compiler's address space (`RLIMIT_AS`).
    pub memory: u64,
    /// Compiles running at once on the node.
    pub jobs: usize,
}

/// The cache's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub limits: CompileLimits,
}

impl Settings {
    /// The settings in runw's environment; `None` when `RUNW_CACHE=off`.
    /// A rootless runw's default directory is the user's own ([`crate::rootless::cache_dir`]).
    pub fn from_env() -> Result<Option<Settings>, BadSetting> {
        let default_dir =
            crate::rootless::cache_dir().unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        Self::from_lookup(|name| std::env::var(name).ok(), default_dir)
    }

    fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
        default_dir: PathBuf,
    ) -> Result<Option<Settings>, BadSetting> {
        if var("RUNW_CACHE").as_deref() == Some("off") {
            return Ok(None);
        }
        let parse = |name: &'static str, what: &'static str, parse: fn(&str) -> Option<u64>| {
            match var(name) {
                None => Ok(None),
                Some(value) => parse(&value)
                    .map(Some)
                    .ok_or(BadSetting { name, value, what }),
            }
        };
        let size = "a size (bytes, or a number with K, M or G)";
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let jobs = parse("RUNW_COMPILE_JOBS", "a number of compiles above 0", |v| {
            v.trim().parse::<u64>().ok().filter(|&n| n > 0)
        })?;
        Ok(Some(Settings {
            dir: var("RUNW_CACHE_DIR").map_or(default_dir, PathBuf::from),
            max_bytes: parse("RUNW_CACHE_MAX", size, parse_size)?.unwrap_or(DEFAULT_MAX),
            limits: CompileLimits {
                timeout: parse("RUNW_COMPILE_TIMEOUT", "a number of seconds above 0", |v| {
                    v.trim().parse::<u64>().ok().filter(|&n| n > 0)
                })?
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
                memory: parse("RUNW_COMPILE_MEMORY", size, parse_size)?.unwrap_or(DEFAULT_MEMORY),
                jobs: jobs.map_or((cpus / 2).max(1), |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            },
        }))
    }
}

/// `123`, `300K`, `512M`, `2G` (powers of 1024).
pub fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, shift) = match value.char_indices().last()? {
        (i, 'K' | 'k') => (&value[..i], 10),
        (i, 'M' | 'm') => (&value[..i], 20),
        (i, 'G' | 'g') => (&value[..i], 30),
        _ => (value, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<Settings>, BadSetting> {
        Settings::from_lookup(
            |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            },
            PathBuf::from(DEFAULT_DIR),
        )
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("300K"), Some(300 << 10));
        assert_eq!(parse_size(" 512M "), Some(512 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999G"), None);
    }

    #[test]
    fn defaults_and_overrides() {
        let default = settings(&[]).expect("valid").expect("on");
        assert_eq!(default.dir, PathBuf::from(DEFAULT_DIR));
        assert_eq!(default.limits.timeout, DEFAULT_TIMEOUT);
        assert!(default.limits.jobs >= 1);
        let set = settings(&[
            ("RUNW_COMPILE_TIMEOUT", "5"),
            ("RUNW_COMPILE_MEMORY", "512M"),
            ("RUNW_COMPILE_JOBS", "3"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(
            set.limits,
            CompileLimits {
                timeout: Duration::from_secs(5),
                memory: 512 << 20,
                jobs: 3
            }
        );
        assert_eq!(settings(&[("RUNW_CACHE", "off")]), Ok(None));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("RUNW_COMPILE_TIMEOUT", "0"),
            ("RUNW_COMPILE_JOBS", "x"),
            ("RUNW_CACHE_MAX", "1T"),
        ] {
            let err = settings(&[(name, value)]).expect_err("invalid");
            assert!(
                err.to_string()
                    .starts_with(&format!("{name}={value:?} is not")),
                "{err}"
            );
        }
    }
}
