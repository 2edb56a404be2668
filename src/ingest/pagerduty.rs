//! PagerDuty webhooks (v3) → paydown page deliveries.
//!
//! Body: `{"event": {"event_type", "occurred_at", "agent", "data": {…}}}`. Verify the
//! `X-PagerDuty-Signature` header first with [`super::signature::verify_pagerduty`].
//!
//! ## Mapping rules
//!
//! | paydown | PagerDuty |
//! | --- | --- |
//! | source | `pagerduty` |
//! | external id | `event.data.id` (the incident id) |
//! | service | `event.data.service.id` or `.summary`, whichever [`SourceMapping::services`] maps (id first); unmapped: the service **id** (stable across renames) |
//! | title | `event.data.title` |
//! | alert key | `event.data.incident_key` (the dedup key of Events API incidents), when present |
//! | lane | `event.data.priority.summary` through `pagerduty_priority_lanes` if it matches, else `event.data.urgency` through `pagerduty_urgency_lanes` (default `high` → wake, `low` → later); neither → not stated |
//! | triggered at | `event.data.created_at`; payloads without it (older v3 captures) use `event.occurred_at`, an upper bound: the real trigger delivery, when it arrives, is earlier and wins the fold |
//! | acknowledged at | `event.occurred_at` of `incident.acknowledged` |
//! | acknowledged by | `event.agent` when it is a user, else the only assignee; mapped through [`SourceMapping::people`], else `pagerduty:<user id>` |
//! | resolved at | `event.occurred_at` of `incident.resolved` |
//!
//! ## Events
//!
//! - `incident.triggered`: the trigger.
//! - `incident.acknowledged`: trigger + acknowledgement (time and person).
//! - `incident.resolved`: trigger + resolve, so a resolve that arrives first still ends the
//!   page resolved. PagerDuty's resolve payload does not say when or by whom the incident was
//!   acknowledged, so it carries no acknowledgement.
//! - `incident.reassigned`, `incident.escalated`, `incident.delegated`,
//!   `incident.priority_updated`, `incident.unacknowledged`, `incident.reopened`: a delivery
//!   carrying the trigger and the incident's current title, service and lane (a priority or
//!   urgency change moves the lane) but no acknowledgement or resolve. paydown keeps who
//!   *acknowledged*, not who is assigned, so a reassignment or escalation changes no pay fact;
//!   the delivery still anchors the page if the trigger was lost.
//!   - `unacknowledged` (PagerDuty's ack timeout or a manual un-ack) does **not** erase the
//!     acknowledgement: someone did respond, and the fold keeps the earliest acknowledgement.
//!   - `reopened`: the fold cannot un-resolve a page. Until the incident resolves again the
//!     page keeps its first resolve time; the second `incident.resolved` carries a later
//!     `occurred_at`, and the latest resolve wins, so the page ends with the final resolve and
//!     the reopened stretch is counted inside it.
//! - Every other event (`incident.annotated`, `incident.responder.added`,
//!   `incident.status_update_published`, `incident.conference_bridge.updated`,
//!   `incident.custom_field_values.updated`, `service.*`, `pagey.ping`, …) changes no page
//!   state paydown keeps: [`Outcome::Ignored`] with the reason.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{IngestError, MappedDelivery, Outcome, SourceMapping, checked, identity, parse};
use crate::domain::page::{Delivery, Lane};
use crate::domain::timestamp::{rfc3339, rfc3339_option};

/// The source name paydown stores for PagerDuty pages.
pub const SOURCE: &str = "pagerduty";

/// Only the event type, read first to pick how to read the rest.
#[derive(Deserialize)]
struct EventTypeEnvelope {
    event: EventTypeOnly,
}

#[derive(Deserialize)]
struct EventTypeOnly {
    event_type: String,
}

#[derive(Deserialize)]
struct IncidentEnvelope {
    event: IncidentEvent,
}

#[derive(Deserialize)]
struct IncidentEvent {
    #[serde(with = "rfc3339")]
    occurred_at: DateTime<Utc>,
    #[serde(default)]
    agent: Option<Reference>,
    data: Incident,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    incident_key: Option<String>,
    #[serde(default, with = "rfc3339_option")]
    created_at: Option<DateTime<Utc>>,
    service: Reference,
    #[serde(default)]
    assignees: Option<Vec<Reference>>,
    #[serde(default)]
    priority: Option<Reference>,
    #[serde(default)]
    urgency: Option<String>,
}

/// What an incident event means for the page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Trigger,
    Acknowledge,
    Resolve,
    /// Routing or descriptive change: the incident's snapshot, no acknowledgement or resolve.
    Snapshot,
}

fn step(event_type: &str) -> Result<Step, &'static str> {
    match event_type {
        "incident.triggered" => Ok(Step::Trigger),
        "incident.acknowledged" => Ok(Step::Acknowledge),
        "incident.resolved" => Ok(Step::Resolve),
        "incident.reassigned"
        | "incident.escalated"
        | "incident.delegated"
        | "incident.priority_updated"
        | "incident.unacknowledged"
        | "incident.reopened" => Ok(Step::Snapshot),
        "incident.annotated" => Err("a note changes no page state paydown keeps"),
        "pagey.ping" => Err("a test ping carries no incident"),
        other if other.starts_with("incident.responder.") => {
            Err("a responder request notifies people; paydown records who acknowledged, not who was asked")
        }
        other if other.starts_with("incident.") => Err("this incident event changes no page state paydown keeps"),
        _ => Err("not an incident event; only incidents become pages"),
    }
}

/// Maps a PagerDuty v3 webhook body to the page delivery it carries, or to
/// [`Outcome::Ignored`] for an event that changes no page state.
pub fn map(body: &[u8], mapping: &SourceMapping) -> Result<Outcome, IngestError> {
    let envelope: EventTypeEnvelope = parse(body)?;
    let event_type = envelope.event.event_type;
    let step = match step(&event_type) {
        Ok(step) => step,
        Err(reason) => {
            return Ok(Outcome::Ignored { event: event_type, reason: reason.to_owned() });
        }
    };
    let IncidentEnvelope { event } = parse(body)?;
    let incident = event.data;

    let service_key = mapping
        .service([incident.service.id.as_str(), summary(&incident.service)])
        .ok_or_else(|| IngestError::new("event.data.service.id", "must not be empty"))?;
    let lane = lane(&incident, mapping);
    // Older v3 payloads lack created_at; the event time is an upper bound of the trigger.
    let triggered_at = incident.created_at.unwrap_or(event.occurred_at);

    let mut delivery = Delivery {
        service_key,
        title: incident.title.filter(|title| !title.trim().is_empty()),
        alert_key: incident.incident_key.filter(|key| !key.trim().is_empty()),
        lane,
        triggered_at,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
    };
    match step {
        Step::Trigger | Step::Snapshot => {}
        Step::Acknowledge => {
            delivery.acknowledged_at = Some(event.occurred_at);
            delivery.acknowledged_by = acknowledger(event.agent.as_ref(), incident.assignees.as_deref(), mapping);
        }
        Step::Resolve => delivery.resolved_at = Some(event.occurred_at),
    }
    let delivery = checked(delivery, |field| {
        match field {
            "acknowledged_at" | "resolved_at" => "event.occurred_at",
            "triggered_at" => "event.data.created_at",
            "acknowledged_by" => "event.agent.id",
            "service" => "event.data.service.id",
            "title" => "event.data.title",
            "alert_key" => "event.data.incident_key",
            _ => "event.data",
        }
        .to_owned()
    })?;
    Ok(Outcome::Deliveries(vec![MappedDelivery {
        source: SOURCE,
        external_id: incident.id,
        delivery,
        event: event_type,
    }]))
}

fn summary(reference: &Reference) -> &str {
    reference.summary.as_deref().unwrap_or("")
}

fn lane(incident: &Incident, mapping: &SourceMapping) -> Option<Lane> {
    // A priority is set by a person for this incident, so it is more specific than the
    // service-wide urgency rule.
    let by_priority = incident
        .priority
        .as_ref()
        .and_then(|priority| priority.summary.as_deref())
        .and_then(|name| mapping.pagerduty_priority_lanes.get(name.trim()).copied());
    by_priority.or_else(|| {
        incident.urgency.as_deref().and_then(|urgency| mapping.pagerduty_urgency_lanes.get(urgency.trim()).copied())
    })
}

/// Who acknowledged: the acting user, else the only assignee (PagerDuty assigns the
/// incident to whoever acknowledges it). Several assignees without a user agent: unknown.
fn acknowledger(agent: Option<&Reference>, assignees: Option<&[Reference]>, mapping: &SourceMapping) -> Option<String> {
    let is_user = |reference: &&Reference| reference.kind.as_deref() == Some("user_reference");
    let user = agent.filter(is_user).or(match assignees {
        Some([only]) => Some(only),
        _ => None,
    })?;
    let mapped = mapping.person([user.id.as_str()]);
    identity(mapped, &[Some(format!("{SOURCE}:{}", user.id.trim()))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;

    const TRIGGERED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/triggered_v3.json");
    const ACKNOWLEDGED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/acknowledged_v3.json");
    const RESOLVED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/resolved_v3.json");
    const REASSIGNED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/reassigned_v3.json");
    const UNACKNOWLEDGED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/unacknowledged_v3.json");
    const ESCALATED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/escalate_v3.json");
    const PRIORITY_UPDATED: &str =
        include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/priority_updated_v3.json");
    const DELEGATED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/delegated_v3.json");
    const REOPENED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/reopened_v3.json");
    const ANNOTATED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/annotated_v3.json");
    const RESPONDER_ADDED: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/responder_added.json");
    const DOCS_PRIORITY_UPDATED: &str = include_str!(
        "../../tests/samples/pagerduty/webhooks_v3/developer-docs/envelope_incident_priority_updated.json"
    );
    const DOCS_SERVICE_UPDATED: &str =
        include_str!("../../tests/samples/pagerduty/webhooks_v3/developer-docs/envelope_service_updated.json");
    const SIGNED_BODY: &str = include_str!("../../tests/samples/pagerduty/signature_vector/body.json");

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn one(body: &str, mapping: &SourceMapping) -> MappedDelivery {
        match map(body.as_bytes(), mapping).unwrap() {
            Outcome::Deliveries(mut deliveries) => {
                assert_eq!(deliveries.len(), 1);
                deliveries.remove(0)
            }
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn tampered(body: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(body).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn a_trigger_maps_the_incident() {
        let mapped = one(TRIGGERED, &SourceMapping::default());
        assert_eq!(mapped.source, "pagerduty");
        assert_eq!(mapped.external_id, "PFQZPSY");
        assert_eq!(mapped.event, "incident.triggered");
        let delivery = &mapped.delivery;
        assert_eq!(delivery.service_key, "PA2P440");
        assert_eq!(delivery.title.as_deref(), Some("Test Incident 3"));
        assert_eq!(delivery.lane, Some(Lane::Wake));
        // No created_at in this capture: the event time stands in for the trigger.
        assert_eq!(delivery.triggered_at, at("2021-06-04T13:35:29.781Z"));
        assert_eq!(delivery.acknowledged_at, None);
        assert_eq!(delivery.resolved_at, None);
    }

    #[test]
    fn an_acknowledgement_names_the_acting_user() {
        let mapped = one(ACKNOWLEDGED, &SourceMapping::default());
        assert_eq!(mapped.external_id, "PQ1K5C8");
        let delivery = &mapped.delivery;
        assert_eq!(delivery.acknowledged_at, Some(at("2021-06-04T13:55:30.394Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("pagerduty:PJ0LVEB"));

        let mapping = SourceMapping {
            people: [("pj0lveb".to_owned(), "pig".to_owned())].into(),
            services: [("pig208".to_owned(), "checkout".to_owned())].into(),
            ..SourceMapping::default()
        };
        let mapped = one(ACKNOWLEDGED, &mapping);
        assert_eq!(mapped.delivery.acknowledged_by.as_deref(), Some("pig"));
        // The service is mapped by its name when its id is not.
        assert_eq!(mapped.delivery.service_key, "checkout");
    }

    #[test]
    fn an_acknowledgement_by_an_integration_falls_back_to_the_only_assignee() {
        let body = tampered(ACKNOWLEDGED, |value| {
            value["event"]["agent"]["type"] = "service_reference".into();
        });
        let Outcome::Deliveries(deliveries) = map(&body, &SourceMapping::default()).unwrap() else {
            panic!("expected a delivery");
        };
        assert_eq!(deliveries[0].delivery.acknowledged_by.as_deref(), Some("pagerduty:PJ0LVEB"));
    }

    #[test]
    fn a_resolve_carries_its_trigger_and_ends_the_page_resolved_even_first() {
        let resolve = one(RESOLVED, &SourceMapping::default());
        assert_eq!(resolve.external_id, "PCPZE64");
        assert_eq!(resolve.delivery.resolved_at, Some(at("2021-06-04T13:16:53.816Z")));
        assert_eq!(resolve.delivery.triggered_at, at("2021-06-04T13:16:53.816Z"));

        // The same incident's trigger, arriving after the resolve.
        let trigger = one(
            std::str::from_utf8(&tampered(TRIGGERED, |value| {
                value["event"]["data"]["id"] = "PCPZE64".into();
                value["event"]["occurred_at"] = "2021-06-04T13:02:00Z".into();
            }))
            .unwrap(),
            &SourceMapping::default(),
        );
        let states: Vec<PageState> =
            [resolve, trigger].into_iter().map(|mapped| PageState::from_delivery(mapped.delivery).unwrap()).collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.triggered_at, at("2021-06-04T13:02:00Z"));
        assert_eq!(page.resolved_at, Some(at("2021-06-04T13:16:53.816Z")));
    }

    #[test]
    fn a_duplicate_delivery_maps_identically() {
        let first = map(ACKNOWLEDGED.as_bytes(), &SourceMapping::default()).unwrap();
        let second = map(ACKNOWLEDGED.as_bytes(), &SourceMapping::default()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn routing_events_carry_the_snapshot_without_ack_or_resolve() {
        let reassigned = one(REASSIGNED, &SourceMapping::default());
        assert_eq!(reassigned.external_id, "PIQUG8X");
        assert_eq!(reassigned.event, "incident.reassigned");
        assert_eq!(reassigned.delivery.acknowledged_by, None);

        for body in [ESCALATED, DELEGATED, PRIORITY_UPDATED] {
            let mapped = one(body, &SourceMapping::default());
            assert_eq!(mapped.external_id, "Q3B15VLMF3ASBD");
            assert_eq!(mapped.delivery.triggered_at, at("2026-04-01T02:07:30Z"));
            assert_eq!(mapped.delivery.service_key, "PLVTM9H");
            assert_eq!(mapped.delivery.alert_key.as_deref(), Some("d387d7bd2e0a4294a5307339dfe1669a"));
            assert_eq!(mapped.delivery.title.as_deref(), Some("Critical: Checkout API High Latency"));
            assert_eq!(mapped.delivery.acknowledged_at, None);
            assert_eq!(mapped.delivery.resolved_at, None);
        }
    }

    #[test]
    fn an_unacknowledgement_keeps_the_earlier_acknowledgement() {
        let unack = one(UNACKNOWLEDGED, &SourceMapping::default());
        let ack = one(ACKNOWLEDGED, &SourceMapping::default());
        assert_eq!(unack.external_id, ack.external_id);
        let states: Vec<PageState> =
            [ack, unack].into_iter().map(|mapped| PageState::from_delivery(mapped.delivery).unwrap()).collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Acknowledged);
        assert_eq!(page.acknowledged_by.as_deref(), Some("pagerduty:PJ0LVEB"));
        // The unacknowledgement came first, so its time is the earliest trigger bound.
        assert_eq!(page.triggered_at, at("2021-06-04T13:54:23.185Z"));
    }

    #[test]
    fn a_reopen_keeps_the_trigger_and_a_low_urgency_is_later() {
        let mapped = one(REOPENED, &SourceMapping::default());
        assert_eq!(mapped.external_id, "Q05XJA8GDXGOB3");
        assert_eq!(mapped.delivery.triggered_at, at("2026-03-30T13:37:07Z"));
        assert_eq!(mapped.delivery.lane, Some(Lane::Later));
        assert_eq!(mapped.delivery.resolved_at, None);
    }

    #[test]
    fn a_priority_rule_wins_over_urgency() {
        let mapping = SourceMapping {
            pagerduty_priority_lanes: [("P3".to_owned(), Lane::Wake)].into(),
            ..SourceMapping::default()
        };
        assert_eq!(one(REOPENED, &mapping).delivery.lane, Some(Lane::Wake));
        let mapping = SourceMapping {
            pagerduty_priority_lanes: [("P2".to_owned(), Lane::Later)].into(),
            ..SourceMapping::default()
        };
        let mapped = one(PRIORITY_UPDATED, &mapping);
        assert_eq!(mapped.delivery.lane, Some(Lane::Later));
    }

    #[test]
    fn the_documented_envelope_and_the_signed_body_map() {
        let mapped = one(DOCS_PRIORITY_UPDATED, &SourceMapping::default());
        assert_eq!(mapped.external_id, "PGR0VU2");
        assert_eq!(mapped.delivery.triggered_at, at("2020-04-09T15:16:27Z"));
        assert_eq!(mapped.delivery.title.as_deref(), Some("A little bump in the road"));
        // The signature vector's body has conference_number as a number; paydown ignores it.
        let mapped = one(SIGNED_BODY, &SourceMapping::default());
        assert_eq!(mapped.external_id, "PGR0VU2");
        assert_eq!(mapped.delivery.service_key, "PF9KMXH");
    }

    #[test]
    fn notes_responders_and_service_events_are_ignored_with_a_reason() {
        for (body, expected) in [
            (ANNOTATED, "incident.annotated"),
            (RESPONDER_ADDED, "incident.responder.added"),
            (DOCS_SERVICE_UPDATED, "service.updated"),
        ] {
            match map(body.as_bytes(), &SourceMapping::default()).unwrap() {
                Outcome::Ignored { event, reason } => {
                    assert_eq!(event, expected);
                    assert!(!reason.is_empty());
                }
                other => panic!("{expected}: expected ignored, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = tampered(ESCALATED, |value| {
            value["event"]["data"].as_object_mut().unwrap().remove("id");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "event.data.id");
        assert!(error.message.contains("missing field"), "{}", error.message);

        let body = tampered(ESCALATED, |value| {
            value["event"].as_object_mut().unwrap().remove("event_type");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "event.event_type");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let body = tampered(ESCALATED, |value| {
            value["event"]["data"]["created_at"] = 1_775_009_250.into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "event.data.created_at");
        assert!(error.message.contains("invalid type"), "{}", error.message);
    }

    #[test]
    fn a_timestamp_without_offset_is_refused() {
        let body = tampered(ESCALATED, |value| {
            value["event"]["data"]["created_at"] = "2026-04-01T02:07:30".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "event.data.created_at");
        assert!(error.message.contains("offset"), "{}", error.message);
    }

    #[test]
    fn an_event_before_the_incident_was_created_is_refused() {
        let body = tampered(ESCALATED, |value| {
            value["event"]["event_type"] = "incident.resolved".into();
            value["event"]["occurred_at"] = "2026-04-01T02:00:00Z".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "event.occurred_at");
    }
}
