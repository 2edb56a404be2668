//! On-call calendar feeds fetched by URL (`paydown import shifts https://…`), as PagerDuty,
//! Opsgenie and GoAlert publish them.
//!
//! A feed URL usually carries a secret (PagerDuty puts a token in the path), so it is never
//! printed, logged or stored whole: errors name its host, and the shifts' default source is
//! `ics:<host>:<hash>`, a stable name for the feed that reveals nothing of the token.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Largest feed read: a year of a busy rotation is well under a megabyte.
pub const FEED_BYTES_MAX: u64 = 20 * 1024 * 1024;
/// A whole fetch, connection to last byte.
pub const FEED_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a feed could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("`{0}` is not an http:// or https:// URL")]
    NotAUrl(String),
    #[error("the feed at {host} answered HTTP {status}")]
    Status { host: String, status: u16 },
    #[error("the feed at {host} is larger than {FEED_BYTES_MAX} bytes")]
    TooLarge { host: String },
    #[error("could not fetch the feed at {host}: {message}")]
    Fetch { host: String, message: String },
}

/// Whether an argument names a feed by URL rather than a file.
pub fn is_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The host (and port) of a feed URL, the part safe to show.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

/// The default source of a feed's shifts: stable for one URL, without its secret.
pub fn source_of(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    format!("ics:{}:{}", host_of(url).unwrap_or_default(), &hex::encode(digest)[..12])
}

/// Fetches a feed's text over HTTP(S), following redirects, bounded in time and size.
pub fn fetch(url: &str) -> Result<String, FeedError> {
    if !is_url(url) {
        return Err(FeedError::NotAUrl(url.chars().take(40).collect()));
    }
    let host = host_of(url).ok_or_else(|| FeedError::NotAUrl(url.chars().take(40).collect()))?;
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(FEED_TIMEOUT))
        .user_agent(concat!("paydown/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let failed = |error: ureq::Error| match error {
        ureq::Error::StatusCode(status) => FeedError::Status { host: host.clone(), status },
        ureq::Error::BodyExceedsLimit(_) => FeedError::TooLarge { host: host.clone() },
        // ureq's messages may quote the URL; only the kind of failure is kept.
        ureq::Error::Timeout(_) => FeedError::Fetch { host: host.clone(), message: "timed out".to_owned() },
        ureq::Error::HostNotFound => FeedError::Fetch { host: host.clone(), message: "host not found".to_owned() },
        ureq::Error::ConnectionFailed => {
            FeedError::Fetch { host: host.clone(), message: "connection failed".to_owned() }
        }
        ureq::Error::Tls(reason) => FeedError::Fetch { host: host.clone(), message: format!("TLS: {reason}") },
        ureq::Error::Rustls(error) => FeedError::Fetch { host: host.clone(), message: format!("TLS: {error}") },
        ureq::Error::Io(error) => FeedError::Fetch { host: host.clone(), message: error.kind().to_string() },
        other => FeedError::Fetch { host: host.clone(), message: redact(&other.to_string(), url) },
    };
    let mut response = agent.get(url).call().map_err(failed)?;
    response.body_mut().with_config().limit(FEED_BYTES_MAX).read_to_string().map_err(failed)
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<feed URL>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("https://acme.pagerduty.com/private/abc/feed/P1"));
        assert!(is_url("HTTP://localhost:8080/feed.ics"));
        assert!(!is_url("oncall.ics") && !is_url("/tmp/https.ics") && !is_url("ftp://x/y.ics") && !is_url(""));
    }

    #[test]
    fn the_source_keeps_the_host_and_hides_the_token() {
        let url = "https://user:pw@acme.pagerduty.com/private/SECRET-TOKEN/feed/PSCHED";
        assert_eq!(host_of(url).as_deref(), Some("acme.pagerduty.com"));
        let source = source_of(url);
        assert!(source.starts_with("ics:acme.pagerduty.com:") && !source.contains("SECRET"), "{source}");
        assert_eq!(source, source_of(url), "stable");
        assert_ne!(source, source_of("https://acme.pagerduty.com/private/OTHER/feed/PSCHED"));
    }

    #[test]
    fn https_to_a_server_that_speaks_no_tls_is_a_tls_error() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
            }
        });
        let error = fetch(&format!("https://127.0.0.1:{port}/private/SECRET/feed")).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, FeedError::Fetch { .. }), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")) && !text.contains("SECRET"), "{text}");
    }

    #[test]
    fn a_refused_connection_names_the_host_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/private/SECRET/feed");
        let error = fetch(&url).unwrap_err().to_string();
        assert!(error.contains(&format!("127.0.0.1:{port}")) && !error.contains("SECRET"), "{error}");
    }
}
