//! Containers and execs with a terminal, received over `--console-socket` as conmon and
//! containerd's shim receive it.
#![allow(clippy::unwrap_used)]

use runw_integration::console::{read_terminal, ConsoleSocket};
use runw_integration::{leftovers, unique_id, Bundle, Runw};

#[test]
fn create_with_a_terminal_sends_the_pty_master() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["sh", "-c", "tty; echo term-ok"]);
    bundle.with_terminal();
    let id = unique_id("tty");
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
    let text = read_terminal(master, "term-ok", 10);
    assert!(text.contains("/dev/pts/"), "{text:?}");
    assert!(text.contains("term-ok"), "{text:?}");
    runw.wait_status(&id, "stopped", 10);
    runw.ok(["delete", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["true"]);
    bundle.with_terminal();
    let id = unique_id("notty");
    let out = runw.run(["create", "--bundle", bundle.path().to_str().unwrap(), &id]);
    out.assert_one_line_error("console");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn exec_with_a_terminal() {
    let runw = Runw::new();
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("exectty");
    runw.run_detached(&bundle, &id);

    // `exec --tty CMD`, as a person types it.
    let mut console = ConsoleSocket::listen();
    let mut exec = runw.command(["exec", "--tty", "--console-socket"]);
    exec.arg(&console.path)
        .args([&id, "sh", "-c", "tty; echo exec-term-ok"]);
    let child = exec.spawn().unwrap();
    let text = read_terminal(console.master(), "exec-term-ok", 10);
    assert!(
        text.contains("/dev/pts/") && text.contains("exec-term-ok"),
        "{text:?}"
    );
    assert!(child.wait_with_output().unwrap().status.success());

    // `exec --process FILE --detach` with `terminal: true`, as conmon runs `podman exec -t`.
    let process = serde_json::json!({
        "args": ["sh", "-c", "tty; echo process-term-ok"], "cwd": "/",
        "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}, "terminal": true
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), process.to_string()).unwrap();
    let mut console = ConsoleSocket::listen();
    runw.ok([
        "exec",
        "--detach",
        "--process",
        file.path().to_str().unwrap(),
        "--console-socket",
        console.path.to_str().unwrap(),
        &id,
    ]);
    let text = read_terminal(console.master(), "process-term-ok", 10);
    assert!(
        text.contains("/dev/pts/") && text.contains("process-term-ok"),
        "{text:?}"
    );

    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}
