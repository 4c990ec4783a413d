//! What every echo server and client guest does, whatever its socket API.
// Each program uses part of this.
#![allow(dead_code)]

use std::io::{self, Read, Write};

/// Copies what `conn` sends back to it until it shuts its side down.
pub fn echo<C: Read + Write>(mut conn: C) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}

/// The server's arguments: `ADDR [COUNT]` (serve COUNT connections, default forever).
pub fn server_args() -> (std::net::SocketAddr, Option<usize>) {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: {} ADDR [COUNT]", args[0]);
        std::process::exit(2)
    };
    let addr = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage());
    let count = args.get(2).map(|n| n.parse().unwrap_or_else(|_| usage()));
    (addr, count)
}

/// The client's arguments: `HOST PORT MESSAGE`.
pub fn client_args() -> (String, u16, String) {
    let args: Vec<String> = std::env::args().collect();
    match (
        args.get(1),
        args.get(2).and_then(|p| p.parse().ok()),
        args.get(3),
    ) {
        (Some(host), Some(port), Some(message)) => (host.clone(), port, message.clone()),
        _ => {
            eprintln!("usage: {} HOST PORT MESSAGE", args[0]);
            std::process::exit(2)
        }
    }
}

/// Ends the program with one line on stderr and exit code 1.
pub fn fail(what: &str, err: io::Error) -> ! {
    eprintln!("{what}: {err}");
    std::process::exit(1)
}
