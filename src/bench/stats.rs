//! Latency samples and what a report says about them.

use serde::Serialize;

/// Latencies in microseconds, merged from every client task of a run.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub micros: Vec<u32>,
    pub errors: u64,
}

impl Samples {
    pub fn record(&mut self, micros: u128) {
        self.micros.push(u32::try_from(micros).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
    }

    /// Sorts and summarises; `seconds` is how long the run lasted.
    pub fn summary(mut self, seconds: f64) -> Summary {
        self.micros.sort_unstable();
        let at = |q: f64| -> f64 {
            if self.micros.is_empty() {
                return 0.0;
            }
            let i =
                ((self.micros.len() as f64 * q).ceil() as usize).clamp(1, self.micros.len()) - 1;
            f64::from(self.micros[i]) / 1000.0
        };
        Summary {
            count: self.micros.len() as u64,
            errors: self.errors,
            per_second: round(self.micros.len() as f64 / seconds.max(1e-9)),
            p50_ms: round(at(0.50)),
            p90_ms: round(at(0.90)),
            p99_ms: round(at(0.99)),
            max_ms: round(at(1.0)),
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub count: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_sample() {
        let mut s = Samples::default();
        for us in 1..=100u128 {
            s.record(us * 1000);
        }
        let sum = s.summary(2.0);
        assert_eq!(sum.count, 100);
        assert_eq!(sum.per_second, 50.0);
        assert_eq!(
            (sum.p50_ms, sum.p90_ms, sum.p99_ms, sum.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(Samples::default().summary(1.0).p99_ms, 0.0);
    }
}
