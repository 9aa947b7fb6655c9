//! An HTTP request as a Sigma event: the field names of SigmaHQ's `category: webserver`
//! (W3C/IIS access-log names, `cs-*`) and `category: proxy` rules (`c-*`, `r-dns`).
//!
//! Values are the request's bytes as the proxy received them: nothing is percent-decoded or
//! normalised, because SigmaHQ's web rules match raw URIs (`..%252f..%252f`, `%c0%af`,
//! `=C%3A%5CUsers` appear literally in them). The event borrows every value from the
//! [`Request`]; building it allocates one member vector.
//!
//! | field | value |
//! | --- | --- |
//! | `cs-method` | `:method` |
//! | `cs-uri`, `c-uri`, `cs-uri-query` | `:path`, the request target with its query (`/a/b.php?x=1`) |
//! | `cs-uri-stem`, `c-uri-stem` | `:path` before the first `?` |
//! | `c-uri-query` | `:path` after the first `?` (absent without one) |
//! | `c-uri-extension` | the extension of the stem's last segment, without the dot (`php`) |
//! | `cs-host`, `r-dns` | `:authority` (the `Host` header) without its port |
//! | `c-useragent`, `cs-user-agent` | `user-agent` |
//! | `cs-referer`, `cs-referrer` | `referer` |
//! | `cs-cookie` | `cookie` |
//! | `cs-content-type` | `content-type` |
//! | `c-ip` | the first address of `x-forwarded-for`, else the peer address without its port |
//!
//! `cs-uri-query` holds the whole target, not only the query: that is how SigmaHQ's webserver
//! rules use it (`cs-uri-query|endswith: '/mgmt/tm/util/bash'`, `cs-uri-query|contains:
//! '/../vpns/'`); with the query alone most of them could never fire. Response fields
//! (`sc-status`, `sc-bytes`) do not exist yet when the request is judged, so conditions on them
//! do not hold. A header the request lacks is a missing field (Sigma's `null`); an empty one is
//! the empty string.

use sigil_engine::json::Object;
use sigil_engine::Json;
use std::borrow::Cow;

/// The parts of a request the event is made of, each as the proxy saw it (`None`: absent).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `:method`.
    pub method: Option<&'a str>,
    /// `:path`: the request target, query included.
    pub path: Option<&'a str>,
    /// `:authority` (HTTP/1's `Host`).
    pub authority: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub forwarded_for: Option<&'a str>,
    /// The downstream peer, `ip:port` or `[ipv6]:port` (Envoy's `source.address`).
    pub source_address: Option<&'a str>,
}

/// The header names [`Request`] reads, for a host that fetches them one by one.
pub const HEADERS: [&str; 8] =
    [":method", ":path", ":authority", "user-agent", "referer", "cookie", "content-type", "x-forwarded-for"];

impl<'a> Request<'a> {
    /// Fills the header fields from values in the order of [`HEADERS`].
    pub fn from_headers(values: &'a [Option<String>; 8], source_address: Option<&'a str>) -> Request<'a> {
        let [method, path, authority, user_agent, referer, cookie, content_type, forwarded_for] =
            values.each_ref().map(|v| v.as_deref());
        Request { method, path, authority, user_agent, referer, cookie, content_type, forwarded_for, source_address }
    }

    /// The path before the first `?`.
    pub fn stem(&self) -> Option<&'a str> {
        self.path.map(|p| p.split_once('?').map_or(p, |(stem, _)| stem))
    }

    /// The client address: the first `x-forwarded-for` entry, else the peer without its port.
    pub fn client_ip(&self) -> Option<&'a str> {
        if let Some(first) = self.forwarded_for.and_then(|f| f.split(',').next()).map(str::trim) {
            if !first.is_empty() {
                return Some(first);
            }
        }
        self.source_address.map(strip_port).filter(|a| !a.is_empty())
    }
}

/// The Sigma event of a request (see the module documentation for the fields).
pub fn event<'a>(request: &Request<'a>) -> Json<'a> {
    let mut object = Object::default();
    let mut put = |key: &'static str, value: Option<&'a str>| {
        if let Some(value) = value {
            object.insert(Cow::Borrowed(key), Json::String(Cow::Borrowed(value)));
        }
    };
    put("cs-method", request.method);
    put("cs-uri", request.path);
    put("c-uri", request.path);
    put("cs-uri-query", request.path);
    let stem = request.stem();
    put("cs-uri-stem", stem);
    put("c-uri-stem", stem);
    put("c-uri-query", request.path.and_then(|p| p.split_once('?')).map(|(_, query)| query));
    put("c-uri-extension", stem.and_then(extension));
    let host = request.authority.map(strip_port);
    put("cs-host", host);
    put("r-dns", host);
    put("c-useragent", request.user_agent);
    put("cs-user-agent", request.user_agent);
    put("cs-referer", request.referer);
    put("cs-referrer", request.referer);
    put("cs-cookie", request.cookie);
    put("cs-content-type", request.content_type);
    put("c-ip", request.client_ip());
    Json::Object(object)
}

/// `host:port` → `host`, `[v6]:port` → `v6`; a bare IPv6 address or a name stays whole.
fn strip_port(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once(']').map_or(address, |(ip, _)| ip);
    }
    match address.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => address,
    }
}

/// The extension of a path's last segment, without the dot: `/a/b.tar.gz` → `gz`.
fn extension(stem: &str) -> Option<&str> {
    let segment = stem.rsplit('/').next().unwrap_or(stem);
    match segment.rsplit_once('.') {
        Some((name, ext)) if !name.is_empty() && !ext.is_empty() => Some(ext),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'j>(event: &'j Json<'_>, name: &str) -> Option<&'j str> {
        event.get(name).and_then(Json::as_str)
    }

    #[test]
    fn every_field_from_a_full_request() {
        let request = Request {
            method: Some("GET"),
            path: Some("/cgi-bin/x.php?file=..%252f..%252fetc&y=1"),
            authority: Some("www.example.org:8443"),
            user_agent: Some("sqlmap/1.8"),
            referer: Some("http://a/"),
            cookie: Some("k=v"),
            content_type: Some("text/plain"),
            forwarded_for: Some(" 203.0.113.9 , 10.0.0.1"),
            source_address: Some("127.0.0.1:5555"),
        };
        let e = event(&request);
        assert_eq!(field(&e, "cs-method"), Some("GET"));
        for name in ["cs-uri", "c-uri", "cs-uri-query"] {
            assert_eq!(field(&e, name), Some("/cgi-bin/x.php?file=..%252f..%252fetc&y=1"), "{name}");
        }
        assert_eq!(field(&e, "cs-uri-stem"), Some("/cgi-bin/x.php"));
        assert_eq!(field(&e, "c-uri-stem"), Some("/cgi-bin/x.php"));
        assert_eq!(field(&e, "c-uri-query"), Some("file=..%252f..%252fetc&y=1"));
        assert_eq!(field(&e, "c-uri-extension"), Some("php"));
        assert_eq!(field(&e, "cs-host"), Some("www.example.org"));
        assert_eq!(field(&e, "r-dns"), Some("www.example.org"));
        assert_eq!(field(&e, "c-useragent"), Some("sqlmap/1.8"));
        assert_eq!(field(&e, "cs-user-agent"), Some("sqlmap/1.8"));
        assert_eq!(field(&e, "cs-referer"), Some("http://a/"));
        assert_eq!(field(&e, "cs-referrer"), Some("http://a/"));
        assert_eq!(field(&e, "cs-cookie"), Some("k=v"));
        assert_eq!(field(&e, "cs-content-type"), Some("text/plain"));
        assert_eq!(field(&e, "c-ip"), Some("203.0.113.9"));
    }

    #[test]
    fn absent_headers_are_missing_fields() {
        let e = event(&Request { method: Some("GET"), path: Some("/"), ..Request::default() });
        assert_eq!(field(&e, "cs-uri-stem"), Some("/"));
        for name in ["c-uri-query", "c-uri-extension", "cs-host", "c-useragent", "cs-cookie", "c-ip"] {
            assert!(e.get(name).is_none(), "{name}");
        }
        let e = event(&Request { user_agent: Some(""), ..Request::default() });
        assert_eq!(field(&e, "c-useragent"), Some(""));
    }

    #[test]
    fn addresses_lose_their_ports() {
        assert_eq!(strip_port("127.0.0.1:80"), "127.0.0.1");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("example.org"), "example.org");
        let peer = |a| Request { source_address: Some(a), ..Request::default() }.client_ip();
        assert_eq!(peer("10.1.2.3:40000"), Some("10.1.2.3"));
        assert_eq!(peer("[2001:db8::1]:40000"), Some("2001:db8::1"));
        let blank = Request { forwarded_for: Some(" ,x"), source_address: Some("10.0.0.2:1"), ..Request::default() };
        assert_eq!(blank.client_ip(), Some("10.0.0.2"));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("/a/b.tar.gz"), Some("gz"));
        assert_eq!(extension("/a.d/b"), None);
        assert_eq!(extension("/.htaccess"), None);
        assert_eq!(extension("/x."), None);
        assert_eq!(extension("setup.exe"), Some("exe"));
    }
}
