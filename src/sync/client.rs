//! A small JSON client for paging tools' REST APIs (ureq + rustls): retries, rate limits
//! and offset pagination, bounded in time and size.
//!
//! - **429**: waits as long as `Retry-After` says (seconds, or an HTTP date), else
//!   `ratelimit-reset` / `X-RateLimit-Reset` (seconds), else the backoff; capped at
//!   [`RetryPolicy::wait_max`].
//! - **5xx and network failures**: retried after an exponential backoff
//!   (`backoff_base`, doubled each time).
//! - Other 4xx: returned at once ([`ClientError::Status`]): a wrong key or a missing record
//!   does not get better by asking again.
//!
//! The key is sent in a header and never appears in an error.

use std::time::Duration;

use serde_json::Value;

/// Largest response body read.
pub const RESPONSE_BYTES_MAX: u64 = 50 * 1024 * 1024;
/// Each phase of one request: connecting, sending it, the answer's head, its body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts_max: u32,
    /// The first backoff after a 5xx or a network failure; doubled after each.
    pub backoff_base: Duration,
    /// Longest single wait, whatever a rate-limit header asks.
    pub wait_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts_max: 6, backoff_base: Duration::from_secs(1), wait_max: Duration::from_secs(120) }
    }
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path} answered HTTP {status}: {message}")]
    Status { path: String, status: u16, message: String },
    #[error("{path}: gave up after {attempts} attempts: {last}")]
    GaveUp { path: String, attempts: u32, last: String },
    #[error("{path}: the answer is not JSON: {message}")]
    NotJson { path: String, message: String },
    #[error("a next-page link leads off the API's host, not followed: {link}")]
    ForeignLink { link: String },
}

/// Counts of what the client did, for the run's report.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub waited: Duration,
}

/// A client for one API base URL with its authentication headers.
pub struct ApiClient {
    agent: ureq::Agent,
    base: String,
    headers: Vec<(String, String)>,
    pub policy: RetryPolicy,
    pub stats: ClientStats,
}

impl ApiClient {
    pub fn new(base: &str, headers: Vec<(String, String)>, policy: RetryPolicy) -> ApiClient {
        let config = ureq::Agent::config_builder()
            // Per phase, not global: with a global timeout ureq resolves the host on a new
            // thread for every request, pooled connection or not (about a tenth of a
            // second each on a loaded machine, longer than the request itself). The name
            // is resolved by the system resolver, with its own time limits.
            .timeout_connect(Some(REQUEST_TIMEOUT))
            .timeout_send_request(Some(REQUEST_TIMEOUT))
            .timeout_recv_response(Some(REQUEST_TIMEOUT))
            .timeout_recv_body(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("paydown/", env!("CARGO_PKG_VERSION")))
            .build();
        ApiClient {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_owned(),
            headers,
            policy,
            stats: ClientStats::default(),
        }
    }

    /// `GET base + path ? query`, retried as the policy says, read as JSON.
    pub fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        self.get_url(&url, path, query)
    }

    /// `GET` of a next-page link an answer gave (Opsgenie's `paging.next`, Grafana OnCall's
    /// `next`). Only a link under the API's own base is followed: the key is never sent to
    /// another host, whatever an answer says.
    pub fn get_link(&mut self, link: &str) -> Result<Value, ClientError> {
        let path = link.strip_prefix(self.base.as_str()).filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        let Some(path) = path else {
            return Err(ClientError::ForeignLink { link: link.chars().take(200).collect() });
        };
        let path = path.split('?').next().unwrap_or_default().to_owned();
        self.get_url(link, &path, &[])
    }

    fn get_url(&mut self, url: &str, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let mut backoff = self.policy.backoff_base;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts_max.max(1) {
            if attempt > 1 {
                self.stats.retries += 1;
            }
            self.stats.requests += 1;
            let mut request = self.agent.get(url);
            for (name, value) in &self.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let request = request.query_pairs(query.iter().map(|(key, value)| (*key, value.as_str())));
            let wait = match request.call() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let header = |name: &str| {
                        response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
                    };
                    let rate_wait = header("retry-after")
                        .and_then(|text| retry_after(&text))
                        .or_else(|| header("ratelimit-reset").and_then(|text| seconds(&text)))
                        .or_else(|| header("x-ratelimit-reset").and_then(|text| seconds(&text)))
                        // Opsgenie: the length of the throttling period.
                        .or_else(|| header("x-ratelimit-period-in-sec").and_then(|text| seconds(&text)));
                    let body = response.body_mut().with_config().limit(RESPONSE_BYTES_MAX).read_to_string();
                    match status {
                        200..=299 => {
                            let body = body.map_err(|error| ClientError::NotJson {
                                path: path.to_owned(),
                                message: error.to_string(),
                            })?;
                            return serde_json::from_str(&body).map_err(|error| ClientError::NotJson {
                                path: path.to_owned(),
                                message: error.to_string(),
                            });
                        }
                        429 => {
                            self.stats.rate_limited += 1;
                            last = "HTTP 429 (rate limited)".to_owned();
                            rate_wait.unwrap_or(backoff)
                        }
                        500..=599 => {
                            last = format!("HTTP {status}");
                            backoff
                        }
                        _ => {
                            let message = body.ok().map(|text| error_message(&text)).unwrap_or_default();
                            return Err(ClientError::Status { path: path.to_owned(), status, message });
                        }
                    }
                }
                Err(error) => {
                    // ureq's message may quote the URL, never the headers: the key stays out.
                    last = error.to_string();
                    backoff
                }
            };
            if attempt == self.policy.attempts_max.max(1) {
                break;
            }
            let wait = wait.min(self.policy.wait_max);
            self.stats.waited += wait;
            std::thread::sleep(wait);
            backoff = backoff.saturating_mul(2);
        }
        Err(ClientError::GaveUp { path: path.to_owned(), attempts: self.policy.attempts_max.max(1), last })
    }

    /// Reads every page of an offset-paginated list (`offset`, `limit`, `more`) and hands
    /// each item of `key` to `each` with its index in the whole list.
    pub fn paginate(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
        limit: u32,
        mut each: impl FnMut(usize, &Value),
    ) -> Result<usize, ClientError> {
        let mut offset = 0_usize;
        loop {
            let mut paged: Vec<(&str, String)> = query.to_vec();
            paged.push(("limit", limit.to_string()));
            paged.push(("offset", offset.to_string()));
            let page = self.get(path, &paged)?;
            let items = page[key].as_array().ok_or_else(|| ClientError::NotJson {
                path: path.to_owned(),
                message: format!("expected an array `{key}`"),
            })?;
            for (index, item) in items.iter().enumerate() {
                each(offset + index, item);
            }
            offset += items.len();
            if items.is_empty() || page["more"].as_bool() != Some(true) {
                return Ok(offset);
            }
        }
    }
}

fn seconds(text: &str) -> Option<Duration> {
    text.trim().parse::<f64>().ok().filter(|value| value.is_finite() && *value >= 0.0).map(Duration::from_secs_f64)
}

/// `Retry-After`: seconds, or an HTTP date (RFC 7231) from now.
fn retry_after(text: &str) -> Option<Duration> {
    seconds(text).or_else(|| {
        let at = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
        let from_now = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
        Some(from_now.to_std().unwrap_or(Duration::ZERO))
    })
}

/// The message of a vendor error body (`{"error": {"message": …}}`), or the start of it.
fn error_message(body: &str) -> String {
    let value: Option<Value> = serde_json::from_str(body).ok();
    value
        .as_ref()
        .and_then(|value| value["error"]["message"].as_str().or(value["message"].as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO), "a past date: at once");
        assert_eq!(retry_after("soon"), None);
        assert_eq!(seconds("-1"), None);
    }

    #[test]
    fn a_next_page_link_off_the_api_host_is_not_followed() {
        let mut client = ApiClient::new("http://127.0.0.1:9/oncall/", Vec::new(), RetryPolicy::default());
        for link in [
            "https://elsewhere.example/api/v1/users/?page=2",
            "http://127.0.0.1:90/oncall/api",
            "http://127.0.0.1:9/oncallx",
        ] {
            match client.get_link(link) {
                Err(ClientError::ForeignLink { link: refused }) => assert_eq!(refused, link),
                other => panic!("{link}: expected a refusal, got {other:?}"),
            }
        }
        assert_eq!(client.stats.requests, 0, "nothing was sent");
    }

    #[test]
    fn a_vendor_error_body_gives_its_message() {
        assert_eq!(error_message(r#"{"error": {"message": "Invalid Token", "code": 2002}}"#), "Invalid Token");
        assert_eq!(error_message("plain"), "plain");
    }
}
