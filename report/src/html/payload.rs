//! The JSON the page reads from its `<script type="application/json">` element: written so that
//! no alert text can end that element, and with each alert's line embedded as written (it was
//! parsed once to check it; it is never rebuilt, so a report holds what the hunt printed).
//!
//! Shape (the page's only input): `meta` (title, counts, malformed lines), `levels`, `rules`
//! (`id`, `title`, `level`, `tags`, `alerts`, by count, most first), `alerts` (by time: `t` ms
//! since the epoch or null, `r` rule index, `l` level index, `a` the alert object), `attack`
//! (the heat map, see `attack`), `entities` (the top accounts, hosts and IPs of the embedded
//! alerts, as the run summary counts them: `kind`, `value`, `alerts`; an alert's `e` lists the
//! indexes of its entities among them).

use super::{attack, ReportBuilder, LEVELS};
use crate::entities::EntityKind;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The payload for `builder`'s alerts, with every `<` written as `\u003c`.
pub(super) fn write(builder: &ReportBuilder) -> String {
    // Rules by count, most first; alerts refer to rules by their position in this order.
    let mut order: Vec<usize> = (0..builder.rules.len()).collect();
    order.sort_by(|&a, &b| builder.rules[b].alerts.cmp(&builder.rules[a].alerts).then(a.cmp(&b)));
    let mut position = vec![0; order.len()];
    for (pos, &rule) in order.iter().enumerate() {
        position[rule] = pos;
    }
    let rules: Vec<Value> = order
        .iter()
        .map(|&r| {
            let rule = &builder.rules[r];
            json!({"id": rule.id, "title": rule.title, "level": rule.level, "tags": rule.tags, "alerts": rule.alerts})
        })
        .collect();
    let tagged: Vec<(&[String], usize)> =
        order.iter().map(|&r| (&builder.rules[r].tags[..], builder.rules[r].alerts)).collect();
    let malformed: Vec<Value> =
        builder.malformed_listed.iter().map(|m| json!({"line": m.line, "reason": m.reason})).collect();
    let (entities, entity_index) = top_entities(builder);
    let head = json!({
        "meta": {
            "title": builder.options.title,
            "embedded": builder.alerts.len(),
            "left_out": builder.left_out,
            "max_alerts": builder.options.max_alerts,
            "malformed": builder.malformed,
            "malformed_listed": malformed,
        },
        "levels": LEVELS,
        "rules": rules,
        "attack": attack::heat_map(&tagged),
        "entities": entities,
    });
    let head = head.to_string();
    let mut out = String::with_capacity(head.len() + builder.alerts.iter().map(|a| a.line.len() + 32).sum::<usize>());
    // `head` is an object: reopen it to append the alerts array, the one large member.
    out.push_str(&head[..head.len() - 1]);
    out.push_str(",\"alerts\":[");
    for (i, alert) in builder.alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let time = alert.time_ms.map_or_else(|| "null".to_string(), |t| t.to_string());
        let of_alert: Vec<String> = alert
            .entities
            .iter()
            .filter_map(|e| entity_index.get(&(e.kind, e.value.clone())))
            .map(usize::to_string)
            .collect();
        let (rule, level, of_alert) = (position[alert.rule], alert.level, of_alert.join(","));
        out.push_str(&format!("{{\"t\":{time},\"r\":{rule},\"l\":{level},\"e\":[{of_alert}],\"a\":"));
        out.push_str(&alert.line);
        out.push('}');
    }
    out.push_str("]}");
    // `<` only occurs inside JSON strings, where `\u003c` means the same; without it no
    // `</script>` or `<!--` can end or change the element the payload sits in.
    out.replace('<', "\\u003c")
}

/// The accounts, hosts and IPs with the most alerts (the summary's top lists, kind by kind),
/// and where each (kind, value) is in that list.
fn top_entities(builder: &ReportBuilder) -> (Vec<Value>, HashMap<(EntityKind, String), usize>) {
    let summary = builder.summary.to_json();
    let (mut list, mut index) = (Vec::new(), HashMap::new());
    for kind in EntityKind::ALL {
        for top in summary["entities"][kind.as_str()]["top"].as_array().into_iter().flatten() {
            let value = top["value"].as_str().unwrap_or_default().to_string();
            index.insert((kind, value.clone()), list.len());
            list.push(json!({"kind": kind.as_str(), "value": value, "alerts": top["count"]}));
        }
    }
    (list, index)
}
