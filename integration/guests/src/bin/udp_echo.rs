//! A UDP echo server (`std::net::UdpSocket`): `udp_echo ADDR [COUNT]` binds ADDR, says
//! `listening on ADDR` on stdout, sends each of COUNT datagrams (default: for ever) back to
//! its sender, exits 0. Where the engine has no sockets, prints the bind error on stderr and
//! exits 1.
#[path = "../net/echo.rs"]
mod echo;

use std::net::UdpSocket;

fn main() {
    let (addr, count) = echo::server_args();
    let socket = UdpSocket::bind(addr).unwrap_or_else(|e| echo::fail(&format!("bind {addr}"), e));
    println!("listening on {addr}");
    let mut buf = [0; 2048];
    for _ in 0..count.unwrap_or(usize::MAX) {
        let (n, peer) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| echo::fail("recv_from", e));
        socket
            .send_to(&buf[..n], peer)
            .unwrap_or_else(|e| echo::fail("send_to", e));
    }
}
