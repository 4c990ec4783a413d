//! `runw exec` into a container with a user namespace of its own (podman `--userns`,
//! Kubernetes `hostUsers: false`), whose root is an unprivileged host user: the exec'd
//! process joins that namespace and is confined exactly as the container's init is, never
//! running as the host's root. libcontainer 0.7 alone joins every namespace of the
//! container but the user namespace; runw refused such an exec before it joined it itself.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use runw_integration::bundle::{add_busybox, guest};
use runw_integration::console::{read_terminal, ConsoleSocket};
use runw_integration::podman::{Podman, IMAGE};
use runw_integration::{unique_id, Bundle, Executor, Runw};
use serde_json::json;

use super::exec_confinement::{assert_confined, confine, remove, PROBE};

/// Where the container's ids start on the host.
const HOST_BASE: u32 = 200_000;

/// What only a process in the container's user namespace reports, then [`PROBE`].
fn probe() -> String {
    let own = r#"
[ "$(busybox readlink /proc/self/ns/user)" = "$(busybox readlink /proc/1/ns/user)" ] && echo userns=same-as-container
[ "$(busybox cat /proc/self/uid_map)" = "$(busybox cat /proc/1/uid_map)" ] && echo uidmap=same-as-container
echo gid=$(id -g)
echo groups=$(id -G)
echo home=$HOME
"#;
    format!("{own}{PROBE}")
}

/// Asserts [`probe`]'s report: the container's namespace and map, ids `uid`/`gid` and
/// supplementary `groups` as seen inside, `home`, and [`assert_confined`].
fn assert_inside(report: &str, uid: u32, groups: &str, home: &str) {
    assert_confined(report, uid);
    for line in [
        "userns=same-as-container".to_owned(),
        "uidmap=same-as-container".to_owned(),
        format!("gid={uid}"),
        format!("groups={groups}"),
        format!("home={home}"),
    ] {
        assert!(report.lines().any(|l| l == line), "no {line:?}: {report:?}");
    }
}

/// A confined container (see [`confine`]) in a user namespace of its own mapping container
/// ids 0-65535 to host ids [`HOST_BASE`]-, as podman `--uidmap 0:200000:65536` makes it.
fn userns_container(runw: &Runw, uid: u32, no_new_privileges: Option<bool>) -> (Bundle, String) {
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    confine(&mut bundle, uid, no_new_privileges);
    in_user_namespace(&mut bundle);
    let id = unique_id("execuserns");
    runw.run_detached(&bundle, &id);
    (bundle, id)
}

fn in_user_namespace(bundle: &mut Bundle) {
    bundle.edit(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin"]);
    });
    // Where HOME comes from when the process sets none.
    let etc = bundle.rootfs().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let passwd = "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u1000:/bin/sh\n";
    std::fs::write(etc.join("passwd"), passwd).unwrap();
    // The container's users, host uids 200000 and up, must reach its rootfs.
    std::fs::set_permissions(bundle.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn init_pid(runw: &Runw, id: &str) -> u32 {
    let state: serde_json::Value = serde_json::from_str(&runw.ok(["state", id]).stdout).unwrap();
    u32::try_from(state["pid"].as_u64().unwrap()).unwrap()
}

/// `/proc/PID/status` lines starting with `key`.
fn status_line(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_default()
        .to_owned()
}

/// Starts `sleep` detached in `id` and checks it from the host: in the init's user
/// namespace, running as host uid and gid [`HOST_BASE`] + `uid`, with the init's
/// capabilities, noNewPrivileges and a seccomp filter.
fn assert_host_view(runw: &Runw, id: &str, uid: u32) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let pid_arg = pid_file.to_str().unwrap();
    // The detached sleep holds what it inherits: no pipe to wait on.
    let status = runw
        .command([
            "exec",
            "--detach",
            "--pid-file",
            pid_arg,
            id,
            "sleep",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "exec --detach into {id} failed");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let init = init_pid(runw, id);
    let namespace = |pid: u32| {
        let meta = std::fs::metadata(format!("/proc/{pid}/ns/user")).unwrap();
        (meta.dev(), meta.ino())
    };
    assert_eq!(
        namespace(pid),
        namespace(init),
        "not in the init's user namespace"
    );
    let host = HOST_BASE + uid;
    for key in ["Uid:", "Gid:"] {
        assert_eq!(
            status_line(pid, key),
            format!("{key}\t{host}\t{host}\t{host}\t{host}"),
            "the exec'd process is not host id {host}"
        );
    }
    for key in [
        "CapInh:",
        "CapPrm:",
        "CapEff:",
        "CapBnd:",
        "CapAmb:",
        "NoNewPrivs:",
    ] {
        assert_eq!(status_line(pid, key), status_line(init, key));
    }
    assert_eq!(status_line(pid, "Seccomp:"), "Seccomp:\t2");
}

/// `runw exec ID sh -c ...` as container root and as user 1000, noNewPrivileges set and
/// not (the filter goes in after the capability drop with it, before without it).
#[test]
fn exec_of_a_command_joins_the_containers_user_namespace() {
    let runw = Runw::new();
    for (uid, home) in [(0, "/root"), (1000, "/home/u1000")] {
        for no_new_privileges in [None, Some(true)] {
            let (bundle, id) = userns_container(&runw, uid, no_new_privileges);
            let out = runw.run(["exec", &id, "sh", "-c", &probe()]);
            assert_eq!(out.code, 0, "{out:?}");
            assert_inside(&out.stdout, uid, &uid.to_string(), home);
            assert_host_view(&runw, &id, uid);
            remove(&runw, &bundle, &id);
        }
    }
}

/// `runw exec --process FILE`, as conmon and containerd's shim run it, with supplementary
/// groups: they are the process's, container ids, and runw's own (host root's) are gone.
#[test]
fn exec_of_a_process_file_joins_the_containers_user_namespace() {
    let runw = Runw::new();
    let (bundle, id) = userns_container(&runw, 1000, None);
    let process = json!({
        "args": ["sh", "-c", probe()], "cwd": "/", "env": ["PATH=/bin", "HOME=/home/u"],
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [1001, 1002]}, "terminal": false,
        "capabilities": bundle.config["process"]["capabilities"].clone(),
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), process.to_string()).unwrap();
    let out = runw.run(["exec", "--process", file.path().to_str().unwrap(), &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_inside(&out.stdout, 1000, "1000 1001 1002", "/home/u");
    remove(&runw, &bundle, &id);
}

/// `runw exec --tty --console-socket S ID sh -c ...`, as `podman exec -t` runs it, as root
/// and as another user. The terminal libcontainer made before the join belongs to the
/// process's user, with a group the namespace maps (it showed as 65534, an unmapped owner,
/// before runw gave it away).
#[test]
fn exec_with_a_terminal_joins_the_containers_user_namespace() {
    let runw = Runw::new();
    for (uid, groups, home) in [(0, "0", "/root"), (1000, "1000", "/home/u1000")] {
        let (bundle, id) = userns_container(&runw, uid, None);
        let mut console = ConsoleSocket::listen();
        let mut exec = runw.command(["exec", "--tty", "--console-socket"]);
        let script = format!(
            "echo tty=$(busybox stat -L -c %u:%g /proc/self/fd/0)\n{}",
            probe()
        );
        exec.arg(&console.path).args([&id, "sh", "-c", &script]);
        let child = exec
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let report = read_terminal(console.master(), "probe-done", 10).replace('\r', "");
        assert_inside(&report, uid, groups, home);
        let owner = report
            .lines()
            .find_map(|l| l.strip_prefix("tty="))
            .unwrap_or_else(|| panic!("no tty owner: {report:?}"));
        let (tty_uid, tty_gid) = owner.split_once(':').unwrap();
        assert_eq!(tty_uid, uid.to_string(), "the terminal's owner: {report:?}");
        assert_ne!(
            tty_gid, "65534",
            "the terminal's group is unmapped: {report:?}"
        );
        assert!(child.wait_with_output().unwrap().status.success());
        remove(&runw, &bundle, &id);
    }
}

/// Container root in an exec'd process tries what the host's root could: write to a host
/// directory owned by host root (bind-mounted read-write) and give a file to uid 0. Before
/// the join (and without the refusal) both worked: the process was the host's root.
#[test]
fn exec_as_container_root_is_not_the_hosts_root() {
    let runw = Runw::new();
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(host_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    confine(&mut bundle, 0, None);
    in_user_namespace(&mut bundle);
    std::fs::create_dir(bundle.rootfs().join("hostdir")).unwrap();
    let source = host_dir.path().to_str().unwrap().to_owned();
    bundle.edit(|c| {
        let mount = json!({"destination": "/hostdir", "type": "bind", "source": source,
                           "options": ["rbind", "rw"]});
        c["mounts"].as_array_mut().unwrap().push(mount);
    });
    let id = unique_id("execuserns-root");
    runw.run_detached(&bundle, &id);

    let attack = "echo pwned > /hostdir/pwned; echo made > /tmp/mine; chown 0:0 /tmp/mine; \
                  echo uid=$(busybox awk '/^Uid:/ {print $2}' /proc/self/status)";
    let out = runw.run(["exec", &id, "sh", "-c", attack]);
    let pwned = host_dir.path().join("pwned");
    let mine = bundle.rootfs().join("tmp/mine");
    let written = pwned.exists();
    let owner = std::fs::metadata(&mine).map(|m| (m.uid(), m.gid()));
    remove(&runw, &bundle, &id);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !written,
        "container root wrote to a host root's directory: {out:?}"
    );
    assert!(
        out.stdout.contains("uid=0"),
        "not root inside the container: {out:?}"
    );
    assert_eq!(
        owner.unwrap(),
        (HOST_BASE, HOST_BASE),
        "container root gave {} to the host's root",
        mine.display()
    );
    assert!(Path::new(&source).exists());
}

/// `podman exec` into a container podman runs with `--uidmap`/`--gidmap` (what
/// `--userns=auto` and Kubernetes `hostUsers: false` make): root inside, host uid
/// [`HOST_BASE`] outside, with and without a terminal.
#[test]
fn podman_exec_into_a_container_with_a_uid_map() {
    let podman = Podman::get();
    let name = unique_id("pmuserns");
    let volume = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(volume.path(), Some(HOST_BASE), Some(HOST_BASE)).unwrap();
    let mount = format!("{}:/data", volume.path().display());
    let map = format!("0:{HOST_BASE}:65536");
    podman.ok(&[
        "run", "-d", "--name", &name, "--uidmap", &map, "--gidmap", &map, "-v", &mount, IMAGE,
        "sleep", "1000",
    ]);
    let out = podman.run(&["exec", &name, "sh", "-c", "id -u; echo x > /data/made"]);
    let made = std::fs::metadata(volume.path().join("made")).map(|m| (m.uid(), m.gid()));
    let tty = podman.run_in_terminal(&["exec", "-t", &name, "sh", "-c", "tty; id -u"]);
    podman.ok(&["rm", "--force", "--time", "0", &name]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "0\n"), "{out:?}");
    assert_eq!(
        made.unwrap(),
        (HOST_BASE, HOST_BASE),
        "not host uid {HOST_BASE}"
    );
    assert!(tty.stdout.contains("/dev/pts/"), "{tty:?}");
    assert!(tty.stdout.lines().any(|l| l.trim() == "0"), "{tty:?}");
}

/// A module exec'd into a wasm container with a user namespace of its own runs under the
/// executor in that namespace, as the container's root (host uid [`HOST_BASE`]), filtered.
#[test]
fn exec_of_a_module_joins_the_wasm_containers_user_namespace() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let mut bundle = Bundle::wasm(
        &guest("busy_loop"),
        "/busy.wasm",
        &["/busy.wasm"],
        &[("run.oci.handler", "wasm")],
    );
    add_busybox(&bundle.rootfs());
    confine(&mut bundle, 0, None);
    in_user_namespace(&mut bundle);
    let id = unique_id("execuserns-wasm");
    runw.run_detached(&bundle, &id);
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let pid_arg = pid_file.to_str().unwrap();
    let status = runw
        .command(["exec", "--detach", "--pid-file", pid_arg, &id, "/busy.wasm"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let pid = std::fs::read_to_string(&pid_file).map(|p| p.trim().parse::<u32>().unwrap());
    let view = pid.map(|pid| {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        (name, status_line(pid, "Uid:"), status_line(pid, "Seccomp:"))
    });
    remove(&runw, &bundle, &id);
    assert!(status.success());
    let (name, uid, seccomp) = view.unwrap();
    assert_eq!(name.trim(), "wasmtime-exec");
    let host = HOST_BASE;
    assert_eq!(uid, format!("Uid:\t{host}\t{host}\t{host}\t{host}"));
    assert_eq!(seccomp, "Seccomp:\t2");
}

/// A user the container's namespace does not map cannot be become: the exec fails in one
/// line naming the container, and nothing runs as an unmapped (host) id.
#[test]
fn exec_as_a_user_the_namespace_does_not_map_fails() {
    let runw = Runw::new();
    let (bundle, id) = userns_container(&runw, 0, None);
    let out = runw.run(["exec", "--user", "70000:70000", &id, "id"]);
    remove(&runw, &bundle, &id);
    out.assert_one_line_error(&format!("in the user namespace of container {id:?}"));
}
