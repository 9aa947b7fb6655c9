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
//!   without a name stay in a `Data` list;
//! - an EventData name with spaces (Defender's `Threat Name`) is there twice: as written, and
//!   without the spaces (`ThreatName`), as SigmaHQ's rules and Sigma-aware EVTX tools name it.
//!
//! Members are moved, not copied (the strings stay borrowed from the event text), but for the
//! space-less twins. This module only rearranges; which fields a rule reads is
//! [`crate::event`]'s business.

use crate::json::{Json, Object};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

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
    let mut names_with_spaces = Vec::new();
    for (key, value) in event.into_members() {
        match (key.as_ref(), value) {
            ("System", Json::Object(s)) => system = Some(s),
            ("EventData", Json::Object(data)) => names_with_spaces = event_data(data, &mut flat),
            ("UserData", Json::Object(user)) => {
                // One element (`<LogFileCleared>`, say) holds the fields.
                for (_, inner) in user.into_members() {
                    match inner {
                        Json::Object(fields) => fields_of(fields, &mut flat),
                        other => flat.push_unchecked(Cow::Borrowed("UserData"), other),
                    }
                }
            }
            ("#attributes", _) => {}
            (_, other) => flat.push_unchecked(key, element_value(other)),
        }
    }
    for (key, value) in system.into_iter().flat_map(Object::into_members) {
        match (key.as_ref(), value) {
            ("Provider", Json::Object(provider)) => {
                for (name, attr) in attributes(provider) {
                    flat.push_unchecked(Cow::Owned(format!("Provider_{name}")), attr);
                }
            }
            (_, value) => flat.push_unchecked(key, element_value(value)),
        }
    }
    // Anything beside `Event` (a collector's own fields) is kept, after the event's.
    for (key, value) in top.into_members() {
        flat.push_unchecked(key, value);
    }
    // Members were added without looking for their keys (a record can have thousands of
    // fields): a repeated one keeps its first place and its last value, in one pass.
    flat.dedup_keys();
    // Last, so that every field the record (or its collector) has is there to be kept.
    add_space_less_twins(&mut flat, names_with_spaces);
    flat
}

/// EventData: named `Data` items by their names, other children as they are. Returns the
/// names that have spaces.
fn event_data<'a>(data: Object<'a>, flat: &mut Object<'a>) -> Vec<Cow<'a, str>> {
    let mut unnamed = Vec::new();
    let mut names_with_spaces = Vec::new();
    for (key, value) in data.into_members() {
        match (key.as_ref(), value) {
            ("#attributes", _) => {}
            ("Data", Json::Array(items)) => {
                for item in items {
                    data_item(item, flat, &mut names_with_spaces, &mut unnamed);
                }
            }
            ("Data", item @ Json::Object(_)) => data_item(item, flat, &mut names_with_spaces, &mut unnamed),
            (_, value) => insert_named(flat, &mut names_with_spaces, key, element_value(value)),
        }
    }
    match unnamed.len() {
        0 => {}
        1 => flat.push_unchecked(Cow::Borrowed("Data"), unnamed.pop().expect("one item")),
        _ => flat.push_unchecked(Cow::Borrowed("Data"), Json::Array(unnamed)),
    }
    names_with_spaces
}

/// One named EventData field; a name with spaces joins `names_with_spaces`.
fn insert_named<'a>(
    flat: &mut Object<'a>,
    names_with_spaces: &mut Vec<Cow<'a, str>>,
    name: Cow<'a, str>,
    value: Json<'a>,
) {
    if name.contains(char::is_whitespace) {
        names_with_spaces.push(name.clone());
    }
    flat.push_unchecked(name, value);
}

/// Each EventData name with spaces also without them, holding the same value. A `Data`
/// element's `Name` is an attribute, so any text; Windows uses this for Defender's `Threat Name`,
/// `Source Name`, `Process Name` and the like, which SigmaHQ's rules (following Sigma-aware EVTX
/// tools) call `ThreatName`, `SourceName`, `ProcessName`. UserData and System names are element
/// names, which XML does not allow spaces in. A field that already has the space-less name keeps
/// its value.
fn add_space_less_twins<'a>(flat: &mut Object<'a>, names_with_spaces: Vec<Cow<'a, str>>) {
    if names_with_spaces.is_empty() {
        return;
    }
    // One index of the (unique) keys, so that n names cost O(n), not O(n) each.
    let twins: Vec<(String, Json<'a>)> = {
        let index: HashMap<&str, &Json<'a>> = flat.iter().collect();
        let mut added = HashSet::new();
        names_with_spaces
            .iter()
            .filter_map(|name| {
                let twin: String = name.split_whitespace().collect();
                if twin.is_empty() || index.contains_key(twin.as_str()) || added.contains(&twin) {
                    return None;
                }
                let value = (*index.get(name.as_ref())?).clone();
                added.insert(twin.clone());
                Some((twin, value))
            })
            .collect()
    };
    for (twin, value) in twins {
        flat.push_unchecked(Cow::Owned(twin), value);
    }
}

/// One `<Data Name="...">value</Data>` element.
fn data_item<'a>(
    item: Json<'a>,
    flat: &mut Object<'a>,
    names_with_spaces: &mut Vec<Cow<'a, str>>,
    unnamed: &mut Vec<Json<'a>>,
) {
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
        Some(name) => insert_named(flat, names_with_spaces, name, text),
        None => unnamed.push(text),
    }
}

/// The children of a UserData element, by their names.
fn fields_of<'a>(fields: Object<'a>, flat: &mut Object<'a>) {
    for (key, value) in fields.into_members() {
        if key != "#attributes" {
            flat.push_unchecked(key, element_value(value));
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
    #[test]
    fn a_record_with_thousands_of_data_items_flattens_in_one_pass() {
        // Found by the evtx fuzz target: each field was inserted with a search of the others.
        let items: Vec<serde_json::Value> = (0..5000)
            .map(|i| serde_json::json!({"#attributes": {"Name": format!("F {}", i % 4000)}, "#text": i}))
            .collect();
        let event = serde_json::json!({"Event": {"System": {"EventID": 1}, "EventData": {"Data": items}}});
        let text = event.to_string();
        let flat = super::flatten(crate::Json::parse(&text).unwrap()).to_value();
        // 4000 distinct names, each with its space-less twin, and EventID.
        assert_eq!(flat.as_object().unwrap().len(), 8001);
        assert_eq!(flat["F 5"], 4005);
        assert_eq!(flat["F5"], 4005);
    }

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
    fn names_with_spaces_are_there_with_and_without_them() {
        // Defender 1116 as evtx writes it (names as keys) and as `Data` items.
        let keyed = r##"{"Event":{"System":{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational"},"EventData":{"Threat Name":"HackTool:Win32/Mimikatz.D","Source Name":"Real-Time Protection","Process Name":"C:\\Windows\\explorer.exe","Path":"file:_C:\\m.exe"}}}"##;
        let items = r##"{"Event":{"System":{"EventID":1116,"Channel":"Microsoft-Windows-Windows Defender/Operational"},"EventData":{"Data":[{"#attributes":{"Name":"Threat Name"},"#text":"HackTool:Win32/Mimikatz.D"},{"#attributes":{"Name":"Source Name"},"#text":"Real-Time Protection"},{"#attributes":{"Name":"Process Name"},"#text":"C:\\Windows\\explorer.exe"},{"#attributes":{"Name":"Path"},"#text":"file:_C:\\m.exe"}]}}}"##;
        for text in [keyed, items] {
            let got = flat(text);
            assert_eq!(got["Threat Name"], "HackTool:Win32/Mimikatz.D");
            assert_eq!(got["ThreatName"], "HackTool:Win32/Mimikatz.D");
            assert_eq!(got["Source Name"], "Real-Time Protection");
            assert_eq!(got["SourceName"], "Real-Time Protection");
            assert_eq!(got["ProcessName"], "C:\\Windows\\explorer.exe");
            assert_eq!(got["Path"], "file:_C:\\m.exe");
            assert_eq!(got.as_object().unwrap().len(), 9, "{got}");
        }
        assert_eq!(flat(keyed), flat(items));
    }

    #[test]
    fn a_field_with_the_space_less_name_keeps_its_value() {
        // Whether it comes before or after the name with spaces, in EventData or beside `Event`.
        let got = flat(
            r##"{"Event":{"System":{"EventID":5007,"Channel":"c"},"EventData":{"NewValue":"kept","New Value":"n","Old Value":"o","Threat  Name":"t","OldValue":"kept too"}},"ThreatName":"the collector's"}"##,
        );
        assert_eq!(got["NewValue"], "kept");
        assert_eq!(got["OldValue"], "kept too");
        assert_eq!(got["ThreatName"], "the collector's");
        assert_eq!(got["New Value"], "n");
    }

    #[test]
    fn other_layouts_are_left_alone() {
        let text = r#"{"Event":"not a record","EventID":4688}"#;
        assert_eq!(flat(text), serde_json::from_str::<serde_json::Value>(text).unwrap());
    }
}
