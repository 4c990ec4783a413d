//! TCP echo server on WASIX sockets: `wasix_echo ADDR [COUNT]` listens on ADDR, prints
//! `listening on ADDR`, and echoes COUNT connections (default: forever), each until EOF.
#[path = "../net/echo.rs"]
mod echo;
#[path = "../net/wasix.rs"]
mod wasix;

fn main() {
    let (addr, count) = echo::server_args();
    let listener = wasix::listen(addr).unwrap_or_else(|e| echo::fail(&format!("listen {addr}"), e));
    println!("listening on {addr}");
    for _ in 0..count.unwrap_or(usize::MAX) {
        let conn = wasix::accept(listener).unwrap_or_else(|e| echo::fail("accept", e));
        if let Err(err) = echo::echo(conn) {
            eprintln!("echo: {err}");
        }
    }
}
