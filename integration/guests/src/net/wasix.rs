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
    let af = if addr.is_ipv4() { INET4 } else { INET6 };
    let mut fd = 0;
    // SAFETY: `fd` is a valid place for the call to write the new descriptor.
    check("sock_open", unsafe {
        sock_open(af.into(), STREAM, 0, &mut fd)
    })?;
    Ok(fd)
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
