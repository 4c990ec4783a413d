//! What a warm start no longer reads whole, and why that weakens nothing: runw checks an
//! entry's MAC once per boot and entry file, then trusts the entry while its file keeps the
//! identity it had (`verified/`); the executor trusts the module's digest while the module
//! file keeps the identity runw read it with. A write to either, in place or by rename,
//! must still be caught.

use std::os::unix::fs::FileExt;
use std::time::Duration;

use runw_integration::bundle::guest;
use runw_integration::{conformance, Bundle, Executor, Feature, Runw};

use super::support::{entries, names, run_to_file, Logged, WASM};

conformance!(
    an_entry_written_after_it_verified_is_caught,
    a_module_swapped_between_create_and_start_runs_as_swapped,
);

const HELLO: &str = "hello from wasm\n";

/// Long enough for a file's last change to be settled (the runtime's 2 s, and a margin).
const SETTLE: Duration = Duration::from_millis(2300);

fn compiles(exec: &Executor) -> bool {
    if let Some(why) = exec.lacks(Feature::CompiledForm) {
        eprintln!(
            "{}: nothing cached, no shortcut to attack ({why})",
            exec.name
        );
        return false;
    }
    true
}

/// `runw run` of `bundle`, logged; returns (status, output, log messages).
fn run(runw: &Runw, bundle: &Bundle) -> (i32, String, Vec<String>) {
    let logged = Logged::new("warm");
    let (code, out) = run_to_file(logged.command(runw, &["run"], bundle));
    (code, out, logged.messages())
}

fn count(messages: &[String], what: &str) -> usize {
    messages.iter().filter(|m| m.contains(what)).count()
}

fn an_entry_written_after_it_verified_is_caught(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[WASM]);
    let (code, out, _) = run(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, HELLO));
    let [entry] = entries(runw.cache_dir()).try_into().unwrap();
    // Once the entry is settled, a start checks it in full and remembers that.
    std::thread::sleep(SETTLE);
    let (code, out, _) = run(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, HELLO));
    let remembered = names(&runw.cache_dir().join("verified"));
    assert_eq!(remembered.len(), 1, "the full check was remembered");
    let valid = std::fs::read(&entry).unwrap();

    // In place, same size: only the MAC can tell, and it must be asked again.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&entry)
        .unwrap();
    let last = valid.len() as u64 - 1;
    file.write_at(&[valid[valid.len() - 1] ^ 0xff], last)
        .unwrap();
    drop(file);
    let (code, out, log) = run(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, HELLO), "{log:#?}");
    assert_eq!(count(&log, "does not verify"), 1, "in place: {log:#?}");

    // Replaced by rename with a changed copy, after the rebuilt entry is remembered too.
    std::thread::sleep(SETTLE);
    let (code, _, _) = run(&runw, &bundle);
    assert_eq!(code, 0);
    let mut changed = std::fs::read(&entry).unwrap();
    let middle = changed.len() - (changed.len() - (64 << 10)) / 2;
    changed[middle] ^= 0xff;
    let replacement = entry.with_extension("new");
    std::fs::write(&replacement, &changed).unwrap();
    std::fs::rename(&replacement, &entry).unwrap();
    let (code, out, log) = run(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, HELLO), "{log:#?}");
    assert_eq!(count(&log, "does not verify"), 1, "by rename: {log:#?}");
}

fn a_module_swapped_between_create_and_start_runs_as_swapped(exec: &Executor) {
    if !compiles(exec) {
        return;
    }
    let runw = Runw::with_executor(exec);
    let bundle = Bundle::wasm(&guest("hello"), "/m.wasm", &["/m.wasm"], &[WASM]);
    let module = bundle.rootfs().join("m.wasm");
    let (code, out, _) = run(&runw, &bundle);
    assert_eq!((code, out.as_str()), (0, HELLO));
    let hello = std::fs::read(&module).unwrap();
    let other = std::fs::read(guest("print_env")).unwrap();
    let swaps: [(&str, &dyn Fn()); 2] = [
        ("in place", &|| std::fs::write(&module, &other).unwrap()),
        ("by rename", &|| {
            let new = module.with_extension("new");
            std::fs::write(&new, &other).unwrap();
            std::fs::rename(&new, &module).unwrap();
        }),
    ];
    for (how, swap) in swaps {
        std::fs::write(&module, &hello).unwrap();
        // Settled: runw hands the module's identity over with the artifact of hello.
        std::thread::sleep(SETTLE);
        let logged = Logged::new("swap");
        let output = tempfile::NamedTempFile::new().unwrap();
        let mut create = logged.command(&runw, &["create"], &bundle);
        create
            .stdout(output.reopen().unwrap())
            .stderr(output.reopen().unwrap());
        assert!(create.status().unwrap().success(), "{how}");
        assert_eq!(count(&logged.messages(), "compile cache: hit"), 1, "{how}");
        swap();
        runw.ok(["start", &logged.id]);
        runw.wait_status(&logged.id, "stopped", 20);
        runw.ok(["delete", &logged.id]);
        let printed = std::fs::read_to_string(output.path()).unwrap();
        assert!(
            printed.contains("arg=/m.wasm") && !printed.contains(HELLO),
            "{how}: the module swapped in must run, not hello's artifact: {printed}"
        );
    }
}
