//! A preopen is a capability: the guest reaches what is beneath it and nothing else, through
//! no symlink and no `..`, and what it does there is what the kernel does (a hard link is a
//! link on disk, a rename a rename, a rename between two mounts fails without copying, a
//! read-only mount refuses writes). Attacked with the `fs_ops` guest on bind mounts, once per
//! executor.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use runw_integration::bundle::guest;
use runw_integration::{
    conformance, leftovers, unique_id, Bundle, Executor, Feature, Outcome, Runw,
};
use serde_json::json;
use tempfile::TempDir;

conformance!(
    symlinks_and_dotdot_do_not_lead_from_one_preopen_into_another,
    a_hard_link_is_a_link_on_disk_or_refused,
    a_rename_within_a_preopen_is_the_kernels,
    a_rename_between_two_mounts_fails_and_copies_nothing,
    a_read_only_preopen_refuses_every_write,
    a_directory_swapped_for_a_symlink_never_leads_outside,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");

/// A bundle running `fs_ops ARGS` with two host directories mounted at `/a` and `/b`.
fn bundle(args: &[&str], b_read_only: bool) -> (Bundle, TempDir, TempDir) {
    let mut argv = vec!["/fs_ops.wasm"];
    argv.extend_from_slice(args);
    let mut bundle = Bundle::wasm(&guest("fs_ops"), "/fs_ops.wasm", &argv, &[WASM]);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    mount(&mut bundle, a.path(), "/a", false);
    mount(&mut bundle, b.path(), "/b", b_read_only);
    (bundle, a, b)
}

fn mount(bundle: &mut Bundle, host: &Path, dest: &str, read_only: bool) {
    let options = if read_only {
        json!(["rbind", "ro"])
    } else {
        json!(["rbind", "rw"])
    };
    let mount = json!({"destination": dest, "type": "bind", "source": host, "options": options});
    bundle.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount));
    std::fs::create_dir_all(bundle.rootfs().join(dest.trim_start_matches('/'))).unwrap();
}

fn run(exec: &Executor, bundle: &Bundle) -> Outcome {
    let runw = Runw::with_executor(exec);
    let id = unique_id("preopen");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    assert_eq!(out.code, 0, "{out:?}");
    out
}

fn symlinks_and_dotdot_do_not_lead_from_one_preopen_into_another(exec: &Executor) {
    for path in [
        "/b/secret",
        "/a/relative",
        "/a/absolute",
        "/a/../b/secret",
        "/a/deep/../../b/secret",
    ] {
        let (bundle, a, b) = bundle(&["read", path], false);
        std::fs::write(b.path().join("secret"), "b-secret").unwrap();
        std::os::unix::fs::symlink("../b/secret", a.path().join("relative")).unwrap();
        std::os::unix::fs::symlink("/b/secret", a.path().join("absolute")).unwrap();
        std::fs::create_dir(a.path().join("deep")).unwrap();
        let out = run(exec, &bundle);
        if path == "/b/secret" {
            // The file is there, and readable the direct way: the attacks below are real.
            assert_eq!(out.stdout, "ok b-secret\n", "{out:?}");
        } else {
            assert!(
                out.stdout.starts_with("err "),
                "{path} left preopen /a: {out:?}"
            );
        }
    }
}

/// The kernel's link (same inode, two links), or a clean refusal that creates nothing: never
/// a success that leaves nothing on disk (wasmer-wasix faked links in its own memory).
fn a_hard_link_is_a_link_on_disk_or_refused(exec: &Executor) {
    let (bundle, a, _b) = bundle(&["link", "/a/file", "/a/link"], false);
    std::fs::write(a.path().join("file"), "linked").unwrap();
    let out = run(exec, &bundle);
    let file = a.path().join("file").metadata().unwrap();
    if out.stdout.starts_with("err ") && exec.lacks(Feature::HardLinks).is_some() {
        assert!(!a.path().join("link").exists(), "{out:?}");
        assert_eq!(file.nlink(), 1, "{out:?}");
        return;
    }
    assert_eq!(out.stdout, "ok \n", "{out:?}");
    let link = a
        .path()
        .join("link")
        .symlink_metadata()
        .unwrap_or_else(|e| panic!("no link on disk ({e}): {out:?}"));
    assert_eq!(
        (link.ino(), link.nlink(), file.nlink()),
        (file.ino(), 2, 2),
        "{out:?}"
    );
}

fn a_rename_within_a_preopen_is_the_kernels(exec: &Executor) {
    let (bundle, a, _b) = bundle(&["rename", "/a/dir/file", "/a/moved"], false);
    std::fs::create_dir(a.path().join("dir")).unwrap();
    std::fs::write(a.path().join("dir/file"), "moved").unwrap();
    let before = a.path().join("dir/file").metadata().unwrap().ino();
    let out = run(exec, &bundle);
    assert_eq!(out.stdout, "ok \n", "{out:?}");
    assert!(!a.path().join("dir/file").exists(), "{out:?}");
    assert_eq!(
        a.path().join("moved").metadata().unwrap().ino(),
        before,
        "a copy, not a rename: {out:?}"
    );
}

fn a_rename_between_two_mounts_fails_and_copies_nothing(exec: &Executor) {
    for to in ["/b/new", "/b/existing"] {
        let (bundle, a, b) = bundle(&["rename", "/a/file", to], false);
        std::fs::write(a.path().join("file"), "from-a").unwrap();
        std::fs::write(b.path().join("existing"), "kept").unwrap();
        let out = run(exec, &bundle);
        assert!(out.stdout.starts_with("err "), "{to}: {out:?}");
        assert_eq!(
            std::fs::read_to_string(a.path().join("file")).unwrap(),
            "from-a",
            "{to}: {out:?}"
        );
        assert!(!b.path().join("new").exists(), "{to}: {out:?}");
        assert_eq!(
            std::fs::read_to_string(b.path().join("existing")).unwrap(),
            "kept",
            "{to}: {out:?}"
        );
    }
}

fn a_read_only_preopen_refuses_every_write(exec: &Executor) {
    let attempts: [&[&str]; 5] = [
        &["write", "/b/new", "x"],
        &["write", "/b/file", "x"],
        &["link", "/b/file", "/b/link"],
        &["rename", "/b/file", "/b/moved"],
        &["read", "/b/file"],
    ];
    for args in attempts {
        let (bundle, _a, b) = bundle(args, true);
        std::fs::write(b.path().join("file"), "read-only").unwrap();
        let out = run(exec, &bundle);
        if args[0] == "read" {
            assert_eq!(out.stdout, "ok read-only\n", "{out:?}");
            continue;
        }
        assert!(out.stdout.starts_with("err "), "{args:?}: {out:?}");
        let names: Vec<_> = std::fs::read_dir(b.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"], "{args:?}: {out:?}");
        assert_eq!(
            std::fs::read_to_string(b.path().join("file")).unwrap(),
            "read-only",
            "{args:?}: {out:?}"
        );
    }
}

/// `/a/dir` is swapped, from the host, between a directory and a symlink to `/` while the
/// guest reads `/a/dir/file` over and over: it reads the directory's file or fails, and
/// never reads the container's `/file`.
fn a_directory_swapped_for_a_symlink_never_leads_outside(exec: &Executor) {
    let (bundle, a, _b) = bundle(&["read-loop", "/a/dir/file", "20000"], false);
    std::fs::write(bundle.rootfs().join("file"), "outside").unwrap();
    std::fs::create_dir(a.path().join("real")).unwrap();
    std::fs::write(a.path().join("real/file"), "inside").unwrap();
    std::os::unix::fs::symlink("/", a.path().join("evil")).unwrap();
    std::fs::rename(a.path().join("real"), a.path().join("dir")).unwrap();
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            let (dir, real, evil) = (
                a.path().join("dir"),
                a.path().join("real"),
                a.path().join("evil"),
            );
            while !done.load(Ordering::Relaxed) {
                std::fs::rename(&dir, &real).unwrap();
                std::fs::rename(&evil, &dir).unwrap();
                std::thread::yield_now();
                std::fs::rename(&dir, &evil).unwrap();
                std::fs::rename(&real, &dir).unwrap();
                std::thread::yield_now();
            }
        });
        let out = run(exec, &bundle);
        done.store(true, Ordering::Relaxed);
        out
    });
    assert!(out.stdout.starts_with("ok seen ["), "{out:?}");
    assert!(
        !out.stdout.contains("outside"),
        "read outside its preopen: {out:?}"
    );
}
