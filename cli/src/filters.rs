//! The filters of `sigil hunt` (and of `sigil search` where they apply): which rules run
//! (`--min-level`, `--status`, `--exclude-status`, `--tag`, `--exclude-tag`, `--rule-id`) and
//! which events are looked at (`--from`, `--to`, on event time).
//!
//! Rule filters become the compiler's `Selection` (checked before a rule is lowered) or are
//! applied to a pack's plan; this module only parses the flags and resolves the time window. An
//! event without a readable time is outside any window: it is not evaluated, and counted.

use crate::input::{self, Raw};
use sigil_compiler::select::Selection;
use sigil_engine::alert::event_time_ms;

/// The rule filters.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct RuleFilterArgs {
    /// Only rules of this level or above (informational < low < medium < high < critical); rules
    /// without a level are left out.
    #[arg(long, value_name = "LEVEL")]
    pub min_level: Option<String>,
    /// Only rules with one of these statuses (comma-separated: stable, test, experimental,
    /// deprecated, unsupported, under-review); rules without a status are left out.
    #[arg(long, value_name = "STATUS,...", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Leave out rules with one of these statuses (comma-separated).
    #[arg(long, value_name = "STATUS,...", value_delimiter = ',')]
    pub exclude_status: Vec<String>,
    /// Only rules with a tag equal to TAG or under it at a dot (`attack.t1562` selects
    /// `attack.t1562.008`), ignoring case; repeatable (any of them).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Leave out rules with a tag equal to TAG or under it; repeatable.
    #[arg(long, value_name = "TAG")]
    pub exclude_tag: Vec<String>,
    /// Only the rule (or correlation) with this id or name, ignoring case; repeatable.
    #[arg(long, value_name = "ID")]
    pub rule_id: Vec<String>,
}

impl RuleFilterArgs {
    /// The compiler's selection, every name checked.
    pub fn selection(&self) -> Result<Selection, String> {
        let statuses = |list: &[String], flag: &str| {
            list.iter().map(|s| Selection::status(s).map_err(|e| format!("{flag}: {e}"))).collect::<Result<Vec<_>, _>>()
        };
        let tags = |list: &[String]| list.iter().map(|t| t.trim().to_ascii_lowercase()).collect::<Vec<_>>();
        Ok(Selection {
            min_level: self
                .min_level
                .as_deref()
                .map(|l| Selection::level_rank(l).map_err(|e| format!("--min-level: {e}")))
                .transpose()?,
            statuses: statuses(&self.status, "--status")?,
            excluded_statuses: statuses(&self.exclude_status, "--exclude-status")?,
            tags: tags(&self.tag),
            excluded_tags: tags(&self.exclude_tag),
            rule_ids: self.rule_id.iter().map(|id| id.trim().to_string()).collect(),
        })
    }
}

/// The event-time window.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct TimeWindowArgs {
    /// Only events at or after this time: RFC 3339 (`2026-11-20T09:00:00Z`), or a duration
    /// before the newest event of the inputs (`7d`, `12h`, `30m`, `45s`; needs files, not
    /// standard input). Events without a readable time are left out and counted.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only events at or before this time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

/// A bound as written: a time, or a duration back from the newest event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    At(i64),
    BeforeNewest(i64),
}

/// The resolved window, in milliseconds since the epoch, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeWindow {
    /// Whether an event at `time` is looked at: inside the window, and timed.
    pub fn admits(&self, time: Option<i64>) -> bool {
        time.is_some_and(|t| self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t <= to))
    }
}

impl TimeWindowArgs {
    /// The window, or `None` without --from and --to. A relative bound reads the inputs once
    /// first for the newest event time (`timestamp_field` as for alerts).
    pub fn resolve(
        &self,
        inputs: &[String],
        limits: &input::Limits,
        timestamp_field: Option<&str>,
    ) -> Result<Option<TimeWindow>, String> {
        let from = self.from.as_deref().map(|t| parse_bound(t, "--from")).transpose()?;
        let to = self.to.as_deref().map(|t| parse_bound(t, "--to")).transpose()?;
        if from.is_none() && to.is_none() {
            return Ok(None);
        }
        let relative = [from, to].iter().flatten().any(|b| matches!(b, Bound::BeforeNewest(_)));
        let newest = if relative {
            if inputs.iter().any(|i| i == "-") {
                return Err("a relative --from/--to (such as 7d) counts back from the newest event, so it needs \
                            files to read twice, not standard input: give the files, or an RFC 3339 time"
                    .into());
            }
            Some(newest_event_time(inputs, limits, timestamp_field)?.ok_or(
                "a relative --from/--to counts back from the newest event, but no event of the inputs has a readable time",
            )?)
        } else {
            None
        };
        let at = |b: Bound| match b {
            Bound::At(t) => t,
            Bound::BeforeNewest(d) => newest.unwrap_or(0).saturating_sub(d),
        };
        let window = TimeWindow { from: from.map(at), to: to.map(at) };
        if let (Some(f), Some(t)) = (window.from, window.to) {
            if f > t {
                return Err(format!(
                    "--from ({}) is after --to ({}): no event can be in the window",
                    sigil_engine::time::ms_to_rfc3339_utc(f),
                    sigil_engine::time::ms_to_rfc3339_utc(t)
                ));
            }
        }
        Ok(Some(window))
    }
}

fn parse_bound(text: &str, flag: &str) -> Result<Bound, String> {
    let text = text.trim();
    if let Some(dt) = sigil_engine::time::parse_str(text) {
        return Ok(Bound::At(dt.timestamp_millis()));
    }
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit_ms: i64 = match &text[digits.len()..] {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if unit_ms > 0 && n >= 0 => Ok(Bound::BeforeNewest(n.saturating_mul(unit_ms))),
        _ => Err(format!(
            "{flag} '{text}': give an RFC 3339 time (2026-11-20T09:00:00Z) or a duration before the newest event \
             (a number and s, m, h, d or w: 7d, 12h, 30m)"
        )),
    }
}

/// The newest readable event time in the inputs: a pass that parses events and evaluates none.
fn newest_event_time(inputs: &[String], limits: &input::Limits, field: Option<&str>) -> Result<Option<i64>, String> {
    let mut newest: Option<i64> = None;
    for path in inputs {
        let reader = input::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        input::read_raw(reader, limits, &mut |raw: Raw| {
            input::parse(&raw, &mut |_, record| {
                if let Ok(event) = record {
                    if let Some(t) = event_time_ms(&event.doc, field) {
                        newest = Some(newest.map_or(t, |n| n.max(t)));
                    }
                }
            });
        })
        .map_err(|e| format!("error while reading {path}: {e}"))?;
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_times_or_durations() {
        assert_eq!(parse_bound("1970-01-01T00:00:01Z", "--from"), Ok(Bound::At(1000)));
        assert_eq!(parse_bound("7d", "--from"), Ok(Bound::BeforeNewest(7 * 86_400_000)));
        assert_eq!(parse_bound("30m", "--to"), Ok(Bound::BeforeNewest(1_800_000)));
        assert!(parse_bound("7y", "--from").unwrap_err().contains("--from '7y'"));
        assert!(parse_bound("d", "--from").is_err());
        assert!(parse_bound("", "--from").is_err());
    }

    #[test]
    fn the_window_includes_its_ends_and_leaves_out_untimed_events() {
        let w = TimeWindow { from: Some(10), to: Some(20) };
        assert!(w.admits(Some(10)) && w.admits(Some(20)));
        assert!(!w.admits(Some(9)) && !w.admits(Some(21)) && !w.admits(None));
        assert!(TimeWindow { from: None, to: Some(5) }.admits(Some(-3)));
    }
}
