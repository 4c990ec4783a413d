//! Wasm workloads through `runw run` on real bundles whose rootfs holds only the module,
//! once per executor (the conformance suite): detection, argv/env/cwd, preopens, exit and trap codes,
//! stdin, terminal, termination, escapes, and the executor binary's protection.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use runw_integration::bundle::{add_busybox, component, guest};
use runw_integration::console::{read_terminal, ConsoleSocket};
use runw_integration::{
    conformance, exe_rewrite, leftovers, unique_id, Bundle, Executor, Feature, Outcome, Runw,
};
use serde_json::json;

conformance!(
    hello_under_every_annotation_value,
    entrypoint_found_through_path_and_judged_by_content,
    smart_values_run_elf_entrypoints_as_linux,
    sandbox_containers_run_as_linux_whatever_the_pod_says,
    wasm_annotation_with_a_non_module_entrypoint_fails_at_create,
    args_env_and_cwd_are_exactly_the_specs,
    the_guests_environment_does_not_reach_its_engine,
    mounts_are_preopened_read_write_or_read_only,
    escapes_from_preopens_fail,
    exit_codes_traps_and_load_failures,
    stdin_is_the_containers,
    terminal_through_the_console_socket,
    term_stops_a_busy_guest_promptly,
    wat_modules_run,
    components_run,
    the_executor_cannot_be_modified_from_the_container,
    a_missing_executor_fails_at_create,
    module_hash_function_calls_that_export,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");
const COMPAT: (&str, &str) = ("module.wasm.image/variant", "compat");

fn run(runw: &Runw, bundle: &Bundle) -> Outcome {
    let id = unique_id("wasm");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(runw, &id, Some(bundle.path()));
    out
}

fn hello_under_every_annotation_value(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let values = [
        ("run.oci.handler", "wasm"),
        ("run.oci.handler", "wasm-smart"),
        ("module.wasm.image/variant", "compat"),
        ("module.wasm.image/variant", "compat-smart"),
    ];
    for annotation in values {
        let bundle = Bundle::wasm(
            &guest("hello"),
            "/hello.wasm",
            &["/hello.wasm"],
            &[annotation],
        );
        let out = run(&runw, &bundle);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "hello from wasm\n"),
            "{annotation:?}: {out:?}"
        );
    }
}

fn entrypoint_found_through_path_and_judged_by_content(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    // No `.wasm` suffix, no slash: found through PATH, recognised by its magic bytes.
    let mut bundle = Bundle::wasm(&guest("hello"), "/app/bin/greeter", &["greeter"], &[COMPAT]);
    bundle.edit(|c| c["process"]["env"] = json!(["PATH=/app/bin"]));
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
}

fn smart_values_run_elf_entrypoints_as_linux(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    for value in [
        ("run.oci.handler", "wasm-smart"),
        ("module.wasm.image/variant", "compat-smart"),
    ] {
        let mut bundle = Bundle::new(&["sh", "-c", "echo native sidecar; exit 5"]);
        bundle.edit(|c| c["annotations"] = json!({ value.0: value.1 }));
        let out = run(&runw, &bundle);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (5, "native sidecar\n"),
            "{out:?}"
        );
    }
}

fn sandbox_containers_run_as_linux_whatever_the_pod_says(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let mut bundle = Bundle::new(&["sh", "-c", "echo pause"]);
    bundle.edit(|c| {
        c["annotations"] = json!({"io.kubernetes.cri.container-type": "sandbox",
                                  "module.wasm.image/variant": "compat"})
    });
    let out = run(&runw, &bundle);
    assert_eq!((out.code, out.stdout.as_str()), (0, "pause\n"), "{out:?}");
}

fn wasm_annotation_with_a_non_module_entrypoint_fails_at_create(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let mut bundle = Bundle::new(&["sh", "-c", "true"]);
    bundle.edit(|c| c["annotations"] = json!({"run.oci.handler": "wasm"}));
    let id = unique_id("notwasm");
    let out = runw.run(["create", "--bundle", bundle.path().to_str().unwrap(), &id]);
    out.assert_one_line_error("/bin/sh is not a wasm module");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn args_env_and_cwd_are_exactly_the_specs(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let args = ["/app/print_env.wasm", "--", "two words", "-x", "ünï"];
    let mut bundle = Bundle::wasm(&guest("print_env"), "/app/print_env.wasm", &args, &[WASM]);
    bundle.edit(|c| {
        c["process"]["env"] = json!(["ONLY=this", "EQ=a=b", "EMPTY="]);
        c["process"]["cwd"] = json!("/app");
    });
    std::fs::write(bundle.rootfs().join("app/marker"), "in /app\n").unwrap();
    let id = unique_id("env");
    let out = runw
        .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
        .env("RUNW_TEST_HOST_SECRET", "leak")
        .output()
        .unwrap();
    let out = Outcome::from(out);
    let relative = match exec.lacks(Feature::RelativePathsInCwd) {
        // Expected to fail, for the reason given.
        Some(_) => "relative-error=No such file or directory (os error 44)\n",
        None => "relative=in /app\n",
    };
    let expected = format!(
        "arg=/app/print_env.wasm\narg=--\narg=two words\narg=-x\narg=ünï\n\
         env=ONLY=this\nenv=EQ=a=b\nenv=EMPTY=\n{relative}"
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, expected.as_str()),
        "{out:?}"
    );
}

/// The guest's environment is the executor's process environment at start; variables that
/// the engines' libraries read (tokio's worker count, which it panics on if unparsable)
/// must reach the guest and not the engine. A sleeping guest sets the I/O runtime going.
fn the_guests_environment_does_not_reach_its_engine(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let env = |sleep_ms: &str, workers: &str| {
        let args = ["/print_env.wasm"];
        let mut bundle = Bundle::wasm(&guest("print_env"), "/print_env.wasm", &args, &[WASM]);
        bundle.edit(|c| {
            c["process"]["env"] = json!([
                format!("PRINT_ENV_SLEEP_MS={sleep_ms}"),
                format!("TOKIO_WORKER_THREADS={workers}")
            ])
        });
        bundle
    };
    let out = run(&runw, &env("50", "zero"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("env=TOKIO_WORKER_THREADS=zero\n"),
        "{out:?}"
    );

    // Nor does it size the engine's threads: one I/O worker, whatever the guest's
    // environment (or the node's CPU count) says.
    let bundle = env("60000", "32");
    let id = unique_id("threads");
    runw.run_detached(&bundle, &id);
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    let tasks = format!("/proc/{}/task", state["pid"]);
    std::thread::sleep(Duration::from_millis(500));
    let threads = std::fs::read_dir(&tasks).unwrap().count();
    runw.ok(["delete", "--force", &id]);
    // 3 or 4 (main, signal watcher, the I/O worker, a blocking-pool thread); 34 or more
    // when the guest's 32 reached tokio.
    assert!(threads <= 8, "{threads} threads in an idle {}", exec.name);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// A host directory mounted into the container.
fn with_mount(bundle: &mut Bundle, host: &Path, dest: &str, read_only: bool) {
    let options = if read_only {
        json!(["rbind", "ro"])
    } else {
        json!(["rbind", "rw"])
    };
    let mount = json!({"destination": dest, "type": "bind", "source": host, "options": options});
    bundle.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount));
    std::fs::create_dir_all(bundle.rootfs().join(dest.trim_start_matches('/'))).unwrap();
}

fn mounts_are_preopened_read_write_or_read_only(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("setting"), "from-host\n").unwrap();
    let files = guest("files");

    let mut bundle = Bundle::wasm(
        &files,
        "/files.wasm",
        &["/files.wasm", "write", "/data/out", "guest-wrote"],
        &[WASM],
    );
    with_mount(&mut bundle, data.path(), "/data", false);
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "wrote guest-wrote\n"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(data.path().join("out")).unwrap(),
        "guest-wrote"
    );

    let mut bundle = Bundle::wasm(
        &files,
        "/files.wasm",
        &["/files.wasm", "read", "/config/setting"],
        &[WASM],
    );
    with_mount(&mut bundle, config.path(), "/config", true);
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "from-host\n"),
        "{out:?}"
    );

    let mut bundle = Bundle::wasm(
        &files,
        "/files.wasm",
        &["/files.wasm", "write", "/config/new", "x"],
        &[WASM],
    );
    with_mount(&mut bundle, config.path(), "/config", true);
    let out = run(&runw, &bundle);
    assert_eq!(
        out.code, 1,
        "a write into a read-only mount must fail: {out:?}"
    );
    assert!(!config.path().join("new").exists());

    // The rootfs is read-only too when root.readonly is set (runw spec's default).
    let bundle = Bundle::wasm(
        &files,
        "/files.wasm",
        &["/files.wasm", "write", "/new", "x"],
        &[WASM],
    );
    let out = run(&runw, &bundle);
    assert_eq!(out.code, 1, "{out:?}");
}

fn escapes_from_preopens_fail(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "host secret").unwrap();
    let escape = guest("escape");
    let relative = format!("../../../../..{}", secret.path().display());
    for target in [relative.as_str(), "/link-out", "/data/../../link-out"] {
        let mut bundle = Bundle::wasm(&escape, "/escape.wasm", &["/escape.wasm", target], &[WASM]);
        std::os::unix::fs::symlink(secret.path(), bundle.rootfs().join("link-out")).unwrap();
        let data = tempfile::tempdir().unwrap();
        with_mount(&mut bundle, data.path(), "/data", false);
        let out = run(&runw, &bundle);
        assert_eq!(out.code, 3, "{target}: {out:?}");
        assert!(out.stdout.starts_with("blocked:"), "{target}: {out:?}");
    }
}

fn exit_codes_traps_and_load_failures(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    for code in ["0", "1", "42"] {
        let bundle = Bundle::wasm(&guest("exit_with"), "/e.wasm", &["/e.wasm", code], &[WASM]);
        assert_eq!(run(&runw, &bundle).code.to_string(), code);
    }
    let bundle = Bundle::wasm(&guest("trap"), "/trap.wasm", &["/trap.wasm"], &[WASM]);
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (134, "about to trap\n"),
        "{out:?}"
    );
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("trap") && lines[0].contains("unreachable"),
        "{out:?}"
    );

    // The magic number of a module, then garbage: wasm by content, but it cannot load.
    let broken = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(broken.path(), b"\0asm\x01\0\0\0\xff\xff\xff").unwrap();
    let bundle = Bundle::wasm(broken.path(), "/broken.wasm", &["/broken.wasm"], &[WASM]);
    let out = run(&runw, &bundle);
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("cannot load /broken.wasm"), "{out:?}");
}

fn stdin_is_the_containers(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(&guest("echo_stdin"), "/echo.wasm", &["/echo.wasm"], &[WASM]);
    let id = unique_id("stdin");
    let mut child = runw
        .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line one\nline two\n");
    assert_eq!(out.status.code(), Some(0));
}

fn terminal_through_the_console_socket(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let mut bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[WASM]);
    bundle.with_terminal();
    let id = unique_id("wasmtty");
    let mut console = ConsoleSocket::listen();
    runw.ok([
        "create",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--console-socket",
        console.path.to_str().unwrap(),
        &id,
    ]);
    let master = console.master();
    runw.ok(["start", &id]);
    let text = read_terminal(master, "hello from wasm", 10);
    assert!(text.contains("hello from wasm\r\n"), "{text:?}");
    runw.wait_status(&id, "stopped", 10);
    runw.ok(["delete", &id]);
}

fn term_stops_a_busy_guest_promptly(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let bundle = Bundle::wasm(&guest("busy_loop"), "/busy.wasm", &["/busy.wasm"], &[WASM]);
        let id = unique_id("busy");
        let mut child = runw
            .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The guest prints "spinning" once it runs, so the executor is in charge by then.
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "spinning\n");
        let sent = Instant::now();
        runw.ok(["kill", &id, signal]);
        let status = child.wait().unwrap();
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(code), "{signal}");
        assert!(took < Duration::from_secs(1), "{signal} took {took:?}");
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
}

fn wat_modules_run(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let wat = tempfile::Builder::new().suffix(".wat").tempfile().unwrap();
    std::fs::write(wat.path(), WAT_HELLO).unwrap();
    let bundle = Bundle::wasm(wat.path(), "/hello.wat", &["/hello.wat"], &[WASM]);
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (7, "hello from wat\n"),
        "{out:?}"
    );
}

fn components_run(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(
        &component("hello"),
        "/hello.wasm",
        &["/hello.wasm"],
        &[COMPAT],
    );
    let out = run(&runw, &bundle);
    if let Some(reason) = exec.lacks(Feature::Components) {
        // Expected to fail: the executor says so, as a load failure.
        assert_eq!(out.code, 126, "{}: {reason}: {out:?}", exec.name);
        assert!(out.stderr.contains("components"), "{out:?}");
        return;
    }
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "hello from wasm\n"),
        "{out:?}"
    );
    // Rust's std ends a wasip2 program with wasi:cli/exit's `exit(err)`, which carries no
    // code: exit(42) reaches the process status as 1.
    let bundle = Bundle::wasm(
        &component("exit_with"),
        "/e.wasm",
        &["/e.wasm", "42"],
        &[COMPAT],
    );
    assert_eq!(run(&runw, &bundle).code, 1);
}

const WAT_HELLO: &str = r#";; prints a line and exits 7
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wat\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 15))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 7))))
"#;

/// CVE-2019-5736: a process in the container (or a sidecar sharing its PID namespace) must
/// not be able to write the host's executor through /proc/<pid>/exe.
fn the_executor_cannot_be_modified_from_the_container(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let mut bundle = Bundle::wasm(&guest("busy_loop"), "/busy.wasm", &["/busy.wasm"], &[WASM]);
    add_busybox(&bundle.rootfs());
    bundle.edit(|c| c["root"]["readonly"] = json!(false));
    let id = unique_id("cve");
    runw.run_detached(&bundle, &id);
    let executor = &exec.path;
    let before = std::fs::read(executor).unwrap();

    // Open for writing through the link, and through an O_PATH-style reopen of a saved fd.
    let attack = "echo pwned >> /proc/1/exe; exec 3< /proc/1/exe; echo pwned >> /proc/self/fd/3";
    let out = runw.run(["exec", &id, "sh", "-c", attack]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Read-only file system") || out.stderr.contains("Text file busy"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read(executor).unwrap(),
        before,
        "the host's executor was modified"
    );
    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));

    // The CVE's own way round "Text file busy": keep the executor's binary open, wait for
    // it to exit, then write. The executor runs as an exec'd process of a Linux container
    // (compat-smart), so the attacking shell outlives it.
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    std::fs::copy(guest("busy_loop"), bundle.rootfs().join("busy.wasm")).unwrap();
    bundle.edit(|c| c["annotations"] = json!({ "module.wasm.image/variant": "compat-smart" }));
    let id = unique_id("cve");
    runw.run_detached(&bundle, &id);
    runw.exec_detached(&id, &["/busy.wasm"]);
    let out = runw.run(["exec", &id, "sh", "-c", exe_rewrite::ATTACK]);
    runw.ok(["delete", "--force", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stdout.contains("WROTE"),
        "the executor was written: {out:?}"
    );
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert_eq!(
        std::fs::read(executor).unwrap(),
        before,
        "the host's executor was modified"
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn a_missing_executor_fails_at_create(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[WASM]);
    let id = unique_id("noexec");
    let out = runw
        .command(["create", "--bundle", bundle.path().to_str().unwrap(), &id])
        .env("RUNW_EXECUTOR", "/nonexistent/wasmtime-exec")
        .output()
        .unwrap();
    Outcome::from(out)
        .assert_one_line_error("cannot open wasm executor /nonexistent/wasmtime-exec");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn module_hash_function_calls_that_export(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let wat = tempfile::Builder::new().suffix(".wat").tempfile().unwrap();
    std::fs::write(
        wat.path(),
        WAT_HELLO.replace("(export \"_start\")", "(export \"greet\")"),
    )
    .unwrap();
    let bundle = Bundle::wasm(wat.path(), "/lib.wat", &["/lib.wat#greet"], &[WASM]);
    let out = run(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (7, "hello from wat\n"),
        "{out:?}"
    );
    // A module without that export cannot run: a load failure, named.
    let bundle = Bundle::wasm(wat.path(), "/lib.wat", &["/lib.wat#nope"], &[WASM]);
    let out = run(&runw, &bundle);
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("\"nope\""), "{out:?}");
}

/// `--debug` says why a container ran as wasm or Linux: the annotation, the entrypoint's
/// kind, the executor, and whether the compile cache hit or compiled.
#[test]
fn debug_log_tells_the_decision() {
    let exec = Executor::named("wasmtime-exec");
    let runw = Runw::with_executor(&exec);
    let smart = ("module.wasm.image/variant", "compat-smart");
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_path = log.path().to_str().unwrap();
    let bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[smart]);
    let bundle_path = bundle.path().to_str().unwrap();
    for _ in 0..2 {
        let id = unique_id("decide");
        let args = [
            "--log",
            log_path,
            "--debug",
            "run",
            "--bundle",
            bundle_path,
            &id,
        ];
        assert_eq!(runw.run(args).code, 0);
    }
    let mut linux = Bundle::new(&["true"]);
    linux.edit(|c| c["annotations"] = serde_json::json!({ smart.0: smart.1 }));
    let id = unique_id("decide");
    let linux_path = linux.path().to_str().unwrap();
    let args = [
        "--log", log_path, "--debug", "run", "--bundle", linux_path, &id,
    ];
    assert_eq!(runw.run(args).code, 0);
    let text = std::fs::read_to_string(log.path()).unwrap();
    for said in [
        r#"annotations: module.wasm.image/variant=\"compat-smart\": wasm if the entrypoint is a module"#,
        &format!("wasm executor: {}", exec.path.display()),
        "compile cache: miss, compiling in the container's cgroups",
        "compile cache: hit",
        "entrypoint /hello.wasm is wasm (Core): runs as wasm on wasmtime-exec",
        "is not wasm: runs as Linux (-smart annotation)",
    ] {
        assert!(text.contains(said), "{said:?} not in the log:\n{text}");
    }
}
