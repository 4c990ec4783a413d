//! What runw opens on the host from an image or a volume before the container exists (the
//! compile cache reads the entrypoint module): only regular files, never blocking. A FIFO
//! as the entrypoint must not hang `create`; a device node in an image must not be opened by
//! root on the host, outside the container's device cgroup. The container says in one line
//! why such an entrypoint cannot run.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use runw_integration::bundle::guest;
use runw_integration::{leftovers, unique_id, Bundle, Executor, Runw};
use serde_json::json;

use super::support::{run_to_file, WASM};

/// `runw run` of `bundle`, which must end (not hang) within 60 s.
fn run_bounded(runw: &Runw, bundle: &Bundle) -> (i32, String, String) {
    let id = unique_id("hostopen");
    let mut command = runw.command(["run", "--bundle"]);
    command.arg(bundle.path()).arg(&id);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(run_to_file(command)));
    let (code, out) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("runw hung on a special file");
    (code, out, id)
}

fn mknod(path: &Path, mode: libc::mode_t, dev: libc::dev_t) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod with a valid path; the result is checked.
    let made = unsafe { libc::mknod(c.as_ptr(), mode, dev) };
    assert_eq!(made, 0, "mknod {}", path.display());
}

#[test]
fn a_fifo_entrypoint_fails_create_at_once_naming_it() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    // In the image.
    let bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/app.wasm"], &[WASM]);
    mknod(&bundle.rootfs().join("app.wasm"), libc::S_IFIFO | 0o644, 0);
    let (code, out, id) = run_bounded(&runw, &bundle);
    assert_ne!(code, 0, "{out}");
    let lines: Vec<_> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("/app.wasm") && lines[0].contains("FIFO"),
        "{out}"
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));

    // In a writable volume.
    let volume = tempfile::tempdir().unwrap();
    mknod(&volume.path().join("m.wasm"), libc::S_IFIFO | 0o644, 0);
    let mut bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/vol/m.wasm"], &[WASM]);
    std::fs::create_dir_all(bundle.rootfs().join("vol")).unwrap();
    let mount = json!({"destination": "/vol", "type": "bind", "source": volume.path(), "options": ["rbind", "rw"]});
    bundle.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount));
    let (code, out, id) = run_bounded(&runw, &bundle);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("FIFO"), "{out}");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn a_fifo_earlier_on_path_is_skipped_for_a_smart_container() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let mut bundle = Bundle::wasm(
        &guest("hello"),
        "/b/greeter",
        &["greeter"],
        &[("run.oci.handler", "wasm-smart")],
    );
    std::fs::create_dir_all(bundle.rootfs().join("a")).unwrap();
    mknod(&bundle.rootfs().join("a/greeter"), libc::S_IFIFO | 0o755, 0);
    bundle.edit(|c| c["process"]["env"] = json!(["PATH=/a:/b"]));
    let (code, out, id) = run_bounded(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, "hello from wasm\n"));
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

#[test]
fn a_device_node_in_the_image_is_never_opened_on_the_host() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/dev.wasm"], &[WASM]);
    let node = bundle.rootfs().join("dev.wasm");
    mknod(&node, libc::S_IFCHR | 0o666, libc::makedev(1, 3)); // /dev/null's numbers
                                                              // Every open of the node, by anyone, shows as IN_OPEN.
    let c = CString::new(node.as_os_str().as_bytes()).unwrap();
    // SAFETY: inotify_init1 and inotify_add_watch with a valid path; results checked.
    let inotify = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(inotify >= 0);
    // SAFETY: as above.
    assert!(unsafe { libc::inotify_add_watch(inotify, c.as_ptr(), libc::IN_OPEN) } >= 0);
    let (code, out, id) = run_bounded(&runw, &bundle);
    let mut buf = [0u8; 4096];
    // SAFETY: reads into a local buffer of its size.
    let n = unsafe { libc::read(inotify, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(inotify) };
    assert!(
        n <= 0,
        "the device node was opened ({n} bytes of inotify events)"
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("/dev.wasm") && out.contains("character device"),
        "{out}"
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}
