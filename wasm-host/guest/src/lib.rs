//! The Sigil engine as a WebAssembly guest, with two faces over one global [`Session`]:
//!
//! * the component face (feature `component`): the WIT world `sigil` of `wasm-host/wit/sigil.wit`
//!   through wit-bindgen, for component-model hosts (wasmtime; `wasm-host/src`);
//! * the C-ABI face (feature `c-abi`): `sigil_*` exports over pointers and lengths in linear
//!   memory, for core-module hosts (wazero, Chicory, V8, WAMR, wasmtime-py); `wasm-host/ABI.md`.
//!
//! Both are on by default and live in the same core module: `wit-component` ignores exports
//! that are not in the world when it wraps the module into a component, and a C-ABI host
//! ignores the component's exports. Both call [`load`], [`eval_batch`], the correlation-state
//! calls ([`flush`], [`finish`], [`save_state`], [`restore_state`]), [`normalize::normalize`] (`sigil
//! normalize --to ocsf`, through `sigil_ocsf`), [`verify::verify`] (`sigil verify`, through
//! `sigil_seal`) and [`version`]; the component also exports [`edge::edge_batch`] (`sigil
//! edge`'s policies over the same session). `normalize` and `verify` need no pack and touch no
//! session.
//!
//! Errors are values. `wasm32-unknown-unknown` aborts on panic (a trap), so the guarantee is
//! that no code path here panics on its inputs: packs are checked when the engine is made
//! (`Plan::check`), lines that are not UTF-8 become rejected events, and nothing unwraps input.
//! Each entry point is also wrapped in `catch_unwind`, which turns a panic into an error where
//! unwinding exists (native builds, tests). What is left — a trap such as running out of
//! memory — is the host's to turn into an error (and to start a fresh instance after it).
//!
//! [`Session`]: sigil_engine::session::Session

#[cfg(feature = "c-abi")]
pub mod c_abi;
pub mod edge;
pub mod normalize;
pub mod verify;
// Only for wasm32: its export names (`sigil:engine/engine@0.4.0#load`) are not valid native
// symbol names, and a native build has no component host anyway.
#[cfg(all(feature = "component", target_arch = "wasm32"))]
mod component;

use sigil_engine::pack;
use sigil_engine::session::Session;
use sigil_engine::{Routing, PLAN_FORMAT_VERSION};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Correlation groups kept at most (the `sigil hunt --max-groups` default).
pub const MAX_GROUPS: usize = 100_000;

/// What one batch came to (the WIT `batch` record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Alerts as JSON Lines, exactly as `sigil hunt --format jsonl` prints them.
    pub alerts: Vec<u8>,
    pub events: u64,
    pub rejected: u64,
    pub alert_count: u64,
    /// `sigil: FILE:LINE: malformed event: REASON`, one per rejected event.
    pub notes: Vec<String>,
}

thread_local! {
    // wasm32-unknown-unknown has one thread: this is one global session per instance.
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// `sigil 0.1.0 (plan format 4)`.
pub fn version() -> String {
    format!("sigil {} (plan format {PLAN_FORMAT_VERSION})", env!("CARGO_PKG_VERSION"))
}

/// Loads pack bytes (`sigil compile -o PACK`), replacing the loaded pack and its correlation
/// state; returns the number of rules. On error the loaded pack, if any, stays.
pub fn load(pack_bytes: &[u8]) -> Result<u32, String> {
    guarded(|| {
        let plan = pack::from_bytes(pack_bytes).map_err(|e| e.to_string())?;
        let rules = u32::try_from(plan.rules.len()).map_err(|_| "the pack has too many rules".to_string())?;
        let session = Session::new(plan, MAX_GROUPS).map_err(|e| e.to_string())?;
        with_session(|slot| *slot = Some(session))?;
        edge::forget();
        Ok(rules)
    })
}

/// Evaluates a batch of JSON Lines whose first line is line `first_line` of `source`.
/// `routing` is `auto` (also when empty), `all` or `product=..,category=..,service=..`.
/// Lines must be whole: a batch ends at a line end (or the end of the input).
pub fn eval_batch(source: &str, first_line: u64, events: &[u8], routing: &str) -> Result<Batch, String> {
    guarded(|| {
        let routing = batch_routing(routing, first_line, events)?;
        with_session(|slot| Ok(eval_lines(loaded(slot)?, source, first_line, events, &routing)))?
    })
}

/// Checks the arguments every batch call shares: the routing (`auto` when empty), and a first
/// line small enough that line numbers cannot overflow (at most one line per byte).
fn batch_routing(routing: &str, first_line: u64, events: &[u8]) -> Result<Routing, String> {
    let routing: Routing = if routing.trim().is_empty() { Ok(Routing::Auto) } else { routing.parse() }
        .map_err(|e| format!("routing: {e}"))?;
    check_first_line(first_line, events)?;
    Ok(routing)
}

/// Refuses a first line so large that the batch's line numbers could overflow (at most one
/// line per byte).
fn check_first_line(first_line: u64, events: &[u8]) -> Result<(), String> {
    match first_line.checked_add(events.len() as u64) {
        Some(_) => Ok(()),
        None => Err(format!("first line {first_line} is too large for a batch of {} bytes", events.len())),
    }
}

/// Drops the open correlation windows, keeping the pack; returns how many groups were open.
pub fn flush() -> Result<u64, String> {
    guarded(|| with_session(|slot| Ok(loaded(slot)?.flush_state() as u64))?)
}

/// The input ended: closes the suppression windows; the summaries of those that held matches
/// back, as JSON Lines.
pub fn finish() -> Result<Vec<u8>, String> {
    guarded(|| {
        with_session(|slot| {
            let mut out = Vec::new();
            loaded(slot)?.finish(&mut out);
            Ok(out)
        })?
    })
}

/// The open correlation windows as JSON text: the file `sigil hunt --state FILE` writes.
pub fn save_state() -> Result<String, String> {
    guarded(|| {
        with_session(|slot| {
            serde_json::to_string(&loaded(slot)?.save_state()).map_err(|e| format!("cannot write the state: {e}"))
        })?
    })
}

/// Restores windows saved by [`save_state`] (or `sigil hunt --state`) into the loaded pack's
/// correlations; returns how many saved groups were dropped because their correlation is not
/// in the pack. A state of another format is refused and the current windows stay.
pub fn restore_state(state: &str) -> Result<u64, String> {
    guarded(|| {
        let saved = serde_json::from_str(state).map_err(|e| format!("not a Sigil correlation state: {e}"))?;
        with_session(|slot| Ok(loaded(slot)?.restore_state(saved)? as u64))?
    })
}

pub(crate) fn loaded(slot: &mut Option<Session>) -> Result<&mut Session, String> {
    slot.as_mut().ok_or_else(|| "no pack loaded: call load first".to_string())
}

/// Runs the session over `events`, text that is not UTF-8 included: such a line is one
/// rejected event (as `sigil hunt` reports it), the valid runs of lines around it are evaluated.
fn eval_lines(session: &mut Session, source: &str, first_line: u64, events: &[u8], routing: &Routing) -> Batch {
    let mut batch = Batch::default();
    for_each_piece(first_line, events, &mut |piece| match piece {
        Piece::Text { text, first_line } => {
            let report = session.eval_jsonl(source, first_line, text, routing, &mut batch.alerts);
            batch.events += report.events;
            batch.rejected += report.rejected;
            batch.alert_count += report.alerts;
            batch.notes.extend(report.notes);
        }
        Piece::NotUtf8 { line, reason } => {
            batch.events += 1;
            batch.rejected += 1;
            batch.notes.push(format!("sigil: {source}:{line}: malformed event: {reason}"));
        }
    });
    batch
}

/// A part of a batch: a run of UTF-8 lines, or one line that is not UTF-8.
pub(crate) enum Piece<'a> {
    Text { text: &'a str, first_line: u64 },
    NotUtf8 { line: u64, reason: String },
}

/// Hands the batch to `take` piece by piece, in order.
pub(crate) fn for_each_piece(first_line: u64, events: &[u8], take: &mut dyn FnMut(Piece<'_>)) {
    if let Ok(text) = simdutf8::basic::from_utf8(events) {
        take(Piece::Text { text, first_line });
        return;
    }
    // The start (byte offset, line number) of the run of valid lines not handed on yet.
    let (mut start, mut start_line) = (0, first_line);
    let (mut offset, mut line) = (0, first_line);
    for bytes in events.split_inclusive(|&b| b == b'\n') {
        let end = offset + bytes.len();
        if let Err(e) = std::str::from_utf8(bytes) {
            if let Some(Ok(text)) = events.get(start..offset).map(std::str::from_utf8) {
                take(Piece::Text { text, first_line: start_line });
            }
            take(Piece::NotUtf8 { line, reason: format!("not UTF-8 text (byte {})", e.valid_up_to() + 1) });
            (start, start_line) = (end, line + 1);
        }
        (offset, line) = (end, line + 1);
    }
    if let Some(Ok(text)) = events.get(start..).map(std::str::from_utf8) {
        take(Piece::Text { text, first_line: start_line });
    }
}

fn with_session<T>(f: impl FnOnce(&mut Option<Session>) -> T) -> Result<T, String> {
    SESSION.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => Ok(f(&mut slot)),
        Err(_) => Err("the engine is busy (a call re-entered it)".to_string()),
    })
}

/// Runs an entry point, turning a panic (where it unwinds) into an error. The session may be
/// half-updated after one, so it is dropped: the caller loads the pack again.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        let _ = with_session(|slot| *slot = None);
        Err(format!("internal error in the engine ({what}); the pack was unloaded: load it again"))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sigil_engine::plan::{
        CompiledRule, LogSource, Node, Plan, Predicate, RuleInfo, StrPattern, Target, Test, Token,
    };

    /// A one-rule pack: `eventName` equals `StopLogging` (any case).
    pub fn pack_bytes() -> Vec<u8> {
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            predicates: vec![Predicate {
                target: Target::Field("eventName".into()),
                test: Test::Str(StrPattern { tokens: vec![Token::Lit("stoplogging".into())], cased: false }),
            }],
            nodes: vec![Node::Pred(0)],
            rules: vec![CompiledRule {
                info: RuleInfo { id: "r1".into(), title: "Trail stopped".into(), ..RuleInfo::default() },
                logsource: LogSource::new(Some("aws"), None, Some("cloudtrail")),
                root: 0,
                alert: true,
            }],
            correlations: Vec::new(),
            silences: Vec::new(),
        };
        pack::to_bytes(&plan)
    }

    #[test]
    fn one_flow_from_load_to_alerts_with_errors_as_values() {
        SESSION.with(|s| *s.borrow_mut() = None);
        assert_eq!(eval_batch("x", 1, b"{}", "auto").unwrap_err(), "no pack loaded: call load first");
        assert!(load(b"not a pack").unwrap_err().contains("not a Sigil compiled pack"));
        assert_eq!(load(&pack_bytes()), Ok(1));
        assert!(eval_batch("x", 1, b"{}", "nonsense").unwrap_err().starts_with("routing: "));
        assert!(eval_batch("x", u64::MAX, b"{}", "auto").is_err());

        let events = b"{\"eventName\":\"StopLogging\"}\n\xff\xfe\n\n[1]\r\n{\"eventName\":\"stoplogging\"}";
        let batch = eval_batch("ev.jsonl", 10, events, "").unwrap();
        assert_eq!((batch.events, batch.rejected, batch.alert_count), (4, 2, 2));
        assert_eq!(
            batch.notes,
            [
                "sigil: ev.jsonl:11: malformed event: not UTF-8 text (byte 1)",
                "sigil: ev.jsonl:13: malformed event: expected a JSON object, found an array"
            ]
        );
        let alerts = String::from_utf8(batch.alerts).unwrap();
        let lines: Vec<serde_json::Value> = alerts.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["source"]["line"], 10);
        assert_eq!(lines[1]["source"]["line"], 14);
        assert_eq!(lines[1]["source"]["file"], "ev.jsonl");

        // A failed load keeps the loaded pack.
        assert!(load(&pack_bytes()[..20]).is_err());
        assert_eq!(eval_batch("x", 1, b"{\"eventName\":\"StopLogging\"}", "all").unwrap().alert_count, 1);

        // Correlation state: a pack without correlations saves an empty state that restores;
        // text that is not a state is refused.
        let state: serde_json::Value = serde_json::from_str(&save_state().unwrap()).unwrap();
        assert_eq!(state["groups"], serde_json::json!([]));
        assert_eq!(restore_state(&state.to_string()), Ok(0));
        assert!(restore_state("{\"format\": 999, \"files\": [], \"groups\": [], \"evicted\": 0}")
            .unwrap_err()
            .contains("format 999"));
        assert!(restore_state("[]").unwrap_err().starts_with("not a Sigil correlation state"));
        assert_eq!(flush(), Ok(0));
    }
}
