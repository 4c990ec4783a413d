//! Tries to leave its preopens: `escape PATH` reads PATH, which must fail. Prints
//! "escaped: <content>" and exits 0 if it could read it, "blocked: <error>" and exits 3 if not.
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    match std::fs::read_to_string(&path) {
        Ok(text) => println!("escaped: {}", text.trim()),
        Err(err) => {
            println!("blocked: {err}");
            std::process::exit(3);
        }
    }
}
