//! Printing alerts (detections, correlations, silences, suppression summaries): JSON Lines (the stable contract), a
//! table for people, or OCSF Detection Findings (one per line). The CSV timeline is not printed
//! alert by alert (its rows are sorted at the end, `findings`): here it writes nothing.

use crate::HuntFormat;
use sigil_engine::alert::{AlertRule, CorrelationAlertJson};
use sigil_engine::session;
use sigil_engine::silence::SilenceAlertJson;
use sigil_engine::suppress::SuppressionAlertJson;
use sigil_engine::Alert;
use sigil_ocsf as ocsf;
use std::io::{self, Write};

/// The table's header line (JSON Lines and OCSF have none).
pub fn header(format: HuntFormat) -> Option<String> {
    (format == HuntFormat::Table)
        .then(|| format!("{:<24}  {:<8}  {:<48}  {:<28}  MATCHED\n", "TIME", "LEVEL", "RULE", "SOURCE"))
}

/// Appends one alert in the chosen format.
pub fn write_alert(out: &mut Vec<u8>, alert: &Alert<'_>, format: HuntFormat) -> io::Result<()> {
    match format {
        HuntFormat::Jsonl => json_line(out, alert),
        HuntFormat::Ocsf => json_line(out, &ocsf::detection_finding(alert)),
        HuntFormat::Csv => Ok(()),
        HuntFormat::Table => {
            let time = alert.timestamp.as_str().map(str::to_string).unwrap_or_else(|| alert.timestamp.to_string());
            let matched: Vec<String> = alert.matched.iter().map(|(k, v)| format!("{k}={}", compact(v))).collect();
            writeln!(
                out,
                "{:<24}  {:<8}  {:<48}  {:<28}  {}",
                clip(&time, 24),
                alert.rule.level.unwrap_or("-"),
                clip(alert.rule.title, 48),
                clip(&format!("{}:{}", alert.source.file, alert.source.line), 28),
                clip(&matched.join(" "), 80),
            )
        }
    }
}

/// Appends one correlation alert in the chosen format.
/// A correlation or suppression alert from the ordered stage.
pub fn write_emitted(out: &mut Vec<u8>, alert: session::Emitted<'_>, format: HuntFormat) -> io::Result<()> {
    match alert {
        session::Emitted::Correlation(a) => write_correlation(out, a, format),
        session::Emitted::Suppression(a) => write_suppression(out, a, format),
    }
}

/// A suppression summary: the count of a rule's matches that a window held back.
pub fn write_suppression(out: &mut Vec<u8>, alert: &SuppressionAlertJson<'_>, format: HuntFormat) -> io::Result<()> {
    match format {
        HuntFormat::Jsonl => json_line(out, alert),
        HuntFormat::Ocsf => json_line(out, &ocsf::suppression_finding(alert)),
        HuntFormat::Csv => Ok(()),
        HuntFormat::Table => {
            let group: Vec<String> = alert.group.iter().map(|(k, v)| format!("{k}={}", compact(v))).collect();
            writeln!(
                out,
                "{:<24}  {:<8}  {:<48}  {:<28}  suppressed={} of {} {}",
                clip(&alert.timestamp, 24),
                clip(alert.rule.level.unwrap_or("-"), 8),
                clip(alert.rule.title, 48),
                clip(&group.join(" "), 28),
                alert.suppressed,
                alert.matches,
                alert.window.start,
            )
        }
    }
}

pub fn write_correlation(out: &mut Vec<u8>, alert: &CorrelationAlertJson<'_>, format: HuntFormat) -> io::Result<()> {
    match format {
        HuntFormat::Jsonl => json_line(out, alert),
        HuntFormat::Ocsf => json_line(out, &ocsf::correlation_finding(alert)),
        HuntFormat::Csv => Ok(()),
        HuntFormat::Table => {
            let measure = match (alert.count, alert.value) {
                (Some(n), _) => format!("count={n}"),
                (_, Some(v)) => format!("value={v}"),
                _ => String::new(),
            };
            let first = alert.events.first().map(|e| format!("{}:{}", e.file, e.line)).unwrap_or_default();
            window_row(out, &alert.timestamp, &alert.rule, &first, &measure, alert.group)
        }
    }
}

/// Appends one silence alert in the chosen format: as a correlation alert is, with the source's
/// last event where a correlation shows its first.
pub fn write_silence(out: &mut Vec<u8>, alert: &SilenceAlertJson<'_>, format: HuntFormat) -> io::Result<()> {
    match format {
        HuntFormat::Jsonl => json_line(out, alert),
        HuntFormat::Ocsf => json_line(out, &ocsf::silence_finding(alert)),
        HuntFormat::Csv => Ok(()),
        HuntFormat::Table => {
            let last = format!("{}:{}", alert.last_event.file, alert.last_event.line);
            window_row(out, &alert.timestamp, &alert.rule, &last, "silent", &alert.group)
        }
    }
}

/// A table line of an alert over a window (a correlation or a silence): its time, rule, the
/// event it points at, what it measured and its group.
fn window_row(
    out: &mut Vec<u8>,
    timestamp: &str,
    rule: &AlertRule<'_>,
    event: &str,
    measure: &str,
    group: &serde_json::Map<String, serde_json::Value>,
) -> io::Result<()> {
    let group: Vec<String> = group.iter().map(|(k, v)| format!("{k}={}", compact(v))).collect();
    writeln!(
        out,
        "{:<24}  {:<8}  {:<48}  {:<28}  {} {}",
        clip(timestamp, 24),
        rule.level.unwrap_or("-"),
        clip(rule.title, 48),
        clip(event, 28),
        measure,
        clip(&group.join(" "), 70),
    )
}

fn json_line(out: &mut Vec<u8>, value: &impl serde::Serialize) -> io::Result<()> {
    sigil_engine::session::json_line(out, value);
    Ok(())
}

/// A value on one table line: control characters (newlines, tabs) become spaces.
pub(crate) fn compact(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.split(char::is_control).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Shortens to `width` characters, keeping the end of long paths and the start of the rest.
pub(crate) fn clip(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if s.contains('/') {
        let tail: String = s.chars().skip(n - (width - 1)).collect();
        format!("…{tail}")
    } else {
        let head: String = s.chars().take(width - 1).collect();
        format!("{head}…")
    }
}
