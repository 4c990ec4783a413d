//! The guest's view of the filesystem holds no pseudo filesystem: a wasm guest sees nothing
//! of `/proc`, `/sys` or `/dev` (the container's or the host's), by any route: its `/`
//! preopen, a mount preopen and `..`, image symlinks (absolute and relative), a cwd that is
//! a symlink, volumes whose source is the host's `/proc` or `/sys`, device nodes in the
//! image; with a writable rootfs (podman's and Kubernetes' default) and a read-only one.
//!
//! Each container runs the `probe` guest, which prints one line per attempt; every attempt
//! must be blocked, and a few controls (files the guest should see) must be open, so that a
//! probe that did not run cannot pass.

use std::path::Path;

use runw_integration::bundle::{add_busybox, guest};
use runw_integration::{
    conformance, leftovers, unique_id, Bundle, Executor, Feature, Outcome, Runw,
};
use serde_json::json;

conformance!(
    the_guest_still_sees_its_rootfs_volumes_tmpfs_and_cwd,
    proc_sys_and_dev_are_not_reachable_from_the_root_preopen,
    mount_preopens_and_dotdot_do_not_reach_them,
    image_symlinks_do_not_reach_them,
    a_cwd_symlinked_to_proc_is_not_preopened,
    volumes_of_the_hosts_proc_and_sys_are_not_preopened,
    device_nodes_in_the_image_cannot_be_opened,
    exec_into_a_wasm_container_keeps_proc_for_linux_and_hides_it_from_modules,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");

/// What a guest must never do, under the path prefix `at` (the rootfs's `/` seen through
/// some route).
fn pseudo_attempts(at: &str) -> Vec<String> {
    [
        "read:/proc/self/environ",
        "read:/proc/1/cmdline",
        "read:/proc/self/mountinfo",
        "list:/sys/fs/cgroup",
        "list:/dev",
        "create:/dev/shm/x",
        "openw:/proc/self/oom_score_adj",
        "openw:/proc/self/mem",
        "openw:/proc/1/mem",
    ]
    .iter()
    .map(|a| {
        let (op, path) = a.split_once(':').unwrap();
        format!("{op}:{at}{path}")
    })
    .collect()
}

/// Attempts that must succeed: the guest does see its rootfs and its data mount.
const CONTROLS: [&str; 3] = ["read:/probe.wasm", "read:/data/ok", "list:/data"];

/// A bundle running the probe with `attempts` (controls first), a data mount at `/data`, a
/// tmpfs at `/scratch`, and the rootfs read-only or not.
fn probe_bundle(attempts: &[String], read_only_root: bool) -> (Bundle, tempfile::TempDir) {
    let mut args = vec!["/probe.wasm".to_owned()];
    args.extend(CONTROLS.iter().map(|c| c.to_string()));
    args.extend(attempts.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut bundle = Bundle::wasm(&guest("probe"), "/probe.wasm", &args, &[WASM]);
    bundle.edit(|c| c["root"]["readonly"] = json!(read_only_root));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("ok"), "data\n").unwrap();
    add_mount(
        &mut bundle,
        json!({"destination": "/data", "type": "bind", "source": data.path(), "options": ["rbind", "rw"]}),
    );
    add_mount(
        &mut bundle,
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}),
    );
    (bundle, data)
}

fn add_mount(bundle: &mut Bundle, mount: serde_json::Value) {
    let dest = mount["destination"]
        .as_str()
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    std::fs::create_dir_all(bundle.rootfs().join(dest)).unwrap();
    bundle.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount));
}

/// Runs the bundle and asserts that the controls are open and every attempt blocked.
fn assert_all_blocked(runw: &Runw, bundle: &Bundle, attempts: &[String], what: &str) {
    assert_probe(&run_probe(runw, bundle), attempts, what);
}

fn assert_probe(out: &Outcome, attempts: &[String], what: &str) {
    assert_eq!(out.code, 0, "{what}: {out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        CONTROLS.len() + attempts.len(),
        "{what}: {out:?}"
    );
    for (line, control) in lines.iter().zip(CONTROLS) {
        assert!(
            line.starts_with(&format!("{control} OPEN")),
            "{what}: control failed: {line}"
        );
    }
    let opened: Vec<&&str> = lines[CONTROLS.len()..]
        .iter()
        .filter(|l| !l.contains(" blocked: "))
        .collect();
    assert!(
        opened.is_empty(),
        "{what}: the guest reached a pseudo filesystem: {opened:#?}"
    );
}

fn for_both_rootfs_modes(exec: &Executor, attempts: &[String], prepare: impl Fn(&mut Bundle)) {
    let runw = Runw::with_executor(exec);
    for read_only_root in [false, true] {
        let (mut bundle, _data) = probe_bundle(attempts, read_only_root);
        prepare(&mut bundle);
        assert_all_blocked(
            &runw,
            &bundle,
            attempts,
            &format!("root.readonly={read_only_root}"),
        );
    }
}

/// The view is not emptied to pass the attacks: the rootfs, a volume, a tmpfs and the cwd
/// are there, writable where the spec says so.
fn the_guest_still_sees_its_rootfs_volumes_tmpfs_and_cwd(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let attempts: Vec<String> = [
        "create:/scratch/new",
        "create:/data/new",
        "create:/rootfs-new",
    ]
    .map(String::from)
    .to_vec();
    let (mut bundle, data) = probe_bundle(&attempts, false);
    let out = run_probe(&runw, &bundle);
    let blocked: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.contains(" OPEN: "))
        .collect();
    assert!(
        blocked.is_empty(),
        "the guest lost part of its view: {blocked:#?}"
    );
    assert_eq!(
        out.stdout.lines().count(),
        CONTROLS.len() + attempts.len(),
        "{out:?}"
    );
    assert!(data.path().join("new").exists());
    assert!(bundle.rootfs().join("rootfs-new").exists());

    // Relative paths resolve in the cwd where the executor has a `.` preopen (the wasm suite
    // asserts the limit of those without). (Absolute ones outside other preopens do too
    // while a cwd is set: wasi-libc cannot tell the preopens `/` and `.` apart.)
    if exec.lacks(Feature::RelativePathsInCwd).is_some() {
        return;
    }
    std::fs::create_dir_all(bundle.rootfs().join("app")).unwrap();
    std::fs::write(bundle.rootfs().join("app/here"), "cwd\n").unwrap();
    bundle.edit(|c| {
        c["process"]["args"] = json!(["/probe.wasm", "read:here"]);
        c["process"]["cwd"] = json!("/app");
    });
    let out = run_probe(&runw, &bundle);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "read:here OPEN: 4 bytes\n"),
        "{out:?}"
    );
}

fn run_probe(runw: &Runw, bundle: &Bundle) -> Outcome {
    let id = unique_id("view");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(runw, &id, Some(bundle.path()));
    out
}

fn proc_sys_and_dev_are_not_reachable_from_the_root_preopen(exec: &Executor) {
    for_both_rootfs_modes(exec, &pseudo_attempts(""), |_| {});
}

fn mount_preopens_and_dotdot_do_not_reach_them(exec: &Executor) {
    let mut attempts = pseudo_attempts("/data/..");
    attempts.extend(pseudo_attempts("/scratch/.."));
    attempts.extend(pseudo_attempts("/data/../data/../.."));
    // Pseudo filesystems mounted inside a mount that is preopened: by the spec (a proc and a
    // sysfs in the tmpfs at /scratch), and on the host (a proc inside a volume's source,
    // which `rbind` brings along).
    attempts.extend(pseudo_attempts("/scratch/in"));
    attempts.extend(pseudo_attempts("/data/in"));
    let runw = Runw::with_executor(exec);
    for read_only_root in [false, true] {
        let (mut bundle, data) = probe_bundle(&attempts, read_only_root);
        let host_proc = HostMount::proc(&data.path().join("in/proc"));
        for (typ, dest) in [("proc", "/scratch/in/proc"), ("sysfs", "/scratch/in/sys")] {
            add_mount(
                &mut bundle,
                json!({"destination": dest, "type": typ, "source": typ}),
            );
        }
        assert_all_blocked(
            &runw,
            &bundle,
            &attempts,
            &format!("root.readonly={read_only_root}"),
        );
        drop(host_proc);
    }
}

/// A proc mounted on the host for the length of a test.
struct HostMount(std::path::PathBuf);

impl HostMount {
    fn proc(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("proc"),
            at,
            Some("proc"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn image_symlinks_do_not_reach_them(exec: &Executor) {
    let attempts: Vec<String> = [
        "read:/p/self/environ",
        "read:/p/1/cmdline",
        "read:/p/self/mountinfo",
        "openw:/p/self/mem",
        "openw:/p/1/mem",
        "read:/rp/self/environ",
        "openw:/rp/self/mem",
        "read:/data/rp/self/environ",
        "list:/s/fs/cgroup",
        "list:/rs/fs/cgroup",
        "list:/d",
        "create:/d/shm/x",
        "create:/rd/shm/x",
        "read:/root/proc/self/environ",
    ]
    .map(String::from)
    .to_vec();
    for_both_rootfs_modes(exec, &attempts, |bundle| {
        let rootfs = bundle.rootfs();
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, rootfs.join(name)).unwrap()
        };
        link("/proc", "p");
        link("proc", "rp");
        link("/sys", "s");
        link("sys", "rs");
        link("/dev", "d");
        link("dev", "rd");
        link("/", "root");
        std::fs::create_dir_all(rootfs.join("proc")).unwrap();
        std::fs::create_dir_all(rootfs.join("sys")).unwrap();
        std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    });
    // A relative symlink in a data mount, climbing out of it.
    let runw = Runw::with_executor(exec);
    let (bundle, data) = probe_bundle(&attempts, false);
    std::os::unix::fs::symlink("../proc", data.path().join("rp")).unwrap();
    assert_all_blocked(&runw, &bundle, &attempts, "symlink in a data mount");
}

fn a_cwd_symlinked_to_proc_is_not_preopened(exec: &Executor) {
    // libcontainer enters the cwd through the image's symlink (the Linux process would be
    // in /proc/self); the guest's `.` must not be that directory.
    let attempts: Vec<String> = [
        "read:environ",
        "read:mountinfo",
        "openw:mem",
        "openw:oom_score_adj",
        "read:../1/cmdline",
    ]
    .map(String::from)
    .to_vec();
    for_both_rootfs_modes(exec, &attempts, |bundle| {
        std::os::unix::fs::symlink("/proc/self", bundle.rootfs().join("here")).unwrap();
        bundle.edit(|c| c["process"]["cwd"] = json!("/here"));
    });
}

fn volumes_of_the_hosts_proc_and_sys_are_not_preopened(exec: &Executor) {
    let attempts: Vec<String> = [
        "read:/hostproc/self/environ",
        "read:/hostproc/1/cmdline",
        "read:/hostproc/self/mountinfo",
        "openw:/hostproc/self/mem",
        "openw:/hostproc/self/oom_score_adj",
        "list:/hostproc",
        "list:/hostsys",
        "list:/hostsys/fs/cgroup",
        "list:/hostcgroup",
        "read:/hostproc2/environ",
    ]
    .map(String::from)
    .to_vec();
    for_both_rootfs_modes(exec, &attempts, |bundle| {
        let bind = |source: &str, dest: &str| json!({"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rw"]});
        add_mount(bundle, bind("/proc", "/hostproc"));
        add_mount(bundle, bind("/sys", "/hostsys"));
        add_mount(bundle, bind("/sys/fs/cgroup", "/hostcgroup"));
        // A pseudo filesystem under a name that does not say so: a directory inside proc.
        add_mount(bundle, bind("/proc/self", "/hostproc2"));
    });
}

fn device_nodes_in_the_image_cannot_be_opened(exec: &Executor) {
    let attempts: Vec<String> = [
        "open:/devnode",
        "openw:/devnode",
        "open:/data/devnode",
        "openw:/data/devnode",
    ]
    .map(String::from)
    .to_vec();
    let runw = Runw::with_executor(exec);
    for read_only_root in [false, true] {
        let (bundle, data) = probe_bundle(&attempts, read_only_root);
        // /dev/null's numbers (1:3), in the image and in a volume.
        for dir in [bundle.rootfs(), data.path().to_path_buf()] {
            mknod_null(&dir.join("devnode"));
        }
        assert_all_blocked(
            &runw,
            &bundle,
            &attempts,
            &format!("root.readonly={read_only_root}"),
        );
    }
}

fn mknod_null(path: &Path) {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    mknod(
        path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 3),
    )
    .unwrap();
}

/// `runw exec` of a shell into a running wasm container still sees the container's own
/// `/proc` (nothing is unmounted), while a module exec'd there sees none.
fn exec_into_a_wasm_container_keeps_proc_for_linux_and_hides_it_from_modules(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let attempts = pseudo_attempts("");
    let (mut bundle, _data) = probe_bundle(&[], false);
    add_busybox(&bundle.rootfs());
    bundle.edit(|c| c["process"]["args"] = json!(["/probe.wasm", "sleep:30"]));
    let id = unique_id("view-exec");
    runw.run_detached(&bundle, &id);

    let out = runw.run(["exec", &id, "cat", "/proc/1/status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("Name:\t{}", exec.name)),
        "{out:?}"
    );

    let mut args = vec!["exec".to_owned(), id.clone(), "/probe.wasm".to_owned()];
    args.extend(CONTROLS.iter().map(|c| c.to_string()));
    args.extend(attempts.iter().cloned());
    let out = runw.run(&args);
    assert_probe(&out, &attempts, "runw exec of a module");

    runw.ok(["delete", "--force", &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}
