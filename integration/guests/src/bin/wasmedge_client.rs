//! TCP client on WasmEdge's socket extension: `wasmedge_client HOST PORT MESSAGE` resolves
//! HOST (a name or an address), connects, sends MESSAGE and a newline, and prints what comes
//! back until EOF.
#[path = "../net/echo.rs"]
mod echo;

use std::io::{Read, Write};

use wasmedge_wasi_socket::TcpStream;

fn main() {
    let (host, port, message) = echo::client_args();
    // The crate's `(name, port)` lookup asks for service "http", which needs the image's
    // /etc/services: the port is given as the service instead.
    let addrs = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => wasmedge_wasi_socket::nslookup(&host, &port.to_string())
            .unwrap_or_else(|e| echo::fail(&format!("resolve {host}"), e)),
    };
    let Some(addr) = addrs.first() else {
        echo::fail(
            &format!("resolve {host}"),
            std::io::ErrorKind::NotFound.into(),
        )
    };
    let mut conn =
        TcpStream::connect(addr).unwrap_or_else(|e| echo::fail(&format!("connect {addr}"), e));
    conn.write_all(format!("{message}\n").as_bytes())
        .unwrap_or_else(|e| echo::fail("send", e));
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .unwrap_or_else(|e| echo::fail("receive", e));
    print!("{reply}");
}
