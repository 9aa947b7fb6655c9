//! `--lookup NAME=FILE.csv`: reads a CSV table for [`sigil_engine::enrich`].
//!
//! The header row names the columns; the first column is the event field to join on (a Sigma
//! field name, dotted for nested fields), the others become the fields `NAME.COLUMN`.

use sigil_engine::enrich::Lookup;

/// Parses `NAME=FILE.csv` and reads the table.
pub fn load(spec: &str) -> Result<Lookup, String> {
    let (name, path) = spec
        .split_once('=')
        .map(|(n, p)| (n.trim(), p.trim()))
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        .ok_or_else(|| format!("--lookup expects NAME=FILE.csv, got '{spec}'"))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read the lookup table {path}: {e}"))?;
    let header = reader.headers().map_err(|e| csv_error(path, &e))?.clone();
    let Some((key_field, columns)) = header
        .iter()
        .collect::<Vec<_>>()
        .split_first()
        .map(|(k, c)| (k.to_string(), c.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
    else {
        return Err(format!("{path}: the header row must name the field to join on, then the columns"));
    };
    if columns.is_empty() {
        return Err(format!("{path}: the header names only the join field '{key_field}': add the columns to join"));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        // The csv crate checks that every row is as wide as the header.
        let record = record.map_err(|e| csv_error(path, &e))?;
        let mut fields = record.iter().map(str::to_string);
        let key = fields.next().unwrap_or_default();
        rows.push((key, fields.collect()));
    }
    Lookup::new(name, &key_field, columns, rows).map_err(|e| format!("{path}: {e}"))
}

/// `FILE:LINE: what is wrong`.
fn csv_error(path: &str, e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos: Some(pos), expected_len, len } => {
            format!("{path}:{}: a row of {len} fields, but the header has {expected_len}", pos.line())
        }
        _ => match e.position() {
            Some(pos) => format!("{path}:{}: {e}", pos.line()),
            None => format!("{path}: {e}"),
        },
    }
}
