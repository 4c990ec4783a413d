//! Guest sockets stop at the container's network namespace: a wasmtime component with
//! `wasi:sockets` (every address allowed by the executor) in a container with its own
//! network namespace cannot reach a listener on the host's loopback, as a Linux process
//! there could not.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use runw_integration::bundle::component;
use runw_integration::{leftovers, unique_id, Bundle, Executor, Runw};

use super::support::WASM;

/// Runs the TCP client component against `address`, in a container with (`own_netns`) or
/// without its own network namespace; returns its exit status and stderr.
fn connect_from_container(address: &str, own_netns: bool) -> (i32, String) {
    let runw = Runw::with_executor(&Executor::named("wasmtime-exec"));
    let mut bundle = Bundle::wasm(
        &component("tcp_client"),
        "/client.wasm",
        &["/client.wasm", address],
        &[WASM],
    );
    if !own_netns {
        bundle.edit(|c| {
            let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
            namespaces.retain(|ns| ns["type"] != "network");
        });
    }
    let id = unique_id("netns");
    let out = runw.run(["run", "--bundle", bundle.path().to_str().unwrap(), &id]);
    leftovers::assert_none(&runw, &id, Some(bundle.path()));
    (out.code, out.stderr)
}

/// A host loopback listener that answers `pong` to whoever connects within `window`;
/// returns its address and whether anyone did.
fn host_listener(window: Duration) -> (String, std::thread::JoinHandle<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let reached = std::thread::spawn(move || {
        let deadline = Instant::now() + window;
        while Instant::now() < deadline {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"pong\n");
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    });
    (address, reached)
}

#[test]
fn a_guest_cannot_reach_the_hosts_loopback_from_its_own_network_namespace() {
    let (address, reached) = host_listener(Duration::from_secs(3));
    // The spec `runw spec` writes has a network namespace, as every pod container does.
    let (code, stderr) = connect_from_container(&address, true);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("connect {address}: ")),
        "{stderr}"
    );
    assert!(
        !reached.join().unwrap(),
        "a connection reached the host's loopback from the container"
    );
}
