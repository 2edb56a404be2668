//! What an operator's Prometheus scrapes from `GET /metrics` (Prometheus text format
//! 0.0.4, through the `prometheus-client` crate).
//!
//! Counters and histograms are updated as things happen (every HTTP request, every webhook
//! delivery); the figures that live in the database or in the worker's state (the pay
//! journal, the rollup's dirty days, the pool, the worker's passes) are read at scrape time,
//! so a scrape always shows the state of the moment. Label values are bounded: a route is
//! its pattern (`/v1/people/{id}`), never the raw path; a webhook source is one of
//! `ingest::SOURCES`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::worker::Worker;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the request latency buckets: from a cached probe to a payroll
/// export of thousands of people.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The route label of a request whose path matches no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    source: String,
    outcome: String,
}

/// What became of a webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Pages were created or updated.
    Recorded,
    /// Authenticated, but the event changes no page.
    Ignored,
    /// No valid signature or token, or a replay (401, 403).
    Unauthenticated,
    /// A malformed payload (400 and other 4xx).
    Invalid,
    /// paydown could not record it (5xx): the tool retries.
    Failed,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Recorded => "recorded",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Unauthenticated => "unauthenticated",
            DeliveryOutcome::Invalid => "invalid",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// The figures read from the database at scrape time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatabaseSample {
    /// Pay-journal rows waiting to be priced.
    pub journal_rows: i64,
    /// Age of the oldest of them: how far the ledger lags behind the facts.
    pub accrual_lag: Duration,
    /// Days the dashboard's rollup has yet to recompute.
    pub rollup_dirty_days: i64,
}

/// The connection pool at scrape time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSample {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

/// Every series paydown exports, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    deliveries: Family<DeliveryLabels, Counter>,
    database_up: Gauge,
    journal_rows: Gauge,
    accrual_lag: Gauge<f64, AtomicU64>,
    rollup_dirty_days: Gauge,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
}

impl Metrics {
    /// The metrics of one server, reading the worker's counts at each scrape.
    pub fn new(worker: Arc<Worker>) -> Metrics {
        let mut registry = Registry::with_prefix("paydown");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer, by method and route pattern",
            Unit::Seconds,
            latency.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by source and outcome (recorded, ignored, unauthenticated, invalid, failed)",
            deliveries.clone(),
        );
        let database_up = Gauge::default();
        registry.register("database_up", "1 when the last scrape could read the database, else 0", database_up.clone());
        let journal_rows = Gauge::default();
        registry.register("pay_journal_rows", "Pay-journal rows waiting to be priced", journal_rows.clone());
        let accrual_lag = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "accrual_lag",
            "Age of the oldest pay-journal row waiting to be priced (0 when none waits)",
            Unit::Seconds,
            accrual_lag.clone(),
        );
        let rollup_dirty_days = Gauge::default();
        registry.register(
            "rollup_dirty_days",
            "Days the dashboard's rollup has yet to recompute",
            rollup_dirty_days.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Database connections open in the pool (idle and in use)",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register("db_pool_idle_connections", "Open database connections not in use", pool_idle.clone());
        let pool_max = Gauge::default();
        registry.register("db_pool_max_connections", "The most connections the pool opens", pool_max.clone());
        registry.register_collector(Box::new(WorkerCollector(worker)));
        Metrics {
            registry,
            requests,
            latency,
            deliveries,
            database_up,
            journal_rows,
            accrual_lag,
            rollup_dirty_days,
            pool_connections,
            pool_idle,
            pool_max,
        }
    }

    /// Counts an answered request and its latency.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_owned();
        let method = method.to_owned();
        self.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
        self.latency.get_or_create(&RouteLabels { method, route }).observe(elapsed.as_secs_f64());
    }

    /// Counts a webhook delivery of a known source.
    pub fn observe_delivery(&self, source: &str, outcome: DeliveryOutcome) {
        self.deliveries
            .get_or_create(&DeliveryLabels { source: source.to_owned(), outcome: outcome.as_str().to_owned() })
            .inc();
    }

    /// Records the figures read from the database (`None`: it did not answer).
    pub fn set_database(&self, sample: Option<DatabaseSample>) {
        match sample {
            Some(sample) => {
                self.database_up.set(1);
                self.journal_rows.set(sample.journal_rows);
                self.accrual_lag.set(sample.accrual_lag.as_secs_f64());
                self.rollup_dirty_days.set(sample.rollup_dirty_days);
            }
            None => {
                self.database_up.set(0);
            }
        }
    }

    pub fn set_pool(&self, pool: PoolSample) {
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
    }

    /// Every series in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a `String` cannot fail; an encoder error would be a bug in a label.
        if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry) {
            tracing::error!(error.cause = %error, "encoding the metrics failed");
        }
        text
    }
}

/// The accrual worker's counts, read at each scrape.
#[derive(Debug)]
struct WorkerCollector(Arc<Worker>);

impl Collector for WorkerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.0.stats();
        let counters = [
            ("worker_passes", "Accrual worker passes that succeeded.", stats.passes),
            ("worker_failures", "Accrual worker passes that failed or panicked (each retried).", stats.failures),
            ("worker_panics", "Accrual worker passes that panicked.", stats.panics),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        let gauges = [
            ("worker_running", "1 when this process runs the accrual worker.", i64::from(stats.running)),
            (
                "worker_consecutive_failures",
                "Accrual worker passes failed in a row (readiness fails at the configured limit).",
                i64::from(stats.consecutive_failures),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        // The rollup's lag: how long the dashboard may be behind. Absent until the first
        // refresh, so a server without a worker exports no misleading zero.
        if let Some(since) = stats.since_rollup {
            let gauge = ConstGauge::new(since.as_secs_f64());
            gauge.encode(encoder.encode_descriptor(
                "rollup_lag",
                "Time since the accrual worker last brought the dashboard's rollup up to date.",
                Some(&Unit::Seconds),
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_routes_by_pattern_and_counts_deliveries() {
        let metrics = Metrics::new(Arc::new(Worker::default()));
        metrics.observe_request("GET", "/v1/people/{id}", 200, Duration::from_millis(3));
        metrics.observe_request("GET", "/v1/people/{id}", 200, Duration::from_millis(30));
        metrics.observe_delivery("pagerduty", DeliveryOutcome::Recorded);
        metrics.set_database(Some(DatabaseSample {
            journal_rows: 4,
            accrual_lag: Duration::from_millis(2_500),
            rollup_dirty_days: 2,
        }));
        metrics.set_pool(PoolSample { connections: 3, idle: 2, max: 16 });
        let text = metrics.render();
        for line in [
            "paydown_http_requests_total{method=\"GET\",route=\"/v1/people/{id}\",status=\"200\"} 2",
            "paydown_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/people/{id}\",le=\"0.005\"} 1",
            "paydown_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/people/{id}\"} 2",
            "paydown_webhook_deliveries_total{source=\"pagerduty\",outcome=\"recorded\"} 1",
            "paydown_pay_journal_rows 4",
            "paydown_accrual_lag_seconds 2.5",
            "paydown_rollup_dirty_days 2",
            "paydown_db_pool_connections 3",
            "paydown_db_pool_max_connections 16",
            "paydown_worker_passes_total 0",
            "paydown_worker_running 0",
            "paydown_database_up 1",
        ] {
            assert!(text.lines().any(|candidate| candidate == line), "missing `{line}` in:\n{text}");
        }
        assert!(!text.contains("paydown_rollup_lag_seconds"), "{text}");
    }
}
