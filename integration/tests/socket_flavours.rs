//! Sockets for core modules, once per executor: each networking flavour's TCP and UDP echo
//! servers answer from the host, and its client reaches a host listener, in a container on the
//! host's network. An executor without a flavour refuses its guest at load (exit 126, one
//! line naming the import): asserted, not skipped. That the container's network namespace
//! bounds a guest is attacked in the security suite (`network_boundary.rs`).
#![allow(clippy::unwrap_used)]

use runw_integration::bundle::guest;
use runw_integration::socket_guests::{
    echo_through, free_port, host_network, spawn_run, udp_echo_through, wait_listening, wait_run,
    Flavour, PongListener, WASIX, WASMEDGE,
};
use runw_integration::{conformance, leftovers, unique_id, Bundle, Executor, Outcome, Runw};

conformance!(
    wasix_echo_server_answers_from_the_host,
    wasix_udp_echo_server_answers_from_the_host,
    wasix_client_reaches_a_host_listener,
    wasix_client_resolves_names,
    wasmedge_echo_server_answers_from_the_host,
    wasmedge_udp_echo_server_answers_from_the_host,
    wasmedge_client_reaches_a_host_listener,
    wasmedge_client_resolves_names,
);

const WASM: (&str, &str) = ("run.oci.handler", "wasm");

fn wasix_echo_server_answers_from_the_host(exec: &Executor) {
    echo_server_answers_from_the_host(exec, WASIX);
}

fn wasix_udp_echo_server_answers_from_the_host(exec: &Executor) {
    udp_echo_server_answers_from_the_host(exec, WASIX);
}

fn wasix_client_reaches_a_host_listener(exec: &Executor) {
    client_reaches_a_host_listener(exec, WASIX, "127.0.0.1");
}

fn wasix_client_resolves_names(exec: &Executor) {
    client_reaches_a_host_listener(exec, WASIX, "localhost");
}

fn wasmedge_echo_server_answers_from_the_host(exec: &Executor) {
    echo_server_answers_from_the_host(exec, WASMEDGE);
}

fn wasmedge_udp_echo_server_answers_from_the_host(exec: &Executor) {
    udp_echo_server_answers_from_the_host(exec, WASMEDGE);
}

fn wasmedge_client_reaches_a_host_listener(exec: &Executor) {
    client_reaches_a_host_listener(exec, WASMEDGE, "127.0.0.1");
}

fn wasmedge_client_resolves_names(exec: &Executor) {
    client_reaches_a_host_listener(exec, WASMEDGE, "localhost");
}

/// A bundle on the host's network running `name` with `args`.
fn socket_bundle(name: &str, args: &[&str]) -> Bundle {
    let at = format!("/{name}.wasm");
    let argv: Vec<&str> = std::iter::once(at.as_str())
        .chain(args.iter().copied())
        .collect();
    let mut bundle = Bundle::wasm(&guest(name), &at, &argv, &[WASM]);
    host_network(&mut bundle);
    bundle
}

/// What an executor without `flavour` does with its guest: refuse it at load.
fn assert_refused(exec: &Executor, flavour: Flavour, out: &Outcome) {
    let why = exec.lacks(flavour.feature).unwrap();
    assert_eq!(out.code, 126, "{why}: {out:?}");
    out.assert_one_line_error("unknown import");
    // WasmEdge's message does not say which import.
    if exec.name != "wasmedge-exec" {
        assert!(out.stderr.contains(flavour.import), "{out:?}");
    }
}

fn echo_server_answers_from_the_host(exec: &Executor, flavour: Flavour) {
    let runw = Runw::with_executor(exec);
    let addr = format!("127.0.0.1:{}", free_port());
    let bundle = socket_bundle(flavour.server, &[&addr, "1"]);
    let id = unique_id("echo");
    let mut child = spawn_run(&runw, &bundle, &id);
    if exec.lacks(flavour.feature).is_some() {
        let out = wait_run(&runw, child, &id, 30);
        assert_refused(exec, flavour, &out);
        return leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
    assert_eq!(wait_listening(&mut child), format!("listening on {addr}\n"));
    assert_eq!(
        echo_through(&addr, "ping from the host\nand more\n"),
        "ping from the host\nand more\n"
    );
    let out = wait_run(&runw, child, &id, 30);
    assert_eq!(
        out.code, 0,
        "the server ends after its one connection: {out:?}"
    );
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

/// The flavour's UDP echo server sends two datagrams back to the host, then exits 0.
fn udp_echo_server_answers_from_the_host(exec: &Executor, flavour: Flavour) {
    let runw = Runw::with_executor(exec);
    let addr = format!("127.0.0.1:{}", free_port());
    let bundle = socket_bundle(flavour.udp_server, &[&addr, "2"]);
    let id = unique_id("udpecho");
    let mut child = spawn_run(&runw, &bundle, &id);
    if exec.lacks(flavour.feature).is_some() {
        let out = wait_run(&runw, child, &id, 30);
        assert_refused(exec, flavour, &out);
        return leftovers::assert_none(&runw, &id, Some(bundle.path()));
    }
    assert_eq!(wait_listening(&mut child), format!("listening on {addr}\n"));
    assert_eq!(udp_echo_through(&addr, "one datagram"), "one datagram");
    assert_eq!(udp_echo_through(&addr, "and another"), "and another");
    let out = wait_run(&runw, child, &id, 30);
    assert_eq!(out.code, 0, "the server ends after two datagrams: {out:?}");
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
}

fn client_reaches_a_host_listener(exec: &Executor, flavour: Flavour, host: &str) {
    let runw = Runw::with_executor(exec);
    let listener = PongListener::bind("127.0.0.1");
    listener.answer_one();
    let port = listener.port().to_string();
    let mut bundle = socket_bundle(flavour.client, &[host, &port, "ping"]);
    // Names resolve as for a Linux process of the container: through its /etc/hosts.
    std::fs::create_dir_all(bundle.rootfs().join("etc")).unwrap();
    std::fs::write(bundle.rootfs().join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    bundle.edit(|_| {});
    let id = unique_id("client");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    if exec.lacks(flavour.feature).is_some() {
        return assert_refused(exec, flavour, &out);
    }
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "pong: ping\n"),
        "{out:?}"
    );
}
