//! UDP echo server on WasmEdge's socket extension: `wasmedge_udp_echo ADDR [COUNT]` binds
//! ADDR, prints `listening on ADDR`, and sends each of COUNT datagrams (default: for ever)
//! back to its sender.
#[path = "../net/echo.rs"]
mod echo;
#[path = "../net/wasmedge_udp.rs"]
mod wasmedge_udp;

use wasmedge_wasi_socket::UdpSocket;

fn main() {
    let (addr, count) = echo::server_args();
    let socket = UdpSocket::bind(addr).unwrap_or_else(|e| echo::fail(&format!("bind {addr}"), e));
    println!("listening on {addr}");
    let mut buf = [0; 2048];
    for _ in 0..count.unwrap_or(usize::MAX) {
        let (n, peer) = wasmedge_udp::recv_from(&socket, &mut buf)
            .unwrap_or_else(|e| echo::fail("recv_from", e));
        socket
            .send_to(&buf[..n], peer)
            .unwrap_or_else(|e| echo::fail("send_to", e));
    }
}
