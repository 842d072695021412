//! Logging through `tracing`; the `log` records of actix and diesel's dependencies are
//! bridged in by tracing-subscriber's `tracing-log` feature.

use tracing_subscriber::EnvFilter;

use crate::config::{LogArgs, LogFormat};

pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&args.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // actix-server repeats the listen address per worker; our own line says it once.
        .add_directive("actix_server=warn".parse().expect("static directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    // Already initialised (tests start several apps in one process): keep the first.
    let _ = result;
}
