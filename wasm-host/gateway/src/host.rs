//! The proxy-wasm glue: a root context per plugin that loads the [`Gateway`] at configure
//! time, and an HTTP context per request that judges its headers.
//!
//! Nothing here may panic across the Wasm boundary (with `panic=abort` a panic traps and the
//! proxy fails the VM): every step that can fail returns a status or falls back to passing the
//! request through, host calls go through `proxy_wasm::hostcalls` (whose `Result`s are handled)
//! rather than the SDK's trait helpers (which unwrap), and header values that are not UTF-8 are
//! read as bytes and converted lossily. The panic hook logs at critical level, prefixed `sigil:`.

use crate::config::{Config, Mode};
use crate::event::{self, Request, HEADERS};
use crate::gateway::Gateway;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};
use std::rc::Rc;

proxy_wasm::main! {{
    // Installs the SDK's logger (and its panic hook), which ours then replaces.
    proxy_wasm::set_log_level(LogLevel::Info);
    std::panic::set_hook(Box::new(|info| {
        log(LogLevel::Critical, &format!("sigil: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { gateway: None }) });
}}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// One per plugin configuration: holds the loaded rules.
struct Root {
    gateway: Option<Rc<Gateway>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                log(LogLevel::Error, "sigil: the plugin has no configuration: give {\"mode\": ..., \"rules\": ...}");
                return false;
            }
            Err(status) => {
                log(LogLevel::Error, &format!("sigil: the plugin configuration could not be read ({status:?})"));
                return false;
            }
        };
        let loaded = Config::parse(&bytes).map_err(|e| vec![e]).and_then(Gateway::new);
        match loaded {
            Ok((gateway, report)) => {
                for warning in &report.warnings {
                    log(LogLevel::Warn, &format!("sigil: {warning}"));
                }
                log(LogLevel::Info, &report.summary);
                self.gateway = Some(Rc::new(gateway));
                true
            }
            Err(errors) => {
                for error in &errors {
                    log(LogLevel::Error, &format!("sigil: {error}"));
                }
                log(LogLevel::Error, "sigil: configuration refused");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never `None` (the SDK panics on it): without rules the request passes through.
        Some(Box::new(Http { gateway: self.gateway.clone(), matched: Vec::new() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One per request.
struct Http {
    gateway: Option<Rc<Gateway>>,
    /// The rules that fired on the request (allocated only when one does).
    matched: Vec<usize>,
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(gateway) = self.gateway.clone() else { return Action::Continue };
        let values = HEADERS.map(request_header);
        let source;
        let mut request = Request::from_headers(&values, None);
        if request.forwarded_for.is_none() {
            source = property(&["source", "address"]);
            request.source_address = source.as_deref();
        }
        gateway.evaluate(&event::event(&request), &mut self.matched);
        if self.matched.is_empty() {
            return Action::Continue;
        }
        let (method, path) = (request.method.unwrap_or("-"), request.path.unwrap_or("-"));
        for &rule in &self.matched {
            log(LogLevel::Info, &gateway.match_line(rule, method, path));
        }
        if gateway.mode() != Mode::Block {
            return Action::Continue;
        }
        let body = gateway.block_body(&self.matched);
        let titles: Vec<String> = self.matched.iter().map(|&r| gateway.header_title(r)).collect();
        let mut headers = vec![("content-type", "text/plain; charset=utf-8")];
        headers.extend(titles.iter().map(|t| ("x-sigil-rule", t.as_str())));
        match hostcalls::send_http_response(403, headers, Some(body.as_bytes())) {
            Ok(()) => Action::Pause,
            Err(status) => {
                log(LogLevel::Error, &format!("sigil: could not send the 403 ({status:?}); the request goes on"));
                Action::Continue
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(gateway) = &self.gateway else { return Action::Continue };
        if gateway.mode() == Mode::Tag {
            for &rule in &self.matched {
                let title = gateway.header_title(rule);
                if let Err(status) = hostcalls::add_map_value(MapType::HttpResponseHeaders, "x-sigil-rule", &title) {
                    log(LogLevel::Warn, &format!("sigil: could not tag the response ({status:?})"));
                }
            }
        }
        Action::Continue
    }
}

/// A request header as text (bytes that are not UTF-8 replaced), `None` when absent.
fn request_header(name: &str) -> Option<String> {
    match hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name) {
        Ok(Some(bytes)) => Some(text(bytes)),
        Ok(None) | Err(_) => None,
    }
}

/// A host property (`source.address`, ...) as text.
fn property(path: &[&str]) -> Option<String> {
    match hostcalls::get_property(path.to_vec()) {
        Ok(Some(bytes)) => Some(text(bytes)),
        Ok(None) | Err(_) => None,
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
