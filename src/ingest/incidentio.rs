//! incident.io webhooks → paydown page deliveries.
//!
//! incident.io sends its webhooks through Svix, signed by the Standard Webhooks scheme
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`; Svix's `svix-*` names are
//! accepted too), verified by [`super::signature::verify_standard_webhooks`] with the
//! endpoint's `whsec_…` secret in `sources.incidentio.hmac_secrets`.
//!
//! Body: `{"event_type": "public_incident.incident_created_v2",
//! "public_incident.incident_created_v2": {<incident>}}`; for
//! `public_incident.incident_status_updated_v2` the incident is under `.incident`, beside
//! `new_status` and `previous_status`. No real payload could be found in a public
//! repository (only the signature vector in `tests/samples/incidentio/`), so the fields
//! read are those of incident.io's published webhook and v2 API schemas, and every one but
//! `id` and `created_at` is optional.
//!
//! | paydown | incident.io |
//! | --- | --- |
//! | source | `incidentio` |
//! | external id | `id` |
//! | service | the first value of the custom field named `service`, `services`, `affected service(s)` (or [`SourceMapping::service_label`]): catalog entry name, option value or text; else `incident_type.name`; else `incidentio`; through [`SourceMapping::services`] |
//! | title | `name` |
//! | lane | `severity.name` through `wake_label_values` (default `critical` → wake, else later) |
//! | triggered at | `created_at` |
//! | acknowledged at, by | the timestamp value named `Accepted at` or `Acknowledged at`; by the `lead` role's assignee (email, else `incidentio:<id>`), mapped through [`SourceMapping::people`] |
//! | resolved at | the timestamp value named `Resolved at`; else, when `incident_status.category` is `learning` (post-incident) or `closed`, `updated_at` (an upper bound) |
//!
//! `private_incident.*` events carry only the incident's id and are ignored with that
//! reason, as are follow-ups, actions and every other event.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{IngestError, MappedDelivery, Outcome, SourceMapping, checked, identity, parse};
use crate::domain::page::Delivery;
use crate::domain::timestamp::{rfc3339, rfc3339_option};

/// The source name paydown stores incident.io pages under.
pub const SOURCE: &str = "incidentio";

const CREATED: &str = "public_incident.incident_created_v2";
const UPDATED: &str = "public_incident.incident_updated_v2";
const STATUS_UPDATED: &str = "public_incident.incident_status_updated_v2";

#[derive(Deserialize)]
struct EventType {
    #[serde(default)]
    event_type: Option<String>,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(with = "rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339_option")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    incident_status: Option<Status>,
    #[serde(default)]
    severity: Option<Named>,
    #[serde(default)]
    incident_type: Option<Named>,
    #[serde(default)]
    incident_role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    incident_timestamp_values: Vec<TimestampValue>,
    #[serde(default)]
    custom_field_entries: Vec<CustomFieldEntry>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    category: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RoleAssignment {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    assignee: Option<User>,
}

#[derive(Deserialize)]
struct Role {
    #[serde(default)]
    role_type: Option<String>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct TimestampValue {
    #[serde(default)]
    incident_timestamp: Option<Named>,
    #[serde(default)]
    value: Option<TimestampInner>,
}

#[derive(Deserialize)]
struct TimestampInner {
    #[serde(default, with = "rfc3339_option")]
    value: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct CustomFieldEntry {
    #[serde(default)]
    custom_field: Option<Named>,
    #[serde(default)]
    values: Vec<CustomFieldValue>,
}

#[derive(Deserialize)]
struct CustomFieldValue {
    #[serde(default)]
    value_catalog_entry: Option<Named>,
    #[serde(default)]
    value_option: Option<OptionValue>,
    #[serde(default)]
    value_text: Option<String>,
}

#[derive(Deserialize)]
struct OptionValue {
    #[serde(default)]
    value: Option<String>,
}

/// Maps an incident.io webhook body to the page delivery it carries, or to
/// [`Outcome::Ignored`] for an event that changes no page state.
pub fn map(body: &[u8], mapping: &SourceMapping) -> Result<Outcome, IngestError> {
    let EventType { event_type } = parse(body)?;
    let Some(event_type) = event_type else {
        return Ok(Outcome::Ignored {
            event: "(none)".to_owned(),
            reason: "no event_type: a test message or not an incident.io event".to_owned(),
        });
    };
    let path = match event_type.as_str() {
        CREATED | UPDATED => format!("/{}", pointer_key(&event_type)),
        STATUS_UPDATED => format!("/{}/incident", pointer_key(&event_type)),
        other if other.starts_with("private_incident.") => {
            return Ok(Outcome::Ignored {
                event: event_type,
                reason: "a private incident's webhook carries only its id".to_owned(),
            });
        }
        _ => {
            return Ok(Outcome::Ignored {
                event: event_type,
                reason: "not an incident created, updated or status event; only incidents become pages".to_owned(),
            });
        }
    };
    let value: serde_json::Value = parse(body)?;
    let field_prefix = if event_type == STATUS_UPDATED { format!("{event_type}.incident") } else { event_type.clone() };
    let incident_value =
        value.pointer(&path).ok_or_else(|| IngestError::new(field_prefix.clone(), "missing: the event's incident"))?;
    let incident: Incident = serde_path_to_error::deserialize(incident_value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = match message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(name) if path == "." => format!("{field_prefix}.{name}"),
            Some(name) => format!("{field_prefix}.{path}.{name}"),
            None if path == "." => field_prefix.clone(),
            None => format!("{field_prefix}.{path}"),
        };
        IngestError::new(field, message)
    })?;

    let named_time = |words: &[&str]| {
        incident.incident_timestamp_values.iter().find_map(|value| {
            let name = value.incident_timestamp.as_ref()?.name.as_deref()?.to_ascii_lowercase();
            words.iter().any(|word| name.contains(word)).then(|| value.value.as_ref()?.value)?
        })
    };
    let acknowledged_at = named_time(&["accepted", "acknowledged"]);
    let closed = incident
        .incident_status
        .as_ref()
        .and_then(|status| status.category.as_deref())
        .is_some_and(|category| matches!(category, "learning" | "closed"));
    let resolved_at = named_time(&["resolved"]).or(if closed { incident.updated_at } else { None });
    let lead = incident
        .incident_role_assignments
        .iter()
        .find(|assignment| assignment.role.as_ref().and_then(|role| role.role_type.as_deref()) == Some("lead"))
        .and_then(|assignment| assignment.assignee.as_ref());
    let acknowledged_by = acknowledged_at.and(lead).and_then(|user| {
        let email = user.email.as_deref().unwrap_or("");
        let id = user.id.as_deref().unwrap_or("");
        let mapped = mapping.person([id, email]);
        let raw = [
            Some(email.trim().to_owned()).filter(|email| !email.is_empty()),
            Some(id.trim()).filter(|id| !id.is_empty()).map(|id| format!("{SOURCE}:{id}")),
        ];
        identity(mapped, &raw)
    });
    let service_names =
        [mapping.service_label.as_str(), "service", "services", "affected service", "affected services"];
    let service_field = incident.custom_field_entries.iter().find_map(|entry| {
        let name = entry.custom_field.as_ref()?.name.as_deref()?.trim().to_ascii_lowercase();
        if !service_names.iter().any(|candidate| candidate.eq_ignore_ascii_case(&name)) {
            return None;
        }
        entry.values.iter().find_map(|value| {
            value
                .value_catalog_entry
                .as_ref()
                .and_then(|entry| entry.name.clone())
                .or_else(|| value.value_option.as_ref().and_then(|option| option.value.clone()))
                .or_else(|| value.value_text.clone())
                .filter(|text| !text.trim().is_empty())
        })
    });
    let incident_type = incident.incident_type.as_ref().and_then(|kind| kind.name.clone());
    let service_key = mapping
        .service([service_field.as_deref().unwrap_or(""), incident_type.as_deref().unwrap_or(""), SOURCE])
        .unwrap_or_else(|| SOURCE.to_owned());
    let lane = incident
        .severity
        .as_ref()
        .and_then(|severity| severity.name.as_deref())
        .map(|name| mapping.lane_for_label_value(name));
    let delivery = Delivery {
        service_key,
        title: incident.name.clone().filter(|name| !name.trim().is_empty()),
        alert_key: None,
        lane,
        triggered_at: incident.created_at,
        acknowledged_at,
        acknowledged_by,
        resolved_at,
    };
    let delivery = checked(delivery, |field| {
        let name = match field {
            "acknowledged_at" | "resolved_at" => "incident_timestamp_values",
            "acknowledged_by" => "incident_role_assignments",
            "title" => "name",
            "triggered_at" => "created_at",
            _ => "custom_field_entries",
        };
        format!("{field_prefix}.{name}")
    })?;
    Ok(Outcome::Deliveries(vec![MappedDelivery {
        source: SOURCE,
        external_id: incident.id,
        delivery,
        event: event_type,
    }]))
}

/// The event type as a JSON pointer segment (`.` needs no escaping; `~` and `/` would).
fn pointer_key(event_type: &str) -> String {
    event_type.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{Lane, PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;

    /// An incident in the shape of incident.io's v2 schema.
    fn incident() -> serde_json::Value {
        serde_json::json!({
            "id": "01FDAG4SAP5TYPT98WGR2N7W91",
            "reference": "INC-123",
            "name": "Our database is sad",
            "created_at": "2026-11-21T02:10:00.801578Z",
            "updated_at": "2026-11-21T03:40:00Z",
            "incident_status": {"id": "01FCNDV6P870EA6S7TK1DSYDG0", "name": "Investigating", "category": "live"},
            "severity": {"id": "01FH5TZRWMNAFB0DZ23FD1TV96", "name": "Critical", "rank": 3},
            "incident_type": {"id": "01FH5TZRWMNAFB0DZ23FD1TV96", "name": "Platform"},
            "incident_role_assignments": [{
                "role": {"id": "01FH5TZRWMNAFB0DZ23FD1TV96", "name": "Incident Lead", "role_type": "lead"},
                "assignee": {"id": "01G0J1EXE7AXZ2C93K61WBPYEH", "email": "lisa@incident.io", "name": "Lisa Karlin Curtis"}
            }],
            "incident_timestamp_values": [
                {"incident_timestamp": {"id": "01FCNDV6P870EA6S7TK1DSYD5H", "name": "Accepted at", "rank": 1},
                 "value": {"value": "2026-11-21T02:14:00Z"}}
            ],
            "custom_field_entries": [{
                "custom_field": {"id": "01FCNDV6P870EA6S7TK1DSYDG0", "name": "Affected services", "field_type": "multi_select"},
                "values": [{"value_catalog_entry": {"id": "01FCNDV6P870EA6S7TK1DSYD5H", "name": "checkout"}}]
            }],
            "mode": "standard",
            "visibility": "public"
        })
    }

    fn body(event_type: &str, incident: serde_json::Value) -> Vec<u8> {
        let payload = if event_type == STATUS_UPDATED {
            serde_json::json!({"incident": incident, "new_status": {"category": "closed"}})
        } else {
            incident
        };
        serde_json::to_vec(&serde_json::json!({"event_type": event_type, event_type: payload})).unwrap()
    }

    fn one(body: &[u8]) -> MappedDelivery {
        match map(body, &SourceMapping::default()).unwrap() {
            Outcome::Deliveries(mut deliveries) => deliveries.remove(0),
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_created_incident_maps_its_service_lane_and_acceptance() {
        let mapped = one(&body(CREATED, incident()));
        assert_eq!((mapped.source, mapped.external_id.as_str()), ("incidentio", "01FDAG4SAP5TYPT98WGR2N7W91"));
        let delivery = &mapped.delivery;
        assert_eq!(delivery.service_key, "checkout");
        assert_eq!(delivery.title.as_deref(), Some("Our database is sad"));
        assert_eq!(delivery.lane, Some(Lane::Wake));
        assert_eq!(delivery.triggered_at, at("2026-11-21T02:10:00.801578Z"));
        assert_eq!(delivery.acknowledged_at, Some(at("2026-11-21T02:14:00Z")));
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("lisa@incident.io"));
        assert_eq!(delivery.resolved_at, None, "live: not resolved");
    }

    #[test]
    fn a_closing_status_update_resolves_and_folds_with_the_creation() {
        let mut closed = incident();
        closed["incident_status"]["category"] = "closed".into();
        let resolved = one(&body(STATUS_UPDATED, closed));
        assert_eq!(resolved.delivery.resolved_at, Some(at("2026-11-21T03:40:00Z")));
        let mut named = incident();
        named["incident_timestamp_values"].as_array_mut().unwrap().push(serde_json::json!(
            {"incident_timestamp": {"name": "Resolved at"}, "value": {"value": "2026-11-21T03:30:00Z"}}));
        assert_eq!(one(&body(UPDATED, named)).delivery.resolved_at, Some(at("2026-11-21T03:30:00Z")));
        let created = one(&body(CREATED, incident()));
        let states: Vec<PageState> =
            [resolved, created].into_iter().map(|mapped| PageState::from_delivery(mapped.delivery).unwrap()).collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.acknowledged_by.as_deref(), Some("lisa@incident.io"));
    }

    #[test]
    fn a_bare_incident_falls_back_to_its_type_and_tool() {
        let bare = serde_json::json!({"id": "01X", "created_at": "2026-11-21T02:10:00Z",
            "incident_type": {"name": "Platform"}, "severity": {"name": "Minor"}});
        let mapped = one(&body(UPDATED, bare));
        assert_eq!(mapped.delivery.service_key, "Platform");
        assert_eq!(mapped.delivery.lane, Some(Lane::Later));
        assert_eq!(mapped.delivery.acknowledged_at, None);
        let bare = serde_json::json!({"id": "01Y", "created_at": "2026-11-21T02:10:00Z"});
        assert_eq!(one(&body(CREATED, bare)).delivery.service_key, "incidentio");
    }

    #[test]
    fn private_other_and_test_events_are_ignored_with_a_reason() {
        let private = br#"{"event_type": "private_incident.incident_created_v2",
            "private_incident.incident_created_v2": {"id": "01FCNDV6P870EA6S7TK1DSYDG0"}}"#;
        let follow_up = br#"{"event_type": "public_incident.follow_up_created_v1",
            "public_incident.follow_up_created_v1": {"id": "01F"}}"#;
        let signed_test = include_bytes!("../../tests/samples/incidentio/standard_webhooks_signature_vector/body.json");
        for body in [&private[..], &follow_up[..], &signed_test[..]] {
            assert!(matches!(map(body, &SourceMapping::default()).unwrap(), Outcome::Ignored { .. }));
        }
    }

    #[test]
    fn a_malformed_incident_is_named_by_its_path() {
        let mut bad = incident();
        bad["created_at"] = "2026-11-21 02:10".into();
        let error = map(&body(CREATED, bad), &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "public_incident.incident_created_v2.created_at");
        let mut bad = incident();
        bad.as_object_mut().unwrap().remove("id");
        let error = map(&body(STATUS_UPDATED, bad), &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "public_incident.incident_status_updated_v2.incident.id");
        let missing = br#"{"event_type": "public_incident.incident_created_v2"}"#;
        let error = map(missing, &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "public_incident.incident_created_v2");
        let mut early = incident();
        early["incident_timestamp_values"][0]["value"]["value"] = "2026-11-21T01:00:00Z".into();
        let error = map(&body(CREATED, early), &SourceMapping::default()).unwrap_err();
        assert_eq!(error.field, "public_incident.incident_created_v2.incident_timestamp_values");
    }
}
