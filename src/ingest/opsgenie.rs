//! Opsgenie (Jira Service Management) alert webhooks → paydown page deliveries.
//!
//! Body: `{"action": "Create" | "Acknowledge" | "Close" | …, "alert": {…}, "integrationName", …}`.
//! Opsgenie's webhook integration cannot sign; authenticate it with a custom header holding
//! a token ([`super::signature::verify_bearer`]).
//!
//! ## Mapping rules
//!
//! | paydown | Opsgenie |
//! | --- | --- |
//! | source | `opsgenie` |
//! | external id | `alert.alertId` |
//! | service | the first of `alert.entity` and `integrationName` that [`SourceMapping::services`] maps; unmapped: the first present, else `opsgenie` |
//! | title | `alert.message` |
//! | alert key | `alert.alias` (Opsgenie's de-duplication key) |
//! | lane | `alert.priority` (`"P1"`…`"P5"`, or the bare number some payloads carry): one of `opsgenie_wake_priorities` (default P1, P2) → wake, any other → later; absent (most actions other than Create) → not stated |
//! | triggered at | `alert.createdAt` |
//! | acknowledged at | `alert.updatedAt` of `Acknowledge` |
//! | acknowledged by | `alert.userId` or `alert.username` mapped through [`SourceMapping::people`], else the username (an email, lower-cased), else `opsgenie:<userId>` |
//! | resolved at | `alert.updatedAt` of `Close` |
//!
//! Epoch times: Opsgenie sends `createdAt` in milliseconds and `updatedAt` in nanoseconds.
//! The unit is read from the magnitude (below 10^14 milliseconds, below 10^17 microseconds,
//! else nanoseconds; unambiguous for any date between 1973 and 5138), so either field in any
//! of these units is read right. Sub-microsecond digits are truncated as everywhere in paydown.
//!
//! ## Actions
//!
//! - `Create`: the trigger. `Acknowledge`: trigger + acknowledgement. `Close`: trigger +
//!   resolve (a close that arrives before the create still ends the page resolved; the payload
//!   does not say whether or when the alert was acknowledged, so it carries no
//!   acknowledgement).
//! - `UnAcknowledge`, `AssignOwnership`, `TakeOwnership`, `UpdatePriority`, `UpdateMessage`:
//!   the alert's trigger and current title, alias and lane, no acknowledgement or resolve.
//!   Ownership says who is responsible, not that anyone responded, so it is not an
//!   acknowledgement; an un-acknowledgement does not erase an acknowledgement that happened
//!   (the fold keeps the earliest).
//! - `Escalate` (its payload carries only the alert id: no times), `AddNote`, `Delete`
//!   (paydown never deletes a page), `AddRecipient`, `AddTeam`, `AddTags`, `Snooze`,
//!   `CustomAction` and any other action: [`Outcome::Ignored`] with the reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use super::{IngestError, MappedDelivery, Outcome, SourceMapping, checked, identity, parse};
use crate::domain::page::{Delivery, Lane};
use crate::domain::timestamp::truncate_to_micros;

/// The source name paydown stores for Opsgenie pages.
pub const SOURCE: &str = "opsgenie";

#[derive(Deserialize)]
struct ActionOnly {
    action: String,
}

#[derive(Deserialize)]
struct Payload {
    alert: Alert,
    #[serde(rename = "integrationName", default)]
    integration_name: Option<String>,
}

#[derive(Deserialize)]
struct Alert {
    #[serde(rename = "alertId")]
    alert_id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    entity: Option<String>,
    #[serde(rename = "createdAt", deserialize_with = "epoch")]
    created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt", default, deserialize_with = "epoch_option")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    username: Option<String>,
    #[serde(rename = "userId", default)]
    user_id: Option<String>,
    #[serde(default)]
    priority: Option<Priority>,
}

/// `"P3"` in most payloads, a bare `3` in some.
#[derive(Deserialize)]
#[serde(untagged)]
enum Priority {
    Number(u8),
    Text(String),
}

impl Priority {
    fn name(&self) -> String {
        match self {
            Priority::Number(number) => format!("P{number}"),
            Priority::Text(text) => text.trim().to_ascii_uppercase(),
        }
    }
}

fn epoch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let value = i64::deserialize(deserializer)?;
    from_epoch(value).map_err(serde::de::Error::custom)
}

fn epoch_option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<i64>::deserialize(deserializer)? {
        Some(value) => from_epoch(value).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// Reads a Unix epoch time in milliseconds, microseconds or nanoseconds, by magnitude.
fn from_epoch(value: i64) -> Result<DateTime<Utc>, String> {
    const MICROS_FROM: i64 = 100_000_000_000_000;
    const NANOS_FROM: i64 = 100_000_000_000_000_000;
    if value <= 0 {
        return Err(format!("expected a positive Unix epoch time in milliseconds or nanoseconds, got {value}"));
    }
    let instant = if value < MICROS_FROM {
        DateTime::from_timestamp_millis(value)
    } else if value < NANOS_FROM {
        DateTime::from_timestamp_micros(value)
    } else {
        Some(DateTime::from_timestamp_nanos(value))
    };
    instant.map(truncate_to_micros).ok_or_else(|| format!("epoch time {value} is out of range"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Trigger,
    Acknowledge,
    Resolve,
    Snapshot,
}

fn step(action: &str) -> Result<Step, &'static str> {
    match action {
        "Create" => Ok(Step::Trigger),
        "Acknowledge" => Ok(Step::Acknowledge),
        "Close" => Ok(Step::Resolve),
        "UnAcknowledge" | "AssignOwnership" | "TakeOwnership" | "UpdatePriority" | "UpdateMessage" => {
            Ok(Step::Snapshot)
        }
        "Escalate" => Err(
            "an escalation notifies the next responder; paydown records who acknowledged, and the payload carries no times",
        ),
        "AddNote" => Err("a note changes no page state paydown keeps"),
        "Delete" => Err("paydown never deletes a page; a deleted alert keeps its recorded page"),
        _ => Err("this action changes no page state paydown keeps"),
    }
}

/// Maps an Opsgenie alert webhook body to the page delivery it carries, or to
/// [`Outcome::Ignored`] for an action that changes no page state.
pub fn map(body: &[u8], mapping: &SourceMapping) -> Result<Outcome, IngestError> {
    let ActionOnly { action } = parse(body)?;
    let step = match step(action.trim()) {
        Ok(step) => step,
        Err(reason) => {
            return Ok(Outcome::Ignored { event: action, reason: reason.to_owned() });
        }
    };
    let Payload { alert, integration_name } = parse(body)?;

    let service_key = mapping
        .service([alert.entity.as_deref().unwrap_or(""), integration_name.as_deref().unwrap_or("")])
        .unwrap_or_else(|| SOURCE.to_owned());
    let lane = alert.priority.as_ref().map(|priority| {
        let name = priority.name();
        if mapping.opsgenie_wake_priorities.iter().any(|wake| wake.trim().eq_ignore_ascii_case(&name)) {
            Lane::Wake
        } else {
            Lane::Later
        }
    });
    let mut delivery = Delivery {
        service_key,
        title: non_blank(alert.message.as_deref()),
        alert_key: non_blank(alert.alias.as_deref()),
        lane,
        triggered_at: alert.created_at,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
    };
    let updated_at = || {
        alert.updated_at.ok_or_else(|| {
            IngestError::new("alert.updatedAt", format!("missing field `updatedAt`: the time of the {action}"))
        })
    };
    match step {
        Step::Trigger | Step::Snapshot => {}
        Step::Acknowledge => {
            delivery.acknowledged_at = Some(updated_at()?);
            delivery.acknowledged_by = acknowledger(&alert, mapping);
        }
        Step::Resolve => delivery.resolved_at = Some(updated_at()?),
    }
    let delivery = checked(delivery, |field| {
        match field {
            "acknowledged_at" | "resolved_at" => "alert.updatedAt",
            "triggered_at" => "alert.createdAt",
            "acknowledged_by" => "alert.username",
            "title" => "alert.message",
            "alert_key" => "alert.alias",
            "service" => "alert.entity",
            _ => "alert",
        }
        .to_owned()
    })?;
    Ok(Outcome::Deliveries(vec![MappedDelivery {
        source: SOURCE,
        external_id: alert.alert_id,
        delivery,
        event: action,
    }]))
}

fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

fn acknowledger(alert: &Alert, mapping: &SourceMapping) -> Option<String> {
    let user_id = non_blank(alert.user_id.as_deref());
    let username = non_blank(alert.username.as_deref());
    let mapped = mapping.person(user_id.iter().chain(username.iter()).map(String::as_str));
    identity(mapped, &[username.map(|name| name.to_lowercase()), user_id.map(|id| format!("{SOURCE}:{id}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;

    const CREATE: &str = include_str!("../../tests/samples/opsgenie/zulip/create.json");
    const ACKNOWLEDGE: &str = include_str!("../../tests/samples/opsgenie/zulip/acknowledge.json");
    const CLOSE: &str = include_str!("../../tests/samples/opsgenie/zulip/close.json");
    const UNACKNOWLEDGE: &str = include_str!("../../tests/samples/opsgenie/zulip/unacknowledge.json");
    const ASSIGN_OWNERSHIP: &str = include_str!("../../tests/samples/opsgenie/zulip/assignownership.json");
    const TAKE_OWNERSHIP: &str = include_str!("../../tests/samples/opsgenie/zulip/takeownership.json");
    const ADD_NOTE: &str = include_str!("../../tests/samples/opsgenie/zulip/addnote.json");
    const ESCALATE: &str = include_str!("../../tests/samples/opsgenie/zulip/escalate.json");

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

    fn tampered(body: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(body).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn a_create_is_the_trigger() {
        let mapped = one(CREATE.as_bytes(), &SourceMapping::default());
        assert_eq!(mapped.source, "opsgenie");
        assert_eq!(mapped.external_id, "ec03dad6-62c8-4c94-b38b-d88f398e900f");
        assert_eq!(mapped.event, "Create");
        let delivery = &mapped.delivery;
        assert_eq!(delivery.triggered_at, at("2017-08-14T11:25:56.288Z"));
        assert_eq!(delivery.title.as_deref(), Some("another alert"));
        assert_eq!(delivery.alert_key.as_deref(), Some("alert-alias"));
        assert_eq!(delivery.service_key, "Server");
        // A bare priority 3 is P3: later.
        assert_eq!(delivery.lane, Some(Lane::Later));
        assert_eq!(delivery.acknowledged_at, None);
    }

    #[test]
    fn a_high_priority_wakes() {
        for priority in [serde_json::json!("P1"), serde_json::json!(2)] {
            let body = tampered(CREATE, |value| value["alert"]["priority"] = priority);
            assert_eq!(one(&body, &SourceMapping::default()).delivery.lane, Some(Lane::Wake));
        }
    }

    #[test]
    fn an_acknowledgement_names_the_user() {
        let mapped = one(ACKNOWLEDGE.as_bytes(), &SourceMapping::default());
        assert_eq!(mapped.external_id, "052652ac-5d1c-464a-812a-7dd18bbfba8c");
        let delivery = &mapped.delivery;
        assert_eq!(delivery.triggered_at, at("2015-01-05T10:03:11.104Z"));
        // updatedAt is in nanoseconds; truncated to microseconds.
        assert_eq!(delivery.acknowledged_at, Some(at("2015-01-05T10:03:44.764002Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("fili@ifountain.com"));
        assert_eq!(delivery.lane, None);
        // No entity: the integration names the service.
        assert_eq!(delivery.service_key, "Integration1");

        let mapping = SourceMapping {
            people: [("FILI@ifountain.com".to_owned(), "fili".to_owned())].into(),
            ..SourceMapping::default()
        };
        let mapped = one(ACKNOWLEDGE.as_bytes(), &mapping);
        assert_eq!(mapped.delivery.acknowledged_by.as_deref(), Some("fili"));
    }

    #[test]
    fn an_unusable_username_falls_back_to_the_user_id() {
        let body = tampered(ACKNOWLEDGE, |value| {
            value["alert"]["username"] = "Fili Ifountain".into();
        });
        let mapped = one(&body, &SourceMapping::default());
        assert_eq!(mapped.delivery.acknowledged_by.as_deref(), Some("opsgenie:daed1180-0ce8-438b-8f8e-57e1a5920a2d"));
    }

    #[test]
    fn a_close_before_its_create_and_ack_ends_the_page_resolved() {
        let close = one(CLOSE.as_bytes(), &SourceMapping::default());
        assert_eq!(close.delivery.triggered_at, at("2015-01-05T10:03:11.104Z"));
        assert_eq!(close.delivery.resolved_at, Some(at("2015-01-05T10:06:14.669001Z")));
        let ack = one(ACKNOWLEDGE.as_bytes(), &SourceMapping::default());
        let unack = one(UNACKNOWLEDGE.as_bytes(), &SourceMapping::default());
        let states: Vec<PageState> =
            [close, unack, ack].into_iter().map(|mapped| PageState::from_delivery(mapped.delivery).unwrap()).collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.acknowledged_by.as_deref(), Some("fili@ifountain.com"));
        assert_eq!(page.resolved_at, Some(at("2015-01-05T10:06:14.669001Z")));
    }

    #[test]
    fn ownership_is_not_an_acknowledgement() {
        for (body, id, created) in [
            (ASSIGN_OWNERSHIP, "052652ac-5d1c-464a-812a-7dd18bbfba8c", "2015-01-05T10:03:11.104Z"),
            (TAKE_OWNERSHIP, "8a745a79-3ed3-4044-8427-98e067c0623c", "2016-08-03T12:21:33.192Z"),
        ] {
            let mapped = one(body.as_bytes(), &SourceMapping::default());
            assert_eq!(mapped.external_id, id);
            assert_eq!(mapped.delivery.triggered_at, at(created));
            assert_eq!(mapped.delivery.acknowledged_at, None);
            assert_eq!(mapped.delivery.resolved_at, None);
        }
    }

    #[test]
    fn notes_and_escalations_are_ignored_with_a_reason() {
        for (body, expected) in [(ADD_NOTE, "AddNote"), (ESCALATE, "Escalate")] {
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
    fn a_duplicate_delivery_maps_identically() {
        assert_eq!(
            map(CLOSE.as_bytes(), &SourceMapping::default()).unwrap(),
            map(CLOSE.as_bytes(), &SourceMapping::default()).unwrap()
        );
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = tampered(ACKNOWLEDGE, |value| {
            value["alert"].as_object_mut().unwrap().remove("createdAt");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.createdAt");
        let body = tampered(ACKNOWLEDGE, |value| {
            value["alert"].as_object_mut().unwrap().remove("updatedAt");
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.updatedAt");
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let body = tampered(CLOSE, |value| {
            value["alert"]["updatedAt"] = "yesterday".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.updatedAt");
        let body = tampered(CLOSE, |value| value["alert"]["createdAt"] = (-5).into());
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.createdAt");
    }

    #[test]
    fn a_timestamp_without_offset_is_refused() {
        // Opsgenie times are epoch numbers; an ISO text without an offset is not one.
        let body = tampered(CREATE, |value| {
            value["alert"]["createdAt"] = "2017-08-14T11:25:56".into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.createdAt");
    }

    #[test]
    fn a_close_before_the_create_time_is_refused() {
        let body = tampered(CLOSE, |value| {
            value["alert"]["updatedAt"] = 1_420_452_000_000_i64.into();
        });
        let error = map(&body, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "alert.updatedAt");
    }

    #[test]
    fn epoch_units_are_read_from_the_magnitude() {
        let expected = at("2015-01-05T10:03:44.764002Z");
        assert_eq!(from_epoch(1_420_452_224_764_002_246), Ok(expected));
        assert_eq!(from_epoch(1_420_452_224_764_002), Ok(expected));
        assert_eq!(from_epoch(1_420_452_224_764), Ok(at("2015-01-05T10:03:44.764Z")));
        assert!(from_epoch(0).is_err());
    }
}
