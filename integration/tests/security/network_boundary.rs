//! Claim: a guest's network is its container's network namespace, nothing more, as for a
//! Linux process of that container. A socket guest in a container with a network namespace
//! of its own (no interfaces but a loopback that is down) tries to reach a listener of the
//! host's, on the host's loopback and on the host's own address; nothing may get through.

use runw_integration::bundle::guest;
use runw_integration::socket_guests::{flavour_of, PongListener, WASIX};
use runw_integration::{conformance, leftovers, unique_id, Bundle, Executor, Runw};

conformance!(a_guest_in_its_own_network_namespace_cannot_reach_the_host);

fn a_guest_in_its_own_network_namespace_cannot_reach_the_host(exec: &Executor) {
    let Some(flavour) = flavour_of(exec) else {
        // wasmtime-exec gives core modules no sockets (its sockets are `wasi:sockets`, for
        // components, attacked with those): a socket guest is refused before it runs.
        let out = try_to_reach(exec, WASIX.client, "127.0.0.1", 1);
        assert_eq!(out.code, 126, "{out:?}");
        return;
    };
    for host in ["127.0.0.1".to_owned(), host_address()] {
        // It answers, so a guest that got through ends at once, successfully.
        let listener = PongListener::bind("0.0.0.0");
        listener.answer_one();
        let out = try_to_reach(exec, flavour.client, &host, listener.port());
        assert_ne!(out.code, 0, "{host} reached from the container: {out:?}");
        assert!(
            out.stderr.contains("connect"),
            "the guest's connect failed: {out:?}"
        );
    }
}

/// Runs `client HOST PORT` in a container with the default spec's own network namespace.
fn try_to_reach(exec: &Executor, client: &str, host: &str, port: u16) -> runw_integration::Outcome {
    let runw = Runw::with_executor(exec);
    let port = port.to_string();
    let bundle = Bundle::wasm(
        &guest(client),
        "/client.wasm",
        &["/client.wasm", host, &port, "let me out"],
        &[("run.oci.handler", "wasm")],
    );
    let namespaces = bundle.config["linux"]["namespaces"].to_string();
    assert!(namespaces.contains("network"), "{namespaces}");
    let id = unique_id("netns");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    out
}

/// The host's own (non-loopback) address: the source of its route out.
fn host_address() -> String {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.connect("192.0.2.1:9").unwrap();
    probe.local_addr().unwrap().ip().to_string()
}
