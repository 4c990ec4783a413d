//! ci/bench's native reference for the services rows: what a small Rust HTTP service is
//! without wasm. `bench-http-server [ADDR]` (default `0.0.0.0:8080`) answers every request
//! with 200 and the body of the `http_proxy` test component's `/` route, over HTTP/1.1 with
//! keep-alive, on a multi-threaded tokio runtime (as wasmtime-exec serves). Built static
//! (`+crt-static`) so that its rootfs needs nothing else; ends on SIGKILL.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the component's `/` route answers.
const BODY: &[u8] = b"hello from a wasi:http component\n";

fn main() -> ExitCode {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let address: SocketAddr = match address.parse() {
        Ok(address) => address,
        Err(err) => return fail(&format!("{address:?} is not an ip:port address: {err}")),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the runtime: {err}")),
    };
    match runtime.block_on(serve(address)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&format!("cannot listen on {address}: {err}")),
    }
}

/// Accepts connections for ever, each served in a task of its own.
async fn serve(address: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    eprintln!("bench-http-server: serving on http://{address}/");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn fail(cause: &str) -> ExitCode {
    eprintln!("bench-http-server: {cause}");
    ExitCode::FAILURE
}
