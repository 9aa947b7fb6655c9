//! `sigil hunt`: compile rules, stream events through the engine, print alerts.

use crate::input;
use crate::output::AlertWriter;
use crate::{rules, HuntArgs, HuntFormat};
use sigil_engine::plan::LogSource;
use sigil_engine::{Alert, Engine, EventSource, Routing, Scratch};
use std::io::{self, IsTerminal};
use std::process::ExitCode;

/// `auto` (recognise each event's source), `all` (every rule on every event), or a declaration.
pub fn parse_routing(text: Option<&str>) -> Result<Routing, String> {
    Ok(match text.map(str::trim) {
        None | Some("auto") => Routing::Auto,
        Some("all") => Routing::All,
        Some(declared) => Routing::Declared(parse_logsource(declared)?),
    })
}

/// Parses `product=aws,service=cloudtrail`.
pub fn parse_logsource(text: &str) -> Result<LogSource, String> {
    let mut ls = LogSource::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("--logsource expects KEY=VALUE pairs separated by commas, got '{part}'"))?;
        let value = Some(value.trim().to_ascii_lowercase());
        match key.trim() {
            "product" => ls.product = value,
            "category" => ls.category = value,
            "service" => ls.service = value,
            other => return Err(format!("--logsource knows product, category and service, not '{other}'")),
        }
    }
    Ok(ls)
}

#[derive(Default)]
struct Counts {
    read: u64,
    rejected: u64,
    alerts: u64,
}

pub fn run(args: HuntArgs) -> Result<ExitCode, String> {
    let routing = parse_routing(args.logsource.as_deref())?;
    let placeholders = rules::placeholders(&args.rule_args.placeholders, &args.rule_args.placeholder_files)?;
    let compiled = rules::compile(&args.rules, placeholders)?;
    for d in &compiled.diagnostics {
        eprintln!("sigil: rule rejected: {d}");
    }
    let loaded = compiled.plan.rules.len();
    if !compiled.diagnostics.is_empty() {
        eprintln!("sigil: rules: {loaded} loaded, {} rejected", compiled.diagnostics.len());
    }
    if loaded == 0 {
        return Err("no rule could be loaded: nothing to hunt with (see the errors above)".into());
    }
    let engine = Engine::new(compiled.plan).map_err(|e| e.to_string())?;

    let format = args.format.unwrap_or(if io::stdout().is_terminal() { HuntFormat::Table } else { HuntFormat::Jsonl });
    let mut writer = AlertWriter::new(io::BufWriter::new(io::stdout().lock()), format);
    let inputs = if args.events.is_empty() { vec!["-".to_string()] } else { args.events.clone() };
    let mut counts = Counts::default();
    let mut unreadable = 0;
    let mut write_error: Option<io::Error> = None;
    let mut scratch = Scratch::default();
    let mut detections = Vec::new();
    for path in &inputs {
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                unreadable += 1;
                continue;
            }
        };
        let result = input::read_records(reader, &mut |line, record| {
            counts.read += 1;
            let event = match record {
                Ok(ev) => ev,
                Err(reason) => {
                    counts.rejected += 1;
                    eprintln!("sigil: {path}:{line}: malformed event: {reason}");
                    return;
                }
            };
            let source = EventSource { file: path.clone(), line };
            detections.clear();
            engine.evaluate_with(&mut scratch, &event, &routing, &mut detections);
            for detection in &detections {
                counts.alerts += 1;
                let alert = Alert::detection(&engine, detection, &event, &source, args.timestamp_field.as_deref());
                if let Err(e) = writer.write(&alert) {
                    write_error.get_or_insert(e);
                }
            }
        });
        if let Err(e) = result {
            eprintln!("sigil: error while reading {path}: {e}");
            unreadable += 1;
        }
    }
    if let Err(e) = writer.flush() {
        write_error.get_or_insert(e);
    }
    eprintln!("events: {} read, {} rejected; alerts: {}", counts.read, counts.rejected, counts.alerts);
    if let Some(e) = write_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(format!("cannot write alerts: {e}"));
        }
    }
    Ok(if unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
