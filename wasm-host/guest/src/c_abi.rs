//! The C-ABI face, for hosts without the component model (wazero, Chicory, V8, WAMR,
//! wasmtime-py): plain `i32`/`i64` exports over pointers and lengths in the module's exported
//! `memory`. `wasm-host/ABI.md` is the contract; in short:
//!
//! * the host asks for input buffers with [`sigil_alloc`], writes into them, passes them to a
//!   call (which only reads them) and gives them back with [`sigil_free`];
//! * [`sigil_load`] and [`sigil_eval_batch`] return `-1` on error, with a UTF-8 message at
//!   [`sigil_last_error_ptr`]/[`sigil_last_error_len`];
//! * a batch's result is one JSON object at [`sigil_result_ptr`]/[`sigil_result_len`], owned by
//!   the guest and valid until the next call;
//! * correlation state: [`sigil_flush`], [`sigil_finish`], [`sigil_save_state`] and [`sigil_restore_state`];
//! * [`sigil_normalize`] (OCSF, as `sigil normalize`) and [`sigil_verify`] (sealed files, as
//!   `sigil verify --json`) also leave a JSON object at [`sigil_result_ptr`].
//!
//! Pointers and lengths are `i32` on wasm32 (to be read as unsigned); `first_line` is `i64`.
//! Natively (tests) the same functions take native pointers.

use serde::Serialize;
use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::OnceLock;

/// The version of this ABI, bumped on any incompatible change of the exports below.
pub const ABI_VERSION: u32 = 1;

struct Out {
    /// The last batch's JSON object (empty after an error or a load).
    result: Vec<u8>,
    /// The last call's error message (empty after a success).
    error: String,
}

thread_local! {
    static OUT: RefCell<Out> = const { RefCell::new(Out { result: Vec::new(), error: String::new() }) };
}

static VERSION: OnceLock<String> = OnceLock::new();

/// The result of a batch, as the JSON object at [`sigil_result_ptr`].
#[derive(Serialize)]
struct Report<'a> {
    /// The alerts as JSON Lines text, what `sigil hunt --format jsonl` prints.
    alerts: &'a str,
    events: u64,
    rejected: u64,
    alerts_count: u64,
    notes: &'a [String],
}

/// The result of [`sigil_normalize`], as the JSON object at [`sigil_result_ptr`].
#[derive(Serialize)]
struct NormalizeReport<'a> {
    /// The lines `sigil normalize --to ocsf` prints, as JSON Lines text.
    lines: &'a str,
    /// Mapped events per OCSF class uid (`{"3002": 4, "6003": 8}`).
    mapped: &'a std::collections::BTreeMap<u64, u64>,
    passed: u64,
    rejected: u64,
    notes: &'a [String],
}

/// The result of [`sigil_verify`], as the JSON object at [`sigil_result_ptr`].
#[derive(Serialize)]
struct VerifyReport<'a> {
    lines: u64,
    records: u64,
    checkpoints: u64,
    key_id: &'a str,
    /// Each as `sigil verify --json` prints it.
    findings: &'a [crate::verify::Finding],
}

/// `1`: the version of the `sigil_*` exports.
#[unsafe(no_mangle)]
pub extern "C" fn sigil_abi_version() -> u32 {
    ABI_VERSION
}

/// A buffer of `len` bytes for the host to write an input into, or null (0) when memory is
/// exhausted. `len == 0` gives a non-null pointer that must not be written to.
#[unsafe(no_mangle)]
pub extern "C" fn sigil_alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Gives back a buffer from [`sigil_alloc`], with the same `len`.
///
/// # Safety
/// `ptr` must come from `sigil_alloc(len)` and not have been freed; null or `len == 0` is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        // SAFETY: the caller passes a live allocation of this layout (see above).
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

/// Loads a compiled pack (`sigil compile -o PACK`) from `len` bytes at `ptr`, replacing the
/// loaded one and its correlation state. Returns the number of rules, or `-1` (see
/// [`sigil_last_error_ptr`]); on error the previously loaded pack stays.
///
/// # Safety
/// `ptr..ptr+len` must be readable memory (it is only read during the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_load(ptr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    let result = unsafe { bytes(ptr, len, "pack") }
        .and_then(crate::load)
        .and_then(|n| i32::try_from(n).map_err(|_| "the pack has too many rules".to_string()));
    finish(result.map(|n| (i64::from(n), Vec::new()))) as i32
}

/// Evaluates a batch of JSON Lines events (whole lines) whose first line is line `first_line`
/// of `source` (both end up in each alert's `source`). `routing` is `auto` (also when empty),
/// `all` or `product=..,category=..,service=..`. Returns `0` with the result at
/// [`sigil_result_ptr`], or `-1` (see [`sigil_last_error_ptr`]).
///
/// # Safety
/// Each `(ptr, len)` pair must be readable memory (only read during the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_eval_batch(
    source_ptr: *const u8,
    source_len: usize,
    first_line: u64,
    events_ptr: *const u8,
    events_len: usize,
    routing_ptr: *const u8,
    routing_len: usize,
) -> i32 {
    let run = || -> Result<Vec<u8>, String> {
        // SAFETY: forwarded from the caller's contract.
        let source = text(unsafe { bytes(source_ptr, source_len, "source") }?, "source")?;
        let events = unsafe { bytes(events_ptr, events_len, "events") }?;
        let routing = text(unsafe { bytes(routing_ptr, routing_len, "routing") }?, "routing")?;
        let batch = crate::eval_batch(source, first_line, events, routing)?;
        let report = Report {
            alerts: &String::from_utf8_lossy(&batch.alerts),
            events: batch.events,
            rejected: batch.rejected,
            alerts_count: batch.alert_count,
            notes: &batch.notes,
        };
        serde_json::to_vec(&report).map_err(|e| format!("cannot write the result: {e}"))
    };
    finish(run().map(|json| (0, json))) as i32
}

/// Drops the open correlation windows, keeping the pack. Returns how many groups were open,
/// or `-1` (see [`sigil_last_error_ptr`]).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_flush() -> i64 {
    finish(crate::flush().map(|n| (n as i64, Vec::new())))
}

/// The input ended: puts the summary alerts of the suppression windows it closes (JSON Lines)
/// at [`sigil_result_ptr`]. Returns their byte length, or `-1` (see [`sigil_last_error_ptr`]).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_finish() -> i64 {
    finish(crate::finish().map(|bytes| (bytes.len() as i64, bytes)))
}

/// Puts the open correlation windows (JSON text, the file `sigil hunt --state` writes) at
/// [`sigil_result_ptr`]. Returns `0`, or `-1` (see [`sigil_last_error_ptr`]).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_save_state() -> i32 {
    finish(crate::save_state().map(|state| (0, state.into_bytes()))) as i32
}

/// Restores windows saved by [`sigil_save_state`] from `len` bytes at `ptr`. Returns how many
/// saved groups were dropped (their correlation is not in the loaded pack), or `-1`.
///
/// # Safety
/// `ptr..ptr+len` must be readable memory (it is only read during the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_restore_state(ptr: *const u8, len: usize) -> i64 {
    // SAFETY: forwarded from the caller's contract.
    let result = unsafe { bytes(ptr, len, "state") }
        .and_then(|b| text(b, "state"))
        .and_then(crate::restore_state)
        .map(|dropped| (dropped as i64, Vec::new()));
    finish(result)
}

/// Maps a batch of JSON Lines events (whole lines) whose first line is line `first_line` of
/// `source` (which appears in the notes only) to OCSF, as `sigil normalize --to ocsf` does.
/// Returns `0` with the result at [`sigil_result_ptr`], or `-1` (see [`sigil_last_error_ptr`]).
/// Needs no pack; keeps no state.
///
/// # Safety
/// Each `(ptr, len)` pair must be readable memory (only read during the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_normalize(
    source_ptr: *const u8,
    source_len: usize,
    first_line: u64,
    events_ptr: *const u8,
    events_len: usize,
) -> i32 {
    let run = || -> Result<Vec<u8>, String> {
        // SAFETY: forwarded from the caller's contract.
        let source = text(unsafe { bytes(source_ptr, source_len, "source") }?, "source")?;
        let events = unsafe { bytes(events_ptr, events_len, "events") }?;
        let out = crate::normalize::normalize(source, first_line, events)?;
        let report = NormalizeReport {
            // UTF-8 already: mapped objects are serialized JSON, passed lines were UTF-8 input.
            lines: &String::from_utf8_lossy(&out.lines),
            mapped: &out.counts.mapped,
            passed: out.counts.passed,
            rejected: out.counts.rejected,
            notes: &out.notes,
        };
        serde_json::to_vec(&report).map_err(|e| format!("cannot write the result: {e}"))
    };
    finish(run().map(|json| (0, json))) as i32
}

/// Checks a sealed file (`sealed_len` bytes at `sealed_ptr`) with the key whose hex text (a key
/// file's content) is at `key_ptr`. Returns `0` with the report at [`sigil_result_ptr`]
/// (findings included: tampering is not an error), or `-1` when the key is not a key (the
/// message never holds the key's text).
///
/// # Safety
/// Each `(ptr, len)` pair must be readable memory (only read during the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigil_verify(
    sealed_ptr: *const u8,
    sealed_len: usize,
    key_ptr: *const u8,
    key_len: usize,
) -> i32 {
    let run = || -> Result<Vec<u8>, String> {
        // SAFETY: forwarded from the caller's contract.
        let sealed = unsafe { bytes(sealed_ptr, sealed_len, "sealed file") }?;
        let key = unsafe { bytes(key_ptr, key_len, "key") }?;
        let out = crate::verify::verify(sealed, key)?;
        let report = VerifyReport {
            lines: out.lines,
            records: out.records,
            checkpoints: out.checkpoints,
            key_id: &out.key_id,
            findings: &out.findings,
        };
        serde_json::to_vec(&report).map_err(|e| format!("cannot write the result: {e}"))
    };
    finish(run().map(|json| (0, json))) as i32
}

/// Records a call's outcome: `Ok((status, result))` sets the result and clears the error;
/// `Err` clears the result, sets the error and gives `-1`.
fn finish(outcome: Result<(i64, Vec<u8>), String>) -> i64 {
    OUT.with(|out| {
        let mut out = out.borrow_mut();
        match outcome {
            Ok((status, result)) => {
                out.result = result;
                out.error.clear();
                status
            }
            Err(e) => {
                out.result.clear();
                out.error = e;
                -1
            }
        }
    })
}

/// Where the last result starts: a batch's, normalisation's or verification's JSON object, or
/// a saved state (valid until the next call).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_result_ptr() -> *const u8 {
    OUT.with(|out| out.borrow().result.as_ptr())
}

/// The length in bytes of the last result (0 after an error, a load, a flush or a restore).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_result_len() -> usize {
    OUT.with(|out| out.borrow().result.len())
}

/// Where the last call's error message (UTF-8) starts.
#[unsafe(no_mangle)]
pub extern "C" fn sigil_last_error_ptr() -> *const u8 {
    OUT.with(|out| out.borrow().error.as_ptr())
}

/// The length of the last call's error message (0 after a success).
#[unsafe(no_mangle)]
pub extern "C" fn sigil_last_error_len() -> usize {
    OUT.with(|out| out.borrow().error.len())
}

/// Where the version text (`sigil 0.1.0 (plan format 4)`) starts; valid for the instance's life.
#[unsafe(no_mangle)]
pub extern "C" fn sigil_version_ptr() -> *const u8 {
    VERSION.get_or_init(crate::version).as_ptr()
}

/// The length of the version text.
#[unsafe(no_mangle)]
pub extern "C" fn sigil_version_len() -> usize {
    VERSION.get_or_init(crate::version).len()
}

/// The bytes of one input.
///
/// # Safety
/// `ptr..ptr+len` must be readable for the returned lifetime unless `len == 0`.
unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], String> {
    if len == 0 {
        Ok(&[])
    } else if ptr.is_null() {
        Err(format!("{what}: a null pointer with a length of {len}"))
    } else {
        // SAFETY: the caller's contract.
        Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
    }
}

fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("{what} is not UTF-8 text (byte {})", e.valid_up_to() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ptr: *const u8, len: usize) -> String {
        String::from_utf8(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()).unwrap()
    }

    fn put(data: &[u8]) -> (*mut u8, usize) {
        let ptr = sigil_alloc(data.len());
        assert!(!ptr.is_null());
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        (ptr, data.len())
    }

    #[test]
    fn the_call_sequence_of_abi_md() {
        assert_eq!(sigil_abi_version(), 1);
        assert!(read(sigil_version_ptr(), sigil_version_len()).starts_with("sigil "));

        let (bad, bad_len) = put(b"nope");
        assert_eq!(unsafe { sigil_load(bad, bad_len) }, -1);
        assert!(read(sigil_last_error_ptr(), sigil_last_error_len()).contains("not a Sigil compiled pack"));
        unsafe { sigil_free(bad, bad_len) };

        let (pack, pack_len) = put(&crate::tests::pack_bytes());
        assert_eq!(unsafe { sigil_load(pack, pack_len) }, 1);
        assert_eq!(sigil_last_error_len(), 0);
        unsafe { sigil_free(pack, pack_len) };

        let (src, src_len) = put(b"in.jsonl");
        let (ev, ev_len) = put(b"{\"eventName\":\"StopLogging\"}\n{\"eventName\":\"x\"}\n\xff\n");
        // An empty routing is `auto`.
        let rc = unsafe { sigil_eval_batch(src, src_len, 5, ev, ev_len, std::ptr::null(), 0) };
        assert_eq!(rc, 0, "{}", read(sigil_last_error_ptr(), sigil_last_error_len()));
        let result: serde_json::Value = serde_json::from_str(&read(sigil_result_ptr(), sigil_result_len())).unwrap();
        assert_eq!(result["events"], 3);
        assert_eq!(result["rejected"], 1);
        assert_eq!(result["alerts_count"], 1);
        assert_eq!(result["notes"][0], "sigil: in.jsonl:7: malformed event: not UTF-8 text (byte 1)");
        let alert: serde_json::Value =
            serde_json::from_str(result["alerts"].as_str().unwrap().trim_end_matches('\n')).unwrap();
        assert_eq!(alert["source"], serde_json::json!({"file": "in.jsonl", "line": 5}));

        let (rt, rt_len) = put(b"nonsense");
        let rc = unsafe { sigil_eval_batch(src, src_len, 1, ev, ev_len, rt, rt_len) };
        assert_eq!(rc, -1);
        assert_eq!(sigil_result_len(), 0);
        for (p, l) in [(src, src_len), (ev, ev_len), (rt, rt_len)] {
            unsafe { sigil_free(p, l) };
        }
        assert_eq!(unsafe { sigil_eval_batch(std::ptr::null(), 3, 1, std::ptr::null(), 0, std::ptr::null(), 0) }, -1);
    }

    fn result() -> serde_json::Value {
        serde_json::from_str(&read(sigil_result_ptr(), sigil_result_len())).unwrap()
    }

    #[test]
    fn normalize_and_verify_leave_json_objects_and_need_no_pack() {
        let (src, src_len) = put(b"in.jsonl");
        let (ev, ev_len) = put(b"{\"message\": \"hi\"}\n{oops\n");
        assert_eq!(unsafe { sigil_normalize(src, src_len, 3, ev, ev_len) }, 0);
        let normalized = result();
        assert_eq!(normalized["lines"], "{\"message\": \"hi\"}\n");
        assert_eq!(normalized["mapped"], serde_json::json!({}));
        assert_eq!((normalized["passed"].as_u64(), normalized["rejected"].as_u64()), (Some(1), Some(1)));
        assert!(normalized["notes"][0].as_str().unwrap().starts_with("sigil: in.jsonl:4: malformed event: "));
        assert_eq!(unsafe { sigil_normalize(src, src_len, u64::MAX, ev, ev_len) }, -1);
        for (p, l) in [(src, src_len), (ev, ev_len)] {
            unsafe { sigil_free(p, l) };
        }

        let sealed = crate::verify::tests::sealed();
        let tampered = String::from_utf8(sealed).unwrap().replacen(r#"{"n":2}"#, r#"{"n":3}"#, 1);
        let (file, file_len) = put(tampered.as_bytes());
        let (key, key_len) = put(crate::verify::tests::KEY.as_bytes());
        assert_eq!(unsafe { sigil_verify(file, file_len, key, key_len) }, 0);
        let report = result();
        assert_eq!((report["lines"].as_u64(), report["records"].as_u64()), (Some(5), Some(2)));
        assert_eq!(report["key_id"].as_str().unwrap().len(), 16);
        let finding = serde_json::to_string(&report["findings"][0]).unwrap();
        assert!(finding.starts_with(r#"{"line":4,"expected":3,"found":3,"kind":"modified","message":"#), "{finding}");
        let (bad, bad_len) = put(b"00112233");
        assert_eq!(unsafe { sigil_verify(file, file_len, bad, bad_len) }, -1);
        assert!(read(sigil_last_error_ptr(), sigil_last_error_len()).contains("too short"));
        for (p, l) in [(file, file_len), (key, key_len), (bad, bad_len)] {
            unsafe { sigil_free(p, l) };
        }
    }
}
