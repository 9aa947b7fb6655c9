//! Event layouts that bury Sigma's field names, laid flat so that the names reach their values.
//!
//! Windows events as the `evtx` crate and evtx_dump write them as JSON:
//! `{"Event": {"System": {...}, "EventData": {...} | "UserData": {...}}}`. Sigma rules name the
//! event's data fields directly (`CommandLine`, `TargetUserName`) and the system fields by
//! their element names (`EventID`, `Channel`, `Computer`, `Provider_Name`), so the flat form
//! has EventData and UserData fields at the top level, then the System fields:
//! - an element with attributes and text (`{"#attributes": {...}, "#text": 4624}`) is its text;
//! - an element with attributes only is an object of them (`TimeCreated.SystemTime`);
//! - `Provider`'s attributes become `Provider_Name`, `Provider_Guid`, `Provider_EventSourceName`;
//! - EventData items written as `Data` elements with a `Name` attribute become that name; items
//!   without a name stay in a `Data` list.
//!
//! Members are moved, not copied: the strings stay borrowed from the event text. This module
//! only rearranges; which fields a rule reads is [`crate::event`]'s business.

use crate::json::{Json, Object};
use std::borrow::Cow;

/// The event laid flat when it has a known nested layout; otherwise unchanged.
pub fn flatten(doc: Json<'_>) -> Json<'_> {
    match doc {
        Json::Object(top) if is_windows_xml(&top) => Json::Object(flatten_windows_xml(top)),
        other => other,
    }
}

fn is_windows_xml(top: &Object<'_>) -> bool {
    matches!(top.get("Event"), Some(Json::Object(event)) if matches!(event.get("System"), Some(Json::Object(_))))
}

fn flatten_windows_xml(mut top: Object<'_>) -> Object<'_> {
    let Some(Json::Object(event)) = top.remove("Event") else { unreachable!("checked by is_windows_xml") };
    let mut flat = Object::default();
    let mut system = None;
    for (key, value) in event.into_members() {
        match (key.as_ref(), value) {
            ("System", Json::Object(s)) => system = Some(s),
            ("EventData", Json::Object(data)) => event_data(data, &mut flat),
            ("UserData", Json::Object(user)) => {
                // One element (`<LogFileCleared>`, say) holds the fields.
                for (_, inner) in user.into_members() {
                    match inner {
                        Json::Object(fields) => fields_of(fields, &mut flat),
                        other => flat.insert(Cow::Borrowed("UserData"), other),
                    }
                }
            }
            ("#attributes", _) => {}
            (_, other) => flat.insert(key, element_value(other)),
        }
    }
    for (key, value) in system.into_iter().flat_map(Object::into_members) {
        match (key.as_ref(), value) {
            ("Provider", Json::Object(provider)) => {
                for (name, attr) in attributes(provider) {
                    flat.insert(Cow::Owned(format!("Provider_{name}")), attr);
                }
            }
            (_, value) => flat.insert(key, element_value(value)),
        }
    }
    // Anything beside `Event` (a collector's own fields) is kept, after the event's.
    for (key, value) in top.into_members() {
        flat.insert(key, value);
    }
    flat
}

/// EventData: named `Data` items by their names, other children as they are.
fn event_data<'a>(data: Object<'a>, flat: &mut Object<'a>) {
    let mut unnamed = Vec::new();
    for (key, value) in data.into_members() {
        match (key.as_ref(), value) {
            ("#attributes", _) => {}
            ("Data", Json::Array(items)) => {
                for item in items {
                    data_item(item, flat, &mut unnamed);
                }
            }
            ("Data", item @ Json::Object(_)) => data_item(item, flat, &mut unnamed),
            (_, value) => flat.insert(key, element_value(value)),
        }
    }
    match unnamed.len() {
        0 => {}
        1 => flat.insert(Cow::Borrowed("Data"), unnamed.pop().expect("one item")),
        _ => flat.insert(Cow::Borrowed("Data"), Json::Array(unnamed)),
    }
}

/// One `<Data Name="...">value</Data>` element.
fn data_item<'a>(item: Json<'a>, flat: &mut Object<'a>, unnamed: &mut Vec<Json<'a>>) {
    let Json::Object(mut element) = item else {
        unnamed.push(item);
        return;
    };
    let name = match element.get("#attributes").and_then(|a| a.get("Name")) {
        Some(Json::String(name)) => Some(name.clone()),
        _ => None,
    };
    let text = element.remove("#text").unwrap_or(Json::Null);
    match name {
        Some(name) => flat.insert(name, text),
        None => unnamed.push(text),
    }
}

/// The children of a UserData element, by their names.
fn fields_of<'a>(fields: Object<'a>, flat: &mut Object<'a>) {
    for (key, value) in fields.into_members() {
        if key != "#attributes" {
            flat.insert(key, element_value(value));
        }
    }
}

/// An element's value: its text when it has one, its attributes when it has only those.
fn element_value(value: Json<'_>) -> Json<'_> {
    match value {
        Json::Object(mut element) if element.get("#attributes").is_some() || element.get("#text").is_some() => {
            match element.remove("#text") {
                Some(text) => text,
                None => match element.remove("#attributes") {
                    Some(Json::Object(attrs)) if element.is_empty() => Json::Object(attrs),
                    Some(attrs) => {
                        element.insert(Cow::Borrowed("#attributes"), attrs);
                        Json::Object(element)
                    }
                    None => Json::Object(element),
                },
            }
        }
        other => other,
    }
}

fn attributes(mut element: Object<'_>) -> Vec<(Cow<'_, str>, Json<'_>)> {
    match element.remove("#attributes") {
        Some(Json::Object(attrs)) => attrs.into_members(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(text: &str) -> serde_json::Value {
        flatten(Json::parse(text).unwrap()).to_value()
    }

    #[test]
    fn sysmon_record_as_evtx_writes_it() {
        let got = flat(
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770}"}},"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"2021-04-26T15:03:05.99Z"}},"Correlation":null,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"fs02"},"EventData":{"Image":"C:\\cmd.exe","ProcessId":3068}}}"##,
        );
        assert_eq!(got["Image"], "C:\\cmd.exe");
        assert_eq!(got["ProcessId"], 3068);
        assert_eq!(got["EventID"], 1);
        assert_eq!(got["Channel"], "Microsoft-Windows-Sysmon/Operational");
        assert_eq!(got["Provider_Name"], "Microsoft-Windows-Sysmon");
        assert_eq!(got["Provider_Guid"], "{5770}");
        assert_eq!(got["TimeCreated"]["SystemTime"], "2021-04-26T15:03:05.99Z");
        assert!(got.get("Event").is_none() && got.get("#attributes").is_none());
    }

    #[test]
    fn named_data_items_qualified_ids_and_user_data() {
        let got = flat(
            r##"{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Channel":"System"},"EventData":{"Data":[{"#attributes":{"Name":"ServiceName"},"#text":"evil"},{"#text":"loose"}]}}}"##,
        );
        assert_eq!(got["EventID"], 7045);
        assert_eq!(got["ServiceName"], "evil");
        assert_eq!(got["Data"], "loose");
        let got = flat(
            r##"{"Event":{"System":{"EventID":1102,"Channel":"Security"},"UserData":{"LogFileCleared":{"#attributes":{"xmlns":"y"},"SubjectUserName":"bob"}}}}"##,
        );
        assert_eq!(got["SubjectUserName"], "bob");
        assert_eq!(got["EventID"], 1102);
    }

    #[test]
    fn other_layouts_are_left_alone() {
        let text = r#"{"Event":"not a record","EventID":4688}"#;
        assert_eq!(flat(text), serde_json::from_str::<serde_json::Value>(text).unwrap());
    }
}
