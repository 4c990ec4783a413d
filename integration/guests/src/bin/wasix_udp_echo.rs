//! UDP echo server on WASIX sockets: `wasix_udp_echo ADDR [COUNT]` binds ADDR, prints
//! `listening on ADDR`, and sends each of COUNT datagrams (default: for ever) back to its
//! sender.
#[path = "../net/echo.rs"]
mod echo;
#[path = "../net/wasix.rs"]
mod wasix;

fn main() {
    let (addr, count) = echo::server_args();
    let socket = wasix::udp_bind(addr).unwrap_or_else(|e| echo::fail(&format!("bind {addr}"), e));
    println!("listening on {addr}");
    let mut buf = [0; 2048];
    for _ in 0..count.unwrap_or(usize::MAX) {
        let (n, peer) =
            wasix::recv_from(socket, &mut buf).unwrap_or_else(|e| echo::fail("recv_from", e));
        wasix::send_to(socket, &buf[..n], peer).unwrap_or_else(|e| echo::fail("send_to", e));
    }
}
