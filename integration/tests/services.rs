//! Wasm services: the `wasi:http/proxy` component (`integration/guests/src/bin/http_proxy.rs`)
//! served by wasmtime-exec through `runw run`, with real HTTP traffic from the host: answers,
//! the environment, traps, keep-alive and concurrency, outgoing requests, SIGTERM with a
//! request in flight and idle, the compile cache, and the errors a user can act on.
//!
//! The containers share the host's network namespace (no `network` namespace in the spec),
//! so the host reaches the server on 127.0.0.1 and the guest reaches host listeners.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use runw_integration::bundle::component;
use runw_integration::{leftovers, unique_id, Bundle, Executor, Outcome, Runw};
use serde_json::json;

const WASM: (&str, &str) = ("run.oci.handler", "wasm");
const ADDRESS: &str = "WASMTIME_HTTP_PROXY_SOCKET_ADDR";

fn runw() -> Runw {
    Runw::with_executor(&Executor::named("wasmtime-exec"))
}

/// A free port on 127.0.0.1 (free when this returns).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A wasm bundle of `module` in the host's network namespace, with `env`.
fn bundle_of(module: &std::path::Path, at: &str, env: &[String]) -> Bundle {
    let mut bundle = Bundle::wasm(module, at, &[at], &[WASM]);
    bundle.edit(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "network");
        c["process"]["env"] = json!(env);
    });
    bundle
}

/// The HTTP component served by `runw run` in the foreground.
struct Server {
    runw: Runw,
    bundle: Bundle,
    id: String,
    port: u16,
    child: Child,
}

impl Server {
    /// Starts the component with `env` (plus the listen address) and waits until it accepts.
    fn start(runw: Runw, env: &[&str]) -> Server {
        let port = free_port();
        let mut all = vec![format!("{ADDRESS}=127.0.0.1:{port}")];
        all.extend(env.iter().map(|e| e.to_string()));
        let bundle = bundle_of(&component("http_proxy"), "/proxy.wasm", &all);
        let id = unique_id("serve");
        let child = runw
            .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server {
            runw,
            bundle,
            id,
            port,
            child,
        };
        server.wait_accepting();
        server
    }

    fn wait_accepting(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("server exited {status} before accepting: {err}");
            }
            assert!(Instant::now() < deadline, "server not accepting after 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self, signal: &str) {
        let out = self.runw.run(["kill", &self.id, signal]);
        if out.code != 0 {
            let mut err = String::new();
            self.child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            let status = self.child.wait().unwrap();
            panic!("kill {signal} failed ({out:?}); the server exited {status}: {err}");
        }
    }

    /// Waits for `runw run` to end; checks nothing is left behind.
    fn wait(mut self) -> Outcome {
        let out = Outcome::from(
            std::mem::replace(
                &mut self.child,
                std::process::Command::new("true").spawn().unwrap(),
            )
            .wait_with_output()
            .unwrap(),
        );
        leftovers::assert_none(&self.runw, &self.id, Some(self.bundle.path()));
        out
    }

    /// SIGTERM, then the outcome.
    fn stop(mut self) -> Outcome {
        self.kill("TERM");
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `GET path` on `stream` (keep-alive): status and body (content-length framed).
fn get_on(stream: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
    write!(
        stream.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"
    )
    .unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"))
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut header = String::new();
        stream.read_line(&mut header).unwrap();
        if header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// One `GET path` on a new connection.
fn get(port: u16, path: &str) -> (u16, String) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    get_on(&mut BufReader::new(stream), path)
}

#[test]
fn answers_from_the_host_and_sees_its_environment() {
    let server = Server::start(runw(), &["GREETING=hello from the spec"]);
    assert_eq!(
        get(server.port, "/"),
        (200, "hello from a wasi:http component\n".into())
    );
    assert_eq!(
        get(server.port, "/env/GREETING"),
        (200, "hello from the spec\n".into())
    );
    // The guest's environment is the spec's, nothing of the executor's.
    assert_eq!(get(server.port, "/env/RUNW_EXECUTOR").0, 404);
    let out = server.stop();
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_trapping_request_answers_500_and_the_server_goes_on() {
    let server = Server::start(runw(), &[]);
    assert_eq!(get(server.port, "/trap").0, 500);
    assert_eq!(
        get(server.port, "/"),
        (200, "hello from a wasi:http component\n".into())
    );
    let out = server.stop();
    assert_eq!(out.code, 0, "{out:?}");
    let traps: Vec<_> = out.stderr.lines().filter(|l| l.contains("trap")).collect();
    assert_eq!(traps.len(), 1, "{out:?}");
    assert!(traps[0].contains("GET /trap: trap:"), "{traps:?}");
}

#[test]
fn keep_alive_connections_are_served_concurrently() {
    let server = Server::start(runw(), &[]);
    let port = server.port;
    // Eight connections, each with twenty requests on it.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let mut stream = BufReader::new(stream);
                for _ in 0..20 {
                    assert_eq!(get_on(&mut stream, "/").0, 200);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    // Two one-second requests at once take about one second, not two.
    let started = Instant::now();
    let slow: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || get(port, "/slow/1000")))
        .collect();
    for request in slow {
        assert_eq!(request.join().unwrap(), (200, "slow done\n".into()));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1800), "took {took:?}");
    assert_eq!(server.stop().code, 0);
}

#[test]
fn the_guest_makes_outgoing_requests() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_port = upstream.local_addr().unwrap().port();
    let host = std::thread::spawn(move || {
        let (stream, _) = upstream.accept().unwrap();
        let mut stream = BufReader::new(stream);
        let mut request_line = String::new();
        stream.read_line(&mut request_line).unwrap();
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).unwrap();
            if header == "\r\n" || header.is_empty() {
                break;
            }
        }
        stream
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\nconnection: close\r\n\r\nfrom the host\n")
            .unwrap();
        request_line
    });
    let server = Server::start(runw(), &[]);
    let answer = get(
        server.port,
        &format!("/fetch/127.0.0.1:{upstream_port}/upstream"),
    );
    assert_eq!(answer, (200, "upstream 200: from the host\n".into()));
    assert_eq!(host.join().unwrap(), "GET /upstream HTTP/1.1\r\n");
    assert_eq!(server.stop().code, 0);
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut server = Server::start(runw(), &[]);
    let port = server.port;
    let slow = std::thread::spawn(move || get(port, "/slow/2000"));
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    server.kill("TERM");
    // Accepting stops at once.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after SIGTERM"
    );
    assert_eq!(slow.join().unwrap(), (200, "slow done\n".into()));
    let out = server.wait();
    let took = sent.elapsed();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn idle_sigterm_exits_within_a_second() {
    let server = Server::start(runw(), &[]);
    // An idle keep-alive connection does not hold the server.
    let mut idle = BufReader::new(TcpStream::connect(("127.0.0.1", server.port)).unwrap());
    assert_eq!(get_on(&mut idle, "/").0, 200);
    let sent = Instant::now();
    let out = server.stop();
    let took = sent.elapsed();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_warm_start_uses_the_compile_cache() {
    let runw = runw();
    for (run, expected) in [(0, "compile cache: compiled"), (1, "compile cache: hit")] {
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = free_port();
        let env = [format!("{ADDRESS}=127.0.0.1:{port}")];
        let bundle = bundle_of(&component("http_proxy"), "/proxy.wasm", &env);
        let id = unique_id("servecache");
        let mut child = runw
            .command([
                "--debug",
                "--log",
                log.path().to_str().unwrap(),
                "run",
                "--bundle",
                bundle.path().to_str().unwrap(),
                &id,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "run {run}: not serving");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(get(port, "/").0, 200);
        runw.ok(["kill", &id, "TERM"]);
        assert!(child.wait().unwrap().success());
        leftovers::assert_none(&runw, &id, Some(bundle.path()));
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(text.contains(expected), "run {run}: {text}");
    }
}

/// `runw run` of the HTTP component with `env`, expected to fail at once.
fn failing_start(env: &[String]) -> Outcome {
    let runw = runw();
    let bundle = bundle_of(&component("http_proxy"), "/proxy.wasm", env);
    let id = unique_id("servefail");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    out
}

#[test]
fn an_address_in_use_fails_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let out = failing_start(&[format!("{ADDRESS}={address}")]);
    assert_eq!(out.code, 126, "{out:?}");
    out.assert_one_line_error(&format!(
        "cannot listen on {address}: Address already in use"
    ));
}

#[test]
fn an_unparsable_address_fails_naming_the_variable() {
    let out = failing_start(&[format!("{ADDRESS}=localhost:http")]);
    assert_eq!(out.code, 126, "{out:?}");
    out.assert_one_line_error(&format!(
        "{ADDRESS}=\"localhost:http\" is not an ip:port address"
    ));
}

#[test]
fn a_component_exporting_neither_run_nor_a_handler_fails() {
    let wat = tempfile::Builder::new().suffix(".wat").tempfile().unwrap();
    std::fs::write(wat.path(), "(component)\n").unwrap();
    let runw = runw();
    let bundle = bundle_of(wat.path(), "/nothing.wat", &[]);
    let id = unique_id("neither");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    assert_eq!(out.code, 126, "{out:?}");
    out.assert_one_line_error(
        "component exports neither wasi:cli/run nor wasi:http/incoming-handler",
    );
}
