//! Grafana OnCall outgoing webhooks → paydown page deliveries.
//!
//! Body: OnCall's default outgoing webhook data (the "Forward whole payload" template):
//! `{"event": {"type", "time"}, "user", "alert_group": {…}, "alert_group_acknowledged_by",
//! "alert_payload", "integration", …}`. OnCall cannot sign; authenticate it with its
//! `Authorization` header field ([`super::signature::verify_bearer`]).
//!
//! Every OnCall event carries a snapshot of the whole alert group (its creation,
//! acknowledgement and resolve times), so each event maps to a delivery of *that snapshot*:
//! whichever event arrives first, later or twice, the fold ends in the group's state.
//!
//! ## Mapping rules
//!
//! | paydown | Grafana OnCall |
//! | --- | --- |
//! | source | `grafana_oncall` |
//! | external id | `alert_group.id` |
//! | service | the first of label `service_label` (default `service`) on `alert_group.labels`, then on `alert_payload.labels`, `integration.name`, `integration.id`, `alert_group.integration_id` that [`SourceMapping::services`] maps; unmapped: the first present |
//! | title | `alert_group.title` |
//! | alert key | `alert_payload.labels.alertname` when the alert came from Alertmanager or Grafana Alerting; else none |
//! | lane | label `lane_label` (default `severity`) on `alert_group.labels`, then `alert_payload.labels`: one of `wake_label_values` → wake, other → later; absent → not stated |
//! | triggered at | `alert_group.created_at` |
//! | acknowledged at | `alert_group.acknowledged_at` (for an `acknowledge` event without it, `event.time`) |
//! | acknowledged by | `alert_group_acknowledged_by` (for an `acknowledge` event without it, `user`): its id, email or username mapped through [`SourceMapping::people`], else the email (lower-cased), else `grafana_oncall:<user id>` |
//! | resolved at | `alert_group.resolved_at` (for a `resolve` event without it, `event.time`) |
//!
//! ## Events (`event.type`)
//!
//! - `alert group created` (and `firing`, its name in older OnCall versions), `acknowledge`,
//!   `resolve`, `unacknowledge`, `unresolve`, `escalation`: the snapshot. After an
//!   `unacknowledge` or `unresolve` the snapshot has no acknowledgement or resolve, which the
//!   fold reads as "this delivery does not say": an acknowledgement that happened is kept,
//!   and a page cannot be un-resolved (the next `resolve` carries the later time, which wins).
//! - `silence`, `unsilence`: silencing pauses notifications and changes nothing paydown
//!   keeps: [`Outcome::Ignored`]. Any other type (new OnCall versions): ignored with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{IngestError, MappedDelivery, Outcome, SourceMapping, checked, identity, parse};
use crate::domain::page::Delivery;
use crate::domain::timestamp::{rfc3339, rfc3339_option};

/// The source name paydown stores for Grafana OnCall pages.
pub const SOURCE: &str = "grafana_oncall";

#[derive(Deserialize)]
struct TypeEnvelope {
    event: EventType,
}

#[derive(Deserialize)]
struct EventType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Payload {
    event: Event,
    #[serde(default)]
    user: Option<User>,
    alert_group: AlertGroup,
    #[serde(default)]
    alert_group_acknowledged_by: Option<User>,
    #[serde(default)]
    alert_payload: Option<serde_json::Value>,
    #[serde(default)]
    integration: Option<Integration>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default, with = "rfc3339_option")]
    time: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct AlertGroup {
    id: String,
    #[serde(with = "rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339_option")]
    acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, with = "rfc3339_option")]
    resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    integration_id: Option<String>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Integration {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn is_snapshot_event(kind: &str) -> Result<(), &'static str> {
    match kind {
        "alert group created" | "firing" | "acknowledge" | "resolve" | "unacknowledge" | "unresolve" | "escalation" => {
            Ok(())
        }
        "silence" | "unsilence" => Err("silencing pauses notifications and changes no page state paydown keeps"),
        _ => Err("this event type changes no page state paydown keeps"),
    }
}

/// Maps a Grafana OnCall outgoing webhook body to the alert group's delivery, or to
/// [`Outcome::Ignored`] for an event that changes no page state.
pub fn map(body: &[u8], mapping: &SourceMapping) -> Result<Outcome, IngestError> {
    let TypeEnvelope { event: EventType { kind } } = parse(body)?;
    if let Err(reason) = is_snapshot_event(kind.trim()) {
        return Ok(Outcome::Ignored { event: kind, reason: reason.to_owned() });
    }
    let payload: Payload = parse(body)?;
    let group = &payload.alert_group;

    let group_label = |name: &str| group.labels.as_ref().and_then(|labels| labels.get(name)).map(String::as_str);
    let payload_label = |name: &str| {
        payload
            .alert_payload
            .as_ref()
            .and_then(|alert| alert.get("labels"))
            .and_then(|labels| labels.get(name))
            .and_then(serde_json::Value::as_str)
    };
    let integration = payload.integration.as_ref();
    let service_key = mapping
        .service([
            group_label(&mapping.service_label).unwrap_or(""),
            payload_label(&mapping.service_label).unwrap_or(""),
            integration.and_then(|i| i.name.as_deref()).unwrap_or(""),
            integration.and_then(|i| i.id.as_deref()).unwrap_or(""),
            group.integration_id.as_deref().unwrap_or(""),
        ])
        .ok_or_else(|| {
            IngestError::new("integration.name", "needs an integration (or a service label) to name the service")
        })?;
    let lane = group_label(&mapping.lane_label)
        .or_else(|| payload_label(&mapping.lane_label))
        .map(|value| mapping.lane_for_label_value(value));
    let alert_key = payload_label("alertname").map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned);

    // The snapshot is authoritative; the event's own time only fills a gap in it.
    let acknowledged_at = group.acknowledged_at.or(match kind.trim() {
        "acknowledge" => payload.event.time,
        _ => None,
    });
    let resolved_at = group.resolved_at.or(match kind.trim() {
        "resolve" => payload.event.time,
        _ => None,
    });
    let acknowledger = payload.alert_group_acknowledged_by.as_ref().or(match kind.trim() {
        "acknowledge" => payload.user.as_ref(),
        _ => None,
    });
    // An acknowledger without an acknowledgement time would be refused by the page rules.
    let acknowledged_by = acknowledged_at.and(acknowledger).and_then(|user| person(user, mapping));

    let delivery = checked(
        Delivery {
            service_key,
            title: group.title.as_deref().map(str::trim).filter(|title| !title.is_empty()).map(str::to_owned),
            alert_key,
            lane,
            triggered_at: group.created_at,
            acknowledged_at,
            acknowledged_by,
            resolved_at,
        },
        |field| {
            match field {
                "acknowledged_at" => "alert_group.acknowledged_at",
                "resolved_at" => "alert_group.resolved_at",
                "triggered_at" => "alert_group.created_at",
                "acknowledged_by" => "alert_group_acknowledged_by",
                "title" => "alert_group.title",
                "service" => "integration.name",
                "alert_key" => "alert_payload.labels.alertname",
                _ => "alert_group",
            }
            .to_owned()
        },
    )?;
    Ok(Outcome::Deliveries(vec![MappedDelivery {
        source: SOURCE,
        external_id: payload.alert_group.id,
        delivery,
        event: kind,
    }]))
}

fn person(user: &User, mapping: &SourceMapping) -> Option<String> {
    let text =
        |field: &Option<String>| field.as_deref().map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned);
    let (id, email, username) = (text(&user.id), text(&user.email), text(&user.username));
    let mapped = mapping.person([&id, &email, &username].into_iter().flatten().map(String::as_str));
    identity(mapped, &[email.map(|email| email.to_lowercase()), id.map(|id| format!("{SOURCE}:{id}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{Lane, PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;

    const RESOLVE: &str = include_str!("../../tests/samples/grafana_oncall/docs/outgoing_webhook_resolve_example.json");

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn one(body: &[u8], mapping: &SourceMapping) -> MappedDelivery {
        match map(body, mapping).unwrap() {
            Outcome::Deliveries(mut deliveries) => {
                assert_eq!(deliveries.len(), 1);
                deliveries.remove(0)
            }
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn tampered(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(RESOLVE).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    /// The same alert group as OnCall would send it when it was created.
    fn created() -> Vec<u8> {
        tampered(|value| {
            value["event"] =
                serde_json::json!({"type": "alert group created", "time": "2023-04-19T21:53:48.231148+00:00"});
            value["alert_group"]["state"] = "firing".into();
            value["alert_group"]["acknowledged_at"] = serde_json::Value::Null;
            value["alert_group"]["resolved_at"] = serde_json::Value::Null;
            value.as_object_mut().unwrap().remove("alert_group_acknowledged_by");
        })
    }

    #[test]
    fn a_resolve_carries_the_whole_snapshot() {
        let mapped = one(RESOLVE.as_bytes(), &SourceMapping::default());
        assert_eq!(mapped.source, "grafana_oncall");
        assert_eq!(mapped.external_id, "I6HNZGUFG4K11");
        assert_eq!(mapped.event, "resolve");
        let delivery = &mapped.delivery;
        assert_eq!(delivery.triggered_at, at("2023-04-19T21:53:48.231148Z"));
        assert_eq!(delivery.acknowledged_at, Some(at("2023-04-19T21:54:39.029347Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("admin@localhost"));
        assert_eq!(delivery.resolved_at, Some(at("2023-04-19T21:59:21.714058Z")));
        assert_eq!(delivery.title.as_deref(), Some("Incident"));
        assert_eq!(delivery.service_key, "Main Integration - Webhook");
        assert_eq!(delivery.alert_key.as_deref(), Some("TestAlert"));
        // No `severity` label anywhere: the lane is not stated.
        assert_eq!(delivery.lane, None);
    }

    #[test]
    fn people_services_and_lanes_are_configurable() {
        let mapping = SourceMapping {
            people: [("UVMX6YI9VY9PV".to_owned(), "ada".to_owned())].into(),
            services: [("CZ7URAT4V3QF2".to_owned(), "webhooks-demo".to_owned())].into(),
            lane_label: "urgency".to_owned(),
            wake_label_values: vec!["1".to_owned(), "2".to_owned()],
            ..SourceMapping::default()
        };
        let delivery = one(RESOLVE.as_bytes(), &mapping).delivery;
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("ada"));
        assert_eq!(delivery.service_key, "webhooks-demo");
        assert_eq!(delivery.lane, Some(Lane::Later));
        // A `service` label on the alert names the service before the integration does.
        let body = tampered(|value| {
            value["alert_payload"]["labels"]["service"] = "checkout".into();
        });
        assert_eq!(one(&body, &SourceMapping::default()).delivery.service_key, "checkout");
    }

    #[test]
    fn a_person_without_email_is_kept_by_their_oncall_id() {
        let body = tampered(|value| {
            value["alert_group_acknowledged_by"]["email"] = serde_json::Value::Null;
        });
        assert_eq!(
            one(&body, &SourceMapping::default()).delivery.acknowledged_by.as_deref(),
            Some("grafana_oncall:UVMX6YI9VY9PV")
        );
    }

    #[test]
    fn a_resolve_before_its_creation_ends_the_page_resolved() {
        let trigger = one(&created(), &SourceMapping::default());
        assert_eq!(trigger.event, "alert group created");
        assert_eq!(trigger.delivery.acknowledged_at, None);
        assert_eq!(trigger.delivery.resolved_at, None);
        let resolve = one(RESOLVE.as_bytes(), &SourceMapping::default());
        let states: Vec<PageState> =
            [resolve, trigger].into_iter().map(|mapped| PageState::from_delivery(mapped.delivery).unwrap()).collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.acknowledged_by.as_deref(), Some("admin@localhost"));
        assert_eq!(page.resolved_at, Some(at("2023-04-19T21:59:21.714058Z")));
    }

    #[test]
    fn an_acknowledge_without_the_snapshot_time_uses_the_event() {
        let body = tampered(|value| {
            value["event"] = serde_json::json!({"type": "acknowledge", "time": "2023-04-19T21:54:39.029347+00:00"});
            value["alert_group"]["acknowledged_at"] = serde_json::Value::Null;
            value["alert_group"]["resolved_at"] = serde_json::Value::Null;
            value.as_object_mut().unwrap().remove("alert_group_acknowledged_by");
        });
        let delivery = one(&body, &SourceMapping::default()).delivery;
        assert_eq!(delivery.acknowledged_at, Some(at("2023-04-19T21:54:39.029347Z")));
        // The acting user acknowledged it.
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("admin@localhost"));
        assert_eq!(delivery.resolved_at, None);
    }

    #[test]
    fn silences_and_unknown_events_are_ignored_with_a_reason() {
        for kind in ["silence", "unsilence", "personal notification"] {
            let body = tampered(|value| value["event"]["type"] = kind.into());
            match map(&body, &SourceMapping::default()).unwrap() {
                Outcome::Ignored { event, reason } => {
                    assert_eq!(event, kind);
                    assert!(!reason.is_empty());
                }
                other => panic!("{kind}: expected ignored, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_duplicate_delivery_maps_identically() {
        assert_eq!(
            map(RESOLVE.as_bytes(), &SourceMapping::default()).unwrap(),
            map(RESOLVE.as_bytes(), &SourceMapping::default()).unwrap()
        );
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = tampered(|value| {
            value["alert_group"].as_object_mut().unwrap().remove("created_at");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert_group.created_at");
        let body = tampered(|value| {
            value.as_object_mut().unwrap().remove("alert_group");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert_group");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let body = tampered(|value| value["alert_group"]["id"] = 42.into());
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert_group.id");
    }

    #[test]
    fn a_timestamp_without_offset_is_refused() {
        let body = tampered(|value| {
            value["alert_group"]["resolved_at"] = "2023-04-19T21:59:21.714058".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert_group.resolved_at");
        assert!(error.message.contains("offset"), "{}", error.message);
    }

    #[test]
    fn an_acknowledgement_before_creation_is_refused() {
        let body = tampered(|value| {
            value["alert_group"]["acknowledged_at"] = "2023-04-19T21:00:00Z".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert_group.acknowledged_at");
    }
}
