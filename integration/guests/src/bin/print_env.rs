//! Prints its argv, its environment, and the file `marker` read by a relative path.
fn main() {
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
