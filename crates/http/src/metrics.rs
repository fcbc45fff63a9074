//! Prometheus metrics: HTTP requests by route and status, request latency,
//! runs by status and running jobs (the last two are counted when
//! `/metrics` is read). Also the middleware that records each request and
//! gives errors produced by actix itself the API's error shape.

use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Instant;

/// The metrics of one server.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Runs by status, refreshed when scraped.
    pub runs: IntGaugeVec,
    /// Jobs running now, refreshed when scraped.
    pub jobs_running: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry. The names and labels are
    /// constants: this fails only if one of them is malformed, which every
    /// server start (and test) would show at once.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "slipway_http_requests_total",
                "HTTP requests by route pattern, method and status code.",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "slipway_http_request_duration_seconds",
                "Time to answer an HTTP request (to the first byte for streams), by route.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route"],
        )?;
        let runs = IntGaugeVec::new(
            Opts::new("slipway_runs", "Stored runs by status."),
            &["status"],
        )?;
        let jobs_running = IntGauge::new("slipway_jobs_running", "Jobs running now.")?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(runs.clone()),
            Box::new(jobs_running.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Metrics {
            registry,
            requests,
            latency,
            runs,
            jobs_running,
        })
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// Everything in Prometheus' text format.
    pub fn render(&self) -> Result<String, String> {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(|e| e.to_string())?;
        String::from_utf8(buf).map_err(|e| e.to_string())
    }
}

/// Records every request in the metrics and replaces the bodies of error
/// answers that actix produced itself (no JSON) with the API's error shape.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::State>>()
        .map(|s| s.metrics().clone());
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let res = if (status.is_client_error() || status.is_server_error())
        && !res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    {
        let body = actix_web::ResponseError::error_response(&ApiError::for_status(status));
        res.into_response(body)
    } else {
        res
    };
    if let Some(m) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        m.observe(
            &route,
            &method,
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}
