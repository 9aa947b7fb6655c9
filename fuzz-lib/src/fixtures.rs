//! What the targets evaluate against, built once per process: the embedded rule pack and, when
//! `../shared/sigma` is beside the project (or `SIGIL_FUZZ_SHARED` names another shared folder),
//! SigmaHQ's cloud rules (and, in the fuzzers, its Windows process-creation rules) compiled with
//! it. The shared rules are read in place, never copied; without them the targets run on the
//! embedded pack alone.

use sigil_compiler::{Compiler, Options};
use sigil_engine::{Engine, Plan};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A few events of the shapes Sigil routes (Sysmon, Security, CloudTrail, Okta, plain).
pub const SAMPLE_EVENTS: &[&str] = &[
    r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami","ParentImage":"C:\\Windows\\explorer.exe","UtcTime":"2024-01-01 10:00:00.000"}"#,
    r#"{"EventID":4625,"Channel":"Security","TargetUserName":"admin","IpAddress":"10.0.0.1","LogonType":3}"#,
    r#"{"eventVersion":"1.08","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","eventTime":"2024-01-01T10:00:00Z","userIdentity":{"type":"IAMUser","userName":"alice"},"sourceIPAddress":"1.2.3.4"}"#,
    r#"{"eventType":"user.session.start","outcome":{"result":"FAILURE"},"actor":{"alternateId":"bob@example.com"},"published":"2024-01-01T10:00:00.000Z"}"#,
    r#"{"message":"hello","user":"x","n":[1,2,{"a":null}]}"#,
];

/// Builds every fixture now, and the engine's indexes for the sample events' routes. The fuzz
/// targets call it before the first input (compiling the SigmaHQ rules under a sanitizer takes
/// longer than the one-second timeout of a run).
pub fn warm() {
    let engine = engine();
    for event in SAMPLE_EVENTS {
        let doc = sigil_engine::Json::parse(event).expect("the sample events are JSON");
        for routing in [sigil_engine::Routing::Auto, sigil_engine::Routing::All] {
            let _ = engine.evaluate(&doc, &routing);
        }
    }
    with_session(|_| ());
}

/// Runs `f` with the shared session over [`embedded_plan`], then drops every correlation and
/// suppression window it left open, so the next run starts from no state. (A session per run
/// would rebuild the engine's indexes each time: a tenth of a second under the sanitizer.)
pub fn with_session<T>(f: impl FnOnce(&mut sigil_engine::session::Session) -> T) -> T {
    static SESSION: OnceLock<std::sync::Mutex<sigil_engine::session::Session>> = OnceLock::new();
    let session = SESSION.get_or_init(|| std::sync::Mutex::new(session()));
    // A run that panicked left the session as it was; the panic is what gets reported.
    let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
    let out = f(&mut session);
    session.flush_state();
    out
}

/// The embedded pack alone: what the stateful targets (sessions, edge, state) start from.
pub fn embedded_plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| embedded_compiler().finish().plan)
}

/// The embedded pack, plus SigmaHQ's cloud and process-creation rules when they are here.
pub fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut compiler = embedded_compiler();
        if let Some(sigma) = sigma_checkout() {
            for dir in SIGMAHQ_DIRS {
                for file in sigil_tests::files_under(&sigma.join(dir), &["yml"]) {
                    if let Ok(text) = std::fs::read_to_string(&file) {
                        compiler.add_file(&file.display().to_string(), &text);
                    }
                }
            }
        }
        compiler.finish().plan
    })
}

/// An engine over [`plan`], shared by every run: evaluation takes it by reference, and its route
/// cache only ever holds what any run would build.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(plan().clone()).expect("the fixture plan loads"))
}

fn embedded_compiler() -> Compiler {
    let mut compiler = Compiler::new(Options::default());
    for (path, text) in sigil_pack::RULE_FILES {
        compiler.add_file(&format!("{}{path}", sigil_pack::EMBEDDED_PREFIX), text);
    }
    compiler
}

/// The SigmaHQ rule folders compiled into [`plan`]. The fuzzers (`--cfg fuzzing`) also take
/// the 1,183 process-creation rules; the stable replay test, whose debug build compiles them ten
/// times slower, takes the 225 cloud rules only, so that it runs in seconds.
#[cfg(fuzzing)]
const SIGMAHQ_DIRS: &[&str] = &["rules/cloud", "rules/windows/process_creation"];
#[cfg(not(fuzzing))]
const SIGMAHQ_DIRS: &[&str] = &["rules/cloud"];

/// The SigmaHQ checkout the fixtures and the replay test's shared sample read, if any.
pub fn sigma_checkout() -> Option<PathBuf> {
    shared_dir().map(|s| s.join("sigma")).filter(|p| p.is_dir())
}

/// `../shared` of the project (or `SIGIL_FUZZ_SHARED`), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SIGIL_FUZZ_SHARED") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    dir.is_dir().then_some(dir)
}

/// A fresh session over [`embedded_plan`], so that no state carries from one run to the next.
pub fn session() -> sigil_engine::session::Session {
    sigil_engine::session::Session::new(embedded_plan().clone(), 10_000).expect("the fixture plan loads")
}
