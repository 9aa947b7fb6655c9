//! Printing alerts: JSON Lines (the stable contract) or a table for people.

use crate::HuntFormat;
use sigil_engine::Alert;
use std::io::{self, Write};

pub struct AlertWriter<W: Write> {
    out: W,
    format: HuntFormat,
    header_written: bool,
}

impl<W: Write> AlertWriter<W> {
    pub fn new(out: W, format: HuntFormat) -> Self {
        AlertWriter { out, format, header_written: false }
    }

    pub fn write(&mut self, alert: &Alert<'_>) -> io::Result<()> {
        match self.format {
            HuntFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, alert)?;
                self.out.write_all(b"\n")
            }
            HuntFormat::Table => self.write_row(alert),
        }
    }

    fn write_row(&mut self, alert: &Alert<'_>) -> io::Result<()> {
        if !self.header_written {
            writeln!(self.out, "{:<24}  {:<8}  {:<48}  {:<28}  MATCHED", "TIME", "LEVEL", "RULE", "SOURCE")?;
            self.header_written = true;
        }
        let time = alert.timestamp.as_str().map(str::to_string).unwrap_or_else(|| alert.timestamp.to_string());
        let matched: Vec<String> = alert.matched.iter().map(|(k, v)| format!("{k}={}", compact(v))).collect();
        writeln!(
            self.out,
            "{:<24}  {:<8}  {:<48}  {:<28}  {}",
            clip(&time, 24),
            alert.rule.level.unwrap_or("-"),
            clip(alert.rule.title, 48),
            clip(&format!("{}:{}", alert.source.file, alert.source.line), 28),
            clip(&matched.join(" "), 80),
        )
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Shortens to `width` characters, keeping the end of long paths and the start of the rest.
fn clip(s: &str, width: usize) -> String {
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
