//! Enrichment: lookup tables joined onto events before any rule runs, so that rules and alerts
//! can use what the log itself does not say (a user's department, an address's owner).
//!
//! A table has a name, the event field it joins on, and columns. When the field's value equals
//! a row's key (compared case-insensitively, as Sigma compares), the event gains an object
//! member named after the table holding that row's columns: a table `assets` joined on
//! `DestinationIp` with an `owner` column gives rules the field `assets.owner`. Reading the
//! table from a file is the caller's job.

use crate::event;
use crate::json::{Json, Object};
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Lookup {
    name: String,
    key_field: String,
    columns: Vec<String>,
    /// Folded key → the row's column values.
    rows: HashMap<String, Vec<String>>,
}

impl Lookup {
    /// A table: `rows` are (key, values) with one value per column. A later row with the same
    /// key replaces an earlier one.
    pub fn new(
        name: &str,
        key_field: &str,
        columns: Vec<String>,
        rows: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Result<Lookup, String> {
        if name.is_empty() || key_field.is_empty() {
            return Err("a lookup needs a name and a field to join on".into());
        }
        let mut table = HashMap::new();
        for (key, values) in rows {
            if values.len() != columns.len() {
                return Err(format!(
                    "a row of lookup '{name}' (key '{key}') has {} values for {} columns",
                    values.len(),
                    columns.len()
                ));
            }
            table.insert(key.to_lowercase(), values);
        }
        Ok(Lookup { name: name.to_string(), key_field: key_field.to_string(), columns, rows: table })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_field(&self) -> &str {
        &self.key_field
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Joins the table onto `doc`; true when a row matched and the event gained its columns.
    pub fn apply<'a>(&'a self, doc: &mut Json<'a>) -> bool {
        let key = match event::lookup(doc, &self.key_field).first() {
            Some(Json::String(s)) => s.to_lowercase(),
            Some(Json::Number(n)) => n.to_string(),
            Some(Json::Bool(b)) => b.to_string(),
            _ => return false,
        };
        let (Some(values), Json::Object(members)) = (self.rows.get(&key), doc) else { return false };
        let mut row = Object::default();
        for (column, value) in self.columns.iter().zip(values) {
            row.insert(Cow::Borrowed(column.as_str()), Json::String(Cow::Borrowed(value.as_str())));
        }
        members.insert(Cow::Borrowed(self.name.as_str()), Json::Object(row));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Lookup {
        let rows = [("ALICE".to_string(), vec!["Finance".to_string(), "bob".to_string()])];
        Lookup::new("hr", "user.name", vec!["department".into(), "manager".into()], rows).unwrap()
    }

    #[test]
    fn a_matching_row_adds_its_columns_under_the_table_name() {
        let table = users();
        let mut doc = Json::parse(r#"{"user": {"name": "alice"}, "action": "login"}"#).unwrap();
        assert!(table.apply(&mut doc));
        let value = doc.to_value();
        assert_eq!(value["hr"]["department"], "Finance");
        assert_eq!(value["hr"]["manager"], "bob");
        assert_eq!(event::lookup(&doc, "hr.department").first().and_then(Json::as_str), Some("Finance"));
    }

    #[test]
    fn no_key_or_no_row_leaves_the_event_alone() {
        let table = users();
        for text in [r#"{"user": {"name": "mallory"}}"#, r#"{"action": "login"}"#] {
            let mut doc = Json::parse(text).unwrap();
            assert!(!table.apply(&mut doc));
            assert_eq!(doc.to_value(), serde_json::from_str::<serde_json::Value>(text).unwrap());
        }
    }

    #[test]
    fn rows_must_fit_the_columns() {
        let err = Lookup::new("t", "f", vec!["a".into()], [("k".to_string(), vec![])]).unwrap_err();
        assert!(err.contains("0 values for 1 columns"), "{err}");
    }
}
