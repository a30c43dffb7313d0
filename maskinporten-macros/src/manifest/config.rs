//! Where the application's NAIS manifests are: `[package.metadata.maskinporten]`
//! in the Cargo.toml of the crate being compiled, or the build-time
//! environment, which replaces it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cache::Reader;

/// The manifests to check against, as a list of paths like `PATH`
/// (`:`-separated on Unix, `;` on Windows). Relative paths are relative to
/// the directory of the Cargo.toml of the crate being compiled. When set and
/// not empty, it replaces the Cargo.toml metadata.
pub(crate) const MANIFEST_ENV: &str = "MASKINPORTEN_NAIS_MANIFEST";

/// The variables files of the manifests in [`MANIFEST_ENV`], in the same
/// order and shape; an empty entry means that manifest has none.
pub(crate) const VARIABLES_ENV: &str = "MASKINPORTEN_NAIS_VARIABLES";

/// The key in `[package.metadata.maskinporten]`.
const KEY: &str = "nais-manifest";

/// A file named in the configuration: its path as written, for messages, and
/// where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) shown: String,
    pub(crate) path: PathBuf,
}

/// One manifest to check against, with the variables file that renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub(crate) manifest: Located,
    pub(crate) variables: Option<Located>,
}

/// The configured manifests, and the Cargo.toml they were read from (which
/// the expansion then tracks too).
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) sources: Vec<Source>,
    pub(crate) cargo_toml: Option<PathBuf>,
}

/// What the configuration depends on besides the files it names: the
/// build-time environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Environment {
    manifest_dir: Option<OsString>,
    manifests: Option<OsString>,
    variables: Option<OsString>,
}

impl Environment {
    /// The environment the crate being compiled is built in.
    pub(crate) fn current() -> Self {
        Environment {
            manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR"),
            manifests: std::env::var_os(MANIFEST_ENV).filter(|v| !v.is_empty()),
            variables: std::env::var_os(VARIABLES_ENV).filter(|v| !v.is_empty()),
        }
    }

    /// An environment that names the manifests `manifests` (as
    /// [`MANIFEST_ENV`] would) for the crate in `manifest_dir`.
    #[cfg(test)]
    pub(crate) fn naming(manifest_dir: &Path, manifests: Option<&Path>) -> Self {
        Environment {
            manifest_dir: Some(manifest_dir.as_os_str().to_owned()),
            manifests: manifests.map(|path| path.as_os_str().to_owned()),
            variables: None,
        }
    }
}

/// The configuration of the crate being compiled: `None` when it names no
/// manifest (then nothing is checked), an explanation when it is wrong.
pub(crate) fn find(env: &Environment, reader: &mut Reader) -> Result<Option<Config>, String> {
    let Some(dir) = &env.manifest_dir else {
        return Ok(None);
    };
    let dir = PathBuf::from(dir);
    let (manifests, variables) = (&env.manifests, &env.variables);
    if let Some(manifests) = manifests {
        return from_env(&dir, manifests, variables.as_deref()).map(Some);
    }
    if variables.is_some() {
        return Err(format!(
            "{VARIABLES_ENV} is set, but {MANIFEST_ENV} is not: the variables files go with \
             the manifests named there"
        ));
    }
    let cargo_toml = dir.join("Cargo.toml");
    let Ok(text) = reader.read(&cargo_toml) else {
        return Ok(None);
    };
    let sources = from_cargo_toml(&dir, &text)?;
    Ok(sources.map(|sources| Config {
        sources,
        cargo_toml: Some(cargo_toml),
    }))
}

fn from_env(
    dir: &Path,
    manifests: &std::ffi::OsStr,
    variables: Option<&std::ffi::OsStr>,
) -> Result<Config, String> {
    let manifests: Vec<PathBuf> = std::env::split_paths(manifests).collect();
    let variables: Vec<PathBuf> = variables
        .map(|v| std::env::split_paths(v).collect())
        .unwrap_or_default();
    if variables.len() > manifests.len() {
        return Err(format!(
            "{VARIABLES_ENV} names {} files, but {MANIFEST_ENV} only {} manifests: the n-th \
             variables file goes with the n-th manifest",
            variables.len(),
            manifests.len()
        ));
    }
    let mut sources = Vec::with_capacity(manifests.len());
    for (i, manifest) in manifests.iter().enumerate() {
        if manifest.as_os_str().is_empty() {
            return Err(format!("{MANIFEST_ENV} has an empty entry"));
        }
        let variables = variables
            .get(i)
            .filter(|v| !v.as_os_str().is_empty())
            .map(|v| locate(dir, &v.to_string_lossy()));
        sources.push(Source {
            manifest: locate(dir, &manifest.to_string_lossy()),
            variables,
        });
    }
    Ok(Config {
        sources,
        cargo_toml: None,
    })
}

fn locate(dir: &Path, shown: &str) -> Located {
    Located {
        shown: shown.to_owned(),
        path: dir.join(shown),
    }
}

/// Reads `[package.metadata.maskinporten]`: `nais-manifest` is a path, a
/// list of paths, or a list whose entries may be tables
/// `{ path = "...", variables = "..." }`.
fn from_cargo_toml(dir: &Path, text: &str) -> Result<Option<Vec<Source>>, String> {
    use toml::de::{DeTable, DeValue};

    // Cargo has read this file already; a file it accepts parses here too.
    let Ok(document) = DeTable::parse(text) else {
        return Ok(None);
    };
    fn section<'i>(table: &DeTable<'i>, key: &str) -> Option<DeValue<'i>> {
        table.get(key).map(|value| value.get_ref().clone())
    }
    let Some(DeValue::Table(package)) = section(document.get_ref(), "package") else {
        return Ok(None);
    };
    let Some(DeValue::Table(metadata)) = section(&package, "metadata") else {
        return Ok(None);
    };
    let ours = match section(&metadata, "maskinporten") {
        None => return Ok(None),
        Some(DeValue::Table(ours)) => ours,
        Some(_) => {
            return Err(
                "`package.metadata.maskinporten` in Cargo.toml is not a table; write \
                 `[package.metadata.maskinporten]` with `nais-manifest = \".nais/app.yaml\"`"
                    .to_owned(),
            )
        }
    };
    if let Some(key) = ours.keys().find(|key| key.get_ref() != KEY) {
        return Err(format!(
            "unknown key `{}` in `[package.metadata.maskinporten]` of Cargo.toml; expected \
             `{KEY}`",
            key.get_ref()
        ));
    }
    let Some(value) = section(&ours, KEY) else {
        return Err(format!(
            "`[package.metadata.maskinporten]` in Cargo.toml has no `{KEY}`; name the \
             application's NAIS manifest, as in `{KEY} = \".nais/app.yaml\"`"
        ));
    };
    let expected = format!(
        "`{KEY}` in Cargo.toml must be a path, a list of paths, or a list of \
         `{{ path = \"...\", variables = \"...\" }}`"
    );
    let entries = match value {
        DeValue::String(path) => return Ok(Some(vec![entry_path(dir, &path, None)])),
        DeValue::Array(entries) => entries,
        _ => return Err(expected),
    };
    if entries.is_empty() {
        return Err(format!(
            "`{KEY}` in Cargo.toml is an empty list; {expected}"
        ));
    }
    let mut sources = Vec::with_capacity(entries.len());
    for entry in entries.iter() {
        match entry.get_ref() {
            DeValue::String(path) => sources.push(entry_path(dir, path, None)),
            DeValue::Table(table) => {
                if let Some(key) = table
                    .keys()
                    .find(|key| !matches!(key.get_ref().as_ref(), "path" | "variables"))
                {
                    return Err(format!(
                        "unknown key `{}` in an entry of `{KEY}` in Cargo.toml; expected \
                         `path` and optionally `variables`",
                        key.get_ref()
                    ));
                }
                let string = |key: &str| match section(table, key) {
                    None => Ok(None),
                    Some(DeValue::String(value)) => Ok(Some(value.into_owned())),
                    Some(_) => Err(format!(
                        "`{key}` in an entry of `{KEY}` in Cargo.toml must be a string"
                    )),
                };
                let Some(path) = string("path")? else {
                    return Err(format!(
                        "an entry of `{KEY}` in Cargo.toml has no `path`; {expected}"
                    ));
                };
                let variables = string("variables")?;
                sources.push(entry_path(dir, &path, variables.as_deref()));
            }
            _ => return Err(expected),
        }
    }
    Ok(Some(sources))
}

fn entry_path(dir: &Path, manifest: &str, variables: Option<&str>) -> Source {
    Source {
        manifest: locate(dir, manifest),
        variables: variables.map(|v| locate(dir, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<Vec<Source>>, String> {
        from_cargo_toml(Path::new("/app"), text)
    }

    fn source(manifest: &str, variables: Option<&str>) -> Source {
        entry_path(Path::new("/app"), manifest, variables)
    }

    #[test]
    fn without_metadata_nothing_is_configured() {
        assert_eq!(read("[package]\nname = \"a\"\n"), Ok(None));
        assert_eq!(
            read("[package]\nname = \"a\"\n[package.metadata.other]\nx = 1\n"),
            Ok(None)
        );
    }

    #[test]
    fn a_path_a_list_and_tables() {
        assert_eq!(
            read("[package.metadata.maskinporten]\nnais-manifest = \".nais/app.yaml\"\n"),
            Ok(Some(vec![source(".nais/app.yaml", None)]))
        );
        assert_eq!(
            read(
                "[package.metadata.maskinporten]\nnais-manifest = [\".nais/dev.yaml\", \
                 { path = \".nais/app.yaml\", variables = \".nais/prod.json\" }]\n"
            ),
            Ok(Some(vec![
                source(".nais/dev.yaml", None),
                source(".nais/app.yaml", Some(".nais/prod.json"))
            ]))
        );
        assert_eq!(
            source(".nais/app.yaml", None).manifest.path,
            Path::new("/app/.nais/app.yaml")
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let err = |text: &str| read(text).unwrap_err();
        assert!(
            err("[package.metadata.maskinporten]\nnais_manifest = \"a.yaml\"\n")
                .starts_with("unknown key `nais_manifest`"),
        );
        assert!(err("[package.metadata.maskinporten]\n").contains("has no `nais-manifest`"));
        assert!(err("[package.metadata.maskinporten]\nnais-manifest = 1\n")
            .starts_with("`nais-manifest` in Cargo.toml must be"));
        assert!(err("[package.metadata.maskinporten]\nnais-manifest = []\n").contains("empty list"));
        assert!(
            err("[package.metadata.maskinporten]\nnais-manifest = [{ variables = \"v\" }]\n")
                .contains("has no `path`")
        );
        assert!(err(
            "[package.metadata.maskinporten]\nnais-manifest = [{ path = \"a\", vars = \"v\" }]\n"
        )
        .starts_with("unknown key `vars`"));
    }

    #[test]
    fn the_environment_pairs_variables_with_manifests() {
        let joined = std::env::join_paths(["a.yaml", "/abs/b.yaml"]).unwrap();
        let vars = std::env::join_paths(["", "b.json"]).unwrap();
        let config = from_env(Path::new("/app"), &joined, Some(&vars)).unwrap();
        assert_eq!(
            config.sources,
            vec![
                source("a.yaml", None),
                Source {
                    manifest: Located {
                        shown: "/abs/b.yaml".into(),
                        path: "/abs/b.yaml".into()
                    },
                    variables: Some(Located {
                        shown: "b.json".into(),
                        path: "/app/b.json".into()
                    }),
                }
            ]
        );
        let too_many = std::env::join_paths(["a", "b"]).unwrap();
        assert!(from_env(
            Path::new("/app"),
            std::ffi::OsStr::new("a.yaml"),
            Some(&too_many)
        )
        .unwrap_err()
        .contains("names 2 files"));
    }
}
