//! The fuzz targets (`fuzz/`, nightly only, not built by CI) compile some of the gateway's modules
//! from source with `#[path]`, without the rest of the crate. A `crate::` path in one of those
//! files breaks the fuzz build while every stable build stays green; this test says so in CI.

use std::path::{Path, PathBuf};

/// Every file a fuzz target includes by `#[path = "..."]`, resolved from the including file.
fn included_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pending = vec![root.join("fuzz/fuzz_targets")];
    let mut targets = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                targets.push(path);
            }
        }
    }
    let mut included = Vec::new();
    for target in targets {
        let text = std::fs::read_to_string(&target).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("#[path = \"") {
                let rel = rest.split('"').next().unwrap();
                let file = target.parent().unwrap().join(rel);
                if file.starts_with(root.join("fuzz")) && !rel.contains("src/") {
                    continue; // the fuzz crate's own helper modules
                }
                included.push(file);
            }
        }
    }
    included
}

#[test]
fn the_modules_the_fuzz_targets_compile_stand_alone() {
    let files = included_sources();
    assert!(files.len() >= 8, "fuzz targets include: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{} (included by a fuzz target): {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains("crate::"),
                "{}:{}: `crate::` in a file the fuzz targets compile alone: {}",
                file.display(),
                n + 1,
                line.trim()
            );
        }
    }
}
