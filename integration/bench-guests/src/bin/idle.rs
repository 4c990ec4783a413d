//! An idle workload: sleeps SECONDS (default 60), then exits 0.
fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    std::thread::sleep(std::time::Duration::from_secs(seconds));
}
