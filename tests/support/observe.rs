//! What no status code shows: panics on threads other than a test's own,
//! and every log line of the binary.

use std::sync::{Arc, Mutex};

static TEST_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STRAY_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts recording panics on threads other than the tests' own (the API's
/// workers, runtime threads, the local endpoint), which no status code would
/// show: a panic in a spawned task only ends that task. Call at the start of
/// every test of a binary that checks [`assert_no_stray_panics`].
pub fn watch_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    if let Some(name) = std::thread::current().name() {
        TEST_THREADS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_owned());
    }
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>").to_owned();
            let is_test = TEST_THREADS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&name);
            if !is_test {
                STRAY_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// Fails if any thread but a test's own panicked since [`watch_panics`].
pub fn assert_no_stray_panics() {
    let panics = STRAY_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(panics.is_empty(), "panics outside the tests: {panics:#?}");
}

/// Every log line of a test binary, at TRACE: the one `tracing` subscriber
/// of the binary, set on first use. For tests that assert what is logged,
/// and that a token never is.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The binary's log capture; see [`LogCapture`]. Set on first use, with
/// [`fields`], as the binary's one `tracing` subscriber: every event and
/// span (closing too), and `log` records through tracing-log, at TRACE.
pub fn logs() -> &'static LogCapture {
    &captured().logs
}

/// Every span's and event's fields as a layer receives them, one line each:
/// `new <span> field=value ...`, `record <span> field=value`, `event
/// <target> field=value ...`: what an OpenTelemetry layer would export.
pub fn fields() -> &'static LogCapture {
    &captured().fields
}

/// The log lines and the fields, captured.
struct Captured {
    logs: LogCapture,
    fields: LogCapture,
}

fn captured() -> &'static Captured {
    static CAPTURE: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
        let captured = Captured {
            logs: LogCapture::default(),
            fields: LogCapture::default(),
        };
        let writer = captured.logs.clone();
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone())
                    .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE),
            )
            .with(Fields(captured.fields.clone()))
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .try_init()
            .expect("the only subscriber of this binary");
        captured
    })
}

/// Every span's and event's fields, one line each as a layer receives them:
/// `new <span> field=value ...`, `record <span> field=value`, `event
/// <target> field=value ...`.
struct Fields(LogCapture);

/// Writes each field as `name=value`, whatever its type.
struct Line(String);

impl tracing::field::Visit for Line {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Fields
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = Line(format!("new {}", attrs.metadata().name()));
        attrs.record(&mut line);
        self.write(line);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let name = ctx.span(id).map_or("?", |span| span.name());
        let mut line = Line(format!("record {name}"));
        values.record(&mut line);
        self.write(line);
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut line = Line(format!("event {}", event.metadata().target()));
        event.record(&mut line);
        self.write(line);
    }
}

impl Fields {
    fn write(&self, mut line: Line) {
        line.0.push('\n');
        std::io::Write::write_all(&mut self.0.clone(), line.0.as_bytes()).unwrap();
    }
}
