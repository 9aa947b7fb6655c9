//! `sigil hunt`: load rules (YAML or a compiled pack), stream events through the engine on
//! every core, print alerts in input order.
//!
//! Worker threads read the inputs in batches of raw records (`batch_source`), parse and
//! evaluate them and format their alerts; the calling thread writes the batches' output in
//! sequence order, so the output is the same whatever the number of threads. What needs the
//! stream in order (correlations, and silence rules with `--silence`) runs in that writer, on
//! what the workers read from each event.
//!
//! Filters (`filters`): rules left out by `--min-level`, `--status`, `--tag`, ... are not
//! compiled; events outside `--from`/`--to` (or without a time, when either is given) are read
//! and counted but not evaluated, so correlations see only the window. Each alert's summary
//! record and CSV row (`findings`) are made by the worker beside its text.

use crate::findings::{Found, Wants};
pub use crate::hunt_rules::{load_rules, load_rules_selected};
use crate::input;
use crate::output;
use crate::seal::{self, LineSink, SealKey};
use crate::stream::{self, progress_bar, run_batches, Admission, Admitted, Batch, Reading, Tally};
use crate::{HuntArgs, HuntFormat};
use indicatif::ProgressBar;
use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Correlator, EventRef, Feed, Readers};
use sigil_engine::edge::select;
use sigil_engine::plan::Silence;
use sigil_engine::silence::{self, Sighting, SilenceWatch};
use sigil_engine::suppress::Suppressor;
use sigil_engine::{session, Engine, EventSource, Plan, Routing, Scratch};
use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;

/// `auto` (recognise each event's source), `all` (every rule on every event), or a declaration.
pub fn parse_routing(text: Option<&str>) -> Result<Routing, String> {
    text.map_or(Ok(Routing::Auto), str::parse).map_err(|e| format!("--logsource: {e}"))
}

/// What a worker made of a batch, in input order.
#[derive(Default)]
struct Done {
    seq: u64,
    items: Vec<Item>,
    notes: Vec<String>,
    tally: Tally,
    alerts: u64,
    /// Events that raised at least one alert.
    with_hits: u64,
}

enum Item {
    /// Formatted detection alerts.
    Text(Vec<u8>),
    /// The summary record and timeline row of the detection alert written before it.
    Found(Found),
    /// An event that fired rules which correlations read: they see it in input order.
    Correlate { time: Option<i64>, evidence: EventRef, feeds: Vec<Feed> },
    /// With `--silence`, every event, before its detections: its time moves the silence clock
    /// (which may reveal silences) and the sources it speaks for are heard, in input order.
    Silence { time: Option<i64>, evidence: EventRef, sightings: Vec<Sighting> },
    /// A detection alert of a rule with `suppress:`: written or counted in input order.
    Suppressible(session::Suppressible, Option<Found>),
}

/// What the writer keeps across the stream, in input order.
struct Ordered {
    correlator: Correlator,
    /// `None` without `--silence` (or without silence rules).
    silence: Option<SilenceWatch>,
    suppressor: Suppressor,
}

pub fn run(args: HuntArgs) -> Result<ExitCode, String> {
    let routing = parse_routing(args.logsource.as_deref())?;
    let seal = sealing(&args)?;
    if args.report.is_some() {
        crate::report::check_hunt_flags(&args)?;
    }
    if args.silence && args.engine.runtime == crate::Runtime::Wasm {
        return Err(
            "--silence is not available with --runtime wasm yet: use --runtime native (or `sigil edge --runtime wasm --silence`)"
                .into(),
        );
    }
    let selection = args.rule_filters.selection()?;
    if args.engine.runtime == crate::Runtime::Wasm {
        refuse_in_wasm(&args)?;
    }
    let inputs = input::or_stdin(&args.events);
    let limits = args.limits;
    let threads = stream::threads(args.threads)?;
    // Natively, reading starts while the rules load (the Wasm hunt reads its own batches).
    let reading = match args.engine.runtime {
        crate::Runtime::Native => Some(Reading::start(&inputs, &limits, threads)?),
        crate::Runtime::Wasm => None,
    };
    let plan = load_rules_selected(&args.source, &selection)?;
    report_silence(args.silence, plan.silences.len());
    let Some(reading) = reading else {
        return crate::hunt_wasm::run(&args, &inputs, plan);
    };
    let engine = Engine::new(plan).map_err(|e| e.to_string())?;
    let terminal = io::stdout().is_terminal() && seal.is_none();
    let format =
        args.format.unwrap_or(if terminal && args.report.is_none() { HuntFormat::Table } else { HuntFormat::Jsonl });
    let collected = args.report.as_ref().map(|_| crate::report::Collected::new());
    let window = args.window.resolve(&inputs, &limits, args.timestamp_field.as_deref())?;
    let mut findings = crate::findings::Findings::new(&args.findings, format);
    let lookups = args.lookups.iter().map(|spec| crate::lookup::load(spec)).collect::<Result<Vec<_>, _>>()?;
    for table in &lookups {
        eprintln!("sigil: lookup '{}': {} rows joined on {}", table.name(), table.len(), table.key_field());
    }

    let progress = progress_bar();

    let readers = Readers::new(engine.plan());
    let silences = &engine.plan().silences;
    let watched = args.silence && !silences.is_empty();
    let context = Context {
        engine: &engine,
        readers: &readers,
        routing: &routing,
        format,
        admission: Admission { window, timestamp_field: args.timestamp_field.as_deref(), lookups: &lookups },
        silences: watched.then_some(silences.as_slice()),
        wants: findings.wants(),
    };
    let silence = watched.then(|| SilenceWatch::new(silences.clone(), args.max_groups));
    let mut correlator = Correlator::new(engine.plan(), args.max_groups);
    correlator.set_max_distinct_values(args.max_distinct_values);
    let mut suppressor = Suppressor::new(args.max_groups);
    if let Some(path) = args.state.as_ref().filter(|p| p.exists()) {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the state {}: {e}", path.display()))?;
        let saved: session::State = serde_json::from_str(&text).map_err(|e| {
            format!("{}: not a Sigil correlation state ({e}): remove it to start afresh", path.display())
        })?;
        let dropped = correlator.restore(saved.correlations).map_err(|e| format!("{}: {e}", path.display()))?
            + suppressor.restore(engine.plan(), saved.suppression);
        if dropped > 0 {
            eprintln!("sigil: {dropped} saved groups belong to rules no longer loaded: dropped");
        }
    }
    // With `--state`, suppression windows still open carry over to the next run; without, the
    // input's end closes them and their counts are written.
    let closes_at_end = args.state.is_none();
    let ordered = Ordered { correlator, silence, suppressor };
    let writer = Writer { plan: engine.plan(), format, closes_at_end, report: collected.clone() };
    let totals = run_batches(
        reading,
        threads,
        |scratch, batch| evaluate_batch(&context, scratch, batch),
        |done| write_in_order(done, ordered, &writer, seal, progress.as_ref(), &mut findings),
    );
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let (totals, Ordered { correlator, silence, suppressor }) =
        totals.map_err(|e| format!("cannot write alerts: {e}"))?;
    if let Some(reason) = findings.refused() {
        return Err(reason.to_string());
    }
    if let Some(path) = &args.state {
        let state = session::State { correlations: correlator.save(), suppression: suppressor.save(engine.plan()) };
        let text = serde_json::to_string(&state).expect("the state serializes");
        std::fs::write(path, text).map_err(|e| format!("cannot write the state {}: {e}", path.display()))?;
    }
    if !correlator.is_empty() {
        eprintln!(
            "sigil: correlation groups: {} open at the end, {} evicted by --max-groups",
            correlator.open_groups(),
            correlator.evicted()
        );
    }
    if let Some(untracked) = silence.map(|watch| watch.untracked()).filter(|&n| n > 0) {
        eprintln!("sigil: silence: {untracked} sources first heard past --max-groups were not watched");
    }
    let tally = totals.tally;
    eprintln!("{}; alerts: {}", tally.events_line(window.is_some()), totals.alerts);
    let mut events = vec![("rejected", tally.rejected)];
    if window.is_some() {
        events.extend([("outside_window", tally.outside_window), ("without_time", tally.untimed)]);
    }
    findings.finish(&events, tally.read, totals.with_hits)?;
    if let (Some(collected), Some(path)) = (collected, &args.report) {
        collected.write_to(path)?;
    }
    // The process ends here: freeing the compiled rules (tens of thousands of allocations) took
    // 20 ms of every hunt over `rules/windows`, with every thread but one idle.
    std::mem::forget(readers);
    std::mem::forget(engine);
    Ok(if tally.unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// Whether the rules' silence rules are watched, said before the stream starts (as `sigil edge`
/// says it).
fn report_silence(enabled: bool, rules: usize) {
    match (enabled, rules) {
        (true, 0) => eprintln!("sigil: silence detection is on, but the rules hold no silence rule"),
        (true, n) => eprintln!("sigil: watching {n} silence rules"),
        (false, 0) => {}
        (false, n) => eprintln!("sigil: {n} silence rules ignored: enable them with --silence"),
    }
}

/// What `--runtime wasm` does not do yet, refused before any rule is compiled.
fn refuse_in_wasm(args: &HuntArgs) -> Result<(), String> {
    let window = args.window.from.is_some() || args.window.to.is_some();
    let findings =
        args.findings.summary.is_some() || args.findings.summary_stderr == crate::findings::SummaryWhen::Always;
    if window || findings {
        return Err("--from, --to, --summary and --summary-stderr always are not available with --runtime wasm yet: use --runtime native".into());
    }
    Ok(())
}

/// `--seal KEYFILE`: the key and checkpoint interval, refused with a format it cannot seal.
fn sealing(args: &HuntArgs) -> Result<Option<(SealKey, u64)>, String> {
    let Some(path) = &args.seal else { return Ok(None) };
    if args.format.is_some_and(|f| f != HuntFormat::Jsonl) {
        return Err("--seal seals JSON Lines alerts: use --format jsonl (or leave --format out)".into());
    }
    if args.engine.runtime == crate::Runtime::Wasm {
        return Err("--seal is not available with --runtime wasm yet: use --runtime native".into());
    }
    Ok(Some((seal::load_key(path)?, args.checkpoint_every)))
}

/// What every worker evaluates batches with.
struct Context<'a> {
    engine: &'a Engine,
    readers: &'a Readers,
    routing: &'a Routing,
    format: HuntFormat,
    /// Which events are evaluated (`--from`/`--to`), and the lookups joined onto them.
    admission: Admission<'a>,
    /// The plan's silence rules when they are watched: then every event is an item.
    silences: Option<&'a [Silence]>,
    /// Whether alerts carry their summary record or timeline row to the writer.
    wants: Wants,
}

fn evaluate_batch(context: &Context<'_>, scratch: &mut Scratch, mut batch: Batch) -> Done {
    let Context { engine, readers, routing, format, admission, silences, wants } = *context;
    let timestamp_field = admission.timestamp_field;
    let tally = Tally { unreadable: batch.unreadable, ..Tally::default() };
    let mut done = Done { seq: batch.seq, notes: std::mem::take(&mut batch.notes), tally, ..Done::default() };
    let mut detections = Vec::new();
    let mut text = Vec::new();
    batch.admitted_events(&admission, &mut done.tally, &mut done.notes, &mut |admitted| {
        let Admitted { line, event, text: source_text, time: known_time } = admitted;
        if let Some(silences) = silences {
            // Silences the event's time reveals come before its detections.
            if !text.is_empty() {
                done.items.push(Item::Text(std::mem::take(&mut text)));
            }
            let sightings = silence::sightings(silences, &event, &select::event_source(&event, routing));
            let time = known_time.unwrap_or_else(|| event_time_ms(&event, timestamp_field));
            let evidence = EventRef { file: Arc::clone(&batch.file), line };
            done.items.push(Item::Silence { time, evidence, sightings });
        }
        detections.clear();
        engine.evaluate_with_text(scratch, &event, source_text, routing, &mut detections);
        if detections.is_empty() {
            return;
        }
        let source = EventSource { file: batch.file.to_string(), line };
        let mut feeds = Vec::new();
        let time = known_time.unwrap_or_else(|| event_time_ms(&event, timestamp_field));
        let mut suppressible = 0;
        let written = session::write_detections(
            engine,
            readers,
            &detections,
            &event,
            &source,
            timestamp_field,
            &mut feeds,
            &mut |alert| {
                let render = |out: &mut Vec<u8>| output::write_alert(out, alert, format).expect("writing to memory");
                let found = wants.found(alert, time);
                match session::Suppressible::of(alert, time, render) {
                    // Written or counted by the writer, in input order.
                    Some(item) => {
                        if !text.is_empty() {
                            done.items.push(Item::Text(std::mem::take(&mut text)));
                        }
                        done.items.push(Item::Suppressible(item, found));
                        suppressible += 1;
                    }
                    None => {
                        render(&mut text);
                        // Its place among the text does not matter: a Found writes nothing.
                        done.items.extend(found.map(Item::Found));
                    }
                }
            },
        );
        done.with_hits += u64::from(written > 0);
        done.alerts += written - suppressible;
        if !feeds.is_empty() {
            if !text.is_empty() {
                done.items.push(Item::Text(std::mem::take(&mut text)));
            }
            let evidence = EventRef { file: Arc::clone(&batch.file), line };
            done.items.push(Item::Correlate { time, evidence, feeds });
        }
    });
    if !text.is_empty() {
        done.items.push(Item::Text(text));
    }
    done
}

/// What the writer needs besides its state.
struct Writer<'a> {
    plan: &'a Plan,
    format: HuntFormat,
    /// Whether the end of the input closes the suppression windows (no `--state`).
    closes_at_end: bool,
    /// `--report`: the lines written, collected for the HTML report.
    report: Option<crate::report::Collected>,
}

/// Writes finished batches in sequence order, runs the correlations (and silence rules, and
/// suppression) over them in that order, and adds up the counts.
fn write_in_order(
    done: mpsc::Receiver<Done>,
    mut ordered: Ordered,
    writer: &Writer<'_>,
    seal: Option<(SealKey, u64)>,
    progress: Option<&ProgressBar>,
    findings: &mut crate::findings::Findings,
) -> io::Result<(Done, Ordered)> {
    let Writer { plan, format, closes_at_end, .. } = *writer;
    let stdout = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut out = LineSink::new(crate::report::ReportTap::new(stdout, writer.report.clone()), seal);
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut totals = Done::default();
    let mut header = output::header(format);
    let mut broken_pipe = false;
    // Events without a readable time take the time of the event before them.
    let mut last_time = 0i64;
    'stream: for d in done {
        pending.insert(d.seq, d);
        while let Some(d) = pending.remove(&next) {
            if findings.refused().is_some() {
                // The timeline is full: the hunt ends with its error, and the workers stop.
                break 'stream;
            }
            next += 1;
            for note in &d.notes {
                match progress {
                    Some(p) => p.println(note),
                    None => eprintln!("{note}"),
                }
            }
            for item in d.items {
                let bytes = match item {
                    Item::Text(bytes) => bytes,
                    Item::Found(found) => {
                        findings.add(found);
                        continue;
                    }
                    Item::Correlate { time, evidence, feeds } => {
                        let time = time.unwrap_or(last_time);
                        last_time = time;
                        let mut bytes = Vec::new();
                        let (correlator, suppressor) = (&mut ordered.correlator, &mut ordered.suppressor);
                        totals.alerts +=
                            session::observe(correlator, suppressor, plan, time, evidence, feeds, &mut |alert| {
                                match alert {
                                    session::Emitted::Correlation(a) => findings.add_json(a),
                                    session::Emitted::Suppression(a) => findings.add_json(a),
                                }
                                output::write_emitted(&mut bytes, alert, format).expect("writing to memory")
                            });
                        for warning in ordered.correlator.take_warnings() {
                            let line = format!("sigil: warning: {warning}");
                            match progress {
                                Some(p) => p.println(line),
                                None => eprintln!("{line}"),
                            }
                        }
                        bytes
                    }
                    Item::Suppressible(item, found) => {
                        let mut bytes = Vec::new();
                        let mut summaries = 0;
                        let written =
                            session::admit_rendered(plan, &mut ordered.suppressor, item, &mut bytes, &mut |out, s| {
                                summaries += 1;
                                findings.add_json(s);
                                output::write_suppression(out, s, format).expect("writing to memory")
                            });
                        // Counted alerts are not in the summary or the timeline: their window's is.
                        if written > summaries {
                            if let Some(found) = found {
                                findings.add(found);
                            }
                        }
                        totals.alerts += written;
                        bytes
                    }
                    Item::Silence { time, evidence, sightings } => {
                        let mut bytes = Vec::new();
                        if let Some(watch) = &mut ordered.silence {
                            totals.alerts += watch.advance(time, &evidence, sightings, &mut |alert| {
                                findings.add_json(alert);
                                output::write_silence(&mut bytes, alert, format).expect("writing to memory")
                            });
                        }
                        bytes
                    }
                };
                if bytes.is_empty() || broken_pipe {
                    continue;
                }
                let written = header
                    .take()
                    .map_or(Ok(()), |h| out.write_lines(h.as_bytes()))
                    .and_then(|_| out.write_lines(&bytes));
                unless_pipe_closed(written, &mut broken_pipe)?;
            }
            // Streaming: what has been written reaches the reader without waiting for more input.
            // (So the last batch leaves nothing behind in the buffer either.)
            if !broken_pipe {
                unless_pipe_closed(out.flush(), &mut broken_pipe)?;
            }
            totals.tally.add(d.tally);
            totals.alerts += d.alerts;
            totals.with_hits += d.with_hits;
            if let Some(p) = progress {
                p.set_position(totals.tally.read);
                let rate = totals.tally.read as f64 / p.elapsed().as_secs_f64().max(1e-3);
                p.set_message(format!("{rate:.0} events/s, {} alerts", totals.alerts));
            }
        }
    }
    if closes_at_end && !broken_pipe {
        let mut closed = Vec::new();
        ordered.suppressor.flush(&mut closed);
        let mut bytes = Vec::new();
        for c in &closed {
            let alert = c.alert(plan);
            findings.add_json(&alert);
            output::write_suppression(&mut bytes, &alert, format).expect("writing to memory");
        }
        totals.alerts += closed.len() as u64;
        if !bytes.is_empty() {
            let written = header
                .take()
                .map_or(Ok(()), |h| out.write_lines(h.as_bytes()))
                .and_then(|_| out.write_lines(&bytes))
                .and_then(|_| out.flush());
            unless_pipe_closed(written, &mut broken_pipe)?;
        }
    }
    if let Some(timeline) = findings.take_timeline().filter(|_| !broken_pipe && findings.refused().is_none()) {
        unless_pipe_closed(out.write_lines(&timeline).and_then(|_| out.flush()), &mut broken_pipe)?;
    }
    // Sealed, the closing record marks a clean end.
    if !broken_pipe {
        unless_pipe_closed(out.finish().map(drop), &mut broken_pipe)?;
    }
    Ok((totals, ordered))
}

/// A reader that closed the pipe (`sigil hunt … | head`) ends the output, not the run: the
/// counts and the state are still reported. Any other write error is returned.
pub(crate) fn unless_pipe_closed(result: io::Result<()>, broken_pipe: &mut bool) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            *broken_pipe = true;
            Ok(())
        }
        other => other,
    }
}
