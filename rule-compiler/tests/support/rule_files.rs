//! Rule files for the compiler's tests and benches, read into memory: the embedded pack, and a
//! folder of SigmaHQ's corpus from ../shared when it is there. Included by path (`#[path]`) by
//! `tests/parallel_compile.rs` and `benches/compile.rs`.

use sigil_compiler::RuleFile;
use std::path::{Path, PathBuf};

/// The embedded pack's rule files.
pub fn embedded() -> Vec<RuleFile> {
    sigil_pack::RULE_FILES
        .iter()
        .map(|(name, text)| RuleFile { name: name.to_string(), text: Ok(text.to_string()) })
        .collect()
}

/// Every `*.yml` under `sigma/FOLDER` of ../shared (or `$SIGIL_SHARED`), sorted, read; `None`,
/// after saying that `what` is skipped, when the folder is absent.
pub fn sigmahq(folder: &str, what: &str) -> Option<Vec<RuleFile>> {
    let shared = std::env::var_os("SIGIL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let dir = shared.join("sigma").join(folder);
    if !dir.is_dir() {
        println!("SKIPPED {what}: {} is absent", dir.display());
        return None;
    }
    let mut paths = Vec::new();
    yaml_files(&dir, &mut paths);
    paths.sort();
    let read = |p: &PathBuf| RuleFile {
        name: p.display().to_string(),
        text: std::fs::read_to_string(p).map_err(|e| e.to_string()),
    };
    Some(paths.iter().map(read).collect())
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for p in entries.flatten().map(|e| e.path()) {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml") {
            out.push(p);
        }
    }
}
