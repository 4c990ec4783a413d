//! A TCP client (`std::net`): connects to argv[1], sends `hello from wasm\n`, prints the
//! line it gets back and exits 0. Where the engine has no sockets, prints the connect error
//! on stderr and exits 1.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

fn main() {
    let address = std::env::args().nth(1).unwrap_or_default();
    let mut stream = match TcpStream::connect(&address) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("connect {address}: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = stream.write_all(b"hello from wasm\n") {
        eprintln!("write: {err}");
        std::process::exit(1);
    }
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(_) => print!("got {line}"),
        Err(err) => {
            eprintln!("read: {err}");
            std::process::exit(1);
        }
    }
}
