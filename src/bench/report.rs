//! What a bench run leaves behind: a table on the terminal, the raw results as JSON, and an
//! SVG chart (throughput and p99 latency against concurrency per lab model, and the
//! REST/GraphQL cases against the in-run `/healthz` ceiling), drawn by `chart`, which the
//! /lab page's charts come from too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::chart::{self, Sample};
use super::scenarios::Run;

#[derive(Debug, Serialize)]
pub struct Results {
    pub started_at: String,
    pub target: String,
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub os: &'static str,
}

impl Machine {
    pub fn here() -> Self {
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS,
        }
    }
}

pub fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<16} {:>6} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7}  notes",
        "scenario", "case", "c", "per second", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    for r in runs {
        let s = &r.summary;
        let notes: Vec<String> = r
            .extra
            .iter()
            .filter(|(k, _)| *k != "ms")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let case = match r.extra.get("ms") {
            Some(ms) => format!("{} ms={ms}", r.case),
            None => r.case.clone(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<16} {:>6} {:>11.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}  {}",
            r.scenario,
            case,
            r.concurrency,
            s.per_second,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            s.errors,
            notes.join(" ")
        );
    }
    out
}

/// Writes `<stem>.json` and `<stem>.svg` (and `latest.*` copies) into `dir`.
pub fn write(dir: &Path, stem: &str, results: &Results) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(results)?;
    let svg = chart(results);
    let json_path = dir.join(format!("{stem}.json"));
    let svg_path = dir.join(format!("{stem}.svg"));
    for (path, body) in [
        (&json_path, &json),
        (&svg_path, &svg),
        (&dir.join("latest.json"), &json),
        (&dir.join("latest.svg"), &svg),
    ] {
        std::fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((json_path, svg_path))
}

/// The standalone chart of these results (`chart::bench_file`), its footer saying where and when.
pub fn chart(results: &Results) -> String {
    let samples: Vec<Sample> = results.runs.iter().map(Sample::from).collect();
    let footer = format!(
        "{} · {} CPUs · {}",
        results.target, results.machine.cpus, results.started_at
    );
    chart::bench_file(&samples, &footer)
}
