//! A `wasi:http/proxy` component (exports `wasi:http/incoming-handler`), built for
//! wasm32-wasip2. Routes:
//!
//! - `/`: 200 `hello from a wasi:http component`
//! - `/trap`: executes `unreachable`
//! - `/env/NAME`: 200 with the value of the environment variable NAME, 404 when unset
//! - `/slow/MS`: waits MS milliseconds, then 200 `slow done`
//! - `/fetch/HOST:PORT/PATH`: GET `http://HOST:PORT/PATH` (`wasi:http/outgoing-handler`),
//!   then 200 `upstream STATUS: BODY`
//!
//! As a core module (wasm32-wasip1) it does nothing.

#[cfg(target_env = "p2")]
mod proxy {
    use std::io::Write as _;

    use wasip2::http::types::{
        ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse,
        ResponseOutparam, Scheme,
    };
    use wasip2::io::streams::StreamError;

    wasip2::http::proxy::export!(Routes);

    struct Routes;

    impl wasip2::exports::http::incoming_handler::Guest for Routes {
        fn handle(request: IncomingRequest, out: ResponseOutparam) {
            let path = request.path_with_query().unwrap_or_default();
            if path == "/" {
                respond(out, 200, b"hello from a wasi:http component\n");
            } else if path == "/trap" {
                core::arch::wasm32::unreachable();
            } else if let Some(name) = path.strip_prefix("/env/") {
                match std::env::var(name) {
                    Ok(value) => respond(out, 200, format!("{value}\n").as_bytes()),
                    Err(_) => respond(out, 404, format!("{name} is not set\n").as_bytes()),
                }
            } else if let Some(ms) = path.strip_prefix("/slow/") {
                let ms: u64 = ms.parse().unwrap_or(1000);
                wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                respond(out, 200, b"slow done\n");
            } else if let Some(target) = path.strip_prefix("/fetch/") {
                match fetch(target) {
                    Ok((status, body)) => {
                        let text = format!("upstream {status}: {}", String::from_utf8_lossy(&body));
                        respond(out, 200, text.as_bytes());
                    }
                    Err(err) => respond(out, 502, format!("fetch failed: {err:?}\n").as_bytes()),
                }
            } else {
                respond(out, 404, b"no such route\n");
            }
        }
    }

    fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
        let headers = Fields::from_list(&[(
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        )])
        .unwrap();
        let response = OutgoingResponse::new(headers);
        response.set_status_code(status).unwrap();
        let outgoing = response.body().unwrap();
        ResponseOutparam::set(out, Ok(response));
        let mut stream = outgoing.write().unwrap();
        stream.write_all(body).unwrap();
        stream.flush().unwrap();
        drop(stream);
        OutgoingBody::finish(outgoing, None).unwrap();
    }

    /// GET http://`target` (`HOST:PORT/PATH`): the status and body.
    fn fetch(target: &str) -> Result<(u16, Vec<u8>), ErrorCode> {
        let (authority, path) = match target.find('/') {
            Some(i) => (&target[..i], &target[i..]),
            None => (target, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        request.set_scheme(Some(&Scheme::Http)).unwrap();
        request.set_authority(Some(authority)).unwrap();
        request.set_path_with_query(Some(path)).unwrap();
        let body = request.body().unwrap();
        OutgoingBody::finish(body, None).unwrap();
        let future = wasip2::http::outgoing_handler::handle(request, None)?;
        future.subscribe().block();
        let response = future.get().unwrap().unwrap()?;
        let status = response.status();
        let incoming = response.consume().unwrap();
        let stream = incoming.stream().unwrap();
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(ErrorCode::InternalError(Some(err.to_debug_string())))
                }
            }
        }
        Ok((status, bytes))
    }
}

fn main() {}
