//! Copies stdin to stdout.
fn main() {
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::stdout());
}
