//! The engine alone on a file of JSON lines, one thread, no reader or writer: for profiling
//! the evaluation path. Prints the parse-only time, then two passes of parse + evaluate (the
//! first builds routes and automata lazily, the second runs on what the first built).
//!
//! usage: scan_only PACK EVENTS.jsonl

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(pack), Some(events)) = (args.next(), args.next()) else {
        eprintln!("usage: scan_only PACK EVENTS.jsonl");
        std::process::exit(2);
    };
    let plan = sigil_engine::pack::from_bytes(&std::fs::read(pack).expect("readable pack")).expect("a valid pack");
    let engine = sigil_engine::Engine::new(plan).expect("a valid plan");
    let text = std::fs::read_to_string(events).expect("readable events");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = Instant::now();
    let mut keys = 0usize;
    for line in &lines {
        if let Ok(sigil_engine::Json::Object(o)) = sigil_engine::Json::parse(line) {
            keys += o.len();
        }
    }
    let parse = start.elapsed().as_secs_f64();
    let mut scratch = sigil_engine::Scratch::default();
    let mut out = Vec::new();
    for pass in ["first", "second"] {
        let start = Instant::now();
        let mut fired = 0;
        for line in &lines {
            sigil_engine::session::events_in_line(line, &mut |_, event| {
                let Ok((doc, whole)) = event else { return };
                out.clear();
                let text = whole.then_some(*line);
                engine.evaluate_with_text(&mut scratch, &doc, text, &sigil_engine::Routing::Auto, &mut out);
                fired += out.len();
            });
        }
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{pass} pass: {secs:.3} s, {:.0} events/s, {fired} detections (evaluation alone {:.3} s)",
            lines.len() as f64 / secs,
            secs - parse
        );
    }
    eprintln!("parse alone: {parse:.3} s for {} events ({keys} top-level keys)", lines.len());
}
