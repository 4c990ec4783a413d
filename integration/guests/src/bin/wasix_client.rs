//! TCP client on WASIX sockets: `wasix_client HOST PORT MESSAGE` resolves HOST (a name or an
//! address), connects, sends MESSAGE and a newline, and prints what comes back until EOF.
#[path = "../net/echo.rs"]
mod echo;
#[path = "../net/wasix.rs"]
mod wasix;

use std::io::{Read, Write};

fn main() {
    let (host, port, message) = echo::client_args();
    let addrs = match host.parse() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => {
            wasix::lookup(&host, port).unwrap_or_else(|e| echo::fail(&format!("resolve {host}"), e))
        }
    };
    let Some(addr) = addrs.first() else {
        echo::fail(
            &format!("resolve {host}"),
            std::io::ErrorKind::NotFound.into(),
        )
    };
    let mut conn =
        wasix::connect(*addr).unwrap_or_else(|e| echo::fail(&format!("connect {addr}"), e));
    conn.write_all(format!("{message}\n").as_bytes())
        .unwrap_or_else(|e| echo::fail("send", e));
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .unwrap_or_else(|e| echo::fail("receive", e));
    print!("{reply}");
}
