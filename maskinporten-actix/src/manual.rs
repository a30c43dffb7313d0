//! The manual: every page of the guide, one topic each.
//!
//! The crate documentation's front page is the map; these pages are the
//! guide behind it, with examples that compile (and run, unless they would
//! start a server) as doctests.
//!
//! | page | what it holds |
//! |---|---|
//! | [`configuration`] | the handle: environment variables, builder options and defaults, where to register it |
//! | [`guards`] | `#[require_scope]`, `#[require_consumer]`, the middleware for route trees, lists from configuration, delegation and Altinn system users |
//! | [`rejections`] | every answer a caller can get, and how to render your own |
//! | [`strategies`] | introspection or local validation: what each costs, how keys are fetched |
//! | [`cache`] | the cache of validated tokens, and what keeps a flood of junk tokens off the sidecar |
//! | [`manifest`] | the NAIS manifest as the source of truth: exposing scopes, the checks when the code compiles, each error explained |
//! | [`observability`] | the tracing span of each validation, OpenTelemetry |
//! | [`metrics`] | the Prometheus metrics, set-up, and queries (feature `metrics`) |
//! | [`openapi`] | the OpenAPI document's security from the guards (feature `openapi`) |
//! | [`quota`] | per-consumer quotas, one quota for the fleet in Valkey, and what happens when Valkey goes (feature `quota`) |
//! | [`testing`] | testing handlers and running a service without NAIS (feature `testing`) |
//! | [`threat_model`] | what the crates guarantee, and what the application must still check |
//!
//! The pages of the `metrics`, `openapi`, `quota` and `testing` features are complete
//! when the documentation is built with them (docs.rs builds every feature;
//! locally `cargo doc -p maskinporten-actix --all-features --open`).

#[doc = include_str!("manual/configuration.md")]
pub mod configuration {}

#[doc = include_str!("manual/guards.md")]
pub mod guards {}

#[doc = include_str!("manual/rejections.md")]
pub mod rejections {}

#[doc = include_str!("manual/strategies.md")]
pub mod strategies {}

#[doc = include_str!("manual/cache.md")]
pub mod cache {}

#[doc = include_str!("manual/manifest.md")]
pub mod manifest {}

#[doc = include_str!("manual/observability.md")]
pub mod observability {}

#[cfg_attr(feature = "metrics", doc = include_str!("manual/metrics.md"))]
#[cfg_attr(
    not(feature = "metrics"),
    doc = "The Prometheus metrics: this page needs the `metrics` feature \
           (`cargo doc -p maskinporten-actix --features metrics`; docs.rs has it)."
)]
pub mod metrics {}

#[cfg_attr(feature = "openapi", doc = include_str!("manual/openapi.md"))]
#[cfg_attr(
    not(feature = "openapi"),
    doc = "The OpenAPI document's security: this page needs the `openapi` feature \
           (`cargo doc -p maskinporten-actix --features openapi`; docs.rs has it)."
)]
pub mod openapi {}

#[cfg_attr(feature = "quota", doc = include_str!("manual/quota.md"))]
#[cfg_attr(
    not(feature = "quota"),
    doc = "Per-consumer quotas: this page needs the `quota` feature \
           (`cargo doc -p maskinporten-actix --features quota`; docs.rs has it)."
)]
pub mod quota {}

#[cfg_attr(feature = "testing", doc = include_str!("manual/testing.md"))]
#[cfg_attr(
    not(feature = "testing"),
    doc = "Testing handlers and running a service without NAIS: this page needs the \
           `testing` feature (`cargo doc -p maskinporten-actix --features testing`; \
           docs.rs has it)."
)]
pub mod testing {}

#[doc = include_str!("manual/threat_model.md")]
pub mod threat_model {}

/// The README's quick start agrees with what is compiled, and with itself.
///
/// The quick start's `src/main.rs` is `examples/quickstart.rs` and its
/// manifest `examples/.nais/app.yaml`, which `examples/Cargo.toml` names: the
/// examples are compiled against it (every required scope exposed, every
/// allow-listed organisation a consumer of its scope) and the test runs with
/// the workspace's. This checks that the README shows those files as they
/// are, that the manifest exposes exactly the scopes the code requires to
/// exactly the organisations it lets in, and that the README's `Cargo.toml`
/// lines, commands and manual links name things that exist.
///
/// ```
/// const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
/// const QUICKSTART: &str =
///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/quickstart.rs"));
/// const APP_YAML: &str =
///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/.nais/app.yaml"));
/// const EXAMPLES_TOML: &str =
///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/Cargo.toml"));
/// const WORKSPACE_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"));
/// const CRATE_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
/// const CI: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run"));
/// const MANUAL_MANIFEST: &str =
///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/manual/manifest.md"));
/// use std::collections::{BTreeMap, BTreeSet, HashMap};
///
/// /// The fenced blocks of a Markdown text: (info string, body).
/// fn blocks(markdown: &str) -> Vec<(String, String)> {
///     let mut blocks = Vec::new();
///     let mut open: Option<(String, Vec<&str>)> = None;
///     for line in markdown.lines() {
///         match (&mut open, line.strip_prefix("```")) {
///             (None, Some(info)) => open = Some((info.to_owned(), Vec::new())),
///             (Some(_), Some("")) => {
///                 let (info, body) = open.take().unwrap();
///                 blocks.push((info, body.join("\n")));
///             }
///             (Some((_, body)), _) => body.push(line),
///             (None, None) => {}
///         }
///     }
///     assert!(open.is_none(), "an unclosed code block");
///     blocks
/// }
///
/// /// The scopes a manifest exposes (enabled), as NAIS names them, each with
/// /// the organisation numbers of its consumers.
/// fn exposed(manifest: &str) -> BTreeMap<String, BTreeSet<String>> {
///     let value = |line: &str| line.split_once(':').unwrap().1.trim().trim_matches('"').to_owned();
///     let mut entries: Vec<(HashMap<&str, String>, BTreeSet<String>)> = Vec::new();
///     let mut list_indent = None;
///     for line in manifest.lines() {
///         let indent = line.len() - line.trim_start().len();
///         let trimmed = line.trim();
///         if trimmed == "exposes:" {
///             list_indent = Some(indent + 2);
///             continue;
///         }
///         let Some(at) = list_indent else { continue };
///         if trimmed.is_empty() || trimmed.starts_with('#') {
///             continue;
///         }
///         if indent < at {
///             list_indent = None;
///             continue;
///         }
///         if indent == at && trimmed.starts_with("- ") {
///             entries.push(Default::default());
///         }
///         let (fields, consumers) = entries.last_mut().unwrap();
///         let field = trimmed.trim_start_matches("- ");
///         if field.starts_with("orgno:") {
///             consumers.insert(value(field));
///         } else if indent <= at + 2 {
///             for key in ["name", "product", "separator", "enabled"] {
///                 if field.starts_with(&format!("{key}:")) {
///                     fields.insert(key, value(field));
///                 }
///             }
///         }
///     }
///     entries
///         .into_iter()
///         .filter(|(e, _)| e.get("enabled").is_some_and(|v| v == "true"))
///         .map(|(e, consumers)| {
///             let name = &e["name"];
///             let default = if name.contains('/') { "/" } else { ":" };
///             let separator = e.get("separator").map_or(default, String::as_str);
///             (format!("nav:{}{separator}{name}", e["product"]), consumers)
///         })
///         .collect()
/// }
///
/// /// What the handlers require: each `#[require_scope]` literal with the
/// /// organisation numbers of the `#[require_consumer]` stacked with it.
/// fn required(code: &str) -> BTreeMap<String, BTreeSet<String>> {
///     let literals = |args: &str| -> Vec<String> {
///         args.split('"').skip(1).step_by(2).map(str::to_owned).collect()
///     };
///     let mut required: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
///     let (mut scopes, mut consumers) = (Vec::new(), Vec::new());
///     for line in code.lines().map(str::trim) {
///         if let Some(args) = line.strip_prefix("#[require_scope(") {
///             scopes.extend(literals(args));
///         } else if let Some(args) = line.strip_prefix("#[require_consumer(") {
///             consumers.extend(literals(args));
///         } else if line.starts_with("async fn") {
///             for scope in scopes.drain(..) {
///                 required.entry(scope).or_default().extend(consumers.iter().cloned());
///             }
///             consumers.clear();
///         }
///     }
///     required
/// }
///
/// let readme = blocks(README);
///
/// // The quick start's code is the compiled example, below its module docs.
/// let example: Vec<&str> = QUICKSTART.lines().skip_while(|l| l.starts_with("//!")).collect();
/// let example = example.join("\n");
/// let code = readme
///     .iter()
///     .find(|(_, body)| body.trim() == example.trim())
///     .map(|(info, body)| (info.as_str(), body.as_str()))
///     .expect("README.md shows examples/quickstart.rs as it is, below its module docs");
/// // `ignore` only for the crate's doctests: the example is compiled and tested.
/// assert_eq!(code.0, "rust,ignore");
///
/// // The quick start's manifest is the one the examples are compiled against.
/// let manifest = &APP_YAML[APP_YAML.find("apiVersion:").unwrap()..];
/// let yaml = readme
///     .iter()
///     .find(|(info, body)| info == "yaml" && body.trim() == manifest.trim())
///     .map(|(_, body)| body.as_str())
///     .expect("README.md shows examples/.nais/app.yaml as it is, from `apiVersion:` on");
///
/// // It exposes exactly the scopes the code requires, to exactly the
/// // organisations the code lets in.
/// assert_eq!(exposed(yaml), required(code.1));
/// assert!(code.1.contains("exposed_scopes!()") && code.1.contains("builder_from_env()"));
///
/// // The manual's manifest example names the scope its text says.
/// let manual = blocks(MANUAL_MANIFEST).into_iter().find(|(info, _)| info == "yaml").unwrap();
/// let scopes: Vec<String> = exposed(&manual.1).into_keys().collect();
/// assert_eq!(scopes, ["nav:helse/sykepenger/afp.read"]);
///
/// // Every other Rust block is one of the crate's doctests.
/// for (info, body) in &readme {
///     if info.starts_with("rust") && body != code.1 {
///         assert!(!info.contains("ignore"), "a README block left out of the doctests:\n{body}");
///     }
/// }
///
/// // The Cargo.toml lines: the manifest as the examples name it, the
/// // features the crate has, a repository only where the workspace names one.
/// let repository = WORKSPACE_TOML
///     .lines()
///     .find_map(|l| l.strip_prefix("repository = "))
///     .map(|r| r.trim_matches('"'));
/// for (_, toml) in readme.iter().filter(|(info, _)| info == "toml") {
///     if let Some(at) = toml.find("[package.metadata.maskinporten]") {
///         assert!(EXAMPLES_TOML.contains(toml[at..].trim()));
///     }
///     for line in toml.lines().filter(|l| l.starts_with("maskinporten-actix = ")) {
///         if let Some((_, features)) = line.split_once("features = [") {
///             for feature in features.split(']').next().unwrap().split(',') {
///                 let feature = feature.trim().trim_matches('"');
///                 assert!(CRATE_TOML.contains(&format!("\n{feature} = [")), "no feature {feature}");
///             }
///         }
///         if let Some((_, git)) = line.split_once("git = \"") {
///             assert_eq!(Some(git.split('"').next().unwrap()), repository, "not the repository");
///         }
///         if let Some((_, path)) = line.split_once("path = \"") {
///             assert!(path.split('"').next().unwrap().ends_with("/maskinporten-actix"));
///         }
///     }
/// }
///
/// // The commands: the CI runs the tests as the README says, the examples
/// // exist, the variables are the ones the crate reads.
/// let commands: Vec<&str> = readme
///     .iter()
///     .filter(|(info, _)| info == "sh")
///     .flat_map(|(_, body)| body.lines())
///     .collect();
/// for command in &commands {
///     let command = command.split('#').next().unwrap().trim();
///     if command == "cargo test --workspace" {
///         assert!(CI.contains("\ncargo test --workspace\n"));
///     } else if let Some(example) = command.strip_prefix("cargo run --example ") {
///         let file = format!("/../examples/{example}.rs");
///         assert!(std::path::Path::new(&(env!("CARGO_MANIFEST_DIR").to_owned() + &file)).exists());
///     } else if let Some(assignment) = command.strip_prefix("export ") {
///         let name = assignment.split('=').next().unwrap();
///         use maskinporten_actix::env::{INTROSPECTION_ENDPOINT, ISSUER, JWKS_URI, WELL_KNOWN_URL};
///         // The variables the crate reads, and the token the curl line sends.
///         assert!(
///             [INTROSPECTION_ENDPOINT, ISSUER, JWKS_URI, WELL_KNOWN_URL, "TOKEN"].contains(&name),
///             "{name} is not a variable the crate reads"
///         );
///     }
/// }
///
/// // Links to the manual name its pages.
/// let docs = "https://docs.rs/maskinporten-actix/latest/maskinporten_actix/manual/";
/// for link in README.split(docs).skip(1) {
///     let page = link.split('/').next().unwrap();
///     let file = format!("{}/src/manual/{page}.md", env!("CARGO_MANIFEST_DIR"));
///     assert!(std::path::Path::new(&file).exists(), "no manual page {page}");
/// }
/// ```
#[cfg(doctest)]
pub struct ReadmeQuickStart;
