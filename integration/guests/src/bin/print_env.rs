//! Prints its argv, its environment, and the file `marker` read by a relative path; first
//! sleeps for `PRINT_ENV_SLEEP_MS` milliseconds if that is set (a host call that sets the
//! engines' I/O runtimes going).
fn main() {
    if let Some(ms) = std::env::var("PRINT_ENV_SLEEP_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    for arg in std::env::args() {
        println!("arg={arg}");
    }
    for (key, value) in std::env::vars() {
        println!("env={key}={value}");
    }
    // WASI has no cwd; relative paths resolve in the `.` preopen, the spec's cwd.
    match std::fs::read_to_string("marker") {
        Ok(text) => println!("relative={}", text.trim()),
        Err(err) => println!("relative-error={err}"),
    }
}
