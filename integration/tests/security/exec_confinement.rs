//! `runw exec` confines the process it starts as the container's own process is confined,
//! as runc does: the container's seccomp filter, rlimits, user and capabilities, whether the
//! process comes from the command line, a `--process` file (conmon, containerd's shim) or
//! `--tty`, and into Linux and wasm containers alike. libcontainer 0.7 alone runs an exec'd
//! process with no seccomp filter and no rlimits.

use std::process::Stdio;

use runw_integration::bundle::{add_busybox, guest};
use runw_integration::console::{read_terminal, ConsoleSocket};
use runw_integration::{conformance, leftovers, unique_id, Bundle, Executor, Runw};
use serde_json::json;

conformance!(exec_of_a_module_into_a_wasm_container_is_confined);

/// Reports what confines the shell running it, one `key=value` per line, then `probe-done`.
/// `mkdir` is what the containers' filter denies (EPERM); `/tmp` is writable otherwise.
pub(super) const PROBE: &str = r#"
echo seccomp=$(busybox awk '/^Seccomp:/ {print $2}' /proc/self/status)
echo nofile=$(ulimit -n)
echo uid=$(id -u)
busybox mkdir /tmp/made-by-exec 2>&1 || true
[ -d /tmp/made-by-exec ] && echo mkdir=done
[ "$(busybox grep ^Cap /proc/self/status)" = "$(busybox grep ^Cap /proc/1/status)" ] && echo caps=same-as-container
echo probe-done
"#;

/// The container's filter: allow all but `mkdir`/`mkdirat`, which fail with EPERM.
fn seccomp_profile() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    })
}

/// Makes `bundle` a confined container: the filter, RLIMIT_NOFILE 123, a writable rootfs
/// with a world-writable /tmp, user `uid`, and noNewPrivileges as given (absent: not set).
pub(super) fn confine(bundle: &mut Bundle, uid: u32, no_new_privileges: Option<bool>) {
    bundle.edit(|c| {
        c["linux"]["seccomp"] = seccomp_profile();
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 123, "soft": 123}]);
        c["process"]["user"] = json!({"uid": uid, "gid": uid});
        c["root"]["readonly"] = json!(false);
        let process = c["process"].as_object_mut().unwrap();
        match no_new_privileges {
            Some(value) => process.insert("noNewPrivileges".into(), json!(value)),
            None => process.remove("noNewPrivileges"),
        };
    });
    use std::os::unix::fs::PermissionsExt;
    let tmp = bundle.rootfs().join("tmp");
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
}

/// Asserts the probe's report: filtered, limited, the expected user, the container's
/// capabilities, and the denied syscall denied.
pub(super) fn assert_confined(report: &str, uid: u32) {
    assert!(
        report.contains("probe-done"),
        "the probe did not finish: {report:?}"
    );
    assert!(
        report.contains("seccomp=2"),
        "no seccomp filter: {report:?}"
    );
    assert!(
        report.contains("nofile=123"),
        "the container's RLIMIT_NOFILE is not applied: {report:?}"
    );
    assert!(
        report.contains(&format!("uid={uid}")),
        "not the container's user: {report:?}"
    );
    assert!(
        report.contains("caps=same-as-container"),
        "capabilities differ from the container's: {report:?}"
    );
    assert!(
        report.contains("Operation not permitted"),
        "mkdir was not denied: {report:?}"
    );
    assert!(
        !report.contains("mkdir=done"),
        "mkdir succeeded: {report:?}"
    );
}

fn linux_container(runw: &Runw, uid: u32, no_new_privileges: Option<bool>) -> (Bundle, String) {
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    confine(&mut bundle, uid, no_new_privileges);
    let id = unique_id("execsec");
    runw.run_detached(&bundle, &id);
    (bundle, id)
}

pub(super) fn remove(runw: &Runw, bundle: &Bundle, id: &str) {
    runw.ok(["delete", "--force", id]);
    leftovers::assert_none(runw, id, Some(bundle.path()));
}

/// `runw exec ID sh -c ...`, with and without noNewPrivileges (the filter goes in after the
/// capability drop with it, before without it), as root and as another user.
#[test]
fn exec_of_a_command_is_confined() {
    let runw = Runw::new();
    for (uid, no_new_privileges) in [(1000, None), (0, None), (0, Some(true))] {
        let (bundle, id) = linux_container(&runw, uid, no_new_privileges);
        let out = runw.run(["exec", &id, "sh", "-c", PROBE]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_confined(&out.stdout, uid);
        remove(&runw, &bundle, &id);
    }
}

/// `runw exec --process FILE`, as conmon and containerd's shim run it: the file sets no
/// rlimits, so the container's apply (runc's rule); the filter always does.
#[test]
fn exec_of_a_process_file_is_confined() {
    let runw = Runw::new();
    let (bundle, id) = linux_container(&runw, 1000, None);
    let process = json!({
        "args": ["sh", "-c", PROBE], "cwd": "/", "env": ["PATH=/bin"],
        "user": {"uid": 1000, "gid": 1000}, "terminal": false,
        "capabilities": bundle.config["process"]["capabilities"].clone(),
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), process.to_string()).unwrap();
    let out = runw.run(["exec", "--process", file.path().to_str().unwrap(), &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_confined(&out.stdout, 1000);
    remove(&runw, &bundle, &id);
}

/// `runw exec --tty --console-socket S ID sh -c ...`, as a person (or `podman exec -t`) runs it.
#[test]
fn exec_with_a_terminal_is_confined() {
    let runw = Runw::new();
    let (bundle, id) = linux_container(&runw, 0, None);
    let mut console = ConsoleSocket::listen();
    let mut exec = runw.command(["exec", "--tty", "--console-socket"]);
    exec.arg(&console.path).args([&id, "sh", "-c", PROBE]);
    let child = exec
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let report = read_terminal(console.master(), "probe-done", 10);
    assert_confined(&report, 0);
    assert!(child.wait_with_output().unwrap().status.success());
    remove(&runw, &bundle, &id);
}

/// A shell exec'd into a wasm container (busybox beside the module) runs as Linux, and is
/// confined like the container.
#[test]
fn exec_of_a_shell_into_a_wasm_container_is_confined() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let (bundle, id) = wasm_container(&runw);
    let out = runw.run(["exec", &id, "sh", "-c", PROBE]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_confined(&out.stdout, 0);
    remove(&runw, &bundle, &id);
}

/// A module exec'd into a wasm container runs under the executor, which must carry the
/// container's filter and rlimits: read from the host through its pid.
fn exec_of_a_module_into_a_wasm_container_is_confined(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let (bundle, id) = wasm_container(&runw);
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let status = runw
        .command([
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "/busy.wasm",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc_dir = std::path::Path::new("/proc").join(pid.trim());
    let status = std::fs::read_to_string(proc_dir.join("status")).unwrap();
    assert!(
        status.lines().any(|l| l == "Seccomp:\t2"),
        "{exec:?} runs unfiltered: {status}",
        exec = exec.name
    );
    let limits = std::fs::read_to_string(proc_dir.join("limits")).unwrap();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        nofile.split_whitespace().collect::<Vec<_>>()[3..5],
        ["123", "123"],
        "{limits}"
    );
    remove(&runw, &bundle, &id);
}

/// A wasm container running a module that spins, with busybox beside it, confined.
fn wasm_container(runw: &Runw) -> (Bundle, String) {
    let annotation = [("run.oci.handler", "wasm")];
    let mut bundle = Bundle::wasm(
        &guest("busy_loop"),
        "/busy.wasm",
        &["/busy.wasm"],
        &annotation,
    );
    add_busybox(&bundle.rootfs());
    confine(&mut bundle, 0, None);
    bundle.edit(|c| c["process"]["env"] = json!(["PATH=/bin"]));
    let id = unique_id("execsec-wasm");
    runw.run_detached(&bundle, &id);
    (bundle, id)
}

/// A container with a user namespace of its own, its root an unprivileged host user (as
/// podman `--userns` and Kubernetes `hostUsers: false` make it): an exec'd process runs in
/// that namespace or not at all, never as the host's root. libcontainer 0.7 alone joins every
/// namespace but that one, so the process ran with uid map `0 0 4294967295`.
#[test]
fn exec_never_runs_outside_the_containers_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let runw = Runw::new();
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    bundle.edit(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    });
    // The container's root, host uid 200000, must reach its rootfs.
    std::fs::set_permissions(bundle.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let id = unique_id("userns");
    runw.run_detached(&bundle, &id);
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", &id]).stdout).unwrap();
    let words = |map: &str| map.split_whitespace().map(String::from).collect::<Vec<_>>();
    let init_map = std::fs::read_to_string(format!("/proc/{}/uid_map", state["pid"])).unwrap();
    assert_eq!(words(&init_map), ["0", "200000", "65536"]);

    let out = runw.run(["exec", &id, "cat", "/proc/self/uid_map"]);
    remove(&runw, &bundle, &id);
    if out.code == 0 {
        assert_eq!(words(&out.stdout), words(&init_map), "{out:?}");
    } else {
        out.assert_one_line_error("it has a user namespace of its own");
    }
}
