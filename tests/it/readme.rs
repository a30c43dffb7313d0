//! The README's quick start is `examples/quickstart.rs`, whose test runs
//! with the workspace's: the README must show that file as it is, so that
//! what a new user copies is what was built and tested. (The README's other
//! Rust blocks are doctests of `maskinporten-actix`.)

#[test]
fn the_quick_start_is_the_tested_example() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../examples/quickstart.rs");
    // The file's own module docs say where it is shown; the README starts
    // after them.
    let body = example
        .lines()
        .skip_while(|line| line.starts_with("//!"))
        .skip_while(|line| line.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    // `ignore` for the crate's doctests only: `exposed_scopes!()` needs the
    // manifest the examples name, and the example is compiled and tested.
    let block = format!("```rust,ignore\n{body}\n```");
    assert!(
        readme.contains(&block),
        "README.md's quick start differs from examples/quickstart.rs; paste the file below \
         its module docs into the README:\n{body}"
    );
    assert!(body.contains("#[cfg(test)]") && body.contains("LocalTexas::start()"));
}
