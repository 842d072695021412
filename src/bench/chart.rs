//! The lab's charts as SVG: throughput or p99 latency against concurrency, one line per
//! server model, and the bench's REST/GraphQL bars. One implementation for both places that
//! show them: the bench's `bench-results/*.svg` ([`bench_file`]: a standalone file with an
//! embedded copy of `static/chart.css`) and the /lab page (`POST /api/v1/lab/chart` answers
//! [`lab`]'s SVG, which the page inserts and styles with the same stylesheet, linked, so its
//! Content-Security-Policy needs no inline style).
//!
//! The page asks for its container's width, so text keeps its size on a phone; everything
//! shown on a point (its numbers, those of the other models at that level) is in the SVG:
//! `aria-label` for screen readers, `<title>` for the hover text (the page shows it in its
//! own tooltip).

use std::fmt::Write as _;

use serde::Deserialize;

use super::scenarios::Run;
use crate::domain::{integer, object};

/// The models in drawing order, with the series class that colours them (`static/chart.css`).
pub const MODELS: [(&str, &str); 3] = [("sync", "s3"), ("blocking", "s2"), ("async", "s1")];

/// Every chart's stylesheet: linked by /lab, embedded in the bench's file.
pub const STYLE: &str = include_str!("../../static/chart.css");

/// Values are drawn within these bounds, so any input gives a finite, small drawing.
const MAX_VALUE: f64 = 1e15;
const MIN_LOG_VALUE: f64 = 1e-3;

/// Narrowest and widest chart drawn (px).
pub const MIN_WIDTH: u32 = 280;
pub const MAX_WIDTH: u32 = 2000;

/// One measured case, as the bench's JSON (and `POST /api/v1/lab/runs`) has it; members the
/// chart does not use are ignored.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Sample {
    /// `lab` for the models; the bench file also draws `rest` and `graphql` as bars.
    #[serde(default)]
    pub scenario: String,
    /// The model (`sync`, `blocking`, `async`) or the REST/GraphQL case; other cases are
    /// not drawn.
    pub case: String,
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "integer")]
    pub concurrency: u32,
    #[serde(deserialize_with = "object")]
    pub summary: Figures,
    #[serde(default, deserialize_with = "object")]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Figures {
    #[schema(minimum = 0, maximum = 1e12)]
    #[serde(deserialize_with = "integer")]
    pub count: u64,
    #[schema(minimum = 0, maximum = 1e12)]
    #[serde(deserialize_with = "integer")]
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Extra {
    /// The simulated I/O per request (lab runs).
    #[serde(default)]
    pub ms: Option<f64>,
    /// `c × 1000 / ms`: what a perfectly concurrent server would serve.
    #[serde(default)]
    pub ideal_per_second: Option<f64>,
}

impl From<&Run> for Sample {
    fn from(r: &Run) -> Self {
        let number = |key: &str| r.extra.get(key).and_then(serde_json::Value::as_f64);
        Self {
            scenario: r.scenario.clone(),
            case: r.case.clone(),
            concurrency: u32::try_from(r.concurrency).unwrap_or(u32::MAX),
            summary: Figures {
                count: r.summary.count,
                errors: r.summary.errors,
                per_second: r.summary.per_second,
                p50_ms: r.summary.p50_ms,
                p90_ms: r.summary.p90_ms,
                p99_ms: r.summary.p99_ms,
            },
            extra: Extra {
                ms: number("ms"),
                ideal_per_second: number("ideal_per_second"),
            },
        }
    }
}

/// What the lab chart plots against concurrency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Requests per second (linear axis), with the ideal line.
    #[default]
    Rps,
    /// p99 latency in ms (log axis).
    P99,
}

impl Metric {
    fn value(self, s: &Sample) -> f64 {
        match self {
            Metric::Rps => s.summary.per_second,
            Metric::P99 => s.summary.p99_ms,
        }
    }

    fn axis(self) -> &'static str {
        match self {
            Metric::Rps => "requests / s",
            Metric::P99 => "p99 latency, ms (log scale)",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Rps => "rps",
            Metric::P99 => "p99",
        }
    }
}

// ---------------------------------------------------------------- formatting

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn rounded(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{}", grouped(v.abs().round().min(MAX_VALUE) as u64))
}

/// `v` with at most `decimals` decimals, trailing zeros dropped (as JavaScript's `+v.toFixed(d)`).
fn trimmed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Requests per second: whole numbers once they are large (as the page's tables).
pub fn rate(v: f64) -> String {
    if v.abs() >= 100.0 {
        rounded(v)
    } else {
        format!("{v:.1}")
    }
}

/// Milliseconds with as many decimals as are meaningful (as the page's tables).
pub fn millis(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        rounded(v)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn axis_number(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{}M", trimmed(v / 1_000_000.0, 1))
    } else if v >= 1000.0 {
        format!("{}k", trimmed(v / 1000.0, 1))
    } else {
        trimmed(v, 2)
    }
}

fn plural(n: u64, one: &str) -> String {
    format!("{} {one}{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// Text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 has no other controls; the input is free text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- scales

/// A round step near `x`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_step(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    let e = 10f64.powf(x.log10().floor());
    let f = x / e;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * e
}

/// Linear ticks from 0 past `max`: about four round steps.
fn linear_ticks(max: f64) -> Vec<f64> {
    let step = nice_step(if max > 0.0 { max } else { 1.0 } / 4.0);
    let mut ticks: Vec<f64> = (0..12)
        .map(|i| f64::from(i) * step)
        .take_while(|v| *v < max + step * 0.999)
        .collect();
    if ticks.len() < 2 {
        ticks.push(step);
    }
    ticks
}

/// A vertical scale: where a value is drawn, and its gridlines.
struct Scale {
    ticks: Vec<f64>,
    log: bool,
    top: f64,
    height: f64,
}

impl Scale {
    fn new(metric: Metric, values: &[f64], top: f64, height: f64) -> Self {
        let ticks = if metric == Metric::P99 {
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            let (lo, hi) = if values.is_empty() {
                (1.0, 10.0)
            } else {
                (lo, hi)
            };
            let d_lo = lo.log10().floor() as i32;
            let d_hi = (d_lo + 1).max(hi.log10().ceil() as i32);
            (d_lo..=d_hi).map(|d| 10f64.powi(d)).collect()
        } else {
            linear_ticks(values.iter().copied().fold(1.0, f64::max) * 1.05)
        };
        Self {
            ticks,
            log: metric == Metric::P99,
            top,
            height,
        }
    }

    /// The y of `v`; values past the top come out above it (the caller clips).
    fn y(&self, v: f64) -> f64 {
        let lo = self.ticks[0];
        let hi = self.ticks[self.ticks.len() - 1];
        let share = if self.log {
            (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10())
        } else {
            v.max(0.0) / hi
        };
        self.top + self.height - share * self.height
    }
}

/// A value as drawn: finite and bounded whatever the input.
fn drawable(metric: Metric, v: f64) -> Option<f64> {
    match metric {
        Metric::P99 if v > 0.0 => Some(v.clamp(MIN_LOG_VALUE, MAX_VALUE)),
        Metric::P99 => None,
        Metric::Rps => Some(v.clamp(0.0, MAX_VALUE)),
    }
}

/// The part of the polyline `pts` at or below `top`, as path data (what a clip would show).
fn clipped_path(pts: &[(f64, f64)], top: f64) -> String {
    let mut d = String::new();
    let mut pen = false;
    let go = |d: &mut String, (x, y): (f64, f64), draw: bool| {
        let _ = write!(d, "{}{x:.1},{y:.1}", if draw { 'L' } else { 'M' });
    };
    for pair in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if y0 < top && y1 < top {
            pen = false;
            continue;
        }
        let at_top = |t: f64| (x0 + (x1 - x0) * t, top);
        let start = if y0 < top {
            at_top((top - y0) / (y1 - y0))
        } else {
            (x0, y0)
        };
        let end = if y1 < top {
            at_top((top - y0) / (y1 - y0))
        } else {
            (x1, y1)
        };
        if !pen || y0 < top {
            go(&mut d, start, false);
        }
        go(&mut d, end, true);
        pen = y1 >= top;
    }
    d
}

// ---------------------------------------------------------------- the lab chart

/// Simulated I/O shared by every run, for the title.
fn common_ms(samples: &[&Sample]) -> Option<f64> {
    let first = samples.first()?.extra.ms?;
    samples
        .iter()
        .all(|s| s.extra.ms == Some(first))
        .then_some(first)
}

/// The chart's title, as the page shows it above the chart.
pub fn title(samples: &[&Sample], metric: Metric) -> String {
    let what = match metric {
        Metric::Rps => "Throughput vs. concurrency",
        Metric::P99 => "p99 latency vs. concurrency",
    };
    match common_ms(samples) {
        Some(ms) => format!(
            "{what} ({} ms of simulated I/O per request)",
            trimmed(ms, 2)
        ),
        None => what.to_owned(),
    }
}

/// A point's hover text: its level, then every model's figures there, its own first.
fn point_title(samples: &[&Sample], model: &str, c: u32) -> String {
    let mut out = plural(u64::from(c), "connection");
    let own = MODELS.iter().filter(|(m, _)| *m == model);
    for (m, _) in own.chain(MODELS.iter().filter(|(m, _)| *m != model)) {
        let Some(s) = samples.iter().find(|s| s.case == *m && s.concurrency == c) else {
            continue;
        };
        let f = &s.summary;
        let errors = if f.errors > 0 {
            format!(" · {}", plural(f.errors, "error"))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "\n{m}: {} req/s · p50 {} · p99 {} ms{errors}",
            rate(f.per_second),
            millis(f.p50_ms),
            millis(f.p99_ms)
        );
    }
    out
}

fn point_label(s: &Sample) -> String {
    let f = &s.summary;
    format!(
        "{} · {}, {} req/s, p50 {} · p90 {} · p99 {} ms, {} · {}",
        s.case,
        plural(u64::from(s.concurrency), "connection"),
        rate(f.per_second),
        millis(f.p50_ms),
        millis(f.p90_ms),
        millis(f.p99_ms),
        plural(f.errors, "error"),
        plural(f.count, "request")
    )
}

const IDEAL_LABEL: &str = "ideal: c × 1000 / ms";

/// The lab chart of `samples` (the `sync`, `blocking` and `async` cases; others are left
/// out) at `width` px: log2 concurrency across, `metric` up. `framed` draws the title and
/// the legend inside the SVG (the bench's file); the page draws both itself, from the
/// `<title>` and the `data-label`s.
pub fn lab(samples: &[Sample], metric: Metric, width: u32, framed: bool) -> String {
    let samples: Vec<&Sample> = samples
        .iter()
        .filter(|s| MODELS.iter().any(|(m, _)| *m == s.case) && s.concurrency > 0)
        .collect();
    let w = f64::from(width.clamp(MIN_WIDTH, MAX_WIDTH));
    let narrow = w < 480.0;
    let head = if framed { 52.0 } else { 0.0 };
    let h = (w * 0.48).clamp(230.0, 360.0).round() + head;
    let (left, right, top, bottom) = (
        if narrow { 46.0 } else { 60.0 },
        if narrow { 14.0 } else { 24.0 },
        14.0 + head,
        46.0,
    );
    let (pw, ph) = (w - left - right, h - top - bottom);

    let mut levels: Vec<u32> = samples.iter().map(|s| s.concurrency).collect();
    levels.sort_unstable();
    levels.dedup();
    let lo = f64::from(levels.first().copied().unwrap_or(1)).log2();
    let hi = f64::from(levels.last().copied().unwrap_or(1)).log2();
    let x = |c: u32| {
        if hi == lo {
            left + pw / 2.0
        } else {
            left + (f64::from(c).log2() - lo) / (hi - lo) * pw
        }
    };
    let values: Vec<f64> = samples
        .iter()
        .filter_map(|s| drawable(metric, metric.value(s)))
        .collect();
    let scale = Scale::new(metric, &values, top, ph);
    let caption = title(&samples, metric);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="lab-svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" data-metric="{}">"#,
        metric.name()
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&caption));
    let _ = writeln!(
        out,
        "<desc>One line per server model (sync, blocking, async) against concurrent connections{}; each point carries its numbers.</desc>",
        if metric == Metric::Rps {
            ", and the dashed ideal c × 1000 / ms"
        } else {
            ""
        }
    );
    if framed {
        let _ = writeln!(
            out,
            r#"<text x="{left}" y="22" class="title">{}</text>"#,
            escape(&caption)
        );
    }

    out.push_str("<g class=\"grid-lines\">\n");
    for &v in &scale.ticks {
        let ty = scale.y(v);
        let _ = writeln!(
            out,
            r#"<line x1="{left}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" class="gridline"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            left + pw,
            left - 8.0,
            ty + 4.0,
            axis_number(v)
        );
    }
    for &c in &levels {
        let tx = x(c);
        let _ = writeln!(
            out,
            r#"<line x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{:.1}" class="axisline"/><text x="{tx:.1}" y="{:.1}" class="tick" text-anchor="middle">{c}</text>"#,
            top + ph,
            top + ph + 5.0,
            top + ph + 19.0
        );
    }
    let _ = writeln!(
        out,
        r#"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="axisline"/><line x1="{left}" x2="{left}" y1="{top}" y2="{:.1}" class="axisline"/>"#,
        left + pw,
        top + ph,
        top + ph,
        top + ph
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="axis-label" text-anchor="middle">concurrency (connections, log scale)</text>"#,
        left + pw / 2.0,
        h - 6.0
    );
    let _ = writeln!(
        out,
        r#"<text x="0" y="0" class="axis-label" text-anchor="middle" transform="translate(12 {:.1}) rotate(-90)">{}</text>"#,
        top + ph / 2.0,
        metric.axis()
    );
    out.push_str("</g>\n");

    let mut legend: Vec<(&str, &str, &str)> = Vec::new();
    if metric == Metric::Rps {
        // The ceiling a perfectly concurrent server would reach: c requests in flight, each
        // taking `ms` milliseconds. It may leave the plot at the top: drawn up to there.
        let ideal: Vec<(f64, f64)> = levels
            .iter()
            .filter_map(|&c| {
                let v = samples
                    .iter()
                    .filter(|s| s.concurrency == c)
                    .find_map(|s| s.extra.ideal_per_second.filter(|v| *v > 0.0))?;
                Some((x(c), scale.y(v.min(MAX_VALUE))))
            })
            .collect();
        if !ideal.is_empty() {
            let d = if ideal.len() == 1 {
                let (px, py) = ideal[0];
                format!("M{px:.1},{:.1}h0.01", py.max(top))
            } else {
                clipped_path(&ideal, top)
            };
            let _ = writeln!(
                out,
                r#"<path class="ideal" d="{d}" data-testid="ideal-line" data-label="{IDEAL_LABEL}"/>"#
            );
            legend.push(("ideal", "ideal", IDEAL_LABEL));
        }
    }

    let mut points = String::new();
    for (model, class) in MODELS {
        let mut mine: Vec<(&Sample, f64)> = samples
            .iter()
            .filter(|s| s.case == model)
            .filter_map(|s| Some((*s, drawable(metric, metric.value(s))?)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by_key(|(s, _)| s.concurrency);
        legend.push((model, class, model));
        let line: Vec<String> = mine
            .iter()
            .map(|(s, v)| format!("{:.1},{:.1}", x(s.concurrency), scale.y(*v)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline class="series {class}" data-model="{model}" data-label="{model}" points="{}"/>"#,
            line.join(" ")
        );
        for (s, v) in mine {
            let (cx, cy) = (x(s.concurrency), scale.y(v));
            let _ = writeln!(
                points,
                r#"<g class="point {class}" tabindex="0" role="img" data-model="{model}" data-concurrency="{}" data-value="{v}" aria-label="{}"><title>{}</title><circle cx="{cx:.1}" cy="{cy:.1}" r="13" class="hit"/><circle cx="{cx:.1}" cy="{cy:.1}" r="4.5" class="dot"/></g>"#,
                s.concurrency,
                escape(&point_label(s)),
                escape(&point_title(&samples, model, s.concurrency))
            );
        }
    }
    let _ = write!(out, "<g class=\"points\">\n{points}</g>\n");

    if framed {
        // One row above the plot: a short line in each series' colour, then its name.
        let mut lx = left;
        for (model, class, label) in legend {
            let _ = writeln!(
                out,
                r#"<g class="legend-item {class}" data-model="{model}"><line x1="{lx:.1}" x2="{:.1}" y1="38" y2="38" class="swatch"/><text x="{:.1}" y="42" class="tick">{}</text></g>"#,
                lx + 16.0,
                lx + 21.0,
                escape(label)
            );
            lx += 21.0 + 7.0 * label.chars().count() as f64 + 18.0;
        }
    }
    out.push_str("</svg>\n");
    out
}

// ---------------------------------------------------------------- the bench's file

/// Horizontal bars of requests per second (with p99), and their height.
fn bars(samples: &[&Sample], width: f64) -> (String, f64) {
    let max = samples
        .iter()
        .map(|s| s.summary.per_second.clamp(0.0, MAX_VALUE))
        .fold(1.0f64, f64::max);
    let h = 60.0 + samples.len() as f64 * 26.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="lab-svg bars" width="{width}" height="{h}" viewBox="0 0 {width} {h}">"#
    );
    out.push_str(r#"<text x="20" y="30" class="title">REST and GraphQL: requests per second (p99 in ms)</text>"#);
    out.push('\n');
    for (i, s) in samples.iter().enumerate() {
        let y = 50.0 + i as f64 * 26.0;
        let f = &s.summary;
        let bar = f.per_second.clamp(0.0, MAX_VALUE) / max * 700.0;
        let _ = writeln!(
            out,
            r#"<text x="20" y="{:.1}" class="tick">{}</text><rect x="220" y="{y:.1}" width="{bar:.1}" height="18" class="bar"/><text x="{:.1}" y="{:.1}" class="tick">{}/s · p99 {}</text>"#,
            y + 13.0,
            escape(&format!("{} {} c={}", s.scenario, s.case, s.concurrency)),
            226.0 + bar,
            y + 13.0,
            rate(f.per_second),
            millis(f.p99_ms)
        );
    }
    out.push_str("</svg>\n");
    (out, h)
}

/// Height of an SVG drawn by this module (its root's `height`).
fn height_of(svg: &str) -> f64 {
    svg.split_once(" height=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .and_then(|(h, _)| h.parse().ok())
        .unwrap_or(0.0)
}

/// The bench's standalone SVG: the lab's throughput and p99 charts side by side, the REST
/// and GraphQL bars below them, and `footer` (target, machine, time) last.
pub fn bench_file(runs: &[Sample], footer: &str) -> String {
    const WIDTH: f64 = 1120.0;
    let models: Vec<Sample> = runs
        .iter()
        .filter(|s| s.scenario == "lab")
        .cloned()
        .collect();
    let http: Vec<&Sample> = runs
        .iter()
        .filter(|s| s.scenario == "rest" || s.scenario == "graphql")
        .collect();
    let mut body = String::new();
    let mut y = 10.0;
    if !models.is_empty() {
        let half = (WIDTH / 2.0) as u32;
        let rps = lab(&models, Metric::Rps, half, true);
        let p99 = lab(&models, Metric::P99, half, true);
        let _ = write!(
            body,
            "<g transform=\"translate(0 {y})\">\n{rps}</g>\n<g transform=\"translate({half} {y})\">\n{p99}</g>\n"
        );
        y += height_of(&rps).max(height_of(&p99)) + 10.0;
    }
    if !http.is_empty() {
        let (svg, h) = bars(&http, WIDTH);
        let _ = write!(body, "<g transform=\"translate(0 {y})\">\n{svg}</g>\n");
        y += h;
    }
    let height = y + 30.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"bench-svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"system-ui, sans-serif\">\n\
         <style><![CDATA[\n{STYLE}]]></style>\n\
         <rect width=\"{WIDTH}\" height=\"{height}\" class=\"background\"/>\n\
         {body}<text x=\"20\" y=\"{:.1}\" class=\"footer\">{}</text>\n</svg>\n",
        height - 12.0,
        escape(footer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(case: &str, c: u32, rps: f64, p99: f64) -> Sample {
        Sample {
            scenario: "lab".into(),
            case: case.into(),
            concurrency: c,
            summary: Figures {
                count: 100,
                errors: 0,
                per_second: rps,
                p50_ms: p99 / 2.0,
                p90_ms: p99 / 1.5,
                p99_ms: p99,
            },
            extra: Extra {
                ms: Some(10.0),
                ideal_per_second: Some(f64::from(c) * 100.0),
            },
        }
    }

    #[test]
    fn numbers_read_like_the_pages_tables() {
        assert_eq!(rate(12345.6), "12,346");
        assert_eq!(rate(42.25), "42.2");
        assert_eq!(millis(1234.0), "1,234");
        assert_eq!(millis(12.34), "12.3");
        assert_eq!(millis(1.234), "1.23");
        assert_eq!(axis_number(25_000.0), "25k");
        assert_eq!(axis_number(2_500_000.0), "2.5M");
        assert_eq!(axis_number(0.1), "0.1");
        assert_eq!(linear_ticks(105.0), vec![0.0, 50.0, 100.0, 150.0]);
    }

    #[test]
    fn every_model_gets_a_line_and_a_described_point_per_level() {
        let runs: Vec<Sample> = MODELS
            .iter()
            .flat_map(|(m, _)| [1, 4, 16].map(|c| sample(m, c, 90.0 * f64::from(c), 11.0)))
            .collect();
        let svg = lab(&runs, Metric::Rps, 640, false);
        assert_eq!(svg.matches("<polyline class=\"series").count(), 3);
        assert_eq!(svg.matches("<g class=\"point ").count(), 9);
        assert_eq!(svg.matches("data-testid=\"ideal-line\"").count(), 1);
        assert!(svg.contains(
            "<title>Throughput vs. concurrency (10 ms of simulated I/O per request)</title>"
        ));
        assert!(svg.contains("aria-label=\"async · 4 connections, 360 req/s"));
        // Hovering one model's point shows it first, then the others at that level.
        assert!(svg.contains(
            "<title>4 connections\nblocking: 360 req/s · p50 5.50 · p99 11.0 ms\nsync: "
        ));
        assert!(
            !svg.contains("class=\"legend-item"),
            "the page draws its own legend"
        );
        let p99 = lab(&runs, Metric::P99, 300, true);
        assert!(p99.contains("data-metric=\"p99\"") && p99.contains("(log scale)"));
        assert!(!p99.contains("ideal-line"));
        assert_eq!(p99.matches("class=\"legend-item").count(), 3);
    }

    #[test]
    fn any_input_draws_a_bounded_chart() {
        for runs in [
            vec![],
            vec![sample("async", 1, 0.0, 0.0)],
            vec![
                sample("async", 7, 1e300, 1e-300),
                sample("sync", 1_000_000, -5.0, 1e300),
            ],
            vec![sample("<script>", 3, 1.0, 1.0)],
        ] {
            for metric in [Metric::Rps, Metric::P99] {
                let svg = lab(&runs, metric, 0, false);
                assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
                assert!(!svg.contains("<script"));
                assert!(svg.matches("class=\"tick\"").count() < 40);
            }
        }
    }

    #[test]
    fn the_ideal_line_stops_at_the_top_of_the_plot() {
        let d = clipped_path(&[(0.0, 100.0), (10.0, 50.0), (20.0, -50.0)], 0.0);
        assert_eq!(d, "M0.0,100.0L10.0,50.0L15.0,0.0");
        let d = clipped_path(&[(0.0, -10.0), (10.0, 10.0), (20.0, 20.0)], 0.0);
        assert_eq!(d, "M5.0,0.0L10.0,10.0L20.0,20.0");
    }

    #[test]
    fn the_bench_file_stands_alone() {
        let mut runs: Vec<Sample> = MODELS
            .iter()
            .map(|(m, _)| sample(m, 4, 300.0, 12.0))
            .collect();
        let mut rest = sample("product", 64, 9000.0, 3.0);
        rest.scenario = "rest".into();
        runs.push(rest);
        let svg = bench_file(&runs, "127.0.0.1:1 · 2 CPUs · now");
        assert!(svg.contains("<style><![CDATA[") && svg.contains(".lab-svg"));
        assert_eq!(svg.matches("class=\"lab-svg\"").count(), 2);
        assert!(svg.contains("rest product c=64"));
        assert!(svg.contains("2 CPUs"));
    }
}
