//! `sigil report [ALERTS.jsonl|-] -o report.html`: alert JSON Lines (as `sigil hunt --format
//! jsonl` prints them) in, the self-contained HTML report of `sigil_report::html` out. This
//! module reads the lines (each up to `--max-line-bytes`), writes the file and tells on stderr
//! what was embedded, left out or skipped; what the page holds is the library's.

use sigil_engine::lines::{read_line, too_long_reason, LineRead};
use sigil_report::html::{Options, Report, ReportBuilder, DEFAULT_MAX_ALERTS};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

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
    std::fs::write(&args.output, &report.html).map_err(|e| {
        format!("cannot write {}: {e} (check the directory exists and is writable)", args.output.display())
    })?;
    tell(&report, &name, &args);
    Ok(ExitCode::SUCCESS)
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
fn tell(report: &Report, name: &str, args: &ReportArgs) {
    for bad in &report.malformed_listed {
        eprintln!("sigil: {name}:{}: {}", bad.line, bad.reason);
    }
    let unlisted = report.malformed - report.malformed_listed.len() as u64;
    if unlisted > 0 {
        eprintln!("sigil: {name}: {unlisted} more malformed lines not listed");
    }
    if report.left_out > 0 {
        eprintln!(
            "sigil: {} alerts left out of the report: it embeds at most {} (raise --max-alerts to include them)",
            report.left_out, args.max_alerts
        );
    }
    eprintln!(
        "sigil: report written to {}: {} alerts embedded, {} left out, {} malformed lines ({} bytes)",
        args.output.display(),
        report.embedded,
        report.left_out,
        report.malformed,
        report.html.len()
    );
}
