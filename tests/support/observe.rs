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

/// The binary's log capture; see [`LogCapture`].
pub fn logs() -> &'static LogCapture {
    static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        let capture = LogCapture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .try_init()
            .expect("the only subscriber of this binary");
        capture
    })
}
