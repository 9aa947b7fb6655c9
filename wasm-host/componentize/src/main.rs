//! `componentize IN.wasm OUT.wasm`: wraps a core module built with wit-bindgen (its world is in
//! the module's `component-type` custom section) into a component, validated, with
//! `wit_component::ComponentEncoder`. Exports outside the world (the guest's `sigil_*` C ABI)
//! are left in the inner module, unused.

use std::process::ExitCode;
use wit_component::ComponentEncoder;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: componentize IN.wasm OUT.wasm");
        return ExitCode::from(2);
    };
    match componentize(input, output) {
        Ok(size) => {
            eprintln!("componentize: {output}: {size} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("componentize: {e}");
            ExitCode::FAILURE
        }
    }
}

fn componentize(input: &str, output: &str) -> Result<usize, String> {
    let module = std::fs::read(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let component = ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("{input}: {e:#}"))?;
    // Written beside the target and renamed, so a reader never sees half a component.
    let partial = format!("{output}.partial");
    std::fs::write(&partial, &component).map_err(|e| format!("cannot write {partial}: {e}"))?;
    std::fs::rename(&partial, output).map_err(|e| format!("cannot write {output}: {e}"))?;
    Ok(component.len())
}
