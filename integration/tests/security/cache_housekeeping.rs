//! The compile cache's own files: a directory another user could replace is refused; lock
//! files do not pile up; a FIFO planted among the entries does not hang a start.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use runw_integration::bundle::guest;
use runw_integration::{Bundle, Executor, Runw};

use super::support::{entries, names, run_to_file, Logged, WASM};

fn hello() -> Bundle {
    Bundle::wasm(&guest("hello"), "/hello.wasm", &["/hello.wasm"], &[WASM])
}

#[test]
fn a_cache_dir_below_another_users_directory_is_refused() {
    let mut runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(parent.path(), Some(65534), Some(65534)).unwrap();
    let cache = parent.path().join("cache");
    runw.share_cache(&cache);
    let logged = Logged::new("unsafe-parent");
    let (code, out) = run_to_file(logged.command(&runw, &["run"], &hello()));
    assert_eq!(
        (code, out.as_str()),
        (0, "hello from wasm\n"),
        "the container still runs"
    );
    let messages = logged.messages();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("another user could replace the cache")),
        "{messages:#?}"
    );
    assert!(
        !cache.exists(),
        "the cache was made below a directory nobody owns"
    );
}

#[test]
fn lock_files_do_not_pile_up_and_a_planted_fifo_does_not_hang_a_start() {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let bundle = hello();
    let first = Logged::new("locks");
    assert_eq!(run_to_file(first.command(&runw, &["run"], &bundle)).0, 0);
    let locks: Vec<_> = names(&runw.cache_dir().join("locks"))
        .into_iter()
        .filter(|n| !n.starts_with("slot."))
        .collect();
    assert_eq!(locks, Vec::<String>::new(), "per-key lock files left");

    let entry = entries(runw.cache_dir()).pop().expect("an entry");
    std::fs::remove_file(&entry).unwrap();
    nix::unistd::mkfifo(&entry, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let second = Logged::new("fifo");
    let command = second.command(&runw, &["run"], &bundle);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(run_to_file(command)));
    let (code, out) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a FIFO in entries/ hung the start");
    assert_eq!((code, out.as_str()), (0, "hello from wasm\n"));
    assert!(
        std::fs::metadata(&entry).unwrap().is_file(),
        "the FIFO was replaced by a real entry"
    );
}
