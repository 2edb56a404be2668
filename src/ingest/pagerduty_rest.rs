//! PagerDuty REST API v2 records (`GET /users`, `/schedules/{id}`, `/incidents`,
//! `/log_entries`) → paydown page deliveries and shift entries, for `paydown sync pagerduty`.
//!
//! Pure: the records come in as JSON values (one per record, so a malformed one is reported
//! with its path and the others still map); `crate::sync::pagerduty` fetches and stores them.
//! The shapes are those of PagerDuty's published OpenAPI document (`PagerDuty/api-schema`,
//! `reference/REST/openapiv3.json`).
//!
//! ## Incidents
//!
//! One incident and its log entries become **one** delivery of page
//! `(pagerduty, <incident id>)`, the key the webhook uses, so a synced incident and webhook
//! deliveries of it fold into one page (a sync fills in what a missed webhook lost):
//!
//! | paydown | PagerDuty |
//! | --- | --- |
//! | service, title, alert key, lane | as the webhook: `service.id`/`.summary`, `title`, `incident_key`, `priority.summary` then `urgency` |
//! | triggered at | `created_at` |
//! | acknowledged at, by | the earliest `acknowledge_log_entry` (its `agent` when a user), else the incident's current `acknowledgements[0]`; the person is `pagerduty:<user id>` unless mapped |
//! | resolved at | when `status` is `resolved`: `resolved_at`, else the latest `resolve_log_entry`, else `last_status_change_at` |
//!
//! `assign_log_entry`, `escalate_log_entry`, `delegate_log_entry` and `unacknowledge_log_entry`
//! are counted as reassignments and escalations: as for the webhook, paydown keeps who
//! *acknowledged*, so they change no pay fact. A reopened incident is not `resolved`, so its
//! delivery carries no resolve; the fold keeps the earlier resolve until it resolves again.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{IngestError, MappedDelivery, SourceMapping, checked, identity};
use crate::domain::page::{Delivery, Lane};
use crate::domain::timestamp::{format_rfc3339, rfc3339, rfc3339_option};

/// The source paydown stores PagerDuty pages and shifts under (the webhook's too).
pub const SOURCE: &str = super::pagerduty::SOURCE;

/// A reference to another PagerDuty object (`user_reference`, `service_reference`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// A user of `GET /users`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// An incident of `GET /incidents` or `GET /incidents/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub incident_key: Option<String>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, with = "rfc3339_option")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, with = "rfc3339_option")]
    pub last_status_change_at: Option<DateTime<Utc>>,
    pub service: Reference,
    #[serde(default)]
    pub priority: Option<Reference>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub acknowledgements: Option<Vec<Acknowledgement>>,
}

/// One of an incident's current acknowledgements.
#[derive(Debug, Clone, Deserialize)]
pub struct Acknowledgement {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub acknowledger: Reference,
}

/// A log entry of `GET /log_entries` or `GET /incidents/{id}/log_entries`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub agent: Option<Reference>,
    pub incident: Reference,
}

/// A final, rendered entry of a schedule (`final_schedule.rendered_schedule_entries[]`):
/// who was on call, overrides included.
#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleEntry {
    #[serde(with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub user: Option<Reference>,
}

impl ScheduleEntry {
    /// The shift's idempotency key: the same entry synced twice is one shift.
    pub fn external_id(&self, schedule_id: &str) -> String {
        let user = self.user.as_ref().map_or("", |user| user.id.as_str());
        format!("{schedule_id}/{user}/{}/{}", format_rfc3339(&self.start), format_rfc3339(&self.end))
    }
}

/// Reads one record, naming the path of a problem inside `at` (`incidents[3]`).
pub fn record<T: DeserializeOwned>(value: &serde_json::Value, at: &str) -> Result<T, IngestError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = match message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(name) if path == "." => format!("{at}.{name}"),
            Some(name) => format!("{at}.{path}.{name}"),
            None if path == "." => at.to_owned(),
            None => format!("{at}.{path}"),
        };
        IngestError::new(field, message)
    })
}

/// What an incident and its log entries amount to.
#[derive(Debug, Clone)]
pub struct SyncedIncident {
    pub delivery: MappedDelivery,
    /// Reassignments, delegations and un-acknowledgements recorded in the log.
    pub reassignments: usize,
    /// Escalations recorded in the log.
    pub escalations: usize,
}

fn is_acknowledgement(kind: &str) -> bool {
    // The schema lists both spellings; the API answers `acknowledge_log_entry`.
    matches!(kind, "acknowledge_log_entry" | "acknowledgement_log_entry")
}

/// Maps an incident (read from `at`, e.g. `incidents[3]`) and its log entries to the page
/// delivery the sync records.
pub fn incident_delivery(
    incident: &Incident,
    entries: &[&LogEntry],
    mapping: &SourceMapping,
    at: &str,
) -> Result<SyncedIncident, IngestError> {
    let summary = incident.service.summary.as_deref().unwrap_or("");
    let service_key = mapping
        .service([incident.service.id.as_str(), summary])
        .ok_or_else(|| IngestError::new(format!("{at}.service.id"), "must not be empty"))?;
    let lane: Option<Lane> = incident
        .priority
        .as_ref()
        .and_then(|priority| priority.summary.as_deref())
        .and_then(|name| mapping.pagerduty_priority_lanes.get(name.trim()).copied())
        .or_else(|| {
            incident.urgency.as_deref().and_then(|urgency| mapping.pagerduty_urgency_lanes.get(urgency.trim()).copied())
        });
    let person = |user: &Reference| {
        identity(mapping.person([user.id.as_str()]), &[Some(format!("{SOURCE}:{}", user.id.trim()))])
    };
    let is_user = |reference: &Reference| reference.kind.as_deref() == Some("user_reference");
    let from_log = entries
        .iter()
        .filter(|entry| is_acknowledgement(&entry.kind))
        .min_by_key(|entry| (entry.created_at, entry.id.clone()))
        .map(|entry| (entry.created_at, entry.agent.as_ref().filter(|agent| is_user(agent)).and_then(person)));
    let from_incident = incident
        .acknowledgements
        .iter()
        .flatten()
        .min_by_key(|ack| ack.at)
        .map(|ack| (ack.at, Some(&ack.acknowledger).filter(|who| is_user(who)).and_then(person)));
    let acknowledgement = match (from_log, from_incident) {
        (Some(log), Some(current)) => Some(if current.0 < log.0 { current } else { log }),
        (log, current) => log.or(current),
    };
    let resolved_at = if incident.status.as_deref() == Some("resolved") {
        incident
            .resolved_at
            .or_else(|| {
                entries.iter().filter(|entry| entry.kind == "resolve_log_entry").map(|entry| entry.created_at).max()
            })
            .or(incident.last_status_change_at)
    } else {
        None
    };
    let delivery = Delivery {
        service_key,
        title: incident.title.clone().filter(|title| !title.trim().is_empty()),
        alert_key: incident.incident_key.clone().filter(|key| !key.trim().is_empty()),
        lane,
        triggered_at: incident.created_at,
        acknowledged_at: acknowledgement.as_ref().map(|(at, _)| *at),
        acknowledged_by: acknowledgement.and_then(|(_, by)| by),
        resolved_at,
    };
    let delivery = checked(delivery, |field| {
        let name = match field {
            "acknowledged_at" => "acknowledgements",
            "triggered_at" => "created_at",
            "service" => "service.id",
            "alert_key" => "incident_key",
            other => other,
        };
        format!("{at}.{name}")
    })?;
    let count = |kinds: &[&str]| entries.iter().filter(|entry| kinds.contains(&entry.kind.as_str())).count();
    Ok(SyncedIncident {
        delivery: MappedDelivery {
            source: SOURCE,
            external_id: incident.id.clone(),
            delivery,
            event: "rest:incident".to_owned(),
        },
        reassignments: count(&["assign_log_entry", "delegate_log_entry", "unacknowledge_log_entry"]),
        escalations: count(&["escalate_log_entry"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;
    use crate::ingest::Outcome;

    const LIST_INCIDENTS: &str = include_str!("../../tests/samples/pagerduty/rest_api/list_incidents.json");
    const LOG_ENTRIES: &str = include_str!("../../tests/samples/pagerduty/rest_api/list_incident_log_entries.json");
    const SCHEDULE: &str = include_str!("../../tests/samples/pagerduty/rest_api/get_schedule.json");
    const GET_INCIDENT: &str = include_str!("../../tests/samples/pagerduty/rest_api/get_incident.json");
    const WEBHOOK_ACK: &str = include_str!("../../tests/samples/pagerduty/webhooks_v3/zulip/acknowledged_v3.json");

    fn value(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn the_documented_incident_maps_like_its_webhook() {
        let list = value(LIST_INCIDENTS);
        let incident: Incident = record(&list["incidents"][0], "incidents[0]").unwrap();
        let log = value(LOG_ENTRIES);
        let entry: LogEntry = record(&log["log_entries"][0], "log_entries[0]").unwrap();
        let synced = incident_delivery(&incident, &[&entry], &SourceMapping::default(), "incidents[0]").unwrap();
        let mapped = &synced.delivery;
        assert_eq!((mapped.source, mapped.external_id.as_str()), ("pagerduty", "PT4KHLK"));
        assert_eq!(mapped.delivery.service_key, "PIJ90N7");
        assert_eq!(mapped.delivery.title.as_deref(), Some("The server is on fire."));
        assert_eq!(mapped.delivery.alert_key.as_deref(), Some("baf7cf21b1da41b4b0221008339ff357"));
        assert_eq!(mapped.delivery.lane, Some(Lane::Wake));
        assert_eq!(mapped.delivery.triggered_at, at("2015-10-06T21:30:42Z"));
        assert_eq!(mapped.delivery.resolved_at, Some(at("2015-10-06T21:38:23Z")));
        assert_eq!(mapped.delivery.acknowledged_at, None);
    }

    #[test]
    fn the_earliest_acknowledgement_names_its_user() {
        let mut incident = value(LIST_INCIDENTS)["incidents"][0].clone();
        incident["status"] = "acknowledged".into();
        let incident: Incident = record(&incident, "incidents[0]").unwrap();
        let entry = |id: &str, kind: &str, when: &str, user: &str| -> LogEntry {
            record(
                &serde_json::json!({"id": id, "type": kind, "created_at": when,
                    "agent": {"id": user, "type": "user_reference"}, "incident": {"id": "PT4KHLK"}}),
                "log_entries[0]",
            )
            .unwrap()
        };
        let later = entry("L2", "acknowledge_log_entry", "2015-10-06T21:35:00Z", "PLATER");
        let first = entry("L1", "acknowledge_log_entry", "2015-10-06T21:33:00Z", "PXPGF42");
        let escalated = entry("L0", "escalate_log_entry", "2015-10-06T21:32:00Z", "PXPGF42");
        let mapping =
            SourceMapping { people: [("PXPGF42".to_owned(), "alice".to_owned())].into(), ..Default::default() };
        let synced = incident_delivery(&incident, &[&later, &escalated, &first], &mapping, "incidents[0]").unwrap();
        assert_eq!(synced.delivery.delivery.acknowledged_at, Some(at("2015-10-06T21:33:00Z")));
        assert_eq!(synced.delivery.delivery.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(synced.delivery.delivery.resolved_at, None, "not resolved: no resolve");
        assert_eq!(synced.escalations, 1);
        let unmapped = incident_delivery(&incident, &[&later], &SourceMapping::default(), "i").unwrap();
        assert_eq!(unmapped.delivery.delivery.acknowledged_by.as_deref(), Some("pagerduty:PLATER"));
    }

    #[test]
    fn a_synced_incident_folds_with_its_webhook_into_one_state() {
        // The webhook's acknowledgement of PQ1K5C8, and the same incident read from the API.
        let Outcome::Deliveries(webhook) =
            crate::ingest::pagerduty::map(WEBHOOK_ACK.as_bytes(), &SourceMapping::default()).unwrap()
        else {
            panic!("a delivery")
        };
        let mut incident = value(LIST_INCIDENTS)["incidents"][0].clone();
        incident["id"] = "PQ1K5C8".into();
        incident["created_at"] = "2021-06-04T13:50:00Z".into();
        incident["resolved_at"] = "2021-06-04T14:30:00Z".into();
        let incident: Incident = record(&incident, "incidents[0]").unwrap();
        let synced = incident_delivery(&incident, &[], &SourceMapping::default(), "incidents[0]").unwrap();
        assert_eq!(synced.delivery.external_id, webhook[0].external_id);
        assert_eq!(synced.delivery.source, webhook[0].source);
        let states: Vec<PageState> = [synced.delivery.delivery, webhook[0].delivery.clone()]
            .into_iter()
            .map(|delivery| PageState::from_delivery(delivery).unwrap())
            .collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.acknowledged_by.as_deref(), Some("pagerduty:PJ0LVEB"));
        assert_eq!(page.triggered_at, at("2021-06-04T13:50:00Z"));
    }

    #[test]
    fn a_malformed_incident_is_named_by_its_path() {
        let mut incident = value(LIST_INCIDENTS)["incidents"][0].clone();
        incident["created_at"] = "2015-10-06 21:30:42".into();
        let error = record::<Incident>(&incident, "incidents[4]").unwrap_err();
        assert_eq!(error.field, "incidents[4].created_at");
        incident.as_object_mut().unwrap().remove("service");
        incident["created_at"] = "2015-10-06T21:30:42Z".into();
        let error = record::<Incident>(&incident, "incidents[4]").unwrap_err();
        assert_eq!(error.field, "incidents[4].service");
        // A resolve before the trigger (as in PagerDuty's own analytics example) is refused.
        let mut incident = value(LIST_INCIDENTS)["incidents"][0].clone();
        incident["resolved_at"] = "2015-10-06T20:00:00Z".into();
        let incident: Incident = record(&incident, "incidents[1]").unwrap();
        let error = incident_delivery(&incident, &[], &SourceMapping::default(), "incidents[1]").unwrap_err();
        assert_eq!(error.field, "incidents[1].resolved_at");
    }

    #[test]
    fn the_documented_single_incident_and_schedule_read() {
        let incident: Incident = record(&value(GET_INCIDENT)["incident"], "incident").unwrap();
        assert!(!incident.id.is_empty());
        let schedule = value(SCHEDULE);
        let entries = &schedule["schedule"]["final_schedule"]["rendered_schedule_entries"];
        let entry: ScheduleEntry = record(&entries[0], "entries[0]").unwrap();
        assert_eq!(entry.start, at("2015-11-10T13:00:00Z"));
        assert_eq!(entry.end, at("2015-11-10T22:00:00Z"));
        assert_eq!(entry.user.as_ref().unwrap().id, "PXPGF42");
        assert_eq!(entry.external_id("PI7DH85"), "PI7DH85/PXPGF42/2015-11-10T13:00:00Z/2015-11-10T22:00:00Z");
    }
}
