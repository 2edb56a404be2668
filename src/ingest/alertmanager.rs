//! Prometheus Alertmanager webhooks (payload version 4) → paydown page deliveries.
//!
//! One body groups several alerts; each alert is one page and one delivery. Alertmanager
//! cannot sign: authenticate it with a bearer token in its `http_config.authorization`
//! ([`super::signature::verify_bearer`]).
//!
//! ## Mapping rules
//!
//! | paydown | Alertmanager (`alerts[i]`) |
//! | --- | --- |
//! | source | `alertmanager` |
//! | external id | `<fingerprint>@<startsAt>` (e.g. `a1bc48475b20e73d@2020-02-06T00:17:58.432911Z`). The fingerprint names the *label set*, which fires again and again; `startsAt` is fixed for one firing episode (Alertmanager keeps the first `startsAt` while the alert is active) and new for the next, so each episode is its own page and a recurring alert is not folded into one endless page. Without a `fingerprint` (senders other than Alertmanager), `labels:<16 hex>`: the first 16 hex digits of SHA-256 over the sorted labels, length-prefixed; a sender that sometimes sends the fingerprint and sometimes not splits the page in two |
//! | service | the first of labels `service_label` (default `service`), `job`, `alertname` and the payload's `receiver` that [`SourceMapping::services`] maps; unmapped: the first of them present |
//! | title | annotation `summary`, else annotation `title`, else label `alertname` |
//! | alert key | label `alertname`, plus `{label=value,…}` for each of `alert_key_labels` the alert has (none by default) |
//! | lane | label `lane_label` (default `severity`): one of `wake_label_values` (default `critical`, `page`) → wake, any other value → later; no such label → not stated |
//! | triggered at | `startsAt` (Go's zero time there is refused: the page would have no start) |
//! | resolved at | `endsAt` of a `resolved` alert. A resolved alert whose `endsAt` is Go's zero time `0001-01-01T00:00:00Z` (unknown) is resolved at its `startsAt`: version 4 has no payload-level time, and a time taken from paydown's clock would make a repeated delivery move the resolve. `startsAt` is the earliest the resolve can have been, so the status is right, and a delivery with a real `endsAt` (the latest resolve wins) corrects the time |
//! | acknowledged | never: Alertmanager has no acknowledgement |
//!
//! A `firing` alert's `endsAt` is Prometheus's expiry estimate, not a resolve, and is ignored.
//! A body with no alerts is [`Outcome::Ignored`]; one with more than
//! [`ALERTS_PER_BODY_MAX`] alerts is refused naming `alerts` (each alert is a page delivery
//! in its own transaction; Alertmanager's `max_alerts` caps a body).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{IngestError, MappedDelivery, Outcome, SourceMapping, checked, parse};
use crate::domain::limits::ALERTS_PER_BODY_MAX;
use crate::domain::page::Delivery;
use crate::domain::timestamp::{format_rfc3339, rfc3339, rfc3339_option};

/// The source name paydown stores for Alertmanager pages.
pub const SOURCE: &str = "alertmanager";

/// The only payload version this mapper reads.
const VERSION: &str = "4";

#[derive(Deserialize)]
struct Payload {
    version: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
struct Alert {
    status: AlertStatus,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(rename = "startsAt", with = "rfc3339")]
    starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt", default, with = "rfc3339_option")]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// Go's zero `time.Time`, which Alertmanager sends for "unknown".
fn is_zero_time(instant: DateTime<Utc>) -> bool {
    instant.year() <= 1
}

/// Maps an Alertmanager v4 webhook body to one delivery per alert.
pub fn map(body: &[u8], mapping: &SourceMapping) -> Result<Outcome, IngestError> {
    let payload: Payload = parse(body)?;
    if payload.version.trim() != VERSION {
        return Err(IngestError::new(
            "version",
            format!("expected Alertmanager webhook payload version \"{VERSION}\", got \"{}\"", payload.version),
        ));
    }
    if payload.alerts.is_empty() {
        return Ok(Outcome::Ignored {
            event: payload.status.unwrap_or_else(|| "empty".to_owned()),
            reason: "the payload lists no alerts".to_owned(),
        });
    }
    if payload.alerts.len() > ALERTS_PER_BODY_MAX {
        return Err(IngestError::new(
            "alerts",
            format!(
                "lists {} alerts; one body carries at most {ALERTS_PER_BODY_MAX} (set Alertmanager's `max_alerts`)",
                payload.alerts.len()
            ),
        ));
    }
    let receiver = payload.receiver.unwrap_or_default();
    payload
        .alerts
        .into_iter()
        .enumerate()
        .map(|(index, alert)| map_alert(index, alert, &receiver, mapping))
        .collect::<Result<Vec<_>, _>>()
        .map(Outcome::Deliveries)
}

fn map_alert(
    index: usize,
    alert: Alert,
    receiver: &str,
    mapping: &SourceMapping,
) -> Result<MappedDelivery, IngestError> {
    let path = |field: &str| format!("alerts[{index}].{field}");
    if is_zero_time(alert.starts_at) {
        return Err(IngestError::new(path("startsAt"), "must be the time the alert started, not Go's zero time"));
    }
    let label = |name: &str| alert.labels.get(name).map(String::as_str).unwrap_or("");
    let service_key = mapping
        .service([label(&mapping.service_label), label("job"), label("alertname"), receiver])
        .ok_or_else(|| {
            IngestError::new(
                path("labels"),
                format!(
                    "needs a `{}`, `job` or `alertname` label (or a receiver) to name the service",
                    mapping.service_label
                ),
            )
        })?;
    let annotation = |name: &str| {
        alert
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(name))
            .map(|text| text.trim())
            .filter(|text| !text.is_empty())
    };
    let alertname = Some(label("alertname").trim()).filter(|name| !name.is_empty());
    let title = annotation("summary").or_else(|| annotation("title")).or(alertname).map(str::to_owned);
    let alert_key = alertname.map(|name| alert_key(name, &alert.labels, mapping));
    let lane = alert.labels.get(&mapping.lane_label).map(|value| mapping.lane_for_label_value(value));
    let resolved_at = match alert.status {
        AlertStatus::Firing => None,
        AlertStatus::Resolved => {
            Some(alert.ends_at.filter(|ends_at| !is_zero_time(*ends_at)).unwrap_or(alert.starts_at))
        }
    };
    let fingerprint = alert
        .fingerprint
        .as_deref()
        .map(str::trim)
        .filter(|fingerprint| !fingerprint.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| labels_fingerprint(&alert.labels));
    let delivery = checked(
        Delivery {
            service_key,
            title,
            alert_key,
            lane,
            triggered_at: alert.starts_at,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at,
        },
        |field| match field {
            "resolved_at" => path("endsAt"),
            "triggered_at" => path("startsAt"),
            "title" => path("annotations"),
            _ => path("labels"),
        },
    )?;
    Ok(MappedDelivery {
        source: SOURCE,
        external_id: format!("{fingerprint}@{}", format_rfc3339(&alert.starts_at)),
        delivery,
        event: alert.status.as_str().to_owned(),
    })
}

fn alert_key(alertname: &str, labels: &BTreeMap<String, String>, mapping: &SourceMapping) -> String {
    let extra: Vec<String> = mapping
        .alert_key_labels
        .iter()
        .filter_map(|name| labels.get(name).map(|value| format!("{name}={value}")))
        .collect();
    if extra.is_empty() { alertname.to_owned() } else { format!("{alertname}{{{}}}", extra.join(",")) }
}

/// A stable stand-in for a missing fingerprint: SHA-256 over the sorted labels, each name and
/// value length-prefixed so no two label sets encode alike.
fn labels_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in labels {
        for part in [name, value] {
            hasher.update(part.len().to_string().as_bytes());
            hasher.update(b":");
            hasher.update(part.as_bytes());
        }
    }
    let digest = hex::encode(hasher.finalize());
    format!("labels:{}", &digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{Lane, PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;

    const ZULIP_FIRING: &str = include_str!("../../tests/samples/alertmanager/zulip/alert.json");
    const ZULIP_RESOLVED_ZERO_END: &str = include_str!("../../tests/samples/alertmanager/zulip/single_alert.json");
    const SNITCH_RESOLVED: &str = include_str!("../../tests/samples/alertmanager/alertsnitch/sample-payload.json");
    const SNITCH_NO_FINGERPRINT: &str =
        include_str!("../../tests/samples/alertmanager/alertsnitch/sample-payload-invalid-ends-at.json");
    const ONCALL_EXAMPLE: &str =
        include_str!("../../tests/samples/alertmanager/grafana_oncall/example_payload_alertmanager.json");

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn deliveries(body: &str, mapping: &SourceMapping) -> Vec<MappedDelivery> {
        match map(body.as_bytes(), mapping).unwrap() {
            Outcome::Deliveries(deliveries) => deliveries,
            other => panic!("expected deliveries, got {other:?}"),
        }
    }

    fn tampered(body: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(body).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn each_alert_of_a_group_is_a_page() {
        let mapped = deliveries(ZULIP_FIRING, &SourceMapping::default());
        assert_eq!(mapped.len(), 2);
        assert_eq!(mapped[0].external_id, "a1bc48475b20e73d@2020-02-06T00:17:58.432911Z");
        assert_eq!(mapped[1].external_id, "c2ea85182f28cbd9@2020-02-06T00:17:58.432911Z");
        let delivery = &mapped[0].delivery;
        assert_eq!(mapped[0].source, "alertmanager");
        assert_eq!(mapped[0].event, "firing");
        // No `service` or `job` label: the alert name names the service.
        assert_eq!(delivery.service_key, "High CPU Temperature");
        assert_eq!(delivery.title.as_deref(), Some("High CPU core temperature"));
        assert_eq!(delivery.alert_key.as_deref(), Some("High CPU Temperature"));
        assert_eq!(delivery.lane, Some(Lane::Wake));
        // Nanoseconds are truncated to microseconds, as paydown stores them.
        assert_eq!(delivery.triggered_at, at("2020-02-06T00:17:58.432911Z"));
        // The zero endsAt of a firing alert is no resolve.
        assert_eq!(delivery.resolved_at, None);
    }

    #[test]
    fn a_resolved_alert_with_a_real_end_is_resolved_then() {
        let mapped = deliveries(SNITCH_RESOLVED, &SourceMapping::default());
        assert_eq!(mapped.len(), 1);
        assert_eq!(mapped[0].external_id, "dd19ae3d4e06ac55@2019-01-02T10:31:46.054454Z");
        assert_eq!(mapped[0].event, "resolved");
        let delivery = &mapped[0].delivery;
        assert_eq!(delivery.service_key, "node-exporter");
        assert_eq!(delivery.title.as_deref(), Some("Non ephemeral host is DOWN"));
        assert_eq!(delivery.alert_key.as_deref(), Some("MyAlertName"));
        assert_eq!(delivery.triggered_at, at("2019-01-02T10:31:46.054454Z"));
        assert_eq!(delivery.resolved_at, Some(at("2019-01-02T10:36:46.054454Z")));
    }

    #[test]
    fn a_resolve_before_its_trigger_with_a_zero_end_ends_the_page_resolved() {
        let resolve = deliveries(ZULIP_RESOLVED_ZERO_END, &SourceMapping::default()).remove(0);
        let trigger = deliveries(ZULIP_FIRING, &SourceMapping::default()).remove(0);
        assert_eq!(resolve.external_id, trigger.external_id);
        // Unknown end: resolved at its start, the earliest it can have been.
        assert_eq!(resolve.delivery.resolved_at, Some(at("2020-02-06T00:17:58.432911Z")));
        assert_eq!(resolve.delivery.triggered_at, trigger.delivery.triggered_at);
        let states: Vec<PageState> = [resolve.clone(), trigger.clone(), resolve]
            .into_iter()
            .map(|mapped| PageState::from_delivery(mapped.delivery).unwrap())
            .collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.service_key, "High CPU Temperature");
    }

    #[test]
    fn a_missing_fingerprint_falls_back_to_a_stable_label_hash() {
        let first = deliveries(SNITCH_NO_FINGERPRINT, &SourceMapping::default());
        let second = deliveries(SNITCH_NO_FINGERPRINT, &SourceMapping::default());
        assert_eq!(first, second);
        let id = &first[0].external_id;
        assert!(id.starts_with("labels:"), "{id}");
        assert!(id.ends_with("@2019-01-02T10:31:46.054454Z"), "{id}");
        assert_eq!(id.len(), "labels:".len() + 16 + "@2019-01-02T10:31:46.054454Z".len());
        // Zero endsAt on a resolved alert: resolved at its start.
        assert_eq!(first[0].delivery.resolved_at, Some(at("2019-01-02T10:31:46.054454Z")));
        // Another label set hashes differently.
        let other = tampered(SNITCH_NO_FINGERPRINT, |value| {
            value["alerts"][0]["labels"]["instance"] = "192.168.1.3:9100".into();
        });
        let Outcome::Deliveries(other) = map(&other, &SourceMapping::default()).unwrap() else {
            panic!("expected deliveries");
        };
        assert_ne!(&other[0].external_id, id);
    }

    #[test]
    fn labels_configure_the_service_and_the_alert_key() {
        let mapping = SourceMapping {
            service_label: "group".to_owned(),
            alert_key_labels: vec!["instance".to_owned(), "absent".to_owned()],
            services: [("production".to_owned(), "web".to_owned())].into(),
            ..SourceMapping::default()
        };
        let mapped = deliveries(ONCALL_EXAMPLE, &mapping);
        assert_eq!(mapped.len(), 2);
        assert_eq!(mapped[0].delivery.service_key, "web");
        assert_eq!(mapped[1].delivery.service_key, "canary");
        assert_eq!(mapped[0].delivery.alert_key.as_deref(), Some("InstanceDown{instance=localhost:8081}"));
        assert_eq!(mapped[0].delivery.title.as_deref(), Some("Instance localhost:8081 down"));
        assert_eq!(mapped[0].external_id, "f404ecabc8dd5cd7@2023-06-12T08:24:38.326Z");
        // Default service label: `service` is absent, `job` names it.
        let mapped = deliveries(ONCALL_EXAMPLE, &SourceMapping::default());
        assert_eq!(mapped[1].delivery.service_key, "node");
    }

    #[test]
    fn a_severity_outside_the_wake_values_is_later_and_no_severity_says_nothing() {
        let body = tampered(ONCALL_EXAMPLE, |value| {
            value["alerts"][0]["labels"]["severity"] = "warning".into();
            value["alerts"][1]["labels"].as_object_mut().unwrap().remove("severity");
        });
        let Outcome::Deliveries(mapped) = map(&body, &SourceMapping::default()).unwrap() else {
            panic!("expected deliveries");
        };
        assert_eq!(mapped[0].delivery.lane, Some(Lane::Later));
        assert_eq!(mapped[1].delivery.lane, None);
    }

    #[test]
    fn a_duplicate_delivery_maps_identically() {
        assert_eq!(
            map(ZULIP_FIRING.as_bytes(), &SourceMapping::default()).unwrap(),
            map(ZULIP_FIRING.as_bytes(), &SourceMapping::default()).unwrap()
        );
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = tampered(ZULIP_FIRING, |value| {
            value["alerts"][1].as_object_mut().unwrap().remove("startsAt");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[1].startsAt");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let body = tampered(ZULIP_FIRING, |value| {
            value["alerts"][0]["labels"]["severity"] = 5.into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[0].labels.severity");
        let body = tampered(ZULIP_FIRING, |value| {
            value["alerts"][1]["status"] = "pending".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[1].status");
    }

    #[test]
    fn a_timestamp_without_offset_is_refused() {
        let body = tampered(ZULIP_FIRING, |value| {
            value["alerts"][1]["startsAt"] = "2020-02-06T00:17:58.432911368".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[1].startsAt");
        assert!(error.message.contains("offset"), "{}", error.message);
    }

    #[test]
    fn an_end_before_the_start_or_a_zero_start_is_refused() {
        let body = tampered(SNITCH_RESOLVED, |value| {
            value["alerts"][0]["endsAt"] = "2019-01-02T10:00:00Z".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[0].endsAt");
        let body = tampered(SNITCH_RESOLVED, |value| {
            value["alerts"][0]["startsAt"] = "0001-01-01T00:00:00Z".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alerts[0].startsAt");
    }

    #[test]
    fn another_version_or_no_alerts() {
        let body = tampered(ZULIP_FIRING, |value| value["version"] = "3".into());
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "version");
        let body = tampered(ZULIP_FIRING, |value| value["alerts"] = serde_json::json!([]));
        assert!(matches!(map(&body, &SourceMapping::default()).unwrap(), Outcome::Ignored { .. }));
    }
}
