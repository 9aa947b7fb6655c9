//! `sigil report [ALERTS.jsonl|-] -o report.html`: alert JSON Lines (as `sigil hunt --format
//! jsonl` prints them) in, the self-contained HTML report of `sigil_report::html` out. This
//! module reads the lines (each up to `--max-line-bytes`), writes the file and tells on stderr
//! what was embedded, left out or skipped; what the page holds is the library's.
//!
//! `hunt --report FILE` builds the same report from the lines `hunt` writes, through a
//! [`ReportTap`] under its output, so the page holds exactly what was printed.

use sigil_engine::lines::{read_line, too_long_reason, LineRead};
use sigil_report::html::{Options, Report, ReportBuilder, DEFAULT_MAX_ALERTS};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Alerts as JSON Lines (`sigil hunt --format jsonl`); `-` or nothing reads standard input.
    #[arg(value_name = "ALERTS")]
    pub input: Option<PathBuf>,
    /// Where to write the HTML report.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// The most alerts embedded in the page; later ones are counted and reported as left out.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ALERTS)]
    pub max_alerts: usize,
    /// The page's title.
    #[arg(long, value_name = "TEXT", default_value = "Sigil report")]
    pub title: String,
    /// The longest alert line read, in bytes; a longer one is skipped and reported.
    #[arg(long, value_name = "BYTES", default_value_t = sigil_engine::lines::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    let options = Options { title: args.title.clone(), max_alerts: args.max_alerts };
    let (name, reader): (String, Box<dyn BufRead>) = match &args.input {
        None => ("-".into(), Box::new(BufReader::new(std::io::stdin()))),
        Some(path) if path.as_os_str() == "-" => ("-".into(), Box::new(BufReader::new(std::io::stdin()))),
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            (path.display().to_string(), Box::new(BufReader::new(file)))
        }
    };
    let report = build(reader, options, args.max_line_bytes).map_err(|e| format!("cannot read {name}: {e}"))?;
    write(&report, &args.output)?;
    tell(&report, &name, args.max_alerts, &args.output);
    Ok(ExitCode::SUCCESS)
}

fn write(report: &Report, path: &Path) -> Result<(), String> {
    std::fs::write(path, &report.html)
        .map_err(|e| format!("cannot write {}: {e} (check the directory exists and is writable)", path.display()))
}

/// The alert lines `hunt --report` collects, shared between its output writer and `run`:
/// the builder, the part of a line not ended yet, and the lines seen.
#[derive(Clone)]
pub struct Collected(Arc<Mutex<(ReportBuilder, Vec<u8>, u64)>>);

impl Collected {
    pub fn new() -> Collected {
        Collected(Arc::new(Mutex::new((ReportBuilder::new(Options::default()), Vec::new(), 0))))
    }

    /// Writes the report of every line collected to `path`, and says so on stderr.
    pub fn write_to(self, path: &Path) -> Result<(), String> {
        let mut guard = self.0.lock().map_err(|_| "the report's lines were lost (a writer panicked)")?;
        let (builder, partial, line) =
            std::mem::replace(&mut *guard, (ReportBuilder::new(Options::default()), Vec::new(), 0));
        drop(guard);
        let mut builder = builder;
        if !partial.is_empty() {
            builder.push_line(line + 1, &String::from_utf8_lossy(&partial));
        }
        let report = builder.finish();
        write(&report, path)?;
        tell(&report, "hunt", DEFAULT_MAX_ALERTS, path);
        Ok(())
    }
}

/// A writer that passes everything through to `inner` and, when collecting, hands each
/// complete line to the report (`hunt --report`).
pub struct ReportTap<W> {
    inner: W,
    collected: Option<Collected>,
}

impl<W: Write> ReportTap<W> {
    pub fn new(inner: W, collected: Option<Collected>) -> Self {
        ReportTap { inner, collected }
    }
}

impl<W: Write> Write for ReportTap<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        if let Some(collected) = &self.collected {
            let mut guard = collected.0.lock().map_err(|_| io::Error::other("the report's lines were lost"))?;
            let (builder, partial, line) = &mut *guard;
            let mut rest = &bytes[..written];
            while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                partial.extend_from_slice(&rest[..end]);
                *line += 1;
                builder.push_line(*line, &String::from_utf8_lossy(partial));
                partial.clear();
                rest = &rest[end + 1..];
            }
            partial.extend_from_slice(rest);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The report of every line of `reader`, each held only up to `max_line_bytes`.
pub fn build(mut reader: impl BufRead, options: Options, max_line_bytes: usize) -> std::io::Result<Report> {
    let mut builder = ReportBuilder::new(options);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        let read = read_line(&mut reader, &mut buf, max_line_bytes)?;
        line += 1;
        match read {
            LineRead::End => break,
            LineRead::TooLong { bytes, .. } => {
                builder.push_malformed(line, too_long_reason(bytes, max_line_bytes, "--max-line-bytes"))
            }
            LineRead::Line { .. } => match std::str::from_utf8(&buf) {
                Ok(text) => builder.push_line(line, text),
                Err(e) => builder.push_malformed(line, format!("not an alert: not UTF-8 text ({e})")),
            },
        }
    }
    Ok(builder.finish())
}

/// What the report holds, on stderr: embedded, left out, and each malformed line listed.
fn tell(report: &Report, name: &str, max_alerts: usize, output: &Path) {
    for bad in &report.malformed_listed {
        eprintln!("sigil: {name}:{}: {}", bad.line, bad.reason);
    }
    let unlisted = report.malformed - report.malformed_listed.len() as u64;
    if unlisted > 0 {
        eprintln!("sigil: {name}: {unlisted} more malformed lines not listed");
    }
    if report.left_out > 0 {
        eprintln!(
            "sigil: {} alerts left out of the report: it embeds at most {} (sigil report --max-alerts N takes more)",
            report.left_out, max_alerts
        );
    }
    eprintln!(
        "sigil: report written to {}: {} alerts embedded, {} left out, {} malformed lines ({} bytes)",
        output.display(),
        report.embedded,
        report.left_out,
        report.malformed,
        report.html.len()
    );
}

/// `hunt --report` collects the JSON Lines alerts `hunt` prints: refused with what cannot give them.
pub fn check_hunt_flags(args: &crate::HuntArgs) -> Result<(), String> {
    if args.format.is_some_and(|f| f != crate::HuntFormat::Jsonl) {
        return Err("--report collects JSON Lines alerts: use --format jsonl (or leave --format out)".into());
    }
    if args.seal.is_some() {
        return Err("--report cannot read sealed records: hunt without --seal for the report, or seal the alerts and run `sigil report` on an unsealed copy".into());
    }
    if args.engine.runtime == crate::Runtime::Wasm {
        return Err(
            "--report is not available with --runtime wasm yet: use --runtime native, or `sigil report` on the alerts"
                .into(),
        );
    }
    Ok(())
}
