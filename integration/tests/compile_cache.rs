//! The compile cache, once per executor: a module is compiled once per node and reused; an
//! entry that runw did not write (corrupt, truncated, foreign) is rebuilt and never run;
//! concurrent starts compile once; the size is bounded least-recently-used first; the
//! artifact reaches the container read-only.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use runw_integration::bundle::guest;
use runw_integration::{conformance, leftovers, unique_id, Bundle, Executor, Feature, Runw};

conformance!(
    a_second_start_uses_what_the_first_compiled,
    entries_runw_did_not_write_are_rebuilt_never_run,
    twenty_concurrent_starts_compile_once,
    the_cache_is_bounded_least_recently_used_first,
    the_artifact_cannot_be_written_through_the_container,
    an_unsafe_cache_dir_is_refused_and_the_container_still_runs,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");
const HELLO: Option<&str> = Some("hello from wasm\n");

/// Where an entry's artifact starts: after the header, at a page boundary (64 KiB).
const ARTIFACT_AT: usize = 64 << 10;

fn hello() -> Bundle {
    Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[WASM])
}

/// `runw --debug --log LOG run` of `bundle`, which must exit 0 (printing `expect_stdout`
/// when given); returns the log's messages.
fn run_logged(runw: &Runw, bundle: &Bundle, expect_stdout: Option<&str>) -> Vec<String> {
    let id = unique_id("cache");
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = runw.run([
        "--debug",
        "--log-format",
        "json",
        "--log",
        log.path().to_str().unwrap(),
        "run",
        "--bundle",
        bundle.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    if let Some(expected) = expect_stdout {
        assert_eq!(out.stdout, expected, "{out:?}");
    }
    leftovers::assert_none(runw, &id, Some(bundle.path()));
    messages(log.path())
}

fn messages(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| r["msg"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn count(messages: &[String], what: &str) -> usize {
    messages.iter().filter(|m| m.contains(what)).count()
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(cache.join("entries")) else {
        return Vec::new();
    };
    let mut entries: Vec<PathBuf> = dir.map(|e| e.unwrap().path()).collect();
    entries.sort();
    entries
}

/// For an engine with no compiled form, what the cache does instead: nothing, and the
/// container still runs. Returns true when that was the case (and asserted).
fn interpreter_keeps_nothing(exec: &Executor) -> bool {
    let Some(why) = exec.lacks(Feature::CompiledForm) else {
        return false;
    };
    let runw = Runw::with_executor(exec);
    for _ in 0..2 {
        let log = run_logged(&runw, &hello(), HELLO);
        // runw says once (`--debug`) that there is nothing to look up, and does nothing else.
        let nothing = "compile cache: nothing to look up";
        assert_eq!(count(&log, nothing), 1, "{why}: {log:#?}");
        assert_eq!(count(&log, "compile cache:"), 1, "{why}: {log:#?}");
    }
    assert!(
        entries(runw.cache_dir()).is_empty(),
        "{why}: nothing is cached"
    );
    true
}

fn a_second_start_uses_what_the_first_compiled(exec: &Executor) {
    if interpreter_keeps_nothing(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let bundle = hello();
    let first = run_logged(&runw, &bundle, HELLO);
    assert_eq!(count(&first, "compile cache: compiled"), 1, "{first:#?}");
    let [entry] = entries(runw.cache_dir()).try_into().unwrap();
    let written = std::fs::read(&entry).unwrap();

    let second = run_logged(&runw, &bundle, HELLO);
    assert_eq!(
        (
            count(&second, "compile cache: hit"),
            count(&second, "compile cache: compiled")
        ),
        (1, 0),
        "{second:#?}"
    );
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        written,
        "a hit must not rewrite the entry"
    );

    let info = runw.ok(["cache", "info"]);
    assert!(info.stdout.contains("entries: 1"), "{info:?}");
    let cleared = runw.ok(["cache", "clear"]);
    assert!(
        cleared.stdout.starts_with("removed 1 entries"),
        "{cleared:?}"
    );
    assert!(entries(runw.cache_dir()).is_empty());
    let third = run_logged(&runw, &bundle, HELLO);
    assert_eq!(
        count(&third, "compile cache: compiled"),
        1,
        "cleared, so compiled again: {third:#?}"
    );
}

fn entries_runw_did_not_write_are_rebuilt_never_run(exec: &Executor) {
    if interpreter_keeps_nothing(exec) {
        return;
    }
    // A real artifact of another module (print_env), compiled into a cache with another
    // secret: what an attacker who can write the cache dir but not read the secret makes.
    let other = Runw::with_executor(exec);
    let mut env_bundle = Bundle::wasm(&guest("print_env"), "/env.wasm", &["/env.wasm"], &[WASM]);
    env_bundle.edit(|c| c["process"]["env"] = serde_json::json!(["FORGED=yes"]));
    run_logged(&other, &env_bundle, None);
    let [foreign] = entries(other.cache_dir()).try_into().unwrap();
    let foreign = std::fs::read(foreign).unwrap();

    let runw = Runw::with_executor(exec);
    let bundle = hello();
    run_logged(&runw, &bundle, HELLO);
    let [entry] = entries(runw.cache_dir()).try_into().unwrap();
    let valid = std::fs::read(&entry).unwrap();

    let mut corrupt = valid.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    // The foreign artifact under hello's key: header fields copied from the valid entry, so
    // only the MAC can tell.
    let mut relabelled = valid[..48].to_vec();
    relabelled[40..48].copy_from_slice(&((foreign.len() - ARTIFACT_AT) as u64).to_le_bytes());
    relabelled.extend_from_slice(&foreign[48..]);
    let cases: [(&str, Vec<u8>); 5] = [
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("header only", valid[..ARTIFACT_AT].to_vec()),
        ("corrupt", corrupt),
        ("foreign", relabelled.clone()),
        ("not an entry", b"#!/bin/sh\necho pwned\n".to_vec()),
    ];
    for (case, bytes) in cases {
        std::fs::write(&entry, &bytes).unwrap();
        let log = run_logged(&runw, &bundle, HELLO);
        assert_eq!(count(&log, "does not verify"), 1, "{case}: {log:#?}");
        assert_eq!(
            count(&log, "compile cache: compiled"),
            1,
            "{case}: rebuilt: {log:#?}"
        );
        assert_ne!(
            std::fs::read(&entry).unwrap(),
            bytes,
            "{case}: the bad entry is still there"
        );
        let again = run_logged(&runw, &bundle, HELLO);
        assert_eq!(
            count(&again, "compile cache: hit"),
            1,
            "{case}: the rebuilt entry verifies: {again:#?}"
        );
    }
}

fn twenty_concurrent_starts_compile_once(exec: &Executor) {
    if interpreter_keeps_nothing(exec) {
        return;
    }
    let shared = tempfile::Builder::new()
        .prefix("runw-cache-")
        .tempdir()
        .unwrap();
    let cache = shared.path().join("cache");
    let bundle = hello();
    let logs: Vec<Vec<String>> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..20)
            .map(|_| {
                let cache = &cache;
                let bundle = &bundle;
                scope.spawn(move || {
                    let mut runw = Runw::with_executor(exec);
                    runw.share_cache(cache);
                    run_logged(&runw, bundle, HELLO)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let compiled: usize = logs
        .iter()
        .map(|l| count(l, "compile cache: compiled"))
        .sum();
    let hits: usize = logs.iter().map(|l| count(l, "compile cache: hit")).sum();
    assert_eq!((compiled, hits), (1, 19), "{logs:#?}");
    assert_eq!(entries(&cache).len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(cache.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn the_cache_is_bounded_least_recently_used_first(exec: &Executor) {
    if interpreter_keeps_nothing(exec) {
        return;
    }
    let modules = ["hello", "exit_with", "print_env"];
    let bundles: Vec<Bundle> = modules
        .iter()
        .map(|m| Bundle::wasm(&guest(m), "/m.wasm", &["/m.wasm"], &[WASM]))
        .collect();
    let outputs = [HELLO, Some(""), None];
    // Entry names and sizes, from an unbounded cache: keys depend on module and engine only.
    let scratch = Runw::with_executor(exec);
    let mut sizes = Vec::new();
    for (bundle, out) in bundles.iter().zip(outputs) {
        let before = entries(scratch.cache_dir());
        run_logged(&scratch, bundle, out);
        let new = entries(scratch.cache_dir())
            .into_iter()
            .find(|e| !before.contains(e))
            .unwrap();
        sizes.push((
            new.file_name().unwrap().to_owned(),
            std::fs::metadata(&new).unwrap().len(),
        ));
    }
    let (a, b, c) = (&sizes[0], &sizes[1], &sizes[2]);
    assert!(
        a.0 != b.0 && b.0 != c.0 && a.0 != c.0,
        "three modules, three keys"
    );

    // Room for A and C, not for all three: after A, B, A again, C, the least recently used
    // (B) goes.
    let mut runw = Runw::with_executor(exec);
    runw.env("RUNW_CACHE_MAX", &(a.1 + c.1 + b.1 / 2).to_string());
    for i in [0, 1, 0, 2] {
        // mtime has a resolution of a clock tick: keep uses apart.
        std::thread::sleep(std::time::Duration::from_millis(20));
        run_logged(&runw, &bundles[i], outputs[i]);
    }
    let names: Vec<_> = entries(runw.cache_dir())
        .iter()
        .map(|e| e.file_name().unwrap().to_owned())
        .collect();
    let mut expected = vec![a.0.clone(), c.0.clone()];
    expected.sort();
    assert_eq!(
        names, expected,
        "B was used least recently and should be the one evicted"
    );
}

fn the_artifact_cannot_be_written_through_the_container(exec: &Executor) {
    if interpreter_keeps_nothing(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(&guest("busy_loop"), "/busy.wasm", &["/busy.wasm"], &[WASM]);
    let id = unique_id("cache-ro");
    let mut child = runw.command(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    let mut child = child.stdout(std::process::Stdio::piped()).spawn().unwrap();
    // The guest prints "spinning" once it runs: the executor has loaded the artifact.
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "spinning\n");
    let [entry] = entries(runw.cache_dir()).try_into().unwrap();
    let before = std::fs::read(&entry).unwrap();
    let key = entry.file_name().unwrap().to_str().unwrap().to_owned();
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();

    // The executor (the container's PID 1) holds the artifact. Reopening that descriptor for
    // writing through /proc (what a process in the container, or a sidecar sharing the pod's
    // PID namespace, could try) must fail, even for the host's root.
    let mut held = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let fd = fd.unwrap().path();
        let Ok(target) = std::fs::read_link(&fd) else {
            continue;
        };
        if !target.to_string_lossy().ends_with(&key) {
            continue;
        }
        held += 1;
        let err = std::fs::OpenOptions::new()
            .append(true)
            .open(&fd)
            .unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EROFS),
            "{}: {err}",
            fd.display()
        );
    }
    assert_eq!(held, 1, "the executor should hold the artifact once");
    runw.ok(["kill", &id, "KILL"]);
    child.wait().unwrap();
    assert_eq!(std::fs::read(&entry).unwrap(), before);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn an_unsafe_cache_dir_is_refused_and_the_container_still_runs(exec: &Executor) {
    let open_dir = tempfile::Builder::new()
        .prefix("runw-cache-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut runw = Runw::with_executor(exec);
    runw.share_cache(open_dir.path());
    let log = run_logged(&runw, &hello(), HELLO);
    assert_eq!(count(&log, "it must be 0's alone"), 1, "{log:#?}");
    assert!(
        !open_dir.path().join("secret").exists(),
        "nothing is written to an unsafe dir"
    );
    runw.run(["cache", "info"])
        .assert_one_line_error(&open_dir.path().display().to_string());
}
