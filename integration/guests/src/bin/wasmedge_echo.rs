//! TCP echo server on WasmEdge's socket extension: `wasmedge_echo ADDR [COUNT]` listens on
//! ADDR, prints `listening on ADDR`, and echoes COUNT connections (default: forever), each
//! until EOF.
#[path = "../net/echo.rs"]
mod echo;

use wasmedge_wasi_socket::TcpListener;

fn main() {
    let (addr, count) = echo::server_args();
    let listener =
        TcpListener::bind(addr, false).unwrap_or_else(|e| echo::fail(&format!("listen {addr}"), e));
    println!("listening on {addr}");
    for _ in 0..count.unwrap_or(usize::MAX) {
        let (conn, _) = listener
            .accept(false)
            .unwrap_or_else(|e| echo::fail("accept", e));
        if let Err(err) = echo::echo(conn) {
            eprintln!("echo: {err}");
        }
    }
}
