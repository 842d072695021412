//! Process metrics on one `prometheus` registry that the request middleware and the
//! WebSocket actors bump, read two ways: `GET /metrics` (the Prometheus text format, totals
//! since start) and the admin dashboard feed (rates and percentiles over the last second,
//! from the difference of two readings of the same registry).
//!
//! The `prometheus` crate rather than `prometheus-client`: the latter writes only OpenMetrics
//! (counter families named without `_total`), which `promtool check metrics` cannot read
//! (prometheus/prometheus#8932); the text format here is the one every scraper and promtool
//! accept.
//!
//! Labels are deliberately few (status code, session kind): a label per route or user would
//! make every reading grow with the traffic.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use prometheus::core::Collector;
use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use serde::Serialize;

use crate::db::Db;

/// Upper bounds of the latency buckets, in seconds (Prometheus' `le`); +Inf is implied.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const STATUS_MIN: u16 = 100;
const STATUS_COUNT: usize = 500;

/// The content type of [`Metrics::exposition`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kinds of WebSocket session, each with its own gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Chat,
    Events,
    Echo,
}

impl SessionKind {
    const ALL: [SessionKind; 3] = [SessionKind::Chat, SessionKind::Events, SessionKind::Echo];

    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Chat => "chat",
            SessionKind::Events => "events",
            SessionKind::Echo => "echo",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    started: Instant,
    requests: IntCounterVec,
    /// One child of `requests` per status code, looked up once: the label lookup takes a
    /// lock and a hash, which every request would pay otherwise.
    by_status: Vec<OnceLock<IntCounter>>,
    latency: Histogram,
    sessions: [IntGauge; 3],
    sessions_opened: IntCounter,
    rooms: IntGauge,
    messages: IntCounter,
    sampled: Sampled,
}

/// Figures that live elsewhere (the pool, the statement counter, the clock), copied into the
/// registry when it is read.
struct Sampled {
    pool_max: IntGauge,
    pool_idle: IntGauge,
    pool_in_use: IntGauge,
    db_queries: IntCounter,
    uptime: Gauge,
    /// Two readers at once would both add the statement counter's growth.
    refreshing: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "switchboard_http_requests_total",
                "HTTP requests answered, by status code.",
            ),
            &["status"],
        )
        .expect("valid metric");
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "switchboard_http_request_duration_seconds",
                "Time from receiving a request to its response head.",
            )
            .buckets(BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let session_gauges = IntGaugeVec::new(
            Opts::new(
                "switchboard_ws_sessions",
                "Open WebSocket sessions, by kind.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let sessions = SessionKind::ALL.map(|k| session_gauges.with_label_values(&[k.as_str()]));
        let sessions_opened = counter(
            "switchboard_ws_sessions_opened_total",
            "WebSocket sessions opened since start.",
        );
        let rooms = gauge(
            "switchboard_chat_rooms_active",
            "Chat rooms with at least one connected member.",
        );
        let messages = counter(
            "switchboard_chat_messages_total",
            "Chat messages stored and broadcast since start.",
        );
        let pool = IntGaugeVec::new(
            Opts::new(
                "switchboard_db_pool_connections",
                "Database connections open, by state.",
            ),
            &["state"],
        )
        .expect("valid metric");
        let sampled = Sampled {
            pool_max: gauge(
                "switchboard_db_pool_max_connections",
                "Most database connections the pool may open.",
            ),
            pool_idle: pool.with_label_values(&["idle"]),
            pool_in_use: pool.with_label_values(&["in_use"]),
            db_queries: counter(
                "switchboard_db_queries_total",
                "SQL statements sent to the database (pool health checks included).",
            ),
            uptime: Gauge::new(
                "switchboard_uptime_seconds",
                "Seconds since the server started.",
            )
            .expect("valid metric"),
            refreshing: Mutex::new(()),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(session_gauges),
            Box::new(sessions_opened.clone()),
            Box::new(rooms.clone()),
            Box::new(messages.clone()),
            Box::new(sampled.pool_max.clone()),
            Box::new(pool),
            Box::new(sampled.db_queries.clone()),
            Box::new(sampled.uptime.clone()),
            // process_resident_memory_bytes and friends, read from /proc with the machine's
            // real page size.
            Box::new(ProcessCollector::for_self()),
        ];
        for collector in collectors {
            registry
                .register(collector)
                .expect("metric names are distinct");
        }
        Self {
            registry,
            started: Instant::now(),
            requests,
            by_status: (0..STATUS_COUNT).map(|_| OnceLock::new()).collect(),
            latency,
            sessions,
            sessions_opened,
            rooms,
            messages,
            sampled,
        }
    }

    pub fn record_request(&self, status: u16, elapsed: Duration) {
        let index = usize::from(status.saturating_sub(STATUS_MIN)).min(STATUS_COUNT - 1);
        self.by_status[index]
            .get_or_init(|| {
                let code = STATUS_MIN + index as u16;
                self.requests.with_label_values(&[code.to_string()])
            })
            .inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    pub fn session_opened(&self, kind: SessionKind) {
        self.sessions[kind as usize].inc();
        self.sessions_opened.inc();
    }

    pub fn session_closed(&self, kind: SessionKind) {
        self.sessions[kind as usize].dec();
    }

    pub fn set_rooms(&self, active: usize) {
        self.rooms.set(i64::try_from(active).unwrap_or(i64::MAX));
    }

    pub fn messages_sent(&self, count: usize) {
        self.messages.inc_by(count as u64);
    }

    pub fn sessions(&self, kind: SessionKind) -> i64 {
        self.sessions[kind as usize].get()
    }

    /// Copies the figures kept outside the registry into it.
    fn refresh(&self, db: &Db) {
        let s = &self.sampled;
        let _one_at_a_time = s.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        let pool = db.pool().state();
        s.pool_max.set(i64::from(db.pool().max_size()));
        s.pool_idle.set(i64::from(pool.idle_connections));
        s.pool_in_use.set(i64::from(
            pool.connections.saturating_sub(pool.idle_connections),
        ));
        s.db_queries
            .inc_by(db.queries().total().saturating_sub(s.db_queries.get()));
        s.uptime.set(self.started.elapsed().as_secs_f64());
    }

    /// `GET /metrics`: the whole registry in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn exposition(&self, db: &Db) -> String {
        self.refresh(db);
        let mut out = String::with_capacity(8192);
        TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut out)
            .expect("the text encoder writes any gathered family");
        out
    }

    /// What the dashboard needs of the registry, read once.
    pub fn reading(&self, db: &Db) -> Reading {
        self.refresh(db);
        let by_status = self
            .requests
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .filter_map(|m| {
                let code = m.get_label().first()?.value().parse().ok()?;
                Some((code, m.get_counter().get_value() as u64))
            })
            .collect();
        let histogram = self.latency.collect();
        let mut latency = Vec::with_capacity(BUCKETS.len() + 1);
        if let Some(h) = histogram
            .first()
            .and_then(|f| f.get_metric().first())
            .map(|m| m.get_histogram())
        {
            // Cumulative counts per bound, then what lies past the last bound.
            let mut below = 0;
            for bucket in h.get_bucket() {
                latency.push(bucket.cumulative_count() - below);
                below = bucket.cumulative_count();
            }
            latency.push(h.get_sample_count().saturating_sub(below));
        }
        Reading {
            at: Instant::now(),
            uptime: self.started.elapsed(),
            by_status,
            latency,
            sessions: SessionKind::ALL.map(|k| self.sessions(k)),
            rooms: self.rooms.get(),
            messages: self.messages.get(),
            pool_max: self.sampled.pool_max.get(),
            pool_idle: self.sampled.pool_idle.get(),
            pool_in_use: self.sampled.pool_in_use.get(),
        }
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

/// The dashboard's figures at one instant.
#[derive(Debug, Clone)]
pub struct Reading {
    at: Instant,
    uptime: Duration,
    by_status: Vec<(u16, u64)>,
    /// Observations per latency bucket (not cumulative), the last one past every bound.
    latency: Vec<u64>,
    sessions: [i64; 3],
    rooms: i64,
    messages: u64,
    pool_max: i64,
    pool_idle: i64,
    pool_in_use: i64,
}

impl Reading {
    fn requests(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }

    fn requests_in(&self, range: std::ops::Range<u16>) -> u64 {
        self.by_status
            .iter()
            .filter(|(code, _)| range.contains(code))
            .map(|(_, n)| n)
            .sum()
    }

    /// The dashboard's view: totals now, rates and percentiles since `previous`.
    pub fn snapshot(&self, previous: &Reading) -> Snapshot {
        let secs = self
            .at
            .saturating_duration_since(previous.at)
            .as_secs_f64()
            .max(1e-3);
        let window: Vec<u64> = self
            .latency
            .iter()
            .zip(&previous.latency)
            .map(|(now, before)| now.saturating_sub(*before))
            .collect();
        let rate = |now: u64, before: u64| round2(now.saturating_sub(before) as f64 / secs);
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        Snapshot {
            kind: "metrics",
            at: Utc::now().trunc_subsecs(0),
            uptime_s: self.uptime.as_secs(),
            http: HttpFigures {
                requests_total: self.requests(),
                requests_per_s: rate(self.requests(), previous.requests()),
                errors_4xx: self.requests_in(400..500),
                errors_5xx: self.requests_in(500..600),
                latency_ms: Percentiles {
                    p50: percentile(&window, 0.50),
                    p90: percentile(&window, 0.90),
                    p99: percentile(&window, 0.99),
                },
            },
            ws: WsFigures {
                sessions: Sessions {
                    chat: self.sessions[SessionKind::Chat as usize],
                    events: self.sessions[SessionKind::Events as usize],
                    echo: self.sessions[SessionKind::Echo as usize],
                },
                rooms: self.rooms,
                messages_total: self.messages,
                messages_per_s: rate(self.messages, previous.messages),
            },
            db: DbFigures {
                pool_max: count(self.pool_max),
                connections: count(self.pool_idle + self.pool_in_use),
                idle: count(self.pool_idle),
                in_use: count(self.pool_in_use),
            },
        }
    }
}

/// The resident memory of process `pid`, in bytes, from procfs' reading of `VmRSS` (which
/// is in kibibytes whatever the page size). `None` where there is no such process or no
/// /proc.
pub fn resident_memory_of(pid: u32) -> Option<u64> {
    let pid = i32::try_from(pid).ok()?;
    let status = procfs::process::Process::new(pid).ok()?.status().ok()?;
    status.vmrss.map(|kib| kib * 1024)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `q` quantile of a bucketed distribution in milliseconds, interpolated linearly
/// inside the bucket that holds it (as Prometheus' `histogram_quantile` does). `None`
/// without observations.
fn percentile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n > 0 && (seen + n) as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            let Some(&upper) = BUCKETS.get(i) else {
                // Past the last bound: all we know is "more than" it.
                return Some(round2(lower * 1000.0));
            };
            let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
            return Some(round2((lower + (upper - lower) * within) * 1000.0));
        }
        seen += n;
    }
    None
}
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    pub uptime_s: u64,
    pub http: HttpFigures,
    pub ws: WsFigures,
    pub db: DbFigures,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpFigures {
    pub requests_total: u64,
    pub requests_per_s: f64,
    pub errors_4xx: u64,
    pub errors_5xx: u64,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WsFigures {
    pub sessions: Sessions,
    pub rooms: i64,
    pub messages_total: u64,
    pub messages_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sessions {
    pub chat: i64,
    pub events: i64,
    pub echo: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbFigures {
    pub pool_max: u32,
    pub connections: u32,
    pub idle: u32,
    pub in_use: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_for_this_process() {
        assert!(resident_memory_of(std::process::id()).is_some_and(|b| b > 1024 * 1024));
        assert_eq!(resident_memory_of(u32::MAX), None);
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket() {
        let mut buckets = vec![0u64; BUCKETS.len() + 1];
        // 100 observations, all between 1 ms and 2.5 ms.
        buckets[4] = 100;
        assert_eq!(percentile(&buckets, 0.5), Some(1.75));
        assert_eq!(percentile(&buckets, 1.0), Some(2.5));
        assert_eq!(percentile(&[0; 17], 0.5), None);
    }

    #[test]
    fn slow_outliers_land_in_the_last_bucket() {
        let mut buckets = vec![0u64; BUCKETS.len() + 1];
        buckets[0] = 99;
        buckets[BUCKETS.len()] = 1;
        assert_eq!(percentile(&buckets, 0.5), Some(0.05));
        assert_eq!(percentile(&buckets, 1.0), Some(10_000.0));
    }

    #[test]
    fn the_dashboard_reads_the_buckets_the_exposition_writes() {
        let metrics = Metrics::new();
        metrics.record_request(200, Duration::from_micros(50));
        metrics.record_request(200, Duration::from_millis(2));
        metrics.record_request(404, Duration::from_secs(20));
        let families = metrics.latency.collect();
        let h = families[0].get_metric()[0].get_histogram();
        assert_eq!(h.get_sample_count(), 3);
        let by_status: Vec<(String, f64)> = metrics
            .requests
            .collect()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|m| {
                (
                    m.get_label()[0].value().to_owned(),
                    m.get_counter().get_value(),
                )
            })
            .collect();
        assert!(
            by_status.contains(&("200".to_owned(), 2.0)),
            "{by_status:?}"
        );
        assert!(
            by_status.contains(&("404".to_owned(), 1.0)),
            "{by_status:?}"
        );
    }
}
