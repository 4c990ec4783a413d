//! Probes the guest's view of the filesystem: each argument is one attempt `OP:PATH`, and
//! one line is printed per attempt, `OP:PATH blocked: <why>` or `OP:PATH OPEN: <what>`.
//!
//! - `read:PATH` reads the file;
//! - `list:PATH` lists the directory (an empty one counts as blocked: nothing to see);
//! - `create:PATH` creates the file;
//! - `openw:PATH` opens the existing file for writing;
//! - `open:PATH` opens the file for reading and reads one byte (a device node, say);
//! - `sleep:SECONDS` sleeps (so that a test can exec into the container), printing nothing.
use std::io::Read;

fn main() {
    for attempt in std::env::args().skip(1) {
        let (op, path) = attempt.split_once(':').unwrap_or(("?", &attempt));
        if op == "sleep" {
            std::thread::sleep(std::time::Duration::from_secs(path.parse().unwrap_or(0)));
            continue;
        }
        match try_op(op, path) {
            Ok(what) => println!("{attempt} OPEN: {what}"),
            Err(why) => println!("{attempt} blocked: {why}"),
        }
    }
}

fn try_op(op: &str, path: &str) -> Result<String, String> {
    let err = |e: std::io::Error| e.to_string();
    match op {
        "read" => std::fs::read(path)
            .map(|bytes| format!("{} bytes", bytes.len()))
            .map_err(err),
        "list" => {
            let names: Vec<String> = std::fs::read_dir(path)
                .map_err(err)?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            if names.is_empty() {
                return Err("empty".into());
            }
            Ok(names.join(","))
        }
        "create" => std::fs::File::create_new(path)
            .map(|_| "created".into())
            .map_err(err),
        "openw" => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(|_| "writable".into())
            .map_err(err),
        "open" => {
            let mut file = std::fs::File::open(path).map_err(err)?;
            let mut byte = [0u8; 1];
            let n = file.read(&mut byte).map_err(err)?;
            Ok(format!("opened, read {n} byte(s)"))
        }
        _ => Err(format!("unknown op {op:?}")),
    }
}
