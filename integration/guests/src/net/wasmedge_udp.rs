//! WasmEdge's `sock_recv_from`, declared by hand: wasmedge_wasi_socket 0.5's `recv_from`
//! gives the sender as 0.0.0.0 (it passes the host an address buffer it declared immutable,
//! so the compiler may assume the host never wrote it), and reads the port WasmEdge writes
//! in network byte order as if it were in the host's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

#[repr(C)]
struct Address {
    buf: *mut u8,
    size: usize,
}

#[repr(C)]
struct IoVec {
    buf: *mut u8,
    size: usize,
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn sock_recv_from(
        fd: u32,
        iovs: *mut IoVec,
        iovs_len: u32,
        addr: *mut Address,
        flags: u16,
        port: *mut u32,
        read: *mut usize,
        ro_flags: *mut usize,
    ) -> u32;
}

/// The next datagram on `socket`, into `buf`: its length and sender.
pub fn recv_from(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    let mut raw = [0u8; 128];
    let mut addr = Address {
        buf: raw.as_mut_ptr(),
        size: raw.len(),
    };
    let mut iov = IoVec {
        buf: buf.as_mut_ptr(),
        size: buf.len(),
    };
    let (mut port, mut read, mut ro_flags) = (0, 0, 0);
    // SAFETY: `iov` describes `buf` and `addr` describes `raw`, both writable for their
    // lengths; the other out-parameters are valid places to write to.
    let errno = unsafe {
        sock_recv_from(
            socket.as_raw_fd() as u32,
            &mut iov,
            1,
            &mut addr,
            0,
            &mut port,
            &mut read,
            &mut ro_flags,
        )
    };
    if errno != 0 {
        return Err(io::Error::from_raw_os_error(errno as i32));
    }
    let ip = match u16::from_le_bytes([raw[0], raw[1]]) {
        1 => IpAddr::V4(Ipv4Addr::new(raw[2], raw[3], raw[4], raw[5])),
        2 => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&raw[2..18]).unwrap_or_default(),
        )),
        family => return Err(io::Error::other(format!("address family {family}"))),
    };
    // WasmEdge 0.17 writes the port as it is in the socket address: network byte order.
    let port = u16::from_be_bytes((port as u16).to_le_bytes());
    Ok((read, SocketAddr::new(ip, port)))
}
