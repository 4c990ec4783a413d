//! `wasi:http/proxy` components served, as `wasmtime serve` and runwasi's wasmtime shim
//! serve them: HTTP/1.1 with keep-alive on the address of [`address::VARIABLE`], each request
//! handled concurrently by a fresh instance of the component, made from one pre-instantiated
//! [`ProxyPre`] (a request costs an instantiation, never a compile) in a slot of the pooling
//! allocator (see [`pooling`]). The guest has the WASI
//! of a command (args, env, preopens, stdio, sockets) and may make outgoing requests
//! (`wasi:http/outgoing-handler`). Stopping: see [`shutdown`].

mod address;
mod pooling;
mod request;
mod shutdown;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use runw_shared::{exit_code, Failure, Task};
use tokio::net::TcpListener;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::engine::EXECUTOR;
use request::{Handler, RequestState};
use shutdown::Stop;

/// Serves `component` until a termination signal; returns the exit status (see
/// [`shutdown`]), or [`exit_code::LOAD_FAILED`] with one line on stderr when it cannot
/// serve: imports the executor lacks, an unparsable address, an address in use.
pub fn serve(engine: &Engine, component: &Component, task: &Task) -> Result<u8, Failure> {
    let pooled = pooling::reload(component);
    let (engine, component) = match &pooled {
        Some((engine, component)) => (engine, component),
        None => (engine, component),
    };
    let pre = pre_instantiate(engine, component).map_err(Failure::load)?;
    let address = match address::listen_address(task) {
        Ok(address) => address,
        Err(cause) => return Ok(cannot_serve(task, &cause)),
    };
    // A server uses every CPU it may (the pod's CPU limit bounds this): set explicitly, as
    // the process environment asks command guests' runtimes for one worker.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return Ok(cannot_serve(
                task,
                &format!("cannot start the runtime: {err}"),
            ))
        }
    };
    // Bound before the first request can come, so that a taken address fails at once.
    let listener = match std::net::TcpListener::bind(address)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(|l| runtime.block_on(async { TcpListener::from_std(l) }))
    {
        Ok(listener) => listener,
        Err(err) => {
            return Ok(cannot_serve(
                task,
                &format!("cannot listen on {address}: {err}"),
            ))
        }
    };
    let stop = Stop::on_termination_signals();
    eprintln!(
        "{EXECUTOR}: serving {} on http://{address}/",
        task.module.display()
    );
    let handler = Arc::new(Handler::new(pre, task.clone(), pooling::INSTANCES));
    let drained = runtime.block_on(serve_until_stopped(listener, handler, stop));
    // Guest tasks left after the grace period are abandoned, not waited for.
    runtime.shutdown_background();
    Ok(shutdown::status(drained))
}

/// Links WASI and `wasi:http` and pre-instantiates: what every request then reuses.
fn pre_instantiate(
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<ProxyPre<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    ProxyPre::new(linker.instantiate_pre(component)?)
}

/// Accepts connections until `stop`, then lets those open finish their request in flight
/// (idle keep-alive connections close at once) within [`shutdown::GRACE`]. Returns whether
/// they all did.
async fn serve_until_stopped(listener: TcpListener, handler: Arc<Handler>, mut stop: Stop) -> bool {
    let connections = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    let service = service_fn(move |request| handler.clone().handle(request));
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = connections.watch(connection);
                    // A client that goes away mid-request is not the server's failure.
                    tokio::spawn(async move { let _ = connection.await; });
                }
                // Out of descriptors, say: wait rather than spin.
                Err(err) => {
                    eprintln!("{EXECUTOR}: accept: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            () = stop.requested() => break,
        }
    }
    drop(listener);
    tokio::time::timeout(shutdown::GRACE, connections.shutdown())
        .await
        .is_ok()
}

fn cannot_serve(task: &Task, cause: &str) -> u8 {
    eprintln!(
        "{EXECUTOR}: cannot serve {}: {cause}",
        task.module.display()
    );
    exit_code::LOAD_FAILED
}
