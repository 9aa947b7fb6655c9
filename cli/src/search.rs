//! `sigil search QUERY [EVENTS...]`: the events one query matches, or their counts by a field.
//!
//! The query is compiled by `sigil_compiler::query` into a one-rule plan and run by the same
//! engine as `hunt`, on the workers `hunt` runs on ([`stream::run_batches`]): worker threads read, parse
//! and evaluate batches and render their matching events (or count them), and this thread writes
//! the batches in sequence order, so the output does not depend on the number of threads. It owns
//! no detection logic: what matches is the engine's answer for the compiled query.

mod format;

use crate::hunt;
use crate::input;
use crate::stream::{self, Admission, Admitted, Batch, Tally};
use crate::{rules, SearchArgs, SearchFormat};
use indicatif::ProgressBar;
use sigil_engine::plan::LogSource;
use sigil_engine::{Engine, Routing, Scratch};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::mpsc;

/// What the workers do with a matching event.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Print(SearchFormat),
    CountBy(&'a str),
}

/// What every worker evaluates batches with.
struct Context<'a> {
    engine: &'a Engine,
    routing: &'a Routing,
    mode: Mode<'a>,
    /// Which events are evaluated (`--from`/`--to`), and the lookups joined onto them.
    admission: Admission<'a>,
}

/// What a worker made of a batch.
#[derive(Default)]
struct Done {
    seq: u64,
    /// The matching events, rendered.
    text: Vec<u8>,
    /// With `--count-by`: matching events per value (`None`: the field is absent).
    counts: HashMap<Option<String>, u64>,
    notes: Vec<String>,
    tally: Tally,
    matched: u64,
}

pub fn run(args: SearchArgs) -> Result<ExitCode, String> {
    let routing = hunt::parse_routing(args.logsource.as_deref())?;
    let logsource = match &routing {
        Routing::Declared(declared) => declared.clone(),
        _ => LogSource::default(),
    };
    let options = rules::options(&args.rule_args)?;
    let plan = sigil_compiler::query::compile(&args.query, &logsource, &options)
        .map_err(|e| format::query_error(&args.query, &e))?;
    let engine = Engine::new(plan).map_err(|e| e.to_string())?;
    let terminal = io::stdout().is_terminal();
    let format = args.format.unwrap_or(if terminal { SearchFormat::Table } else { SearchFormat::Jsonl });
    let mode = match &args.count_by {
        Some(field) if field.trim().is_empty() => return Err("--count-by needs a field name".into()),
        Some(field) => Mode::CountBy(field),
        None => Mode::Print(format),
    };
    let threads = stream::threads(args.threads)?;
    let inputs = input::or_stdin(&args.events);
    let limits = args.limits;
    let lookups = args.lookups.iter().map(|spec| crate::lookup::load(spec)).collect::<Result<Vec<_>, _>>()?;
    let window = args.window.resolve(&inputs, &limits, args.timestamp_field.as_deref())?;
    let context = Context {
        engine: &engine,
        routing: &routing,
        mode,
        admission: Admission { window, timestamp_field: args.timestamp_field.as_deref(), lookups: &lookups },
    };

    let progress = stream::progress_bar();
    let written = stream::run_batches(
        stream::Reading::start(&inputs, &limits, threads)?,
        threads,
        |scratch, batch| evaluate_batch(&context, scratch, batch),
        |done| write_in_order(done, format, mode, args.max_values, progress.as_ref()),
    );
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let totals = written.map_err(|e| format!("cannot write the results: {e}"))?;
    eprintln!("{}; matched: {}", totals.tally.events_line(window.is_some()), totals.matched);
    Ok(if totals.tally.unreadable > 0 {
        ExitCode::from(2)
    } else if totals.matched == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn evaluate_batch(context: &Context<'_>, scratch: &mut Scratch, mut batch: Batch) -> Done {
    let Context { engine, routing, mode, admission } = *context;
    let tally = Tally { unreadable: batch.unreadable, ..Tally::default() };
    let mut done = Done { seq: batch.seq, notes: std::mem::take(&mut batch.notes), tally, ..Done::default() };
    let mut detections = Vec::new();
    batch.admitted_events(&admission, &mut done.tally, &mut done.notes, &mut |admitted| {
        let Admitted { line, event, text: source_text, .. } = admitted;
        detections.clear();
        engine.evaluate_with_text(scratch, &event, source_text, routing, &mut detections);
        if detections.is_empty() {
            return;
        }
        done.matched += 1;
        match mode {
            Mode::Print(format) => {
                format::write_event(&mut done.text, &batch.file, line, &event, admission.timestamp_field, format)
            }
            Mode::CountBy(field) => *done.counts.entry(format::count_key(&event, field)).or_default() += 1,
        }
    });
    done
}

/// Writes finished batches in sequence order (or adds up their counts, printed at the end).
fn write_in_order(
    done: mpsc::Receiver<Done>,
    format: SearchFormat,
    mode: Mode<'_>,
    max_values: usize,
    progress: Option<&ProgressBar>,
) -> io::Result<Done> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut totals = Done::default();
    let mut counts = format::Counts::new(max_values);
    let mut header = matches!(mode, Mode::Print(_)).then(|| format::event_header(format)).flatten();
    let mut broken_pipe = false;
    for d in done {
        pending.insert(d.seq, d);
        while let Some(d) = pending.remove(&next) {
            next += 1;
            for note in &d.notes {
                match progress {
                    Some(p) => p.println(note),
                    None => eprintln!("{note}"),
                }
            }
            counts.add(d.counts);
            if !d.text.is_empty() && !broken_pipe {
                let written = header
                    .take()
                    .map_or(Ok(()), |h| out.write_all(h.as_bytes()))
                    .and_then(|_| out.write_all(&d.text))
                    .and_then(|_| out.flush());
                hunt::unless_pipe_closed(written, &mut broken_pipe)?;
            }
            totals.tally.add(d.tally);
            totals.matched += d.matched;
            if let Some(p) = progress {
                p.set_position(totals.tally.read);
                p.set_message(format!("{} matched", totals.matched));
            }
        }
    }
    if let Mode::CountBy(field) = mode {
        if counts.overflowed() > 0 {
            eprintln!(
                "sigil: --count-by {field}: more than {max_values} distinct values; {} events of later values counted as (other) (raise --max-values)",
                counts.overflowed()
            );
        }
        let mut bytes = Vec::new();
        format::write_counts(&mut bytes, field, &counts.sorted(), format);
        if !broken_pipe {
            hunt::unless_pipe_closed(out.write_all(&bytes).and_then(|_| out.flush()), &mut broken_pipe)?;
        }
    }
    Ok(totals)
}
