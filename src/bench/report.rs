//! What a bench run leaves behind: a table on the terminal, the raw results as JSON, and an
//! SVG chart (throughput against concurrency per lab model, latency percentiles, and the
//! REST/GraphQL cases against the in-run `/healthz` ceiling).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

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

const COLORS: [(&str, &str); 3] = [
    ("sync", "#c0392b"),
    ("blocking", "#d68910"),
    ("async", "#2b59c3"),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart of `value(run)` against log2(concurrency), one line per lab model.
fn lab_panel(
    out: &mut String,
    runs: &[&Run],
    x0: f64,
    title: &str,
    unit: &str,
    value: fn(&Run) -> f64,
    ideal: bool,
) {
    let (w, h, left, top) = (520.0, 300.0, x0 + 60.0, 70.0);
    let levels: Vec<usize> = {
        let mut l: Vec<usize> = runs.iter().map(|r| r.concurrency).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let ideal_of = |r: &Run| {
        r.extra
            .get("ideal_per_second")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    let max = runs
        .iter()
        .map(|r| {
            value(r).max(if ideal {
                ideal_of(r).min(value(r) * 4.0)
            } else {
                0.0
            })
        })
        .fold(1.0f64, f64::max)
        * 1.1;
    let x = |c: usize| {
        let i = levels.iter().position(|&l| l == c).unwrap_or(0) as f64;
        left + i * (w - 80.0) / (levels.len().max(2) - 1) as f64
    };
    let y = |v: f64| top + h - (v / max).min(1.0) * h;
    let _ = writeln!(
        out,
        r#"<text x="{}" y="40" class="title">{}</text>"#,
        x0 + 20.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#999"/>"##,
        top + h,
        left + w - 80.0,
        top + h
    );
    let _ = writeln!(
        out,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#999"/>"##,
        top + h
    );
    for step in 0..=4 {
        let v = max * f64::from(step) / 4.0;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" class="tick" text-anchor="end">{:.0}</text><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#eee"/>"##,
            left - 6.0,
            y(v) + 4.0,
            v,
            y(v),
            left + w - 80.0,
            y(v)
        );
    }
    for &c in &levels {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" class="tick" text-anchor="middle">{c}</text>"#,
            x(c),
            top + h + 18.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" class="tick" text-anchor="middle">concurrency (connections)</text>"#,
        left + (w - 80.0) / 2.0,
        top + h + 40.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" class="tick">{}</text>"#,
        x0 + 10.0,
        top - 12.0,
        escape(unit)
    );
    // "x,y x,y ..." of one line: `of(run)` for the runs of `case`, by concurrency.
    let polyline = |case: &str, of: &dyn Fn(&Run) -> f64| -> (String, Vec<(f64, f64)>) {
        let mut pts: Vec<(usize, f64)> = runs
            .iter()
            .filter(|r| r.case == case)
            .map(|r| (r.concurrency, of(r)))
            .collect();
        pts.sort_by_key(|p| p.0);
        let xy: Vec<(f64, f64)> = pts.iter().map(|(c, v)| (x(*c), y(*v))).collect();
        let path = xy
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect::<Vec<_>>();
        (path.join(" "), xy)
    };
    if ideal {
        let (path, _) = polyline("async", &ideal_of);
        let _ = writeln!(
            out,
            r##"<polyline points="{path}" fill="none" stroke="#888" stroke-dasharray="4 4"/>"##
        );
    }
    for (i, (model, color)) in COLORS.iter().enumerate() {
        let (path, xy) = polyline(model, &value);
        let _ = writeln!(
            out,
            r#"<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>"#
        );
        for (px, py) in xy {
            let _ = writeln!(
                out,
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="{color}"/>"#
            );
        }
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}" class="tick">{model}</text>"#,
            // Right of the unit label above the y axis.
            left + 50.0 + i as f64 * 90.0,
            top - 8.0 - 20.0,
            left + 66.0 + i as f64 * 90.0,
            top - 18.0
        );
    }
    if ideal {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" class="tick" fill="#888">dashed: c × 1000 / ms</text>"##,
            left + 320.0,
            top - 18.0
        );
    }
}

/// Horizontal bars of requests per second for the REST and GraphQL cases.
fn bars(out: &mut String, runs: &[&Run], y0: f64) {
    let max = runs
        .iter()
        .map(|r| r.summary.per_second)
        .fold(1.0f64, f64::max);
    let _ = writeln!(
        out,
        r#"<text x="20" y="{}" class="title">REST and GraphQL: requests per second (p99 in ms)</text>"#,
        y0
    );
    for (i, r) in runs.iter().enumerate() {
        let y = y0 + 20.0 + i as f64 * 26.0;
        let width = r.summary.per_second / max * 700.0;
        let label = format!("{} {} c={}", r.scenario, r.case, r.concurrency);
        let _ = writeln!(
            out,
            r##"<text x="20" y="{}" class="tick">{}</text><rect x="220" y="{}" width="{width:.1}" height="18" fill="#2b59c3"/><text x="{}" y="{}" class="tick">{:.0}/s · p99 {:.2}</text>"##,
            y + 13.0,
            escape(&label),
            y,
            226.0 + width,
            y + 13.0,
            r.summary.per_second,
            r.summary.p99_ms
        );
    }
}

pub fn chart(results: &Results) -> String {
    let lab: Vec<&Run> = results
        .runs
        .iter()
        .filter(|r| r.scenario == "lab")
        .collect();
    let http: Vec<&Run> = results
        .runs
        .iter()
        .filter(|r| r.scenario == "rest" || r.scenario == "graphql")
        .collect();
    let lab_height = if lab.is_empty() { 0.0 } else { 430.0 };
    let height = lab_height
        + if http.is_empty() {
            0.0
        } else {
            60.0 + http.len() as f64 * 26.0
        }
        + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="1120" height="{height}" viewBox="0 0 1120 {height}" font-family="system-ui, sans-serif">"#
    );
    let _ = writeln!(out, "<style>.title{{font-size:16px;font-weight:600;fill:#1d2330}}.tick{{font-size:12px;fill:#4a5568}}</style>");
    let _ = writeln!(
        out,
        r##"<rect width="1120" height="{height}" fill="#fff"/>"##
    );
    if !lab.is_empty() {
        lab_panel(
            &mut out,
            &lab,
            0.0,
            "Lab: throughput by model",
            "requests / s",
            |r| r.summary.per_second,
            true,
        );
        lab_panel(
            &mut out,
            &lab,
            560.0,
            "Lab: p99 latency by model",
            "ms",
            |r| r.summary.p99_ms,
            false,
        );
    }
    if !http.is_empty() {
        bars(&mut out, &http, lab_height + 30.0);
    }
    let _ = writeln!(
        out,
        r#"<text x="20" y="{}" class="tick">{} · {} CPUs · {}</text>"#,
        height - 12.0,
        escape(&results.target),
        results.machine.cpus,
        escape(&results.started_at)
    );
    out.push_str("</svg>\n");
    out
}
