//! Prints what WASI shows the guest, one line per fact, for the conformance suite. The first
//! argument names what to print:
//!
//! - `preopens`: every preopened descriptor, `fd=N name=NAME`, from fd 3 up to the first that
//!   is not one (as wasi-libc and the WASI test programs scan them);
//! - `cwd FILE`: `cwd=DIR` (`current_dir`), then reads FILE relatively and as `DIR/FILE`;
//! - `at-root FILE`: finds the preopen named `/` (as programs that find their directory by
//!   its absolute path do), reads FILE through it and creates `FILE.new` beside it;
//! - `rmdir-slash DIR`: creates `DIR`, removes it as `DIR/` (a trailing slash);
//! - `sock`: `sock_shutdown`'s errno on a descriptor that is not open and on stdout;
//! - `bytes`: every argument and environment entry, bytes outside printable ASCII as `\xNN`.
use std::os::wasi::ffi::OsStrExt;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn fd_prestat_get(fd: u32, prestat: *mut u32) -> u16;
    fn fd_prestat_dir_name(fd: u32, name: *mut u8, len: u32) -> u16;
    fn sock_shutdown(fd: u32, how: u8) -> u16;
    #[allow(clippy::too_many_arguments)]
    fn path_open(
        fd: u32,
        dirflags: u32,
        path: *const u8,
        path_len: usize,
        oflags: u16,
        rights: u64,
        inheriting: u64,
        fdflags: u16,
        opened: *mut u32,
    ) -> u16;
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
        Some("at-root") => at_root(&args[1]),
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
    for (fd, name, errno) in preopen_table() {
        println!("fd={fd} name={name:?} errno={errno}");
    }
}

/// Every preopen from fd 3 up to the first descriptor that is not one: fd, name, errno of
/// `fd_prestat_dir_name`.
fn preopen_table() -> Vec<(u32, String, u16)> {
    let mut table = Vec::new();
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
        table.push((fd, String::from_utf8_lossy(&name).into_owned(), errno));
    }
    table
}

fn at_root(file: &str) {
    use std::io::{Read, Write};
    let Some((root, ..)) = preopen_table().into_iter().find(|(_, name, _)| name == "/") else {
        println!("no preopen named /");
        return;
    };
    let read = open_at(root, file, 0, 0).map(|mut f| {
        let mut text = String::new();
        f.read_to_string(&mut text).map(|_| text.trim().to_owned())
    });
    // O_CREAT | O_TRUNC; rights: fd_read (2) | fd_write (64).
    let created = open_at(root, &format!("{file}.new"), 1 | 8, 2 | 64).map(|mut f| {
        f.write_all(b"new\n")
            .map_err(|e| e.raw_os_error().unwrap_or(0))
    });
    println!(
        "root-fd={root} read={} create={}",
        match read {
            Ok(Ok(text)) => text,
            Ok(Err(err)) => err.to_string(),
            Err(errno) => errno_name(errno),
        },
        match created {
            Ok(Ok(())) => "ok".into(),
            Ok(Err(errno)) => format!("write errno {errno}"),
            Err(errno) => errno_name(errno),
        }
    );
}

/// `path` opened beneath the directory descriptor `dir`, or the errno.
fn open_at(dir: u32, path: &str, oflags: u16, rights: u64) -> Result<std::fs::File, u16> {
    use std::os::wasi::io::FromRawFd;
    let mut opened = 0u32;
    // fd_read (2) | fd_seek (4) | fd_filestat_get (1 << 21) at least, to read it.
    let rights = rights | 2 | 4 | (1 << 21);
    // SAFETY: `path` is valid for its length and `opened` for the 4 bytes written to it.
    let errno = unsafe {
        path_open(
            dir,
            0,
            path.as_ptr(),
            path.len(),
            oflags,
            rights,
            0,
            0,
            &mut opened,
        )
    };
    if errno != 0 {
        return Err(errno);
    }
    // SAFETY: `opened` was just opened for this program alone.
    Ok(unsafe { std::fs::File::from_raw_fd(opened as i32) })
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
        2 => "EACCES".into(),
        8 => "EBADF".into(),
        44 => "ENOENT".into(),
        57 => "ENOTSOCK".into(),
        58 => "ENOTSUP".into(),
        63 => "EPERM".into(),
        69 => "EROFS".into(),
        76 => "ENOTCAPABLE".into(),
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
