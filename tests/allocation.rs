//! The engine's hot path allocates nothing in steady state. Once a thread has evaluated events
//! of a source (its scratch sized, the source's route and automata built, the fold buffer
//! grown), evaluating another event allocates only what it returns: one list of matched
//! predicates per detection. Counted per thread by a global allocator, event by event, on a
//! second pass over the same parsed events.

use sigil_compiler::{Compiler, Options};
use sigil_engine::{Detection, Engine, Json, Routing, Scratch};
use sigil_tests::{compile_dirs, example_event_files, shared_dir};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufRead, BufReader};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is passed through to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What the second pass came to.
#[derive(Debug, Default)]
struct Pass {
    events: usize,
    detections: usize,
    allocations: u64,
    /// Events that allocated more than their detections own, with the counts.
    over: Vec<(usize, u64, usize)>,
}

/// Evaluates every line twice with one scratch, the way a worker thread does, and counts the
/// allocations of each evaluation in the second pass.
fn second_pass(engine: &Engine, lines: &[String]) -> Pass {
    let docs: Vec<Json<'_>> = lines.iter().filter_map(|l| Json::parse(l).ok()).collect();
    assert!(!docs.is_empty(), "no events parsed");
    let mut scratch = Scratch::default();
    let mut out: Vec<Detection> = Vec::new();
    for (doc, line) in docs.iter().zip(lines) {
        out.clear();
        engine.evaluate_text(&mut scratch, doc, line, &Routing::Auto, &mut out);
    }
    let mut pass = Pass::default();
    for (i, (doc, line)) in docs.iter().zip(lines).enumerate() {
        out.clear();
        let before = allocations();
        engine.evaluate_text(&mut scratch, doc, line, &Routing::Auto, &mut out);
        let spent = allocations() - before;
        let owned = out.iter().filter(|d| !d.matched_predicates.is_empty()).count();
        pass.events += 1;
        pass.detections += out.len();
        pass.allocations += spent;
        if spent > owned as u64 {
            pass.over.push((i, spent, owned));
        }
    }
    pass
}

fn check(what: &str, engine: &Engine, lines: &[String]) {
    let pass = second_pass(engine, lines);
    println!(
        "{what}: {} events, {} detections, {} allocations in the second pass",
        pass.events, pass.detections, pass.allocations
    );
    assert!(pass.detections > 0, "{what}: nothing fired, so the detections' own lists were never exercised");
    let shown: Vec<String> = pass
        .over
        .iter()
        .take(5)
        .map(|(i, spent, owned)| {
            format!(
                "event {i} ({}...): {spent} allocations for {owned} detections",
                &lines[*i][..lines[*i].len().min(80)]
            )
        })
        .collect();
    assert!(
        pass.over.is_empty(),
        "{what}: {} events allocated in steady state:\n{}",
        pass.over.len(),
        shown.join("\n")
    );
}

#[test]
fn the_embedded_pack_over_the_examples_allocates_only_its_detections() {
    let mut compiler = Compiler::new(Options::default());
    for (path, text) in sigil_pack::RULE_FILES {
        compiler.add_file(path, text);
    }
    let engine = Engine::new(compiler.finish().plan).expect("the pack loads");
    let lines: Vec<String> = example_event_files()
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    check("embedded pack over examples/", &engine, &lines);
}

#[test]
fn sigmahq_windows_rules_over_otrf_allocate_only_their_detections() {
    let Some(shared) = shared_dir("sigmahq_windows_rules_over_otrf_allocate_only_their_detections") else { return };
    let sample = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let file = std::fs::File::open(&sample).unwrap_or_else(|e| panic!("{}: {e}", sample.display()));
    let lines: Vec<String> =
        BufReader::new(flate2::read::GzDecoder::new(file)).lines().map_while(Result::ok).take(8_000).collect();
    let engine = Engine::new(compile_dirs(&[shared.join("sigma/rules/windows")], Options::default()).plan).unwrap();
    check("SigmaHQ rules/windows over 8,000 OTRF events", &engine, &lines);
}
