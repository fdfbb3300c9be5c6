//! Listeners: HTTPS for ARM, token endpoints and the control API; plain HTTP for the host
//! endpoints (IMDS and the wire server).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::faults::Injection;
use crate::http::{Reply, Req};
use crate::state::Sim;

const MAX_BODY: usize = 64 << 20;
/// Read request heads this large whole, so that an oversized URL gets Azure's answer
/// ([`front_end_limits`]) rather than a dropped connection, which clients rightly retry.
const MAX_HEAD: usize = 16 << 20;
/// Http.sys, the front end of ARM, answers `414 Request URL Too Long` to a URL past
/// MaxFieldLength (16 KiB by default) and `400 Bad Request - Invalid URL` to a path segment
/// past UrlSegmentMaxLength (260 characters by default): "Http.sys registry settings for
/// Windows", learn.microsoft.com/troubleshoot/developer/webapps/iis/
/// iisadmin-service-inetinfo/httpsys-registry-windows.
const MAX_URL_BYTES: usize = 16 * 1024;
const MAX_URL_SEGMENT_CHARS: usize = 260;

/// Serves connections until `stop` flips to true.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    sim: Arc<Sim>,
    imds: bool,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let sim = sim.clone();
        let tls = tls.clone();
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(sim.clone(), req, imds));
            let mut builder = http1::Builder::new();
            builder.max_buf_size(MAX_HEAD);
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stop.changed() => {}
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stop.changed() => {}
                    }
                }
            }
        });
    }
}

async fn handle(
    sim: Arc<Sim>,
    req: Request<Incoming>,
    imds: bool,
) -> Result<Response<Body>, std::io::Error> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let req = Req::new(
        parts.method,
        parts.uri.path(),
        parts.uri.query(),
        parts.headers,
        bytes,
    );
    let control = !imds && req.segments.first().is_some_and(|s| s == "_sim");
    let front_end = front_end_limits(&req);
    let answered_by_front_end = front_end.is_some();
    let (reply, faulted) = if let Some(reply) = front_end {
        (reply, false)
    } else if control {
        (crate::control::handle(&sim, &req), false)
    } else {
        route(&sim, &req, imds).await
    };
    if !control {
        sim.log.record(&req, &reply, started.elapsed(), faulted);
    }
    if let Some(traffic) = &sim.traffic
        && !control
        && !imds
        // Http.sys answers before ARM sees the request: no REST spec describes that answer.
        && !answered_by_front_end
        && !reply.reset
        && !crate::auth::is_token_path(&req)
        // A disk's upload URL is a blob data-plane endpoint, not ARM.
        && !crate::disk_upload::is_upload_path(&req)
        && !crate::arm::is_operation_status(&req)
    {
        traffic.record(&sim.base_url, &req, &reply);
    }
    if reply.reset {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection reset",
        ));
    }
    Ok(reply.into_response())
}

/// What Azure's front end answers before any resource provider sees the request.
fn front_end_limits(req: &Req) -> Option<Reply> {
    let target = req.raw_path.len() + req.raw_query.as_ref().map_or(0, |q| q.len() + 1);
    if target > MAX_URL_BYTES {
        return Some(Reply::empty(hyper::StatusCode::URI_TOO_LONG));
    }
    req.segments
        .iter()
        .any(|segment| segment.chars().count() > MAX_URL_SEGMENT_CHARS)
        .then(|| Reply::empty(hyper::StatusCode::BAD_REQUEST))
}

async fn route(sim: &Arc<Sim>, req: &Req, imds: bool) -> (Reply, bool) {
    if let Some(latency) = sim.latency() {
        tokio::time::sleep(latency).await;
    }
    let injection = sim
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(req);
    let mut lro_fault = None;
    let faulted = injection.is_some();
    match injection {
        Some(Injection::Reply(reply)) => return (reply, true),
        Some(Injection::Delay(d)) => tokio::time::sleep(d).await,
        Some(Injection::LroOutcome(f)) => lro_fault = Some(f),
        None => {}
    }
    let reply = if imds && crate::wire_server::is_telemetry_path(req) {
        crate::wire_server::telemetry(sim, req)
    } else if imds {
        crate::auth::imds(sim, req)
    } else if crate::auth::is_token_path(req) {
        crate::auth::token_endpoint(sim, req)
    } else if crate::disk_upload::is_upload_path(req) {
        crate::disk_upload::put_page(sim, req)
    } else {
        crate::arm::handle(sim, req, lro_fault).await
    };
    (reply, faulted)
}
