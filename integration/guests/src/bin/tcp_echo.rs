//! A TCP echo server (`std::net`): listens on argv[1] (default `0.0.0.0:7000`), says
//! `listening on ADDR` on stdout, echoes one connection until the client closes it, exits 0.
//! Where the engine has no sockets, prints the bind error on stderr and exits 1.
use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:7000".into());
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("bind {address}: {err}");
            std::process::exit(1);
        }
    };
    println!("listening on {address}");
    let (mut stream, _) = match listener.accept() {
        Ok(accepted) => accepted,
        Err(err) => {
            eprintln!("accept: {err}");
            std::process::exit(1);
        }
    };
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(err) = stream.write_all(&buf[..n]) {
                    eprintln!("write: {err}");
                    std::process::exit(1);
                }
            }
            Err(err) => {
                eprintln!("read: {err}");
                std::process::exit(1);
            }
        }
    }
}
