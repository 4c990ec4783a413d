//! Where a `wasi:http/proxy` component listens: the guest's environment decides, with the
//! variable runwasi's wasmtime shim reads, so a pod moves between the two unchanged.

use std::net::SocketAddr;

use runw_shared::Task;

/// The variable naming the listen address (`ip:port`, IPv6 as `[::]:8080`).
pub const VARIABLE: &str = "WASMTIME_HTTP_PROXY_SOCKET_ADDR";

/// The address without the variable: every IPv4 address of the container, port 8080.
pub const DEFAULT: &str = "0.0.0.0:8080";

/// The listen address from the task's environment (its first `WASMTIME_HTTP_PROXY_SOCKET_ADDR`
/// entry, as `getenv` finds), or [`DEFAULT`]; a one-line cause when it does not parse.
pub fn listen_address(task: &Task) -> Result<SocketAddr, String> {
    let Some((_, value)) = task.env_pairs().find(|(key, _)| *key == VARIABLE) else {
        return parse(DEFAULT);
    };
    match value.to_str() {
        Some(value) => parse(value),
        None => Err(format!("{VARIABLE}={value:?} is not an ip:port address")),
    }
}

fn parse(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|err| format!("{VARIABLE}={value:?} is not an ip:port address: {err}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn task(env: &[&str]) -> Task {
        Task {
            module: "/app.wasm".into(),
            function: None,
            args: vec!["/app.wasm".into()],
            env: env.iter().map(Into::into).collect(),
            preopens: Vec::new(),
            precompiled: None,
        }
    }

    #[test]
    fn default_then_variable_first_entry_wins() {
        assert_eq!(
            listen_address(&task(&[])),
            Ok("0.0.0.0:8080".parse().unwrap())
        );
        let given = task(&[
            "WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:9000",
            "WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:9001",
        ]);
        assert_eq!(
            listen_address(&given),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        let v6 = task(&["WASMTIME_HTTP_PROXY_SOCKET_ADDR=[::1]:80"]);
        assert_eq!(listen_address(&v6), Ok("[::1]:80".parse().unwrap()));
    }

    #[test]
    fn unparsable_names_the_variable_and_value() {
        let err =
            listen_address(&task(&["WASMTIME_HTTP_PROXY_SOCKET_ADDR=localhost"])).unwrap_err();
        assert!(
            err.starts_with("WASMTIME_HTTP_PROXY_SOCKET_ADDR=\"localhost\" is not an ip:port"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
