//! `LocalTexas` signs with public test keys: where NAIS runs it must refuse
//! to start, so that a service whose fallback reaches it in a pod fails at
//! start-up instead of accepting tokens anyone can mint. Here because it
//! changes the process environment: under [`ENV`], which every test of
//! this binary holds while it starts a `LocalTexas`.

use std::io::ErrorKind;

use maskinporten_actix::testing::{LocalTexas, NAIS_MARKERS};

use crate::ENV;

#[test]
fn local_texas_refuses_to_start_where_nais_runs() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for marker in NAIS_MARKERS {
        for name in NAIS_MARKERS {
            std::env::remove_var(name);
        }
        // Off NAIS it starts.
        let texas = LocalTexas::builder().start().expect("starts off NAIS");
        drop(texas);

        std::env::set_var(marker, "dev-gcp");
        let error = LocalTexas::builder().start().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{marker}");
        let message = error.to_string();
        assert!(message.contains(marker), "{message}");
        assert!(message.contains("public"), "{message}");
        let panic = std::panic::catch_unwind(LocalTexas::start).unwrap_err();
        let panic = panic
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert!(
            panic.contains("refuses to start where NAIS runs"),
            "{panic}"
        );
    }
    // An empty value is not NAIS.
    for name in NAIS_MARKERS {
        std::env::set_var(name, "");
    }
    LocalTexas::builder()
        .start()
        .expect("empty markers are not NAIS");
    for name in NAIS_MARKERS {
        std::env::remove_var(name);
    }
}
