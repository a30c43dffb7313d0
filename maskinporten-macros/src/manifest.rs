//! The application's NAIS manifests, read when the code compiles: where they
//! are ([`config`]), how a templated one is rendered ([`template`]), what
//! each exposes, and the checks of the macros' literals against them.
//!
//! A scope is exposed as NAIS builds it: `nav:` + `product` + separator +
//! `name`, where the separator is `separator` when given, else `/` when the
//! name contains `/`, else `:`; Maskinporten issues it only with
//! `enabled: true`.

mod config;
mod template;

use std::path::PathBuf;
use std::sync::Arc;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;
use yaml_rust2::{Yaml, YamlLoader};

use crate::args::Match;
use crate::cache::{Cache, Reader};
use crate::errors::Errors;
pub(crate) use config::Environment;
use config::{Located, Source, MANIFEST_ENV, VARIABLES_ENV};
use template::Rendered;

/// The manifests configured for the crate being compiled, read.
pub(crate) struct Manifests {
    manifests: Vec<Manifest>,
}

/// What the configuration of the crate being compiled gave: its manifests,
/// when it names any, and every file read to find out, for the expansion to
/// track: its Cargo.toml too, named manifest or not, unless the environment
/// names the manifests.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) manifests: Option<Arc<Manifests>>,
    pub(crate) files: Arc<[PathBuf]>,
}

/// One manifest, as far as the checks need it.
struct Manifest {
    shown: String,
    /// The variables file it was rendered with, as written.
    variables: Option<String>,
    exposes: Vec<Exposed>,
}

/// One entry of `spec.maskinporten.scopes.exposes`. Templated values are
/// kept as written (`{{ product }}`), so they never equal a scope.
struct Exposed {
    /// The full scope name.
    full: String,
    product: String,
    name: String,
    separator: String,
    /// Whether `separator` is NAIS' default rather than written.
    separator_default: bool,
    /// Whether a part of the full name is templated.
    templated: bool,
    enabled: Enabled,
    consumers: Consumers,
}

enum Enabled {
    Yes,
    No,
    Missing,
    Templated(String),
    Other(String),
}

enum Consumers {
    /// Anyone Maskinporten lets in: no `consumers`, `accessibleForAll`, or
    /// a `delegationSource`.
    Unrestricted,
    Listed(Vec<String>),
    /// Templated, as written.
    Templated(String),
}

/// Reads the manifests `env` configures: none when the crate names none. A
/// configuration that is wrong, or a manifest missing or unparsable, is an
/// error on the macro call.
///
/// Cargo.toml and the manifests are read and parsed once for all the macro
/// calls that see the same environment, while the files are unchanged
/// ([`crate::cache`]): each call costs a look at their timestamps, and a
/// process that lives on (an editor's) reads an edited file again.
pub(crate) fn load(env: &Environment) -> syn::Result<Loaded> {
    static LOADED: Cache<Environment, Result<Loaded, String>> = Cache::new();
    LOADED
        .get(env.clone(), |reader| {
            let manifests = load_from(env, reader)?;
            Ok(Loaded {
                manifests,
                files: reader.paths().map(PathBuf::from).collect(),
            })
        })
        .map_err(|message| syn::Error::new(Span::call_site(), message))
}

fn load_from(env: &Environment, reader: &mut Reader) -> Result<Option<Arc<Manifests>>, String> {
    let Some(config) = config::find(env, reader)? else {
        return Ok(None);
    };
    let origin = match &config.cargo_toml {
        Some(_) => "`[package.metadata.maskinporten]` of Cargo.toml".to_owned(),
        None => format!("`{MANIFEST_ENV}`"),
    };
    let mut manifests = Vec::with_capacity(config.sources.len());
    for source in &config.sources {
        manifests.push(read(source, &origin, reader)?);
    }
    Ok(Some(Arc::new(Manifests { manifests })))
}

fn read_file(
    file: &Located,
    what: &str,
    origin: &str,
    reader: &mut Reader,
) -> Result<String, String> {
    reader.read(&file.path).map_err(|error| {
        let at = match file.path.to_string_lossy() == file.shown {
            true => String::new(),
            false => format!(" (at {})", file.path.display()),
        };
        match error.kind() {
            std::io::ErrorKind::NotFound => {
                format!(
                    "the {what} `{}` named in {origin} does not exist{at}",
                    file.shown
                )
            }
            _ => format!("the {what} `{}` could not be read{at}: {error}", file.shown),
        }
    })
}

fn read(source: &Source, origin: &str, reader: &mut Reader) -> Result<Manifest, String> {
    let shown = &source.manifest.shown;
    let text = read_file(&source.manifest, "NAIS manifest", origin, reader)?;
    let variables = match &source.variables {
        None => None,
        Some(file) => {
            let what = format!("variables file of `{shown}`,");
            let vars = read_file(file, &what, origin, reader)?;
            let docs = YamlLoader::load_from_str(&vars).map_err(|e| {
                format!(
                    "the variables file `{}` of `{shown}` is not valid YAML or JSON: {e}",
                    file.shown
                )
            })?;
            Some((
                file.shown.clone(),
                docs.into_iter().next().unwrap_or(Yaml::Null),
            ))
        }
    };
    let rendered = template::render(&text, variables.as_ref().map(|(_, v)| v));
    let docs = YamlLoader::load_from_str(&rendered.text).map_err(|e| {
        let how = match (&variables, rendered.text != text) {
            (Some((vars, _)), true) => format!(" (as rendered with `{vars}`)"),
            _ => String::new(),
        };
        format!("the NAIS manifest `{shown}` is not valid YAML{how}: {e}")
    })?;
    let mut exposes = Vec::new();
    for doc in &docs {
        let list = &doc["spec"]["maskinporten"]["scopes"]["exposes"];
        let entries = match list {
            Yaml::BadValue | Yaml::Null => continue,
            Yaml::Array(entries) => entries,
            _ => {
                return Err(format!(
                "`spec.maskinporten.scopes.exposes` in the NAIS manifest `{shown}` is not a list"
            ))
            }
        };
        for (i, entry) in entries.iter().enumerate() {
            exposes.push(exposed(entry, &rendered).map_err(|what| {
                format!(
                    "entry {} of `spec.maskinporten.scopes.exposes` in the NAIS manifest \
                     `{shown}` {what}",
                    i + 1
                )
            })?);
        }
    }
    Ok(Manifest {
        shown: shown.clone(),
        variables: variables.map(|(shown, _)| shown),
        exposes,
    })
}

/// A scalar as text, holes shown as written; `None` for anything else.
fn text(value: &Yaml, rendered: &Rendered) -> Option<(String, bool)> {
    let text = match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => return None,
    };
    Some((rendered.shown(&text), Rendered::is_templated(&text)))
}

fn exposed(entry: &Yaml, rendered: &Rendered) -> Result<Exposed, String> {
    if !matches!(entry, Yaml::Hash(_)) {
        return Err("is not a mapping with `name` and `product`".to_owned());
    }
    let field = |key: &str| -> Result<(String, bool), String> {
        text(&entry[key], rendered).ok_or_else(|| match entry[key] {
            Yaml::BadValue | Yaml::Null => format!("has no `{key}`"),
            _ => format!("has a `{key}` that is not a string"),
        })
    };
    let (name, name_templated) = field("name")?;
    let (product, product_templated) = field("product")?;
    let (separator, separator_templated, separator_default) = match entry["separator"] {
        Yaml::BadValue | Yaml::Null => {
            let default = if name.contains('/') { "/" } else { ":" };
            (default.to_owned(), false, true)
        }
        _ => {
            let (separator, templated) = field("separator")?;
            (separator, templated, false)
        }
    };
    let enabled = match &entry["enabled"] {
        Yaml::Boolean(true) => Enabled::Yes,
        Yaml::Boolean(false) => Enabled::No,
        Yaml::BadValue | Yaml::Null => Enabled::Missing,
        other => match text(other, rendered) {
            Some((shown, true)) => Enabled::Templated(shown),
            Some((shown, false)) => Enabled::Other(shown),
            None => Enabled::Other("not a boolean".to_owned()),
        },
    };
    Ok(Exposed {
        full: format!("nav:{product}{separator}{name}"),
        templated: name_templated || product_templated || separator_templated,
        product,
        name,
        separator,
        separator_default,
        enabled,
        consumers: consumers(entry, rendered),
    })
}

fn consumers(entry: &Yaml, rendered: &Rendered) -> Consumers {
    for open in ["accessibleForAll", "delegationSource"] {
        match (&entry[open], open) {
            (Yaml::BadValue | Yaml::Null | Yaml::Boolean(false), _) => {}
            (Yaml::Boolean(true), _) | (_, "delegationSource") => {
                match text(&entry[open], rendered) {
                    Some((shown, true)) => return Consumers::Templated(shown),
                    _ => return Consumers::Unrestricted,
                }
            }
            (other, _) => {
                if let Some((shown, true)) = text(other, rendered) {
                    return Consumers::Templated(shown);
                }
            }
        }
    }
    let list = match &entry["consumers"] {
        Yaml::Array(list) => list,
        Yaml::BadValue | Yaml::Null => return Consumers::Unrestricted,
        other => {
            return match text(other, rendered) {
                Some((shown, true)) => Consumers::Templated(shown),
                _ => Consumers::Listed(Vec::new()),
            }
        }
    };
    let mut orgnos = Vec::with_capacity(list.len());
    for consumer in list {
        match text(&consumer["orgno"], rendered) {
            Some((shown, true)) => return Consumers::Templated(shown),
            Some((orgno, false)) => orgnos.push(orgno),
            None => {}
        }
    }
    Consumers::Listed(orgnos)
}

/// How `quote` lists names in a message: `a`, `b`.
fn listed<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|item| format!("`{}`", item.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The number of single-character edits between `a` and `b`, a swap of
/// two neighbours counting as one (the optimal string alignment distance):
/// `raed` is one edit from `read`, as a typo is one slip.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: a swap looks two rows back.
    let mut before = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut distance = (previous[j] + 1).min(current[j - 1] + 1).min(substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                distance = distance.min(before[j - 2] + 1);
            }
            current[j] = distance;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The exposed scope nearest `scope`, when it is a near miss: at most two
/// edits away, and at most one edit per four characters of the exposed
/// name, so that a short name is not taken for a typo of another, nor
/// `afp.admin` for one of `afp.read`.
fn nearest<'m>(scope: &str, candidates: impl Iterator<Item = &'m Exposed>) -> Option<&'m str> {
    candidates
        .map(|entry| (edit_distance(scope, &entry.full), entry))
        .filter(|(distance, entry)| *distance <= (entry.name.chars().count() / 4).min(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, entry)| entry.full.as_str())
}

impl Manifest {
    fn find(&self, scope: &str) -> Option<&Exposed> {
        self.exposes
            .iter()
            .find(|e| !e.templated && e.full == scope)
    }

    /// Why `scope` is not issued under this manifest, or `None` when it is.
    fn scope_problem(&self, scope: &str) -> Option<String> {
        let m = &self.shown;
        if let Some(entry) = self.find(scope) {
            return match &entry.enabled {
                Enabled::Yes => None,
                Enabled::No => Some(format!(
                    "the scope `{scope}` is disabled in `{m}` (`enabled: false`): Maskinporten \
                     issues no token that holds it; set `enabled: true` there, or stop requiring it"
                )),
                Enabled::Missing => Some(format!(
                    "the scope `{scope}` is not enabled in `{m}`: its entry has no \
                     `enabled: true`, and Maskinporten issues no token for a scope that is not \
                     enabled"
                )),
                Enabled::Templated(value) => Some(format!(
                    "the scope `{scope}` is exposed in `{m}`, but its `enabled` is templated \
                     (`{value}`) and cannot be checked {}",
                    self.without_variables()
                )),
                Enabled::Other(value) => Some(format!(
                    "the scope `{scope}` is not enabled in `{m}`: its `enabled` is `{value}`, \
                     not `true`"
                )),
            };
        }
        // The same product and name under another separator.
        for entry in self.exposes.iter().filter(|e| !e.templated) {
            let other = ["/", ":", "."].into_iter().find(|sep| {
                *sep != entry.separator
                    && scope == format!("nav:{}{sep}{}", entry.product, entry.name)
            });
            if other.is_some() {
                let why = match entry.separator_default {
                    true => format!(
                        "NAIS' default for a name {} `/`",
                        if entry.separator == "/" {
                            "with"
                        } else {
                            "without"
                        }
                    ),
                    false => format!("set by `separator: \"{}\"`", entry.separator),
                };
                let wanted = &scope[4 + entry.product.len()..][..1];
                return Some(format!(
                    "the scope `{scope}` is not exposed in `{m}`: it exposes the name `{}` of \
                     the product `{}` as `{}`, with the separator `{}` ({why}); require `{}`, or \
                     set `separator: \"{wanted}\"` on that entry",
                    entry.name, entry.product, entry.full, entry.separator, entry.full
                ));
            }
        }
        let known: Vec<&str> = self
            .exposes
            .iter()
            .filter(|e| !e.templated)
            .map(|e| e.full.as_str())
            .collect();
        let templated: Vec<&str> = self
            .exposes
            .iter()
            .filter(|e| e.templated)
            .map(|e| e.full.as_str())
            .collect();
        if !templated.is_empty() {
            let readable = match known.is_empty() {
                true => "none can be read".to_owned(),
                false => format!("those that can be read are {}", listed(&known)),
            };
            return Some(format!(
                "the scope `{scope}` cannot be checked against `{m}`: of the scopes it exposes, \
                 {readable}, and {} {} templated and cannot be checked {}",
                listed(&templated),
                match templated.len() {
                    1 => "is",
                    _ => "are",
                },
                self.without_variables()
            ));
        }
        if known.is_empty() {
            return Some(format!(
                "the scope `{scope}` is not exposed in `{m}`, which exposes no scopes (it has \
                 no `spec.maskinporten.scopes.exposes`)"
            ));
        }
        let readable = self.exposes.iter().filter(|e| !e.templated);
        Some(match nearest(scope, readable) {
            Some(near) => format!(
                "the scope `{scope}` is not exposed in `{m}`; did you mean `{near}`? The scopes \
                 it exposes: {}",
                listed(&known)
            ),
            None => format!(
                "the scope `{scope}` is not exposed in `{m}`, so Maskinporten issues no token \
                 that holds it; add it to `spec.maskinporten.scopes.exposes` there, or require \
                 one it exposes: {}",
                listed(&known)
            ),
        })
    }

    /// Why a templated value cannot be checked, and the way out.
    fn without_variables(&self) -> String {
        match &self.variables {
            Some(vars) => format!("with `{vars}`, which does not define it"),
            None => format!(
                "without a variables file; give the manifest one, as in `nais-manifest = \
                 [{{ path = \"{}\", variables = \".nais/dev.yaml\" }}]`",
                self.shown
            ),
        }
    }
}

/// Whether one organisation may get a token for one scope, over every
/// manifest.
enum Verdict {
    /// Some manifest lets it: listed, or no list at all.
    Allowed,
    /// No manifest exposes the scope (reported by the scope check).
    NotExposed,
    /// A manifest's list is templated, as written, and no other lets it.
    Templated(String, String),
    /// Every manifest that exposes the scope lists others: (manifest, list).
    Denied(Vec<(String, Vec<String>)>),
}

impl Manifests {
    /// Each scope must be exposed, enabled, in every manifest.
    pub(crate) fn check_scopes(&self, scopes: &[LitStr], errors: &mut Errors) {
        for lit in scopes {
            for manifest in &self.manifests {
                if let Some(problem) = manifest.scope_problem(&lit.value()) {
                    errors.push(syn::Error::new(lit.span(), problem));
                }
            }
        }
    }

    fn verdict(&self, scope: &str, orgno: &str) -> Verdict {
        let mut templated = None;
        let mut denied = Vec::new();
        for manifest in &self.manifests {
            let Some(entry) = manifest.find(scope) else {
                continue;
            };
            if !matches!(entry.enabled, Enabled::Yes) {
                continue;
            }
            match &entry.consumers {
                Consumers::Unrestricted => return Verdict::Allowed,
                Consumers::Listed(list) if list.iter().any(|o| o == orgno) => {
                    return Verdict::Allowed
                }
                Consumers::Listed(list) => denied.push((manifest.shown.clone(), list.clone())),
                Consumers::Templated(value) => {
                    templated = Some((manifest.shown.clone(), value.clone()))
                }
            }
        }
        match (templated, denied.is_empty()) {
            (Some((manifest, value)), _) => Verdict::Templated(manifest, value),
            (None, false) => Verdict::Denied(denied),
            (None, true) => Verdict::NotExposed,
        }
    }

    /// Each organisation number must be a consumer Maskinporten could give
    /// a token for the required scopes (all of them, or one of `any`).
    /// Without scopes (a list, or a handler guarded only by consumers), it
    /// must be a consumer of some scope the application exposes, unless one
    /// is open to more than its list.
    pub(crate) fn check_consumers(
        &self,
        scopes: Option<(&[LitStr], Match)>,
        orgnos: &[LitStr],
        errors: &mut Errors,
    ) {
        let Some((scopes, match_)) = scopes else {
            return self.check_consumers_of_any(orgnos, errors);
        };
        let mut templated_reported = false;
        for lit in orgnos {
            let orgno = lit.value();
            let verdicts: Vec<(String, Verdict)> = scopes
                .iter()
                .map(|scope| (scope.value(), self.verdict(&scope.value(), &orgno)))
                .collect();
            let passes = |v: &Verdict| matches!(v, Verdict::Allowed | Verdict::NotExposed);
            let refused: Vec<&(String, Verdict)> = match match_ {
                Match::All => verdicts.iter().filter(|(_, v)| !passes(v)).collect(),
                Match::Any if verdicts.iter().any(|(_, v)| passes(v)) => Vec::new(),
                Match::Any => verdicts.iter().collect(),
            };
            let mut details = Vec::new();
            for (scope, verdict) in &refused {
                match verdict {
                    Verdict::Templated(manifest, value) => {
                        if !templated_reported {
                            templated_reported = true;
                            let why = self
                                .manifests
                                .iter()
                                .find(|m| &m.shown == manifest)
                                .map(Manifest::without_variables)
                                .unwrap_or_default();
                            errors.push(syn::Error::new(
                                lit.span(),
                                format!(
                                    "the consumers of `{scope}` in `{manifest}` are templated \
                                     (`{value}`) and cannot be checked {why}"
                                ),
                            ));
                        }
                    }
                    Verdict::Denied(lists) => {
                        for (manifest, list) in lists {
                            details.push(match list.is_empty() {
                                true => format!("`{scope}` in `{manifest}` lists no consumers"),
                                false => {
                                    format!("`{scope}` in `{manifest}` lists only {}", listed(list))
                                }
                            });
                        }
                    }
                    Verdict::Allowed | Verdict::NotExposed => {}
                }
            }
            if !details.is_empty() {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!(
                        "the organisation number `{orgno}` is not a consumer of the {} this \
                         handler requires: {}; Maskinporten gives that organisation no token for \
                         it. Add it to the scope's `consumers` in the manifest, or remove it here",
                        match refused.len() {
                            1 => "scope",
                            _ => "scopes",
                        },
                        details.join("; ")
                    ),
                ));
            }
        }
    }

    fn check_consumers_of_any(&self, orgnos: &[LitStr], errors: &mut Errors) {
        // Per manifest, every consumer its enabled scopes list; `None` when
        // one of them is open to more, or templated: then nothing is known.
        let mut lists: Vec<(&str, Vec<&str>)> = Vec::new();
        for manifest in &self.manifests {
            let mut all: Vec<&str> = Vec::new();
            for entry in &manifest.exposes {
                if entry.templated
                    || matches!(entry.enabled, Enabled::Templated(_))
                    || (matches!(entry.enabled, Enabled::Yes)
                        && !matches!(entry.consumers, Consumers::Listed(_)))
                {
                    return;
                }
                if let (Enabled::Yes, Consumers::Listed(list)) = (&entry.enabled, &entry.consumers)
                {
                    for orgno in list {
                        if !all.contains(&orgno.as_str()) {
                            all.push(orgno);
                        }
                    }
                }
            }
            lists.push((&manifest.shown, all));
        }
        for lit in orgnos {
            let orgno = lit.value();
            if lists.iter().any(|(_, list)| list.contains(&orgno.as_str())) {
                continue;
            }
            let details: Vec<String> = lists
                .iter()
                .map(|(manifest, list)| match list.is_empty() {
                    true => format!("`{manifest}` lists no consumers"),
                    false => format!("`{manifest}` lists {}", listed(list)),
                })
                .collect();
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "the organisation number `{orgno}` is not a consumer of any scope the \
                     application exposes: {}; Maskinporten gives that organisation no token for \
                     it. Add it to a scope's `consumers` in the manifest, or remove it here",
                    details.join("; ")
                ),
            ));
        }
    }

    /// The enabled scopes of every manifest, each once, in manifest order.
    pub(crate) fn exposed(&self) -> Result<Vec<String>, String> {
        let mut scopes: Vec<String> = Vec::new();
        for manifest in &self.manifests {
            for entry in &manifest.exposes {
                let templated = match &entry.enabled {
                    Enabled::Templated(value) => Some(value.as_str()),
                    _ if entry.templated => Some(entry.full.as_str()),
                    _ => None,
                };
                if let Some(value) = templated {
                    return Err(format!(
                        "`{}` has a templated scope (`{value}`), which cannot be listed {}",
                        manifest.shown,
                        manifest.without_variables()
                    ));
                }
                if !matches!(entry.enabled, Enabled::Yes) || scopes.contains(&entry.full) {
                    continue;
                }
                if let Err(err) = maskinporten_names::validate(&entry.full) {
                    return Err(format!(
                        "`{}` exposes `{}`, which is not a scope NAIS accepts: {err}",
                        manifest.shown, entry.full
                    ));
                }
                scopes.push(entry.full.clone());
            }
        }
        if scopes.is_empty() {
            let shown: Vec<&str> = self.manifests.iter().map(|m| m.shown.as_str()).collect();
            return Err(format!(
                "{} exposes no enabled scope: a handle told so would refuse every token",
                listed(shown)
            ));
        }
        Ok(scopes)
    }
}

/// Items that make cargo check the code again when what the expansion read
/// changes: the environment variables that may name manifests, and `files`
/// (every file read, Cargo.toml too, so that adding
/// `[package.metadata.maskinporten]` is seen), in the list of what the
/// crate depends on that the compiler writes for cargo. Emitted by every
/// expansion, as nothing tells one expansion what another emitted: one
/// unnamed constant, cheap to check.
pub(crate) fn tracking(files: &[PathBuf]) -> TokenStream {
    let files = files
        .iter()
        .filter_map(|path| path.to_str())
        .map(|path| LitStr::new(path, Span::call_site()));
    quote! {
        const _: () = {
            let _ = ::core::option_env!(#MANIFEST_ENV);
            let _ = ::core::option_env!(#VARIABLES_ENV);
            #(let _ = ::core::include_bytes!(#files);)*
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(yaml: &str) -> Manifest {
        manifest_with(yaml, None)
    }

    fn manifest_with(yaml: &str, vars: Option<&str>) -> Manifest {
        // A directory per call: tests run in parallel, several with the
        // same manifest, and each removes its directory when done.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "maskinporten-manifest-{}-{}",
            std::process::id(),
            CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.yaml"), yaml).unwrap();
        if let Some(vars) = vars {
            std::fs::write(dir.join("vars.yaml"), vars).unwrap();
        }
        let located = |name: &str| Located {
            shown: format!(".nais/{name}"),
            path: dir.join(name),
        };
        let source = Source {
            manifest: located("app.yaml"),
            variables: vars.map(|_| located("vars.yaml")),
        };
        let read = read(&source, "a test", &mut Reader::default()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        read
    }

    const APP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
---
apiVersion: nais.io/v1alpha1
kind: Application
spec:
  maskinporten:
    enabled: true
    scopes:
      exposes:
        - name: sykepenger/afp.read
          enabled: true
          product: helse
          consumers:
            - orgno: \"991825827\"
        - name: afp.write
          enabled: true
          product: helse
        - name: afp.old
          enabled: false
          product: helse
        - name: afp.open
          enabled: true
          product: helse
          separator: \".\"
          accessibleForAll: true
";

    #[test]
    fn full_names_are_built_as_nais_builds_them() {
        let m = manifest(APP);
        let names: Vec<&str> = m.exposes.iter().map(|e| e.full.as_str()).collect();
        assert_eq!(
            names,
            [
                "nav:helse/sykepenger/afp.read",
                "nav:helse:afp.write",
                "nav:helse:afp.old",
                "nav:helse.afp.open"
            ]
        );
    }

    #[test]
    fn each_problem_has_its_message() {
        let m = manifest(APP);
        assert_eq!(m.scope_problem("nav:helse/sykepenger/afp.read"), None);
        let problem = |s| m.scope_problem(s).unwrap();
        assert!(problem("nav:helse:afp.old").contains("is disabled in `.nais/app.yaml`"));
        assert!(problem("nav:helse/afp.write").contains(
            "with the separator `:` (NAIS' default for a name without `/`); require \
             `nav:helse:afp.write`, or set `separator: \"/\"` on that entry"
        ));
        assert!(problem("nav:helse/afp.open").contains("(set by `separator: \".\"`)"));
        assert!(problem("nav:helse/sykepenger/afp.raed")
            .contains("did you mean `nav:helse/sykepenger/afp.read`?"));
        assert!(problem("nav:arbeid/noe.helt.annet").contains("add it to"));
    }

    #[test]
    fn templated_entries_are_reported_as_unchecked_not_missing() {
        let yaml = "spec:\n  maskinporten:\n    scopes:\n      exposes:\n        - name: afp.read\n          product: \"{{ product }}\"\n          enabled: true\n";
        let m = manifest(yaml);
        let problem = m.scope_problem("nav:helse:afp.read").unwrap();
        assert!(
            problem.contains("`nav:{{ product }}:afp.read` is templated and cannot be checked without a variables file"),
            "{problem}"
        );
        let m = manifest_with(yaml, Some("product: helse"));
        assert_eq!(m.scope_problem("nav:helse:afp.read"), None);
        let m = manifest_with(yaml, Some("other: x"));
        assert!(m
            .scope_problem("nav:helse:afp.read")
            .unwrap()
            .contains("with `.nais/vars.yaml`, which does not define it"));
    }

    #[test]
    fn exposed_lists_the_enabled_scopes() {
        assert_eq!(
            Manifests {
                manifests: vec![manifest(APP)],
            }
            .exposed()
            .unwrap(),
            [
                "nav:helse/sykepenger/afp.read",
                "nav:helse:afp.write",
                "nav:helse.afp.open"
            ]
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("afp.read", "afp.raed"), 1);
        assert_eq!(edit_distance("afp.read", "afp.aerd"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("afp.admin", "afp.read"), 5);
    }

    #[test]
    fn only_near_misses_are_suggested() {
        let m = manifest(APP);
        let suggested = |scope: &str| nearest(scope, m.exposes.iter());
        let read = Some("nav:helse/sykepenger/afp.read");
        assert_eq!(suggested("nav:helse/sykepenger/afp.raed"), read);
        assert_eq!(suggested("nav:helse/sykepenger/afp.reads"), read);
        assert_eq!(suggested("nav:hlese/sykepenger/afp.read"), read);
        assert_eq!(suggested("nav:helse:afp.writ"), Some("nav:helse:afp.write"));
        // Another name of the same product, not a typo of one.
        assert_eq!(suggested("nav:helse/sykepenger/afp.admin"), None);
        assert_eq!(suggested("nav:helse/sykepenger/afp.list"), None);
        assert_eq!(suggested("nav:arbeid/helt.annet"), None);
        // Two edits in a name of five characters are another name.
        let short = manifest(
            "spec:\n  maskinporten:\n    scopes:\n      exposes:\n        \
             - {name: ab.cd, product: a, enabled: true}\n",
        );
        assert_eq!(
            nearest("nav:a:ab.cx", short.exposes.iter()),
            Some("nav:a:ab.cd")
        );
        assert_eq!(nearest("nav:a:ab.xy", short.exposes.iter()), None);
    }
}
