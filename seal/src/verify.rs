//! Verification: sealed lines in, findings out. Checks a sealed file (docs/seal-format.md) and
//! reports, by line and sequence number, every record modified, forged, deleted, inserted or moved, a
//! tail cut off and a line cut short.
//!
//! Each line is first checked on its own (its MAC); then the order of the authentic records is
//! compared with their sequence numbers. The records that are in place are the longest run of
//! increasing sequence numbers, so one moved record is reported once and an edit never hides
//! the findings after it. Reads from any `io::BufRead` the caller gives; never prints, never
//! shows key bytes, never changes the file.
//!
//! Memory is bounded whatever the file claims: a line is held only up to a limit
//! ([`DEFAULT_MAX_LINE_BYTES`], or the caller's) and a longer one is measured in chunks and
//! reported, never buffered; a gap in the sequence numbers (a record claiming seq 2^60) is
//! handled as ranges, so its cost is that of the lines read, not of the gap.

use crate::{Kind, SealKey, FORMAT, GENESIS};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead};

/// The longest line verification reads by default: 64 MiB. A sealed alert holds its event (at
/// most `--max-line-bytes`, 16 MiB by default, as read) and the fields that matched, escaped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

/// One line as the layout gives it (fields in any order; none other allowed).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine<'a> {
    seal: &'a str,
    seq: u64,
    prev: &'a str,
    mac: &'a str,
    #[serde(borrow)]
    content: &'a RawValue,
}

/// What a checkpoint or closing record holds.
#[derive(Deserialize)]
struct Tally {
    records: u64,
    chain: String,
}

/// A line whose MAC holds.
struct Authentic {
    line: u64,
    kind: Kind,
    seq: u64,
    prev: [u8; 32],
    mac: [u8; 32],
    tally: Option<Tally>,
}

/// A line that is not an authentic record, and the sequence number it claims, if readable.
struct Damaged {
    line: u64,
    claimed: Option<u64>,
    reason: String,
}

enum Checked {
    Authentic(Authentic),
    Damaged(Damaged),
}

/// One thing found wrong.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// 1-based line of the file the finding is about.
    pub line: u64,
    /// The sequence number that belongs at this line, after the records in place before it.
    pub expected: Option<u64>,
    /// The sequence number found there (`None`: unreadable, or the end of the file).
    pub found: Option<u64>,
    /// modified, inserted, duplicated, deleted, reordered, truncated, spliced, or wrong_key.
    pub kind: &'static str,
    pub message: String,
}

/// What a whole file came to.
pub struct Report {
    pub lines: u64,
    pub records: u64,
    pub checkpoints: u64,
    pub findings: Vec<Finding>,
}

/// Checks a sealed file read from `input`, reading lines of up to [`DEFAULT_MAX_LINE_BYTES`].
pub fn verify(input: impl BufRead, key: &SealKey) -> io::Result<Report> {
    verify_lines(input, key, DEFAULT_MAX_LINE_BYTES)
}

/// Checks a sealed file read from `input`; a line longer than `max_line_bytes` is not read (nor
/// held) but reported as a damaged line, with its length and the limit.
pub fn verify_lines(mut input: impl BufRead, key: &SealKey, max_line_bytes: usize) -> io::Result<Report> {
    let mut checked = Vec::new();
    let mut bytes = Vec::new();
    let mut line = 0u64;
    let mut cut_short = None;
    let mut claimed_key = None;
    loop {
        let (ended, too_long) = match read_line(&mut input, &mut bytes, max_line_bytes)? {
            Read::End => break,
            Read::Line { ended } => (ended, None),
            Read::TooLong { bytes, ended } => (ended, Some(bytes)),
        };
        line += 1;
        if !ended {
            cut_short = Some(line);
        }
        checked.push(match too_long {
            None => check_line(line, &bytes, key, &mut claimed_key),
            Some(length) => Checked::Damaged(Damaged {
                line,
                claimed: None,
                reason: format!(
                    "line {line} is {length} bytes, longer than the line limit of {max_line_bytes} bytes \
                     (sigil verify --max-line-bytes): not read, so not verified"
                ),
            }),
        });
    }
    let mut report = analyse(&checked, claimed_key, &key.id());
    if let Some(line) = cut_short {
        report.findings.push(Finding {
            line,
            expected: None,
            found: None,
            kind: "truncated",
            message: "the last line has no line end: the file was cut in the middle of a record".into(),
        });
    }
    report.lines = line;
    report.findings.sort_by_key(|f| f.line);
    Ok(report)
}

fn check_line(line: u64, text: &[u8], key: &SealKey, claimed_key: &mut Option<String>) -> Checked {
    let damaged = |claimed, reason: String| Checked::Damaged(Damaged { line, claimed, reason });
    let record: RecordLine = match std::str::from_utf8(text)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(t).map_err(|e| format!("{e}")))
    {
        Ok(r) => r,
        Err(e) => return damaged(None, format!("not a sealed record ({e}): the line was modified or damaged")),
    };
    let seq = Some(record.seq);
    let Some(kind) = Kind::parse(record.seal) else {
        return damaged(seq, format!("unknown record kind '{}': the line was modified", record.seal));
    };
    let content = record.content.get().as_bytes();
    if kind == Kind::Open && claimed_key.is_none() {
        *claimed_key = serde_json::from_slice::<serde_json::Value>(content)
            .ok()
            .and_then(|v| v.get("key_id").and_then(|k| k.as_str()).map(str::to_string));
    }
    let (Some(prev), Some(mac)) = (digest(record.prev), digest(record.mac)) else {
        return damaged(seq, "prev or mac is not 64 hex digits: the line was modified".into());
    };
    if !key.verify(kind, record.seq, &prev, content, &mac) {
        return damaged(seq, "the MAC does not match: the record was modified, or forged".into());
    }
    // The MAC leaves the line's layout open; readers that take the format at its word (the
    // content last, lines found by how they start) would read a relaid line otherwise.
    if text != layout(kind, record.seq, &prev, &mac, content).as_slice() {
        return damaged(seq, "not laid out as the format writes a record: the line was modified".into());
    }
    let tally = matches!(kind, Kind::Checkpoint | Kind::End).then(|| serde_json::from_slice(content).ok()).flatten();
    Checked::Authentic(Authentic { line, kind, seq: record.seq, prev, mac, tally })
}

/// A record's line, exactly as [`crate::SealedWriter`] writes it (without its line end).
fn layout(kind: Kind, seq: u64, prev: &[u8; 32], mac: &[u8; 32], content: &[u8]) -> Vec<u8> {
    let (kind, prev, mac) = (kind.as_str(), hex::encode(prev), hex::encode(mac));
    let mut line = format!(r#"{{"seal":"{kind}","seq":{seq},"prev":"{prev}","mac":"{mac}","content":"#).into_bytes();
    line.extend_from_slice(content);
    line.push(b'}');
    line
}

fn digest(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok().map(|_| out)
}

fn analyse(checked: &[Checked], claimed_key: Option<String>, key_id: &str) -> Report {
    let authentic: Vec<&Authentic> = checked
        .iter()
        .filter_map(|c| match c {
            Checked::Authentic(a) => Some(a),
            Checked::Damaged(_) => None,
        })
        .collect();
    let mut report = Report { lines: 0, records: 0, checkpoints: 0, findings: Vec::new() };
    if checked.is_empty() {
        let message = "the file is empty: not even its opening record is left".to_string();
        report.findings.push(Finding { line: 1, expected: Some(0), found: None, kind: "truncated", message });
        return report;
    }
    if authentic.is_empty() {
        let message = match claimed_key {
            Some(id) if id == key_id => {
                format!("no record verifies, though the file names this key (id {id}): every record was modified")
            }
            Some(id) => format!("no record verifies with this key: the file was sealed with key id {id}; use that key"),
            None => "no record verifies with this key: the wrong key, or not a sealed file".into(),
        };
        report.findings.push(Finding { line: 1, expected: Some(0), found: None, kind: "wrong_key", message });
        return report;
    }
    let in_place = longest_increasing_run(&authentic);
    let mut placed = vec![false; authentic.len()];
    for &i in &in_place {
        placed[i] = true;
    }
    let mac_of: HashMap<u64, ([u8; 32], u64)> = authentic.iter().map(|a| (a.seq, (a.mac, a.line))).collect();
    let mut present: Vec<u64> = authentic.iter().map(|a| a.seq).collect();
    present.sort_unstable();
    present.dedup();
    let line_of_placed: HashMap<u64, u64> = in_place.iter().map(|&i| (authentic[i].seq, authentic[i].line)).collect();

    // Walk the lines in order, knowing the last record in place before each.
    let mut last_placed: Option<&Authentic> = None;
    let mut damaged_since = Vec::new();
    let mut a_index = 0;
    for c in checked {
        let expected = last_placed.map_or(0, |a| a.seq.saturating_add(1)).saturating_add(damaged_since.len() as u64);
        match c {
            Checked::Damaged(d) => {
                let forged_copy = d.claimed.and_then(|s| mac_of.get(&s)).map(|&(_, line)| line);
                let (kind, message) = match forged_copy {
                    Some(line) => (
                        "inserted",
                        format!(
                            "{}; it claims the sequence number of line {line}: a forged record was inserted",
                            d.reason
                        ),
                    ),
                    None => {
                        damaged_since.push(d);
                        ("modified", d.reason.clone())
                    }
                };
                report.findings.push(Finding {
                    line: d.line,
                    expected: Some(expected),
                    found: d.claimed,
                    kind,
                    message,
                });
            }
            Checked::Authentic(a) => {
                let is_placed = placed[a_index];
                a_index += 1;
                if !is_placed {
                    let (kind, message) = match line_of_placed.get(&a.seq) {
                        Some(line) => ("duplicated", format!("a copy of the record at line {line} was inserted here")),
                        None => ("reordered", "an authentic record out of order: it was moved".to_string()),
                    };
                    report.findings.push(Finding {
                        line: a.line,
                        expected: Some(expected),
                        found: Some(a.seq),
                        kind,
                        message,
                    });
                    continue;
                }
                let first_missing = last_placed.map_or(0, |p| p.seq.saturating_add(1));
                missing_before(a, first_missing, &damaged_since, &present, &mut report);
                check_link(a, &mac_of, &mut report);
                last_placed = Some(a);
                damaged_since.clear();
                match a.kind {
                    Kind::Record => report.records += 1,
                    Kind::Checkpoint => report.checkpoints += 1,
                    Kind::Open | Kind::End => {}
                }
            }
        }
    }
    let last = authentic[*in_place.last().expect("there is an authentic record")];
    if last.kind != Kind::End {
        let line = checked.len() as u64 + 1;
        report.findings.push(Finding {
            line,
            expected: Some(last.seq.saturating_add(1)),
            found: None,
            kind: "truncated",
            message: format!(
                "the file ends without its closing record (the last record in place is seq {} at line {}): \
                 the tail was cut off, or the writer was stopped before it finished",
                last.seq, last.line
            ),
        });
    }
    report
}

/// Sequence numbers skipped just before the record in place `a` (after `first_missing - 1`),
/// less those found elsewhere (moved, in `present`, sorted) and those whose slot a damaged line
/// took (modified). Kept as ranges (start → inclusive end): a gap costs what the lines around
/// it cost, however many numbers it spans.
fn missing_before(a: &Authentic, first_missing: u64, damaged: &[&Damaged], present: &[u64], report: &mut Report) {
    let mut gone: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next = first_missing;
    let inside = &present[present.partition_point(|&s| s < first_missing)..present.partition_point(|&s| s < a.seq)];
    for &s in inside {
        if s > next {
            gone.insert(next, s - 1);
        }
        next = s + 1;
    }
    if next < a.seq {
        gone.insert(next, a.seq - 1);
    }
    for d in damaged {
        let claimed = d.claimed.and_then(|c| {
            let (&start, &end) = gone.range(..=c).next_back()?;
            (c <= end).then_some((start, end, c))
        });
        let Some((start, end, taken)) = claimed.or_else(|| gone.first_key_value().map(|(&s, &e)| (s, e, s))) else {
            break;
        };
        gone.remove(&start);
        if start < taken {
            gone.insert(start, taken - 1);
        }
        if taken < end {
            gone.insert(taken + 1, end);
        }
    }
    let (Some((&from, _)), Some((_, &to))) = (gone.first_key_value(), gone.last_key_value()) else { return };
    let count: u64 = gone.iter().map(|(start, end)| end - start + 1).sum();
    let which = if from == to { format!("seq {from} is") } else { format!("{count} records (seq {from} to {to}) are") };
    report.findings.push(Finding {
        line: a.line,
        expected: Some(first_missing + damaged.len() as u64),
        found: Some(a.seq),
        kind: "deleted",
        message: format!("{which} missing before this line"),
    });
}

/// The record's `prev` must be the MAC of the record before it, wherever that is now.
fn check_link(a: &Authentic, mac_of: &HashMap<u64, ([u8; 32], u64)>, report: &mut Report) {
    let problem = match a.seq.checked_sub(1) {
        None if a.kind != Kind::Open || a.prev != GENESIS => Some(format!("seq 0 is not a {FORMAT} opening record")),
        None => None,
        Some(before) => match mac_of.get(&before) {
            Some((mac, line)) if *mac != a.prev => Some(format!(
                "this record does not follow seq {before} (line {line}): records of another sealed file were mixed in"
            )),
            _ => None,
        },
    };
    let tally_problem = match (&a.kind, &a.tally) {
        (Kind::Checkpoint | Kind::End, None) => Some("a checkpoint or closing record without its count".to_string()),
        (Kind::Checkpoint | Kind::End, Some(t)) if t.chain != hex::encode(a.prev) => {
            Some(format!("its chain digest is not its prev (count {})", t.records))
        }
        _ => None,
    };
    if let Some(message) = problem.or(tally_problem) {
        report.findings.push(Finding {
            line: a.line,
            expected: Some(a.seq),
            found: Some(a.seq),
            kind: "spliced",
            message,
        });
    }
}

/// Indices (into `records`) of a longest run of strictly increasing sequence numbers, in
/// order: the records that are in place (O(n log n)).
fn longest_increasing_run(records: &[&Authentic]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = vec![None; records.len()];
    for (i, r) in records.iter().enumerate() {
        let at = tails.partition_point(|&t| records[t].seq < r.seq);
        before[i] = at.checked_sub(1).map(|p| tails[p]);
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut run = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.push(i);
        at = before[i];
    }
    run.reverse();
    run
}

enum Read {
    End,
    Line { ended: bool },
    TooLong { bytes: u64, ended: bool },
}

/// The next line into `buf` (cleared, without its `\n`), holding at most `max` bytes of it: a
/// longer line is read on to its end in the reader's chunks and only measured.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Read> {
    buf.clear();
    let (mut total, mut too_long) = (0u64, false);
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(match (too_long, total) {
                (true, bytes) => Read::TooLong { bytes, ended: false },
                (false, 0) => Read::End,
                (false, _) => Read::Line { ended: false },
            });
        }
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(chunk.len());
        if !too_long && buf.len() + take > max {
            too_long = true;
            *buf = Vec::new();
        } else if !too_long {
            buf.extend_from_slice(&chunk[..take]);
        }
        total += take as u64;
        input.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(if too_long { Read::TooLong { bytes: total, ended: true } } else { Read::Line { ended: true } });
        }
    }
}
