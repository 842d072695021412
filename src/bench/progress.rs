//! A one-line progress bar on stderr: what runs, how far along it is, and how many
//! requests (or deliveries) have completed. Silent when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Progress {
    quiet: bool,
    stop: Arc<AtomicBool>,
    label: String,
    done: Arc<AtomicU64>,
    started: Instant,
}

const WIDTH: usize = 24;

impl Progress {
    pub fn start(label: &str, duration: Duration, done: Arc<AtomicU64>, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        if !quiet && std::io::stderr().is_terminal() {
            let (stop, label, done) = (stop.clone(), label.to_owned(), done.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let elapsed = started.elapsed().as_secs_f64();
                    let share = (elapsed / duration.as_secs_f64().max(1e-3)).min(1.0);
                    let filled = (share * WIDTH as f64) as usize;
                    eprint!(
                        "\r  {label:<36} [{}{}] {elapsed:5.1}s {:>9}",
                        "#".repeat(filled),
                        ".".repeat(WIDTH - filled),
                        done.load(Ordering::Relaxed)
                    );
                    let _ = std::io::stderr().flush();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        Self {
            quiet,
            stop,
            label: label.to_owned(),
            done,
            started,
        }
    }

    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.quiet {
            return;
        }
        let line = format!(
            "  {:<36} done in {:.1}s, {} completed",
            self.label,
            self.started.elapsed().as_secs_f64(),
            self.done.load(Ordering::Relaxed)
        );
        if std::io::stderr().is_terminal() {
            eprintln!("\r{line}{}", " ".repeat(20));
        } else {
            eprintln!("{line}");
        }
    }
}
