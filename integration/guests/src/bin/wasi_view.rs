//! Prints what WASI shows the guest, one line per fact, for the conformance suite. The first
//! argument names what to print:
//!
//! - `preopens`: every preopened descriptor, `fd=N name=NAME`, from fd 3 up to the first that
//!   is not one (as wasi-libc and the WASI test programs scan them);
//! - `cwd FILE`: `cwd=DIR` (`current_dir`), then reads FILE relatively and as `DIR/FILE`;
//! - `rmdir-slash DIR`: creates `DIR`, removes it as `DIR/` (a trailing slash);
//! - `sock`: `sock_shutdown`'s errno on a descriptor that is not open and on stdout;
//! - `bytes`: every argument and environment entry, bytes outside printable ASCII as `\xNN`.
use std::os::wasi::ffi::OsStrExt;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn fd_prestat_get(fd: u32, prestat: *mut u32) -> u16;
    fn fd_prestat_dir_name(fd: u32, name: *mut u8, len: u32) -> u16;
    fn sock_shutdown(fd: u32, how: u8) -> u16;
}

fn main() {
    // Lossy: the arguments of `bytes` need not be UTF-8.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .take(2)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.first().map(String::as_str) {
        Some("preopens") => preopens(),
        Some("cwd") => cwd(&args[1]),
        Some("rmdir-slash") => rmdir_slash(&args[1]),
        Some("sock") => sock(),
        Some("bytes") => bytes(),
        other => {
            eprintln!("unknown view {other:?}");
            std::process::exit(2);
        }
    }
}

fn preopens() {
    for fd in 3u32.. {
        // A prestat is a tag (u8, 0 for a directory) and the name's length (u32).
        let mut prestat = [0u32; 2];
        // SAFETY: `prestat` has room for the 8 bytes fd_prestat_get writes.
        if unsafe { fd_prestat_get(fd, prestat.as_mut_ptr()) } != 0 {
            break;
        }
        let mut name = vec![0u8; prestat[1] as usize];
        // SAFETY: `name` has room for the `len` bytes asked for.
        let errno = unsafe { fd_prestat_dir_name(fd, name.as_mut_ptr(), prestat[1]) };
        println!(
            "fd={fd} name={:?} errno={errno}",
            String::from_utf8_lossy(&name)
        );
    }
}

fn cwd(file: &str) {
    let dir = std::env::current_dir();
    match &dir {
        Ok(dir) => println!("cwd={}", dir.display()),
        Err(err) => println!("cwd-error={err}"),
    }
    let read = |path: &std::path::Path| match std::fs::read_to_string(path) {
        Ok(text) => text.trim().to_owned(),
        Err(err) => format!("error: {err}"),
    };
    println!("relative={}", read(file.as_ref()));
    if let Ok(dir) = dir {
        println!("absolute={}", read(&dir.join(file)));
    }
}

fn rmdir_slash(dir: &str) {
    let made = std::fs::create_dir(dir);
    let removed = std::fs::remove_dir(format!("{dir}/"));
    println!(
        "create={} remove-with-slash={}",
        made.map_or_else(|e| e.to_string(), |()| "ok".into()),
        removed.map_or_else(|e| e.to_string(), |()| "ok".into())
    );
}

fn sock() {
    // SAFETY: sock_shutdown takes plain numbers.
    let (bad, stdout) = unsafe { (sock_shutdown(0x7fff_fff0, 1), sock_shutdown(1, 1)) };
    println!("bad-fd={} stdout={}", errno_name(bad), errno_name(stdout));
}

fn errno_name(errno: u16) -> String {
    match errno {
        0 => "ok".into(),
        8 => "EBADF".into(),
        57 => "ENOTSOCK".into(),
        58 => "ENOTSUP".into(),
        other => format!("errno {other}"),
    }
}

fn bytes() {
    for arg in std::env::args_os() {
        println!("arg={}", escaped(arg.as_bytes()));
    }
    for (key, value) in std::env::vars_os() {
        println!(
            "env={}={}",
            escaped(key.as_bytes()),
            escaped(value.as_bytes())
        );
    }
}

fn escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b' '..=b'~' if b != b'\\' => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}
