//! Timestamps found in events: parsing them, and the parts the time modifiers compare.
//!
//! Accepted: RFC 3339 (`2024-05-01T10:00:00Z`, with offset or fraction), the same with a space
//! instead of `T` and with no offset (read as UTC), and epoch numbers (seconds, or milliseconds
//! when larger than 10^11). This module never reads a clock.

use crate::json::Json;
use crate::plan::TimePart;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};

/// Parses a timestamp held in a JSON value.
pub fn parse_value(value: &Json<'_>) -> Option<DateTime<FixedOffset>> {
    match value {
        Json::String(s) => parse_str(s),
        Json::Number(n) => {
            let n = n.as_f64()?;
            let millis = if n.abs() > 1e11 { n } else { n * 1000.0 };
            let dt = Utc.timestamp_millis_opt(millis as i64).single()?;
            Some(dt.fixed_offset())
        }
        _ => None,
    }
}

pub fn parse_str(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(dt);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(naive.and_utc().fixed_offset());
        }
    }
    None
}

/// The part of a timestamp that a time modifier compares, as written in the event (no time zone
/// conversion, as the specification says).
pub fn part(dt: &DateTime<FixedOffset>, part: TimePart) -> i64 {
    let local = dt.naive_local();
    i64::from(match part {
        TimePart::Minute => local.minute(),
        TimePart::Hour => local.hour(),
        TimePart::Day => local.day(),
        TimePart::Week => local.iso_week().week(),
        TimePart::Month => local.month(),
        TimePart::Year => return i64::from(local.year()),
    })
}

/// RFC 3339 in UTC with millisecond precision, the form alerts carry.
pub fn to_rfc3339_utc(dt: &DateTime<FixedOffset>) -> String {
    dt.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The same for milliseconds since the epoch (correlation windows); empty when out of range.
pub fn ms_to_rfc3339_utc(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map(|dt| to_rfc3339_utc(&dt.fixed_offset())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        let a = parse_str("2024-05-01T10:11:12Z").unwrap();
        let b = parse_str("2024-05-01 10:11:12.250").unwrap();
        let c = parse_value(&Json::from_value(&json!(1714558272))).unwrap();
        assert_eq!(part(&a, TimePart::Hour), 10);
        assert_eq!(part(&b, TimePart::Minute), 11);
        assert_eq!(to_rfc3339_utc(&c), "2024-05-01T10:11:12.000Z");
        assert!(parse_str("yesterday").is_none());
    }

    #[test]
    fn iso_week_and_offset_kept_local() {
        let dt = parse_str("2021-01-03T23:30:00+02:00").unwrap();
        assert_eq!(part(&dt, TimePart::Week), 53);
        assert_eq!(part(&dt, TimePart::Hour), 23);
    }
}
