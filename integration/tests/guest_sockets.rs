//! Guests that listen and connect (`std::net`), once per executor: the TCP and UDP echo
//! servers answer from the host, the client reaches a host listener, in the container's network
//! namespace (here the host's: the spec has no `network` namespace). What an engine lacks
//! is asserted as a clear failure, never a hang.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use runw_integration::bundle::{component, guest};
use runw_integration::socket_guests::{spawn_run, udp_echo_through, wait_listening, wait_run};
use runw_integration::{
    conformance, leftovers, unique_id, Bundle, Executor, Feature, Outcome, Runw,
};
use serde_json::json;

conformance!(
    tcp_server_answers_from_the_host,
    tcp_client_reaches_a_host_listener,
    udp_server_answers_from_the_host,
    std_net_in_a_core_module,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");

/// A wasm bundle of `module` running with `arg`, in the host's network namespace.
fn bundle_of(module: &Path, arg: &str) -> Bundle {
    let mut bundle = Bundle::wasm(module, "/app.wasm", &["/app.wasm", arg], &[WASM]);
    bundle.edit(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "network");
        c["process"]["env"] = json!([]);
    });
    bundle
}

fn free_address() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// `runw run` to completion, with nothing left behind.
fn run(runw: &Runw, bundle: &Bundle) -> Outcome {
    let id = unique_id("sockets");
    let started = Instant::now();
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    assert!(started.elapsed() < Duration::from_secs(20), "{out:?}");
    leftovers::assert_none(runw, &id, Some(bundle.path()));
    out
}

/// An executor without components cannot load the socket component: the limit, asserted.
fn assert_no_components(exec: &Executor, name: &str) {
    let runw = Runw::with_executor(exec);
    let out = run(&runw, &bundle_of(&component(name), "127.0.0.1:1"));
    assert_eq!(out.code, 126, "{out:?}");
}

fn tcp_server_answers_from_the_host(exec: &Executor) {
    if exec.lacks(Feature::Components).is_some() {
        return assert_no_components(exec, "tcp_echo");
    }
    let runw = Runw::with_executor(exec);
    let address = free_address();
    let bundle = bundle_of(&component("tcp_echo"), &address);
    let id = unique_id("echo");
    let mut child = runw
        .command(["run", "--bundle", bundle.path().to_str().unwrap(), &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, format!("listening on {address}\n"));
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"ping from the host\n").unwrap();
    let mut echoed = [0u8; 19];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping from the host\n");
    drop(stream);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// The component's UDP echo server sends two datagrams back to the host, then exits 0.
fn udp_server_answers_from_the_host(exec: &Executor) {
    if exec.lacks(Feature::Components).is_some() {
        return assert_no_components(exec, "udp_echo");
    }
    let runw = Runw::with_executor(exec);
    let address = free_address();
    let mut bundle = bundle_of(&component("udp_echo"), &address);
    bundle.edit(|c| c["process"]["args"] = json!(["/app.wasm", address, "2"]));
    let id = unique_id("udpecho");
    let mut child = spawn_run(&runw, &bundle, &id);
    assert_eq!(
        wait_listening(&mut child),
        format!("listening on {address}\n")
    );
    assert_eq!(udp_echo_through(&address, "one datagram"), "one datagram");
    assert_eq!(udp_echo_through(&address, "and another"), "and another");
    let out = wait_run(&runw, child, &id, 30);
    assert_eq!(out.code, 0, "the server ends after two datagrams: {out:?}");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn tcp_client_reaches_a_host_listener(exec: &Executor) {
    if exec.lacks(Feature::Components).is_some() {
        return assert_no_components(exec, "tcp_client");
    }
    client_reaches_a_host_listener(exec, component("tcp_client"));
}

/// Runs `client` against a host listener that answers `pong`: the client must print it.
fn client_reaches_a_host_listener(exec: &Executor, client: PathBuf) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let host = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        stream.get_mut().write_all(b"pong\n").unwrap();
        line
    });
    let runw = Runw::with_executor(exec);
    let out = run(&runw, &bundle_of(&client, &address));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "got pong\n"),
        "{out:?}"
    );
    assert_eq!(host.join().unwrap(), "hello from wasm\n");
}

fn std_net_in_a_core_module(exec: &Executor) {
    let Some(why) = exec.lacks(Feature::CoreModuleSockets) else {
        return client_reaches_a_host_listener(exec, guest("tcp_client"));
    };
    // Without sockets: a clear error from bind and from connect, at once (not a hang).
    let runw = Runw::with_executor(exec);
    let address = free_address();
    let out = run(&runw, &bundle_of(&guest("tcp_echo"), &address));
    assert_eq!(out.code, 1, "{why}: {out:?}");
    out.assert_one_line_error(&format!("bind {address}: "));
    let out = run(&runw, &bundle_of(&guest("tcp_client"), &address));
    assert_eq!(out.code, 1, "{why}: {out:?}");
    out.assert_one_line_error(&format!("connect {address}: "));
    let out = run(&runw, &bundle_of(&guest("udp_echo"), &address));
    assert_eq!(out.code, 1, "{why}: {out:?}");
    out.assert_one_line_error(&format!("bind {address}: "));
}
