//! Which events a logsource *selects*: an edge policy's logsource entries and silence rules
//! name sources, and an event belongs to one when its source (recognised as rule routing
//! recognises it, or declared with `--logsource`) has every field the logsource sets.
//!
//! Unlike rule routing, which runs every rule on an event it cannot place, selection is strict:
//! an event of unrecognised source is selected only by an empty logsource, so a policy never
//! drops or samples events it could not place. This module decides membership; it never
//! evaluates rules.

use crate::eval::Routing;
use crate::json::Json;
use crate::plan::LogSource;
use crate::route::{self, Source};

/// The source an event is selected by: the declared one, else the one routing recognises.
pub fn event_source(event: &Json<'_>, routing: &Routing) -> Source {
    match routing {
        Routing::Declared(declared) => Source::Declared(declared.clone()),
        Routing::Auto | Routing::All => route::recognize(event),
    }
}

/// Whether an event of `source` is one of the events `logsource` names.
pub fn selects(source: &Source, logsource: &LogSource) -> bool {
    match source {
        Source::Unknown => is_empty(logsource),
        known => known.admits(logsource),
    }
}

/// A logsource that sets no field: every event.
pub fn is_empty(logsource: &LogSource) -> bool {
    logsource.product.is_none() && logsource.category.is_none() && logsource.service.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unrecognised_events_are_selected_only_by_an_empty_logsource() {
        let unknown = json!({"a": 1});
        let source = event_source(&Json::from_value(&unknown), &Routing::Auto);
        assert!(selects(&source, &LogSource::default()));
        assert!(!selects(&source, &LogSource::new(Some("windows"), None, None)));
    }

    #[test]
    fn recognised_and_declared_sources_select_by_every_field_set() {
        let sysmon_network = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3});
        let source = event_source(&Json::from_value(&sysmon_network), &Routing::Auto);
        assert!(selects(&source, &LogSource::new(None, Some("network_connection"), None)));
        assert!(selects(&source, &LogSource::new(Some("windows"), None, Some("sysmon"))));
        assert!(!selects(&source, &LogSource::new(Some("windows"), Some("process_creation"), None)));
        let declared = Routing::Declared(LogSource::new(Some("aws"), None, Some("cloudtrail")));
        let source = event_source(&Json::from_value(&json!({"x": 1})), &declared);
        assert!(selects(&source, &LogSource::new(Some("aws"), None, None)));
        assert!(!selects(&source, &LogSource::new(Some("azure"), None, None)));
    }
}
