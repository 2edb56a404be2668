//! Where pages and shifts come from: webhook payloads of paging tools (`pagerduty`,
//! `alertmanager`, `opsgenie`, `grafana_oncall`, `incidentio`, verified by `signature`) and files
//! (`csv_pages`, `csv_shifts`, `ics`, sharing `rows`), turned into paydown deliveries and
//! shifts. Everything here is pure: no database, no clock, no network.
//!
//! File importers hand back one `Result` per row, so a bad row is reported with its line
//! number and why and never stops the rows after it; every imported page and shift carries
//! a `(source, external_id)` that is the same each time the same file is imported.
//!
//! ## Webhooks
//!
//! Each submodule reads one tool's webhook body and returns an [`Outcome`]: either the
//! page deliveries it carries, or a note that the event changes no page state and why.
//! Nothing here talks to a database or a clock: the HTTP layer verifies the signature
//! (see [`signature`]), calls a mapper with the raw body and the organisation's
//! [`SourceMapping`], and stores what comes back.
//!
//! Every tool delivers at least once and in any order, and paydown folds all deliveries of a
//! page (keyed by `(source, external_id)`) order-independently: earliest trigger, earliest
//! acknowledgement, latest resolve. So each event maps to a [`Delivery`] carrying *what that
//! event knows*, never "the new status": a resolve carries `triggered_at` and `resolved_at`,
//! so it ends the page resolved even when it arrives before the trigger.
//!
//! ## Shared rules
//!
//! - **Persons.** A tool's user id or email is looked up in [`SourceMapping::people`]
//!   (case-insensitively). An unmapped person is *not* an error: `acknowledged_by` becomes a
//!   stable raw identity that passes paydown's id rule, e.g. `pagerduty:PXPGF42` or
//!   `admin@example.com`, so the page is kept and can be re-attributed once the mapping exists.
//!   An identity that cannot be written within the id rule is left out (the acknowledgement
//!   time is still kept).
//! - **Services.** Each tool offers candidate names for the service (listed per source); the
//!   first candidate found in [`SourceMapping::services`] wins. If none is mapped, the first
//!   candidate present becomes `service_key` as the tool spells it: paydown records such a
//!   page as un-owned (listed under `GET /v1/unmatched`), it never drops it.
//! - **Lanes.** Decided per tool from urgency, priority or a label ([`SourceMapping`] documents
//!   the defaults). A delivery that does not say leaves `lane` empty, so it does not override
//!   a lane another delivery of the same page reported.
//! - **Errors.** A body that is not JSON, lacks a field the mapping needs, has a value of the
//!   wrong type, or a timestamp without an offset is refused with an [`IngestError`] whose
//!   `field` is the JSON path in the *tool's* payload (`event.data.created_at`,
//!   `alerts[1].startsAt`). An event paydown does not use is never an error: it is
//!   [`Outcome::Ignored`] with a reason, so the tool sees it accepted and does not retry.

pub mod alertmanager;
pub mod column_mapping;
pub mod config;
pub mod csv_pages;
pub mod csv_shifts;
pub mod feed;
pub mod grafana_oncall;
pub mod grafana_oncall_rest;
pub mod ics;
pub mod incidentio;
pub mod opsgenie;
pub mod opsgenie_rest;
pub mod pagerduty;
pub mod pagerduty_rest;
pub mod rows;
pub mod signature;

use std::collections::BTreeMap;

/// The webhook sources paydown understands, as they appear in `/v1/webhooks/{source}`.
pub const SOURCES: [&str; 5] = ["pagerduty", "alertmanager", "opsgenie", "grafana_oncall", "incidentio"];

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::field_error::{FieldError, require_slug};
use crate::domain::page::{Delivery, Lane, PageState};

/// One page delivery read from a webhook: which page it is and what it says about it.
#[derive(Debug, Clone)]
pub struct MappedDelivery {
    /// The tool, as paydown names the source: `pagerduty`, `alertmanager`, `opsgenie`,
    /// `grafana_oncall`.
    pub source: &'static str,
    /// The tool's id of the page (incident id, alert id, …); with `source` the idempotency key.
    pub external_id: String,
    /// What this event knows about the page.
    pub delivery: Delivery,
    /// The tool's own name of the event (`incident.resolved`, `Acknowledge`, `firing`, …),
    /// kept for the audit trail.
    pub event: String,
}

// `Delivery` (a domain type) does not derive `PartialEq`; comparing every field here lets
// tests and callers check that a repeated webhook maps to the very same delivery.
impl PartialEq for MappedDelivery {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.delivery, &other.delivery);
        self.source == other.source
            && self.external_id == other.external_id
            && self.event == other.event
            && a.service_key == b.service_key
            && a.title == b.title
            && a.alert_key == b.alert_key
            && a.lane == b.lane
            && a.triggered_at == b.triggered_at
            && a.acknowledged_at == b.acknowledged_at
            && a.acknowledged_by == b.acknowledged_by
            && a.resolved_at == b.resolved_at
    }
}

impl Eq for MappedDelivery {}

/// What a webhook body amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The page deliveries the body carries (Alertmanager groups several alerts in one body).
    Deliveries(Vec<MappedDelivery>),
    /// The event is valid but changes no page state paydown keeps (a note, a ping, …): it is
    /// accepted and recorded as ignored, never silently dropped.
    Ignored {
        /// The tool's name of the event.
        event: String,
        /// Why paydown does not use it, in words an operator can read.
        reason: String,
    },
}

/// A webhook body paydown cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct IngestError {
    /// The JSON path of the offending value in the tool's payload (`alerts[1].startsAt`), or
    /// `body` when the body is not JSON at all.
    pub field: String,
    /// What is wrong, in words a client developer can act on.
    pub message: String,
}

impl IngestError {
    /// An error at `field` (a path in the tool's payload).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError { field: field.into(), message: message.into() }
    }
}

/// How one organisation's tools map onto paydown: persons, services and lanes.
///
/// Deserialisable from the organisation's configuration; every field has a default, so
/// `{}` is a valid mapping. The defaults:
///
/// | field | default |
/// | --- | --- |
/// | `people` | empty: every person stays a raw identity (`pagerduty:PXPGF42`, an email) |
/// | `services` | empty: every service stays as the tool names it (un-owned) |
/// | `service_label` | `service`; Alertmanager then falls back to `job`, then `alertname` |
/// | `alert_key_labels` | empty: the Alertmanager alert key is `alertname` alone |
/// | `lane_label` | `severity` (Alertmanager and Grafana OnCall labels) |
/// | `wake_label_values` | `critical`, `page` → `wake`; any other value → `later` |
/// | `pagerduty_urgency_lanes` | `high` → `wake`, `low` → `later` |
/// | `pagerduty_priority_lanes` | empty (when set, a matching priority name wins over urgency) |
/// | `opsgenie_wake_priorities` | `P1`, `P2` → `wake`; `P3`–`P5` → `later` |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceMapping {
    /// Tool user id or email (compared case-insensitively) → paydown person id.
    pub people: BTreeMap<String, String>,
    /// Tool service id or name (exact) → paydown service id.
    pub services: BTreeMap<String, String>,
    /// The Alertmanager / Grafana label that names the service.
    pub service_label: String,
    /// Alertmanager labels appended to `alertname` to form the alert key, e.g. `["instance"]`
    /// gives `InstanceDown{instance=localhost:8081}`; labels an alert lacks are skipped.
    pub alert_key_labels: Vec<String>,
    /// The Alertmanager / Grafana label that decides the lane.
    pub lane_label: String,
    /// Values of `lane_label` (case-insensitive) that wake a human; any other value is `later`.
    pub wake_label_values: Vec<String>,
    /// PagerDuty incident urgency → lane.
    pub pagerduty_urgency_lanes: BTreeMap<String, Lane>,
    /// PagerDuty priority name (`P1`, …) → lane; consulted before urgency.
    pub pagerduty_priority_lanes: BTreeMap<String, Lane>,
    /// Opsgenie priorities (`P1`–`P5`) that wake a human; the others are `later`.
    pub opsgenie_wake_priorities: Vec<String>,
}

impl Default for SourceMapping {
    fn default() -> Self {
        SourceMapping {
            people: BTreeMap::new(),
            services: BTreeMap::new(),
            service_label: "service".to_owned(),
            alert_key_labels: Vec::new(),
            lane_label: "severity".to_owned(),
            wake_label_values: vec!["critical".to_owned(), "page".to_owned()],
            pagerduty_urgency_lanes: BTreeMap::from([("high".to_owned(), Lane::Wake), ("low".to_owned(), Lane::Later)]),
            pagerduty_priority_lanes: BTreeMap::new(),
            opsgenie_wake_priorities: vec!["P1".to_owned(), "P2".to_owned()],
        }
    }
}

impl SourceMapping {
    /// The paydown person for the first candidate (user id, email, …) that is mapped,
    /// compared case-insensitively, or `None` when none is.
    pub fn person<'a>(&self, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
        candidates.into_iter().find_map(|candidate| {
            let candidate = candidate.trim();
            if candidate.is_empty() {
                return None;
            }
            self.people.get(candidate).cloned().or_else(|| {
                self.people
                    .iter()
                    .find(|(key, _)| key.trim().eq_ignore_ascii_case(candidate))
                    .map(|(_, person)| person.clone())
            })
        })
    }

    /// The service key for a list of candidate names, most specific first: the first mapped
    /// one, else the first non-blank one as the tool spells it (an un-owned page).
    pub fn service<'a>(&self, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let present: Vec<&str> =
            candidates.into_iter().map(str::trim).filter(|candidate| !candidate.is_empty()).collect();
        present
            .iter()
            .find_map(|candidate| self.services.get(*candidate).cloned())
            .or_else(|| present.first().map(|candidate| (*candidate).to_owned()))
    }

    /// The lane a label value asks for: `wake` for one of `wake_label_values`, else `later`.
    pub fn lane_for_label_value(&self, value: &str) -> Lane {
        let value = value.trim();
        if self.wake_label_values.iter().any(|wake| wake.trim().eq_ignore_ascii_case(value)) {
            Lane::Wake
        } else {
            Lane::Later
        }
    }
}

/// The identity recorded for a person: the mapped paydown id, else the first raw candidate
/// that passes paydown's id rule (so an unknown person is kept, not refused).
pub(crate) fn identity(mapped: Option<String>, raw_candidates: &[Option<String>]) -> Option<String> {
    mapped.or_else(|| raw_candidates.iter().flatten().find(|raw| require_slug("acknowledged_by", raw).is_ok()).cloned())
}

/// Reads a JSON body into `T`, naming the JSON path of the first problem.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, IngestError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
    // Trailing garbage after the JSON value is a malformed body, not something to ignore.
    deserializer.end().map_err(|error| IngestError::new("body", without_position(&error)))?;
    Ok(value)
}

fn path_error(error: serde_path_to_error::Error<serde_json::Error>) -> IngestError {
    let path = error.path().to_string();
    let inner = error.inner();
    let message = without_position(inner);
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return IngestError::new("body", format!("not valid JSON: {message}"));
    }
    // serde reports a missing field at the object that lacks it; the client wants the path of
    // the field itself (`event.data.id`, not `event.data`).
    let field = match missing_field_name(&message) {
        Some(name) if path == "." => name.to_owned(),
        Some(name) => format!("{path}.{name}"),
        None if path == "." => "body".to_owned(),
        None => path,
    };
    IngestError::new(field, message)
}

fn missing_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next())
}

/// serde_json appends "at line L column C", which says nothing useful once the path is given.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Checks a mapped delivery against paydown's page rules, so a contradictory payload (a
/// resolve time before its trigger) is refused naming the tool's field, not stored.
///
/// `field_path` turns a paydown field name (`resolved_at`) into the tool's path.
pub(crate) fn checked(delivery: Delivery, field_path: impl Fn(&str) -> String) -> Result<Delivery, IngestError> {
    match PageState::from_delivery(delivery.clone()) {
        Ok(_) => Ok(delivery),
        Err(FieldError { field, message }) => Err(IngestError::new(field_path(&field), message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_mapping_takes_every_default() {
        let mapping: SourceMapping = serde_json::from_str("{}").unwrap();
        assert_eq!(mapping, SourceMapping::default());
        assert_eq!(mapping.service_label, "service");
        assert_eq!(mapping.pagerduty_urgency_lanes.get("high"), Some(&Lane::Wake));
        assert_eq!(mapping.pagerduty_urgency_lanes.get("low"), Some(&Lane::Later));
        assert_eq!(mapping.opsgenie_wake_priorities, vec!["P1", "P2"]);
    }

    #[test]
    fn a_mapping_is_read_from_configuration() {
        let mapping: SourceMapping = serde_json::from_str(
            r#"{"people": {"Fili@IFountain.com": "fili"},
                "services": {"PA2P440": "checkout"},
                "pagerduty_priority_lanes": {"P3": "wake"},
                "wake_label_values": ["critical"]}"#,
        )
        .unwrap();
        assert_eq!(mapping.person(["fili@ifountain.com"]).as_deref(), Some("fili"));
        assert_eq!(mapping.person(["someone@else"]), None);
        assert_eq!(mapping.service(["PA2P440", "pig208"]).as_deref(), Some("checkout"));
        assert_eq!(mapping.service(["", "pig208"]).as_deref(), Some("pig208"));
        assert_eq!(mapping.pagerduty_priority_lanes.get("P3"), Some(&Lane::Wake));
        assert_eq!(mapping.lane_for_label_value("Critical"), Lane::Wake);
        assert_eq!(mapping.lane_for_label_value("page"), Lane::Later);
        // Defaults still apply to the fields not given.
        assert_eq!(mapping.service_label, "service");
    }

    #[test]
    fn an_unknown_mapping_field_is_refused() {
        let error = serde_json::from_str::<SourceMapping>(r#"{"peeple": {}}"#).unwrap_err();
        assert!(error.to_string().contains("peeple"), "{error}");
    }

    #[test]
    fn an_identity_that_breaks_the_id_rule_is_skipped() {
        let raw = [Some("a b@example.com".to_owned()), Some("opsgenie:u1".to_owned())];
        assert_eq!(identity(None, &raw).as_deref(), Some("opsgenie:u1"));
        assert_eq!(identity(Some("alice".into()), &raw).as_deref(), Some("alice"));
        assert_eq!(identity(None, &[None]), None);
    }

    #[test]
    fn a_body_that_is_not_json_is_refused_as_the_body() {
        let error = parse::<serde_json::Value>(b"{\"event\": ").unwrap_err();
        assert_eq!(error.field, "body");
        assert!(error.message.starts_with("not valid JSON"), "{}", error.message);
        let error = parse::<serde_json::Value>(b"{} trailing").unwrap_err();
        assert_eq!(error.field, "body");
    }
}
