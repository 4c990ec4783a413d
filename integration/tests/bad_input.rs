//! Bad input: each case fails with one line naming what is wrong, a non-zero exit, and
//! leaves no state dir, cgroup or mount behind.
#![allow(clippy::unwrap_used)]

use runw_integration::{leftovers, unique_id, Bundle, Runw};

fn create(runw: &Runw, bundle: &std::path::Path, id: &str) -> runw_integration::Outcome {
    runw.run(["create", "--bundle", bundle.to_str().unwrap(), id])
}

#[test]
fn missing_bundle() {
    let runw = Runw::new();
    let id = unique_id("nobundle");
    create(&runw, std::path::Path::new("/nonexistent/bundle"), &id)
        .assert_one_line_error("/nonexistent/bundle");
    leftovers::assert_none(&runw, &id, None);
}

#[test]
fn malformed_config() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["true"]);
    std::fs::write(bundle.config_path(), "{ this is not json").unwrap();
    let id = unique_id("malformed");
    create(&runw, bundle.path(), &id).assert_one_line_error("config.json");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn incomplete_config() {
    let runw = Runw::new();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 3] = [
        ("process.args", |c| {
            c["process"]["args"] = serde_json::json!([])
        }),
        ("root", |c| {
            c.as_object_mut().unwrap().remove("root");
        }),
        ("linux", |c| {
            c.as_object_mut().unwrap().remove("linux");
        }),
    ];
    for (field, change) in cases {
        let mut bundle = Bundle::new(&["true"]);
        bundle.edit(change);
        let id = unique_id("incomplete");
        create(&runw, bundle.path(), &id).assert_one_line_error(field);
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

#[test]
fn rootfs_that_does_not_exist() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit(|c| c["root"]["path"] = serde_json::json!("no-such-rootfs"));
    let id = unique_id("norootfs");
    create(&runw, bundle.path(), &id).assert_one_line_error("no-such-rootfs");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn entrypoint_that_does_not_exist() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["/bin/no-such-program"]);
    let id = unique_id("noexe");
    create(&runw, bundle.path(), &id).assert_one_line_error("no-such-program");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn bad_ids() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["true"]);
    for id in ["a/b", "..", "../escape", "x y"] {
        create(&runw, bundle.path(), id).assert_one_line_error("invalid container id");
        // The id named no directory, inside the state root or beside it.
        assert!(!runw.root.path().parent().unwrap().join("escape").exists());
    }
    // Empty: clap refuses it before runw runs.
    let out = create(&runw, bundle.path(), "");
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("CONTAINER_ID") || out.stderr.contains("container_id"),
        "{out:?}"
    );
    for cmd in ["start", "state", "delete"] {
        runw.run([cmd, "../x"])
            .assert_one_line_error("invalid container id");
    }
    assert_eq!(std::fs::read_dir(runw.root.path()).unwrap().count(), 0);
}

#[test]
fn duplicate_id() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("dup");
    runw.create(&bundle, &id);
    create(&runw, bundle.path(), &id).assert_one_line_error("already exists");
    // The first container is untouched.
    assert_eq!(runw.status(&id), "created");
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn unknown_signal() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("badsig");
    runw.run_detached(&bundle, &id);
    runw.run(["kill", &id, "SIGNOPE"])
        .assert_one_line_error("SIGNOPE");
    runw.run(["kill", &id, "99"]).assert_one_line_error("99");
    assert_eq!(runw.status(&id), "running");
    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn delete_running_without_force() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("delrun");
    runw.run_detached(&bundle, &id);
    runw.run(["delete", &id]).assert_one_line_error("running");
    assert_eq!(runw.status(&id), "running");
    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn start_of_a_container_that_is_not_created() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("restart");
    runw.run_detached(&bundle, &id);
    runw.run(["start", &id])
        .assert_one_line_error("running, not created");
    runw.ok(["kill", &id, "KILL"]);
    runw.wait_status(&id, "stopped", 5);
    runw.run(["start", &id])
        .assert_one_line_error("stopped, not created");
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn unknown_container() {
    let runw = Runw::new();
    for cmd in [
        "start", "state", "kill", "pause", "resume", "ps", "events", "exec",
    ] {
        let mut args = vec![cmd, "ghost"];
        match cmd {
            "exec" => args.push("true"),
            "kill" => args.push("TERM"),
            _ => {}
        }
        runw.run(&args)
            .assert_one_line_error("container does not exist: \"ghost\"");
    }
    // runc: delete --force of a container that does not exist succeeds.
    runw.ok(["delete", "--force", "ghost"]);
}

#[test]
fn bad_log_format() {
    let runw = Runw::new();
    runw.run(["--log-format", "xml", "list"])
        .assert_one_line_error("--log-format");
}

#[test]
fn oom_score_adj_that_needs_a_missing_capability() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit(|c| c["process"]["oomScoreAdj"] = serde_json::json!(-998));
    let id = unique_id("oom");
    let out = create(&runw, bundle.path(), &id);
    // Lowering the score that far needs CAP_SYS_RESOURCE: where runw has it the container is
    // made.
    const CAP_SYS_RESOURCE: u32 = 24;
    let capable = caps_effective() & (1 << CAP_SYS_RESOURCE) != 0;
    if capable {
        assert_eq!(out.code, 0, "{out:?}");
        runw.ok(["delete", "--force", &id]);
    } else {
        out.assert_one_line_error("process.oomScoreAdj -998");
    }
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// This process's effective capabilities (runw, run by it, gets the same).
fn caps_effective() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn entrypoint_that_cannot_be_executed_says_why() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["/bin/not-a-program"]);
    let program = bundle.rootfs().join("bin/not-a-program");
    std::fs::write(&program, b"\0\0\0\0 not an executable").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = unique_id("noexec");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    out.assert_one_line_error("runw: exec /bin/not-a-program: ");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// Asserts a one-line failure naming `cause`, in which no phrase of three words or more
/// appears twice (libcontainer repeats "failed to create container").
fn assert_one_line_cause(out: &runw_integration::Outcome, cause: &str) {
    out.assert_one_line_error(cause);
    let words: Vec<&str> = out.stderr.split_whitespace().collect();
    let phrases: Vec<_> = words.windows(3).map(|w| w.join(" ")).collect();
    for (i, phrase) in phrases.iter().enumerate() {
        assert!(
            !phrases[i + 1..].contains(phrase),
            "{phrase:?} is repeated in {:?}",
            out.stderr
        );
    }
}

/// A failure in the container's init says why, in runc's words, on stderr and as the last
/// error record of the `--log` file (which containerd and CRI-O show).
#[test]
fn init_failures_name_their_cause() {
    type Change = fn(&mut Bundle);
    let cases: [(&str, Change, &str); 3] = [
        (
            "badcwd",
            |b| {
                b.edit(|c| c["process"]["cwd"] = serde_json::json!("/no-such-dir"));
            },
            "no such file or directory",
        ),
        (
            "noentry",
            |b| {
                b.edit(|c| c["process"]["args"] = serde_json::json!(["/bin/no-such-program"]));
            },
            "exec /bin/no-such-program: no such file or directory",
        ),
        (
            "mountfile",
            |b| {
                std::fs::write(b.rootfs().join("tmp/file"), "").unwrap();
                b.edit(|c| {
                let tmpfs = serde_json::json!({"destination": "/tmp/file", "type": "tmpfs", "source": "tmpfs"});
                c["mounts"].as_array_mut().unwrap().push(tmpfs)
            });
            },
            "not a directory",
        ),
    ];
    let runw = Runw::new();
    for (name, change, cause) in cases {
        let mut bundle = Bundle::new(&["true"]);
        change(&mut bundle);
        let id = unique_id(name);
        let log = tempfile::NamedTempFile::new().unwrap();
        let log_path = log.path().to_str().unwrap();
        let out = runw.run([
            "--log",
            log_path,
            "--log-format",
            "json",
            "create",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &id,
        ]);
        assert_one_line_cause(&out, cause);
        let text = std::fs::read_to_string(log.path()).unwrap();
        let last = text
            .lines()
            .rev()
            .find(|l| l.contains("\"error\""))
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(last).unwrap();
        assert!(
            record["msg"].as_str().unwrap().contains(cause),
            "{name}: {record}"
        );
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

#[test]
fn unknown_container_is_one_line_without_repeats() {
    let runw = Runw::new();
    assert_one_line_cause(
        &runw.run(["exec", "ghost", "true"]),
        "container does not exist",
    );
}

/// NUL bytes cannot reach exec: refused at create, naming the field and index, for Linux
/// and wasm containers (a NUL in env panicked in init; in a `#function` suffix a wasm
/// container exited 255 silently).
#[test]
fn nul_bytes_are_refused_at_create() {
    let runw = Runw::new();
    let cases: [(&str, serde_json::Value, &str); 3] = [
        (
            "env",
            serde_json::json!(["PATH=/bin", "BAD=a\u{0}b"]),
            "process.env[1] holds a NUL byte",
        ),
        (
            "args",
            serde_json::json!(["echo", "a\u{0}b"]),
            "process.args[1] holds a NUL byte",
        ),
        (
            "function",
            serde_json::json!(["/hello.wasm#ma\u{0}in"]),
            "process.args[0] holds a NUL byte",
        ),
    ];
    for (name, value, needle) in cases {
        let mut bundle = Bundle::new(&["true"]);
        let field = if name == "env" { "env" } else { "args" };
        bundle.edit(|c| {
            c["process"][field] = value;
            c["annotations"] = serde_json::json!({"run.oci.handler": "wasm-smart"});
        });
        let id = unique_id(name);
        create(&runw, bundle.path(), &id).assert_one_line_error(needle);
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

/// A wasm container whose executor cannot be exec'd (an argument list too long: E2BIG)
/// says so in one line on its stderr, as a Linux container does, instead of exiting 255
/// silently.
#[test]
fn a_wasm_exec_failure_says_why() {
    let executor = runw_integration::Executor::named("wasmtime-exec");
    let runw = Runw::with_executor(&executor);
    let huge = "x".repeat(200 * 1024);
    let guest = runw_integration::bundle::guest("hello");
    let bundle = Bundle::wasm(
        &guest,
        "/hello.wasm",
        &["/hello.wasm", &huge],
        &[("run.oci.handler", "wasm")],
    );
    let id = unique_id("e2big");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    out.assert_one_line_error("runw: exec wasmtime-exec: Argument list too long");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// On a node with several executors installed but not runw's build-time default (here the
/// default wasmtime-exec: ci/build leaves RUNW_DEFAULT_EXECUTOR unset), a wasm container
/// fails at create with one line naming what is installed and `RUNW_EXECUTOR`, not "no wasm
/// executor installed". The node is a directory holding a copy of runw and two other
/// executors (never run: the choice fails first).
#[test]
fn several_executors_without_the_default_are_named() {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        !std::path::Path::new("/usr/libexec/runw/wasmtime-exec").exists(),
        "/usr/libexec/runw/wasmtime-exec is installed: this test needs a node without it"
    );
    let node = tempfile::tempdir().unwrap();
    let runw_copy = node.path().join("runw");
    std::fs::copy(runw_integration::runw::binary(), &runw_copy).unwrap();
    for other in ["wasmer-exec", "wasmedge-exec"] {
        let path = node.path().join(other);
        std::fs::write(&path, "#!/bin/sh\nexit 99\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let runw = Runw::new();
    let guest = runw_integration::bundle::guest("hello");
    let bundle = Bundle::wasm(
        &guest,
        "/hello.wasm",
        &["/hello.wasm"],
        &[("run.oci.handler", "wasm")],
    );
    let id = unique_id("nodefault");
    let output = std::process::Command::new(&runw_copy)
        .arg("--root")
        .arg(runw.root.path())
        .args(["create", "--bundle", bundle.path().to_str().unwrap(), &id])
        .env("RUNW_CACHE_DIR", runw.cache_dir())
        .env_remove("RUNW_EXECUTOR")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = runw_integration::Outcome::from(output);
    out.assert_one_line_error("RUNW_EXECUTOR");
    for named in ["wasmtime-exec", "wasmer-exec", "wasmedge-exec"] {
        assert!(
            out.stderr.contains(named),
            "{named} not named: {}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains("no wasm executor installed"),
        "{}",
        out.stderr
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}
