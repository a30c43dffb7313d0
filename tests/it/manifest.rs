//! The NAIS manifest as the source of truth when the code compiles (the
//! messages are in `tests/ui/manifest/`): here, that editing the manifest,
//! or naming one in Cargo.toml where none was, makes the next build check
//! the code again, through cargo's own dependency tracking, not a clean
//! build. What a handle told the exposed scopes does at run time is
//! `exposure`'s.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Builds the scratch crate; its stderr when the build fails.
fn build(dir: &Path, target: &Path, env: Option<&Path>) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--offline", "--quiet", "--target-dir"])
        .arg(target)
        .current_dir(dir)
        .env_remove("MASKINPORTEN_NAIS_MANIFEST")
        .env_remove("MASKINPORTEN_NAIS_VARIABLES")
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(manifest) = env {
        command.env("MASKINPORTEN_NAIS_MANIFEST", manifest);
    }
    let mut child = command.spawn().expect("cargo starts");
    // Bounded: a first build compiles the macro crate and its dependencies,
    // later ones only the scratch crate.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(status) = child.try_wait().expect("cargo runs") {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return match status.success() {
                true => Ok(()),
                false => Err(stderr),
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the scratch build took more than 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A stand-in for `maskinporten-actix` holding only what the expansions of
/// `scopes![]`, `exposed_scopes!()` and a guard on a handler without
/// arguments name.
fn write_stand_in(app: &Path) {
    std::fs::create_dir_all(app.join("stand-in/src")).unwrap();
    std::fs::write(
        app.join("stand-in/Cargo.toml"),
        "[package]\nname = \"maskinporten-actix\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         publish = false\n",
    )
    .unwrap();
    std::fs::write(
        app.join("stand-in/src/lib.rs"),
        "pub struct Scopes(pub &'static [&'static str]);\n\
         pub mod __private {\n    \
         pub const fn checked_scopes(scopes: &'static [&'static str]) -> super::Scopes {\n        \
         super::Scopes(scopes)\n    }\n    \
         pub struct Guarded<R, A>(core::marker::PhantomData<(R, A)>);\n    \
         pub trait Requirement {\n        const RULE: Rule;\n    }\n    \
         pub enum Rule {\n        Scopes(&'static [&'static str], Match),\n    }\n    \
         pub enum Match {\n        All,\n        Any,\n    }\n    \
         #[macro_export]\n    \
         macro_rules! __openapi_only { ($($item:tt)*) => {}; }\n    \
         pub use __openapi_only as openapi_only;\n}\n",
    )
    .unwrap();
}

const MANIFEST: &str = "\
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
";

/// A scratch crate of its own, as an application is, in
/// `manifest-rebuild/<name>` of the tests' scratch directory, with its
/// target directory shared by the tests of this file: the macro crate is
/// built once for all. It depends on the macro crate by path, and on a
/// stand-in for `maskinporten-actix` holding only what the expansions name,
/// so that the test compiles the macro crate and not the whole runtime.
/// `metadata` goes at the end of its Cargo.toml; `main` is its `main.rs`,
/// `manifest` its `.nais/app.yaml`. Returns its directory and the target
/// directory.
fn scratch_crate(name: &str, metadata: &str, main: &str, manifest: &str) -> (PathBuf, PathBuf) {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("manifest-rebuild");
    let app = root.join(name);
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::create_dir_all(app.join(".nais")).unwrap();
    let macros = workspace.join("maskinporten-macros");
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[workspace]\n\n[dependencies]\n\
             maskinporten-macros = {{ path = {macros:?} }}\n\
             maskinporten-actix = {{ path = \"stand-in\" }}\n{metadata}"
        ),
    )
    .unwrap();
    write_stand_in(&app);
    std::fs::write(app.join("src/main.rs"), main).unwrap();
    // The workspace's lock: the same versions, nothing to fetch.
    std::fs::copy(workspace.join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    std::fs::write(app.join(".nais/app.yaml"), manifest).unwrap();
    (app, root.join("target"))
}

/// `[package.metadata.maskinporten]` naming `.nais/app.yaml`.
const METADATA: &str = "\n[package.metadata.maskinporten]\nnais-manifest = \".nais/app.yaml\"\n";

/// [`MANIFEST`] with its scope disabled: Maskinporten issues no token that
/// holds it.
fn disabled() -> String {
    MANIFEST.replace(
        "enabled: true\n          product",
        "enabled: false\n          product",
    )
}

#[test]
fn editing_the_manifest_makes_the_next_build_check_again() {
    let (app, target) = scratch_crate(
        "manifest-edit",
        METADATA,
        "fn main() {\n    \
         let scopes = maskinporten_macros::scopes![\"nav:helse/sykepenger/afp.read\"];\n    \
         const EXPOSED: &[&str] = maskinporten_macros::exposed_scopes!();\n    \
         assert_eq!(scopes.0, EXPOSED);\n}\n",
        MANIFEST,
    );
    let manifest = app.join(".nais/app.yaml");

    build(&app, &target, None).expect("the scratch crate builds against its manifest");

    // Coarse file systems keep modification times in seconds.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&manifest, MANIFEST.replace("afp.read", "afp.raed")).unwrap();
    let stderr = build(&app, &target, None).expect_err("the edited manifest fails the build");
    assert!(
        stderr.contains(
            "the scope `nav:helse/sykepenger/afp.read` is not exposed in `.nais/app.yaml`; \
             did you mean `nav:helse/sykepenger/afp.raed`?"
        ),
        "{stderr}"
    );

    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&manifest, MANIFEST).unwrap();
    build(&app, &target, None).expect("the manifest put back builds again");

    // Naming another manifest in the environment builds the code again too.
    let other = app.join(".nais/other.yaml");
    std::fs::write(&other, disabled()).unwrap();
    let stderr = build(&app, &target, Some(&other)).expect_err("the other manifest is read");
    assert!(stderr.contains("is disabled in"), "{stderr}");
    let _ = std::fs::remove_dir_all(&app);
}

/// A Cargo.toml that names no manifest checks nothing; adding
/// `[package.metadata.maskinporten]` to it makes the next build check the
/// code against the manifest it names, though no source file changed.
#[test]
fn naming_a_manifest_in_cargo_toml_makes_the_next_build_check_again() {
    let (app, target) = scratch_crate(
        "metadata-added",
        "",
        "#[maskinporten_macros::require_scope(\"nav:helse/sykepenger/afp.read\")]\n\
         async fn afp() {}\n\n\
         fn main() {\n    \
         let scopes = maskinporten_macros::scopes![\"nav:helse/sykepenger/afp.read\"];\n    \
         let _ = (scopes.0, afp);\n}\n",
        &disabled(),
    );
    let cargo_toml = app.join("Cargo.toml");

    build(&app, &target, None).expect("without a manifest named, nothing is checked");

    std::thread::sleep(Duration::from_millis(1100));
    let mut toml = std::fs::read_to_string(&cargo_toml).unwrap();
    toml.push_str(METADATA);
    std::fs::write(&cargo_toml, toml).unwrap();
    let stderr = build(&app, &target, None).expect_err("the manifest now named is read");
    let disabled = "the scope `nav:helse/sykepenger/afp.read` is disabled in `.nais/app.yaml` \
                    (`enabled: false`)";
    // Both the attribute and the list are checked again.
    assert_eq!(stderr.matches(disabled).count(), 2, "{stderr}");

    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(app.join(".nais/app.yaml"), MANIFEST).unwrap();
    build(&app, &target, None).expect("the manifest fixed builds again");
    let _ = std::fs::remove_dir_all(&app);
}
