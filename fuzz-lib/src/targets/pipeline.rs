//! pySigma processing pipelines: parsed, then applied to fixed rules (a detection, a filter and a
//! correlation, so every rewrite has something to act on) as the compiler applies them.

use sigil_compiler::{compile_str, parse_pipeline, Options};

/// Rules with the fields, logsources and placeholders pipelines usually rewrite.
const RULES: &str = r#"title: Process
id: 0b3f4c2e-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\cmd.exe'
    CommandLine|contains|all: [whoami, /all]
  filter:
    User|expand: '%admins%'
  condition: selection and not filter
fields: [Image, CommandLine]
---
title: Trail
name: trail
id: 0b3f4c2e-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventName: StopLogging, eventSource: cloudtrail.amazonaws.com}
  condition: selection
---
title: Many trails
correlation:
  type: event_count
  rules: [trail]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition: {gte: 3}
---
title: No admins
filter:
  rules: [0b3f4c2e-0000-4000-8000-000000000001]
  selection: {User: root}
  condition: not selection
logsource: {product: windows, category: process_creation}
"#;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else { return };
    let Ok(pipeline) = parse_pipeline("fuzz-pipeline.yml", text) else { return };
    let options = Options { pipelines: vec![pipeline], ..Options::default() };
    let out = compile_str("rules.yml", RULES, &options);
    if let Err(e) = out.plan.check() {
        panic!("a pipeline made a plan that Plan::check refuses: {e}");
    }
    let _ = sigil_engine::Engine::new(out.plan);
}
