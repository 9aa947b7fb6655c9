//! Finding and compiling rules for a command: rule paths (files, or directories searched
//! recursively for `*.yml`/`*.yaml`), the embedded pack, placeholder values and pipelines.

use crate::RuleArgs;
use sigil_compiler::{Compiler, Options, Output, Pipeline, Placeholders, RuleFile};
use std::path::{Path, PathBuf};

/// Every rule file under the given paths, in a stable order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| format!("cannot read the rule directory {}: {e}", p.display()))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("no rule file or directory at {}: check the --rules path", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) && !is_test_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// `NAME=v1,v2` from the command line.
pub fn parse_placeholder_arg(arg: &str) -> Result<(String, Vec<String>), String> {
    let (name, values) =
        arg.split_once('=').ok_or_else(|| format!("--placeholder expects NAME=VALUE[,VALUE...], got '{arg}'"))?;
    let name = name.trim().trim_matches('%').to_string();
    if name.is_empty() {
        return Err(format!("--placeholder '{arg}' has no name before '='"));
    }
    Ok((name, values.split(',').map(|v| v.to_string()).collect()))
}

/// The compiler options the rule arguments give: placeholder values from `--placeholder-file`
/// files, then `--placeholder` arguments, and the `--pipeline` pipelines.
pub fn options(rule_args: &RuleArgs) -> Result<Options, String> {
    let (args, files) = (&rule_args.placeholders, &rule_args.placeholder_files);
    let mut out = Placeholders::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read the placeholder file {}: {e}", f.display()))?;
        let parsed =
            sigil_compiler::parse_placeholder_file(&f.display().to_string(), &text).map_err(|d| d.to_string())?;
        for (k, v) in parsed {
            out.entry(k).or_default().extend(v);
        }
    }
    for a in args {
        let (name, values) = parse_placeholder_arg(a)?;
        out.entry(name).or_default().extend(values);
    }
    let pipelines = rule_args.pipelines.iter().map(|p| pipeline(p)).collect::<Result<_, _>>()?;
    Ok(Options { placeholders: out, pipelines, ..Options::default() })
}

/// A `--pipeline` argument: a built-in pipeline by name, or a file when the argument has a path
/// separator or a `.yml`/`.yaml` extension.
pub fn pipeline(arg: &str) -> Result<Pipeline, String> {
    let path = Path::new(arg);
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yml" | "yaml"));
    if !yaml && !arg.contains('/') && !arg.contains(std::path::MAIN_SEPARATOR) {
        return sigil_compiler::builtin_pipeline(arg).ok_or_else(|| {
            let names: Vec<&str> = sigil_compiler::pipeline::BUILTIN.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown pipeline '{arg}': the built-in pipelines are {} (a pipeline file needs a path with '/' or a .yml/.yaml name)",
                names.join(", ")
            )
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the pipeline file {arg}: {e}"))?;
    sigil_compiler::parse_pipeline(arg, &text).map_err(|d| format!("pipeline {d}"))
}

/// Compiles the given rule paths, or the embedded pack when there are none.
pub fn compile(paths: &[PathBuf], options: Options) -> Result<Output, String> {
    Ok(compile_files(&read(paths)?, options))
}

/// The rule files under the given paths, read, or the embedded pack's when there are none. A
/// file that is not UTF-8 is kept as unreadable (the compiler reports it); one that cannot be
/// read at all stops the command.
pub fn read(paths: &[PathBuf]) -> Result<Vec<RuleFile>, String> {
    if paths.is_empty() {
        return Ok(sigil_pack::RULE_FILES
            .iter()
            .map(|(path, text)| RuleFile {
                name: format!("{}{path}", sigil_pack::EMBEDDED_PREFIX),
                text: Ok(text.to_string()),
            })
            .collect());
    }
    let mut files = Vec::new();
    for file in rule_files(paths)? {
        let name = file.display().to_string();
        let bytes = std::fs::read(&file).map_err(|e| format!("cannot read the rule file {name}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| "the rule file is not UTF-8 text".to_string());
        files.push(RuleFile { name, text });
    }
    Ok(files)
}

/// Compiles rule files already read. All of them go to the compiler together: it spreads them
/// over the cores.
pub fn compile_files(files: &[RuleFile], options: Options) -> Output {
    let mut compiler = Compiler::new(options);
    compiler.add_files(files);
    compiler.finish()
}

/// A rule's test events (`RULE.tests.yml`, beside `RULE.yml`): not a rule.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".tests.yml"))
}
