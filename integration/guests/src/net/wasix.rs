//! WASIX sockets (wasmer-wasix's `wasix_32v1` calls) for a `wasm32-wasip1` program, declared
//! by hand: the WASIX toolchain is not at hand here, and these few calls are all the guests
//! need. Sockets are ordinary WASI descriptors: read and write them as files.
// Each program uses part of this.
#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::FromRawFd;

#[link(wasm_import_module = "wasix_32v1")]
extern "C" {
    fn sock_open(af: i32, ty: i32, proto: i32, fd: *mut u32) -> i32;
    fn sock_bind(fd: u32, addr: *const AddrPort) -> i32;
    fn sock_listen(fd: u32, backlog: u32) -> i32;
    fn sock_accept_v2(fd: u32, flags: i32, new_fd: *mut u32, peer: *mut AddrPort) -> i32;
    fn sock_connect(fd: u32, addr: *const AddrPort) -> i32;
    fn sock_recv_from(
        fd: u32,
        iovs: *const IoVec,
        iovs_len: u32,
        flags: u16,
        read: *mut u32,
        ro_flags: *mut u16,
        peer: *mut AddrPort,
    ) -> i32;
    fn sock_send_to(
        fd: u32,
        iovs: *const IoVec,
        iovs_len: u32,
        flags: u16,
        peer: *const AddrPort,
        sent: *mut u32,
    ) -> i32;
    fn resolve(
        host: *const u8,
        host_len: u32,
        port: i32,
        addrs: *mut Addr,
        naddrs: u32,
        found: *mut u32,
    ) -> i32;
}

const INET4: u8 = 1;
const INET6: u8 = 2;
const STREAM: i32 = 1;
const DGRAM: i32 = 2;

/// `__wasi_iovec_t` (and `__wasi_ciovec_t`) of wasm32: a buffer's address and length.
#[repr(C)]
struct IoVec {
    buf: *const u8,
    len: u32,
}

/// `__wasi_addr_port_t`: family, padding, then port and address bytes.
#[repr(C)]
struct AddrPort {
    tag: u8,
    padding: u8,
    octets: [u8; 18],
}

/// `__wasi_addr_t`: family, padding, address bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct Addr {
    tag: u8,
    padding: u8,
    octets: [u8; 16],
}

impl AddrPort {
    fn new(addr: SocketAddr) -> Self {
        let mut octets = [0; 18];
        // wasmer-wasix 0.704 reads the port in the host's byte order (little-endian).
        octets[..2].copy_from_slice(&addr.port().to_le_bytes());
        let tag = match addr.ip() {
            IpAddr::V4(ip) => {
                octets[2..6].copy_from_slice(&ip.octets());
                INET4
            }
            IpAddr::V6(ip) => {
                octets[2..18].copy_from_slice(&ip.octets());
                INET6
            }
        };
        AddrPort {
            tag,
            padding: 0,
            octets,
        }
    }

    /// An address wasmer-wasix wrote: unlike what it reads, the port in network byte order
    /// (wasmer-wasix 0.704's `write_ip_port`).
    fn written(&self) -> io::Result<SocketAddr> {
        let port = u16::from_be_bytes([self.octets[0], self.octets[1]]);
        let ip: IpAddr = match self.tag {
            INET4 => <[u8; 4]>::try_from(&self.octets[2..6]).map(IpAddr::from),
            INET6 => <[u8; 16]>::try_from(&self.octets[2..18]).map(IpAddr::from),
            tag => return Err(io::Error::other(format!("address family {tag}"))),
        }
        .map_err(io::Error::other)?;
        Ok(SocketAddr::new(ip, port))
    }

    fn empty() -> Self {
        AddrPort {
            tag: 0,
            padding: 0,
            octets: [0; 18],
        }
    }
}

fn check(call: &str, errno: i32) -> io::Result<()> {
    match errno {
        0 => Ok(()),
        n => Err(io::Error::other(format!("{call}: wasi errno {n}"))),
    }
}

fn open(addr: &SocketAddr) -> io::Result<u32> {
    open_typed(addr, STREAM)
}

fn open_typed(addr: &SocketAddr, ty: i32) -> io::Result<u32> {
    let af = if addr.is_ipv4() { INET4 } else { INET6 };
    let mut fd = 0;
    // SAFETY: `fd` is a valid place for the call to write the new descriptor.
    check("sock_open", unsafe { sock_open(af.into(), ty, 0, &mut fd) })?;
    Ok(fd)
}

/// A UDP socket bound to `addr`.
pub fn udp_bind(addr: SocketAddr) -> io::Result<u32> {
    let fd = open_typed(&addr, DGRAM)?;
    let raw = AddrPort::new(addr);
    // SAFETY: `raw` is a valid `__wasi_addr_port_t` for the duration of the call.
    check("sock_bind", unsafe { sock_bind(fd, &raw) })?;
    Ok(fd)
}

/// The next datagram on UDP socket `fd`, into `buf`: its length and sender.
pub fn recv_from(fd: u32, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    let iov = IoVec {
        buf: buf.as_mut_ptr(),
        len: buf.len() as u32,
    };
    let (mut read, mut ro_flags, mut peer) = (0, 0, AddrPort::empty());
    // SAFETY: `iov` describes `buf`, writable for its length; the out-parameters are valid
    // places to write to.
    check("sock_recv_from", unsafe {
        sock_recv_from(fd, &iov, 1, 0, &mut read, &mut ro_flags, &mut peer)
    })?;
    Ok((read as usize, peer.written()?))
}

/// Sends `data` as one datagram from UDP socket `fd` to `peer`.
pub fn send_to(fd: u32, data: &[u8], peer: SocketAddr) -> io::Result<()> {
    let iov = IoVec {
        buf: data.as_ptr(),
        len: data.len() as u32,
    };
    let peer = &AddrPort::new(peer);
    let mut sent = 0;
    // SAFETY: `iov` describes `data` and `peer` is a valid `__wasi_addr_port_t`, both for the
    // duration of the call; `sent` is a valid place to write to.
    check("sock_send_to", unsafe {
        sock_send_to(fd, &iov, 1, 0, peer, &mut sent)
    })
}

/// A listening TCP socket on `addr`.
pub fn listen(addr: SocketAddr) -> io::Result<u32> {
    let fd = open(&addr)?;
    let raw = AddrPort::new(addr);
    // SAFETY: `raw` is a valid `__wasi_addr_port_t` for the duration of the call.
    check("sock_bind", unsafe { sock_bind(fd, &raw) })?;
    // SAFETY: plain integers.
    check("sock_listen", unsafe { sock_listen(fd, 16) })?;
    Ok(fd)
}

/// The next connection on `listener`, as a file.
pub fn accept(listener: u32) -> io::Result<File> {
    let mut fd = 0;
    let mut peer = AddrPort::empty();
    // SAFETY: `fd` and `peer` are valid places for the call to write to.
    check("sock_accept", unsafe {
        sock_accept_v2(listener, 0, &mut fd, &mut peer)
    })?;
    // SAFETY: the call returned a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

/// A TCP connection to `addr`, as a file.
pub fn connect(addr: SocketAddr) -> io::Result<File> {
    let fd = open(&addr)?;
    let raw = AddrPort::new(addr);
    // SAFETY: `raw` is a valid `__wasi_addr_port_t` for the duration of the call.
    check("sock_connect", unsafe { sock_connect(fd, &raw) })?;
    // SAFETY: `fd` came from sock_open and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

/// The addresses `host` resolves to (WASIX `resolve`: the host's resolver).
pub fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let mut addrs = [Addr {
        tag: 0,
        padding: 0,
        octets: [0; 16],
    }; 8];
    let mut found = 0;
    // SAFETY: `host` and `addrs` are valid for their lengths, `found` for one u32.
    check("resolve", unsafe {
        resolve(
            host.as_ptr(),
            host.len() as u32,
            port.into(),
            addrs.as_mut_ptr(),
            addrs.len() as u32,
            &mut found,
        )
    })?;
    let found = addrs.iter().take(found as usize).filter_map(|a| {
        let ip: IpAddr = match a.tag {
            INET4 => <[u8; 4]>::try_from(&a.octets[..4]).ok()?.into(),
            INET6 => a.octets.into(),
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    });
    Ok(found.collect())
}
