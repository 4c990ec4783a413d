//! The socket test programs of each networking flavour a core module can have (WASIX under
//! wasmer-exec, WasmEdge's socket extension under wasmedge-exec), and what the tests do
//! around them: containers on the host's network, free ports, guests that serve.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{Bundle, Executor, Feature, Outcome, Runw};

/// The guests of one socket API: `SERVER ADDR [COUNT]` echoes COUNT connections after
/// printing `listening on ADDR`; `UDP_SERVER ADDR [COUNT]` the same for COUNT datagrams;
/// `CLIENT HOST PORT MESSAGE` sends a line and prints the reply.
#[derive(Debug, Clone, Copy)]
pub struct Flavour {
    pub feature: Feature,
    pub server: &'static str,
    pub udp_server: &'static str,
    pub client: &'static str,
    /// Part of the name of every import this flavour's guests have and other engines lack:
    /// what an engine without the flavour names when it refuses the guest.
    pub import: &'static str,
}

pub const WASIX: Flavour = Flavour {
    feature: Feature::WasixSockets,
    server: "wasix_echo",
    udp_server: "wasix_udp_echo",
    client: "wasix_client",
    import: "wasix_32v1",
};

pub const WASMEDGE: Flavour = Flavour {
    feature: Feature::WasmedgeSockets,
    server: "wasmedge_echo",
    udp_server: "wasmedge_udp_echo",
    client: "wasmedge_client",
    import: "sock_",
};

/// The core-module socket flavour `exec` runs, if any (wasmtime-exec's sockets are
/// `wasi:sockets`, for components).
pub fn flavour_of(exec: &Executor) -> Option<Flavour> {
    [WASIX, WASMEDGE]
        .into_iter()
        .find(|f| exec.lacks(f.feature).is_none())
}

/// Puts the container on the host's network: no network namespace of its own.
pub fn host_network(bundle: &mut Bundle) {
    bundle.edit(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|n| n["type"] != "network");
    });
}

/// A TCP port nothing listens on now (the kernel's pick, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `runw run` of `bundle` as `id`, in the background, stdout and stderr piped.
pub fn spawn_run(runw: &Runw, bundle: &Bundle, id: &str) -> Child {
    runw.command(["run", "--bundle", bundle.path().to_str().unwrap(), id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the server's first line (`listening on ADDR`), or panics with what it said instead.
pub fn wait_listening(child: &mut Child) -> String {
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).unwrap();
    if !line.starts_with("listening on ") {
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("the server did not listen: stdout {line:?}, stderr {stderr:?}");
    }
    line
}

/// Waits up to `seconds` for `runw run` to end (killing container `id` after that, and
/// failing); returns its outcome.
pub fn wait_run(runw: &Runw, mut child: Child, id: &str, seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            runw.run(["kill", id, "KILL"]);
            let out = Outcome::from(child.wait_with_output().unwrap());
            panic!("{id} still running after {seconds}s: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Outcome::from(child.wait_with_output().unwrap())
}

/// Sends `message` to an echo server at `addr`, half-closes, and returns what came back.
pub fn echo_through(addr: &str, message: &str) -> String {
    let mut conn = connect_within(addr, Duration::from_secs(10));
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(message.as_bytes()).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    reply
}

/// Sends `message` as one datagram to a UDP echo server at `addr` (already bound) and
/// returns the datagram that comes back, within 10 s.
pub fn udp_echo_through(addr: &str, message: &str) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.send_to(message.as_bytes(), addr).unwrap();
    let mut buf = [0; 2048];
    let (n, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|err| panic!("no datagram back from {addr}: {err}"));
    assert_eq!(from.to_string(), addr, "the reply came from elsewhere");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Connects to `addr`, retrying until `within` has passed (a server may still be starting).
pub fn connect_within(addr: &str, within: Duration) -> TcpStream {
    let deadline = Instant::now() + within;
    loop {
        match TcpStream::connect(addr) {
            Ok(conn) => return conn,
            Err(err) if Instant::now() > deadline => panic!("connect {addr}: {err}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A host listener that answers one connection's first line with `pong: LINE`.
pub struct PongListener {
    pub listener: TcpListener,
}

impl PongListener {
    /// Listens on `ip`, port chosen by the kernel.
    pub fn bind(ip: &str) -> PongListener {
        PongListener {
            listener: TcpListener::bind((ip, 0)).unwrap(),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Answers the first connection that arrives, in a thread of its own.
    pub fn answer_one(&self) {
        let listener = self.listener.try_clone().unwrap();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&conn).read_line(&mut line).unwrap();
            (&conn)
                .write_all(format!("pong: {line}").as_bytes())
                .unwrap();
        });
    }
}
