//! One request: a fresh instance of the pre-instantiated component handles it, in its own
//! store, as `wasmtime serve` does. A handler that traps (or returns without a response)
//! costs that request a 500 and one line on stderr; the server goes on.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use runw_shared::Task;
use tokio::sync::Semaphore;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::{wasi_builder, EXECUTOR};

/// What one request's store holds.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// Answers requests with the component.
pub struct Handler {
    pre: ProxyPre<RequestState>,
    task: Task,
    /// One permit per instance alive: a request beyond the pool's size waits for a slot.
    instances: Arc<Semaphore>,
}

impl Handler {
    /// A handler running at most `instances` instances at once.
    pub fn new(pre: ProxyPre<RequestState>, task: Task, instances: u32) -> Handler {
        Handler {
            pre,
            task,
            instances: Arc::new(Semaphore::new(instances as usize)),
        }
    }

    /// hyper's service: always a response, 500 when the guest gave none.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<HyperOutgoingBody>, Infallible> {
        let what = format!("{} {}", request.method(), request.uri().path());
        Ok(match self.respond(request).await {
            Ok(response) => response,
            Err((status, cause)) => {
                self.log(&what, &cause);
                status_only(status)
            }
        })
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<HyperOutgoingBody>, (StatusCode, String)> {
        let internal = |cause: String| (StatusCode::INTERNAL_SERVER_ERROR, cause);
        let state = RequestState {
            wasi: wasi_builder(&self.task)
                .map_err(|e| internal(format!("wasi context: {e}")))?
                .build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| internal(e.to_string()))?;
        let pre = self.pre.clone();
        let slot = self
            .instances
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| internal(e.to_string()))?;
        // The guest runs in a task of its own: it may go on writing the body after it has
        // set the response. It holds its slot until its store (and instance) is gone: locals
        // drop in reverse order.
        let guest = tokio::spawn(async move {
            let _slot = slot;
            let mut store = store;
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(internal(format!("the handler answered {code:?}"))),
            // The response outparam was dropped unset: the guest failed or returned.
            Err(_) => Err(internal(match guest.await {
                Ok(Ok(())) => "the handler returned without a response".into(),
                Ok(Err(err)) => describe(&err),
                Err(err) => err.to_string(),
            })),
        }
    }

    fn log(&self, what: &str, cause: &str) {
        eprintln!(
            "{EXECUTOR}: {}: {what}: {cause}",
            self.task.module.display()
        );
    }
}

/// A guest failure in one line: the trap's kind, or the error's outermost message.
fn describe(err: &wasmtime::Error) -> String {
    match err.downcast_ref::<Trap>() {
        Some(trap) => format!("trap: {trap}"),
        None => err.to_string().lines().next().unwrap_or_default().into(),
    }
}

/// A response with a status and no body.
fn status_only(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync());
    *response.status_mut() = status;
    response
}
