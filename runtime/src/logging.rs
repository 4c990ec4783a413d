//! Logging in runc's shape, because that is what callers parse.
//!
//! containerd's runc shim and CRI-O read the `--log` file when a runtime call fails and show
//! the last `error` record to the user; with `--log-format json` each line must be
//! `{"level":"error","msg":"...","time":"..."}` as runc (logrus) writes it, and with `text`
//! `time="..." level=error msg="..."`. Without `--log`, only `--debug` records go to stderr;
//! with it, warnings and errors (and with `--debug` everything) go to the file.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{filter::LevelFilter, Layer};

/// The two formats runc accepts for `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(value: Option<&str>) -> Result<Self> {
        match value {
            None | Some("text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => bail!("invalid --log-format {other:?}: expected text or json"),
        }
    }
}

/// Where records go, and whether that is somewhere other than the terminal.
pub struct Logger {
    /// True when records go to a `--log` file, so errors must also reach stderr.
    pub to_file: bool,
}

/// Installs the global subscriber. `debug` lowers the level from error to debug.
pub fn init(log_file: Option<&Path>, format: Format, debug: bool) -> Result<Logger> {
    let (sink, to_file): (Box<dyn Write + Send>, bool) = match log_file {
        Some(path) => (Box::new(open_log(path)?), true),
        None => (Box::new(std::io::stderr()), false),
    };
    // On a terminal the one-line error from `main` says it all; libcontainer's own error
    // records, and runw's warnings (a compile cache entry that did not verify, say), go to
    // the `--log` file, where callers look for detail.
    let level = match (debug, to_file) {
        (true, _) => LevelFilter::DEBUG,
        (false, true) => LevelFilter::WARN,
        (false, false) => LevelFilter::OFF,
    };
    let layer = RuncLayer {
        format,
        sink: Mutex::new(sink),
    }
    .with_filter(level);
    crate::init_cause::open();
    tracing_subscriber::registry()
        .with(layer)
        .with(crate::init_cause::CauseLayer.with_filter(LevelFilter::ERROR))
        .try_init()
        .context("failed to install the logger")?;
    Ok(Logger { to_file })
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("failed to open log file {}", path.display()))
}

struct RuncLayer {
    format: Format,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = render(self.format, *event.metadata().level(), &fields.message());
        if let Ok(mut sink) = self.sink.lock() {
            // A log line that cannot be written has nowhere else to go.
            let _ = sink.write_all(line.as_bytes());
        }
    }
}

/// One record as a line in runc's format, newline included.
fn render(format: Format, level: Level, msg: &str) -> String {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let level = level.as_str().to_ascii_lowercase();
    match format {
        Format::Json => {
            let record = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{record}\n")
        }
        Format::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
    }
}

/// The event's message followed by its other fields as `key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    extra: String,
}

impl Fields {
    fn message(&self) -> String {
        if self.extra.is_empty() {
            self.message.clone()
        } else {
            format!("{}{}", self.message, self.extra)
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            let _ = write!(self.extra, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.extra, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_runc_keys() {
        let line = render(Format::Json, Level::ERROR, "container \"x\" does not exist");
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid json");
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "container \"x\" does not exist");
        assert!(value["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn text_lines_quote_the_message() {
        let line = render(Format::Text, Level::DEBUG, "a \"b\"");
        assert!(line.contains("level=debug msg=\"a \\\"b\\\"\""), "{line}");
    }

    #[test]
    fn unknown_format_is_refused() {
        assert!(Format::parse(Some("xml")).is_err());
        assert_eq!(Format::parse(None).ok(), Some(Format::Text));
    }
}
