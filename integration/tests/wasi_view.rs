//! What WASI shows a guest, through `runw run`, once per executor (the conformance suite):
//! the preopen table, the working directory, errno values the WASI test suite checks, exit
//! codes of components, and argv/env bytes that are not UTF-8. Where an engine differs from
//! WASI, its test asserts the difference the README's executor table names.
#![allow(clippy::unwrap_used)]

use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use runw_integration::bundle::guest;
use runw_integration::{
    conformance, leftovers, unique_id, Bundle, Executor, Feature, Outcome, Runw,
};
use serde_json::json;

conformance!(
    preopens_are_named_by_their_guest_paths,
    the_preopen_named_root_is_the_rootfs,
    the_cwd_is_where_paths_resolve,
    directories_are_removed_with_a_trailing_slash,
    sock_shutdown_errors_are_wasis,
    a_component_exits_with_its_code,
    bytes_that_are_not_utf8,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");

/// `wasi_view VIEW ARGS...` at `/app/wasi_view.wasm`, cwd `/app`, with `/data` mounted
/// read-write from a fresh host directory; returns its outcome.
fn view(exec: &Executor, args: &[&str], prepare: impl FnOnce(&Path)) -> Outcome {
    view_in(exec, args, |bundle| prepare(&bundle.rootfs())).0
}

/// [`view`], preparing the whole bundle, and the bundle it ran, to look at afterwards.
fn view_in(exec: &Executor, args: &[&str], prepare: impl FnOnce(&mut Bundle)) -> (Outcome, Bundle) {
    let runw = Runw::with_executor(exec);
    let mut argv = vec!["/app/wasi_view.wasm"];
    argv.extend(args);
    let mut bundle = Bundle::wasm(&guest("wasi_view"), "/app/wasi_view.wasm", &argv, &[WASM]);
    let data = tempfile::tempdir().unwrap();
    let mount = json!({"destination": "/data", "type": "bind", "source": data.path(),
                       "options": ["rbind", "rw"]});
    bundle.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(mount);
        c["process"]["cwd"] = json!("/app");
    });
    std::fs::create_dir_all(bundle.rootfs().join("data")).unwrap();
    prepare(&mut bundle);
    let id = unique_id("view");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    (out, bundle)
}

fn preopens_are_named_by_their_guest_paths(exec: &Executor) {
    let out = view(exec, &["preopens"], |_| {});
    let expected = match exec.lacks(Feature::ExactPreopenNames) {
        None => "fd=3 name=\"/\" errno=0\nfd=4 name=\"/data\" errno=0\nfd=5 name=\".\" errno=0\n",
        // Expected to differ, for the reason given.
        Some(_) => "fd=3 name=\"/\" errno=0\nfd=4 name=\"data\" errno=0\nfd=5 name=\".\" errno=0\n",
    };
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
}

/// A program that finds `/` in the preopen table (as wasi-libc and the WASI test programs
/// do) reads and writes the rootfs through that descriptor.
fn the_preopen_named_root_is_the_rootfs(exec: &Executor) {
    for read_only in [false, true] {
        let (out, bundle) = view_in(exec, &["at-root", "app/marker"], |bundle| {
            std::fs::write(bundle.rootfs().join("app/marker"), "in /app\n").unwrap();
            bundle.edit(|c| c["root"]["readonly"] = json!(read_only));
        });
        let written = std::fs::read_to_string(bundle.rootfs().join("app/marker.new"));
        if read_only {
            // Read through it, never written: the rootfs is read-only.
            assert!(
                out.stdout.starts_with("root-fd=3 read=in /app create=E"),
                "{out:?}"
            );
            assert!(written.is_err(), "{out:?}");
        } else {
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (0, "root-fd=3 read=in /app create=ok\n"),
                "{out:?}"
            );
            assert_eq!(written.unwrap(), "new\n", "{out:?}");
        }
    }
}

fn the_cwd_is_where_paths_resolve(exec: &Executor) {
    let out = view(exec, &["cwd", "marker"], |rootfs| {
        std::fs::write(rootfs.join("app/marker"), "in /app\n").unwrap();
        std::fs::write(rootfs.join("marker"), "in /\n").unwrap();
    });
    // wasi-libc starts every program at `/` (it reads no PWD): `getcwd` says `/`. The cwd
    // is the preopen `.`, registered last, which wasi-libc prefers to `/` for every path
    // no longer preopen claims: relative paths and such absolute ones resolve in the cwd.
    let expected = match exec.lacks(Feature::RelativePathsInCwd) {
        None => "cwd=/\nrelative=in /app\nabsolute=in /app\n",
        // Expected to differ: paths resolve from `/`.
        Some(_) => "cwd=/\nrelative=in /\nabsolute=in /\n",
    };
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
}

fn directories_are_removed_with_a_trailing_slash(exec: &Executor) {
    let out = view(exec, &["rmdir-slash", "/data/d"], |_| {});
    let expected = match exec.lacks(Feature::RmdirTrailingSlash) {
        None => "create=ok remove-with-slash=ok\n",
        // Expected to fail, for the reason given.
        Some(_) => "create=ok remove-with-slash=Invalid argument (os error 28)\n",
    };
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
}

fn sock_shutdown_errors_are_wasis(exec: &Executor) {
    let out = view(exec, &["sock"], |_| {});
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "bad-fd=EBADF stdout=ENOTSOCK\n"),
        "{out:?}"
    );
}

/// A component calling `wasi:cli/exit`'s `exit-with-code(42)`, behind a block comment.
const WAT_EXIT_42: &str = r#"(; a component, though its first line is no `(component` ;)
(component
  (import "wasi:cli/exit@0.2.12" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core func $exit_with_code (canon lower (func $exit "exit-with-code")))
  (core module $main
    (import "cli" "exit-with-code" (func $exit_with_code (param i32)))
    (func (export "run") (result i32)
      (call $exit_with_code (i32.const 42))
      (i32.const 0)))
  (core instance $cli (export "exit-with-code" (func $exit_with_code)))
  (core instance $main (instantiate $main (with "cli" (instance $cli))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run_instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.12" (instance $run_instance)))
"#;

fn a_component_exits_with_its_code(exec: &Executor) {
    let runw = Runw::with_executor(exec);
    let wat = tempfile::Builder::new().suffix(".wat").tempfile().unwrap();
    std::fs::write(wat.path(), WAT_EXIT_42).unwrap();
    let bundle = Bundle::wasm(wat.path(), "/exit.wat", &["/exit.wat"], &[WASM]);
    let id = unique_id("exit42");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    match exec.lacks(Feature::Components) {
        None => assert_eq!(out.code, 42, "{out:?}"),
        // Expected to fail: refused as a component, once, in one line.
        Some(_) => {
            assert_eq!(out.code, 126, "{out:?}");
            let line = format!(
                "{0}: cannot load /exit.wat: {0} runs core modules, not components\n",
                exec.name
            );
            assert_eq!(out.stderr, line, "{out:?}");
        }
    }
}

/// Run by the executor itself on the host: a spec's args and env are JSON strings, which
/// cannot hold bytes that are not UTF-8, but the executor's contract carries any bytes.
fn bytes_that_are_not_utf8(exec: &Executor) {
    let wasm = guest("wasi_view");
    let arg = std::ffi::OsString::from_vec(b"a\xffb".to_vec());
    let value = std::ffi::OsString::from_vec(b"v\xfe".to_vec());
    let out = std::process::Command::new(&exec.path)
        .arg(&wasm)
        .args(["--", "/w.wasm", "bytes"])
        .arg(&arg)
        .env_clear()
        .env("K", &value)
        .output()
        .unwrap();
    let out = Outcome::from(out);
    let expected = match exec.name {
        // wasmer-wasix keeps argv as strings, environment entries as bytes.
        "wasmer-exec" => "arg=/w.wasm\narg=bytes\narg=a\\xef\\xbf\\xbdb\nenv=K=v\\xfe\n",
        // wasmtime's WASI takes strings, WasmEdge's C strings: U+FFFD for both.
        _ => "arg=/w.wasm\narg=bytes\narg=a\\xef\\xbf\\xbdb\nenv=K=v\\xef\\xbf\\xbd\n",
    };
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
}
