//! Filesystem operations on command, each printing one line: `ok ...` or `err ERRNO MESSAGE`
//! (the raw errno the guest saw), always exiting 0.
//!
//! - `read PATH`: `ok CONTENT`
//! - `write PATH TEXT`
//! - `link FROM TO`: a hard link
//! - `rename FROM TO`
//! - `read-loop PATH N`: reads PATH N times, printing `ok` and every distinct content seen
//!   (errors are counted apart: a path that is being swapped fails now and then).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let result = match arg(1) {
        "read" => std::fs::read_to_string(arg(2)),
        "write" => std::fs::write(arg(2), arg(3)).map(|()| String::new()),
        "link" => std::fs::hard_link(arg(2), arg(3)).map(|()| String::new()),
        "rename" => std::fs::rename(arg(2), arg(3)).map(|()| String::new()),
        "read-loop" => Ok(read_loop(arg(2), arg(3).parse().unwrap_or(1))),
        other => Ok(format!("unknown command {other:?}")),
    };
    match result {
        Ok(text) => println!("ok {}", text.trim()),
        Err(err) => println!("err {} {err}", err.raw_os_error().unwrap_or(-1)),
    }
}

fn read_loop(path: &str, times: usize) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut errors = 0;
    for _ in 0..times {
        match std::fs::read_to_string(path) {
            Ok(text) => drop(seen.insert(text.trim().to_owned())),
            Err(_) => errors += 1,
        }
    }
    let seen: Vec<_> = seen.into_iter().collect();
    format!("seen [{}] errors {errors}", seen.join(","))
}
