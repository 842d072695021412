//! Process metrics: lock-free counters and a latency histogram that the request middleware
//! and the WebSocket actors bump, read two ways: `GET /metrics` (Prometheus text, totals
//! since start) and the admin dashboard feed (rates and percentiles over the last second,
//! from the difference of two readings).
//!
//! Labels are deliberately few (status code, session kind): a label per route or user would
//! make every reading grow with the traffic.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::db::Db;

/// Upper bounds of the latency buckets, in seconds (Prometheus' `le`), plus +Inf.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const STATUS_MIN: u16 = 100;
const STATUS_COUNT: usize = 500;

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

    fn index(self) -> usize {
        self as usize
    }
}

pub struct Metrics {
    started: Instant,
    by_status: Vec<AtomicU64>,
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    sessions: [AtomicI64; 3],
    sessions_opened: AtomicU64,
    rooms: AtomicI64,
    messages: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            by_status: (0..STATUS_COUNT).map(|_| AtomicU64::new(0)).collect(),
            latency: Default::default(),
            latency_sum_micros: AtomicU64::new(0),
            sessions: Default::default(),
            sessions_opened: AtomicU64::new(0),
            rooms: AtomicI64::new(0),
            messages: AtomicU64::new(0),
        }
    }

    pub fn record_request(&self, status: u16, elapsed: Duration) {
        let index = usize::from(status.saturating_sub(STATUS_MIN)).min(STATUS_COUNT - 1);
        self.by_status[index].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    pub fn session_opened(&self, kind: SessionKind) {
        self.sessions[kind.index()].fetch_add(1, Relaxed);
        self.sessions_opened.fetch_add(1, Relaxed);
    }

    pub fn session_closed(&self, kind: SessionKind) {
        self.sessions[kind.index()].fetch_sub(1, Relaxed);
    }

    pub fn set_rooms(&self, active: usize) {
        self.rooms
            .store(i64::try_from(active).unwrap_or(i64::MAX), Relaxed);
    }

    pub fn messages_sent(&self, count: usize) {
        self.messages.fetch_add(count as u64, Relaxed);
    }

    pub fn sessions(&self, kind: SessionKind) -> i64 {
        self.sessions[kind.index()].load(Relaxed)
    }

    /// A consistent-enough copy of every counter (each is read once).
    pub fn reading(&self, db: &Db) -> Reading {
        let pool = db.pool().state();
        let mut by_status = Vec::new();
        for (i, count) in self.by_status.iter().enumerate() {
            let n = count.load(Relaxed);
            if n > 0 {
                by_status.push((STATUS_MIN + i as u16, n));
            }
        }
        Reading {
            at: Instant::now(),
            uptime: self.started.elapsed(),
            by_status,
            latency: self.latency.iter().map(|b| b.load(Relaxed)).collect(),
            latency_sum_micros: self.latency_sum_micros.load(Relaxed),
            sessions: SessionKind::ALL.map(|k| self.sessions(k)),
            sessions_opened: self.sessions_opened.load(Relaxed),
            rooms: self.rooms.load(Relaxed),
            messages: self.messages.load(Relaxed),
            pool_max: db.pool().max_size(),
            pool_connections: pool.connections,
            pool_idle: pool.idle_connections,
            db_queries: db.queries().total(),
            resident_bytes: resident_memory(),
        }
    }
}

/// The counters at one instant.
#[derive(Debug, Clone)]
pub struct Reading {
    at: Instant,
    uptime: Duration,
    by_status: Vec<(u16, u64)>,
    latency: Vec<u64>,
    latency_sum_micros: u64,
    sessions: [i64; 3],
    sessions_opened: u64,
    rooms: i64,
    messages: u64,
    pool_max: u32,
    pool_connections: u32,
    pool_idle: u32,
    db_queries: u64,
    resident_bytes: Option<u64>,
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

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut out = String::with_capacity(4096);
        let statuses: Vec<(String, f64)> = self
            .by_status
            .iter()
            .map(|(code, n)| (format!("status=\"{code}\""), *n as f64))
            .collect();
        family(
            &mut out,
            "switchboard_http_requests_total",
            "counter",
            "HTTP requests answered, by status code.",
            &statuses,
        );
        let name = "switchboard_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from receiving a request to its response head.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, n) in self.latency.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {cumulative}",
            self.latency_sum_micros as f64 / 1e6
        );
        let sessions: Vec<(String, f64)> = SessionKind::ALL
            .iter()
            .map(|k| {
                (
                    format!("kind=\"{}\"", k.as_str()),
                    self.sessions[k.index()] as f64,
                )
            })
            .collect();
        family(
            &mut out,
            "switchboard_ws_sessions",
            "gauge",
            "Open WebSocket sessions, by kind.",
            &sessions,
        );
        let single = |value: f64| vec![(String::new(), value)];
        family(
            &mut out,
            "switchboard_ws_sessions_opened_total",
            "counter",
            "WebSocket sessions opened since start.",
            &single(self.sessions_opened as f64),
        );
        family(
            &mut out,
            "switchboard_chat_rooms_active",
            "gauge",
            "Chat rooms with at least one connected member.",
            &single(self.rooms as f64),
        );
        family(
            &mut out,
            "switchboard_chat_messages_total",
            "counter",
            "Chat messages stored and broadcast since start.",
            &single(self.messages as f64),
        );
        family(
            &mut out,
            "switchboard_db_pool_max_connections",
            "gauge",
            "Most database connections the pool may open.",
            &single(f64::from(self.pool_max)),
        );
        family(
            &mut out,
            "switchboard_db_pool_connections",
            "gauge",
            "Database connections open, by state.",
            &[
                ("state=\"idle\"".to_owned(), f64::from(self.pool_idle)),
                (
                    "state=\"in_use\"".to_owned(),
                    f64::from(self.pool_connections.saturating_sub(self.pool_idle)),
                ),
            ],
        );
        family(
            &mut out,
            "switchboard_db_queries_total",
            "counter",
            "SQL statements sent to the database (pool health checks included).",
            &single(self.db_queries as f64),
        );
        if let Some(bytes) = self.resident_bytes {
            family(
                &mut out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                &single(bytes as f64),
            );
        }
        family(
            &mut out,
            "switchboard_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            &single(self.uptime.as_secs_f64()),
        );
        out
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
                    chat: self.sessions[0],
                    events: self.sessions[1],
                    echo: self.sessions[2],
                },
                rooms: self.rooms,
                messages_total: self.messages,
                messages_per_s: rate(self.messages, previous.messages),
            },
            db: DbFigures {
                pool_max: self.pool_max,
                connections: self.pool_connections,
                idle: self.pool_idle,
                in_use: self.pool_connections.saturating_sub(self.pool_idle),
            },
        }
    }
}

/// This process's resident memory, from /proc (Linux only; `None` elsewhere). `VmRSS` is
/// in kibibytes whatever the page size (statm counts pages, which are 16 or 64 KiB on some
/// machines).
fn resident_memory() -> Option<u64> {
    resident_memory_of("self")
}

/// The resident memory of process `pid` (or `self`), the same way.
pub fn resident_memory_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    resident_from_status(&status)
}

fn resident_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One metric family: its HELP and TYPE lines, then one sample per label set.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
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
    fn resident_memory_is_read_in_kibibytes_not_pages() {
        let status = "Name:\tswitchboard\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(resident_from_status(status), Some(12345 * 1024));
        assert_eq!(resident_from_status("Name: x\n"), None);
        assert!(resident_memory().is_some_and(|b| b > 1024 * 1024));
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
}
