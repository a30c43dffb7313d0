//! Compile-time behaviour of `#[require_scope]`, `#[require_consumer]`,
//! `scopes![]`, `orgnos![]` and `exposed_scopes!()`: what compiles, and the
//! exact message for each mistake (the `.stderr` beside each failing file).
//!
//! After a deliberate change to a message, regenerate with
//! `TRYBUILD=overwrite cargo test -p maskinporten-tests --test ui` and review
//! the diff of the `.stderr` files like code.
//!
//! trybuild compiles the files in a crate of its own, whose Cargo.toml has no
//! `[package.metadata.maskinporten]`: the groups checked against a NAIS
//! manifest name theirs in `MASKINPORTEN_NAIS_MANIFEST` (and
//! `MASKINPORTEN_NAIS_VARIABLES`), which cargo passes on to the compiler,
//! one trybuild run per group.
//!
//! Every case here is a `compile_fail` case, so that trybuild only checks:
//! one `trybuild::TestCases::pass` case makes it build every dependency
//! (actix, reqwest, the crypto provider) in its own target directory and
//! each case on its own, which took most of `cargo test --workspace`. What
//! must compile without a manifest is in `tests/it/compiles/`, built with
//! the other tests. What must compile against a manifest (`accepted/` of
//! each group) ends in one `compile_error!`, the only error its `.stderr`
//! holds: any error of the attribute, the types or a constant assertion
//! above it would show beside it. Those cases assert what
//! `exposed_scopes!()` gives in constants, which the check evaluates.

use std::path::PathBuf;

const MANIFEST_ENV: &str = "MASKINPORTEN_NAIS_MANIFEST";
const VARIABLES_ENV: &str = "MASKINPORTEN_NAIS_VARIABLES";

/// A directory of `ui/manifest/`, whose `accepted/` files must compile (but
/// for their closing `compile_error!`) and whose `fail/` files must fail
/// with their `.stderr`, and the fixtures they compile against: (manifest,
/// variables file) pairs from `ui/manifest/fixtures/`.
struct Group {
    dir: &'static str,
    manifests: &'static [(&'static str, Option<&'static str>)],
}

const GROUPS: &[Group] = &[
    Group {
        dir: "app",
        manifests: &[("app.yaml", None)],
    },
    Group {
        dir: "missing",
        manifests: &[("missing.yaml", None)],
    },
    Group {
        dir: "unparsable",
        manifests: &[("unparsable.yaml", None)],
    },
    Group {
        dir: "templated",
        manifests: &[("templated.yaml", None)],
    },
    Group {
        dir: "templated_variables",
        manifests: &[("templated.yaml", Some("templated.vars.json"))],
    },
    Group {
        dir: "two",
        manifests: &[("dev.yaml", None), ("prod.yaml", None)],
    },
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("ui/manifest/fixtures")
        .join(name)
}

/// The flags trybuild gives the compiler, in the variable cargo reads
/// before trybuild's own `--config build.rustflags`: trybuild checks the
/// dependencies without `--diagnostic-width=140` and the cases with it, and
/// a change of flags makes cargo check every dependency again (a minute on
/// two cores). With the same flags for both, it checks them once. Not set
/// where the caller sets flags of their own (coverage, say): trybuild then
/// reads those as it always does.
fn one_set_of_compiler_flags() {
    if std::env::var_os("RUSTFLAGS").is_some() || std::env::var_os(ENCODED_RUSTFLAGS).is_some() {
        return;
    }
    let flags = [
        "--cfg",
        "trybuild",
        "--verbose",
        "-A",
        "dead_code",
        "--diagnostic-width=140",
    ];
    std::env::set_var(ENCODED_RUSTFLAGS, flags.join("\x1f"));
}

const ENCODED_RUSTFLAGS: &str = "CARGO_ENCODED_RUSTFLAGS";

/// One test, so that the runs follow each other: each sets the variables
/// its compilations see.
#[test]
fn ui() {
    one_set_of_compiler_flags();
    // Without a manifest: the environment must not name one.
    std::env::remove_var(MANIFEST_ENV);
    std::env::remove_var(VARIABLES_ENV);
    {
        let t = trybuild::TestCases::new();
        t.compile_fail("ui/fail/*.rs");
    }
    for group in GROUPS {
        let manifests = std::env::join_paths(group.manifests.iter().map(|(m, _)| fixture(m)))
            .expect("fixture paths");
        let variables = std::env::join_paths(
            group
                .manifests
                .iter()
                .map(|(_, v)| v.map(fixture).unwrap_or_default()),
        )
        .expect("fixture paths");
        std::env::set_var(MANIFEST_ENV, manifests);
        std::env::set_var(VARIABLES_ENV, variables);
        let t = trybuild::TestCases::new();
        for kind in ["accepted", "fail"] {
            let dir = format!(
                "{}/ui/manifest/{}/{kind}",
                env!("CARGO_MANIFEST_DIR"),
                group.dir
            );
            if std::fs::exists(&dir).unwrap_or(false) {
                t.compile_fail(format!("ui/manifest/{}/{kind}/*.rs", group.dir));
            }
        }
        // trybuild runs its cases when dropped.
        drop(t);
    }
    std::env::remove_var(MANIFEST_ENV);
    std::env::remove_var(VARIABLES_ENV);
}
