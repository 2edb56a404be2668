//! Opsgenie (Jira Service Management Operations) REST API v2 records (`GET /v2/users`,
//! `/v2/alerts`, `/v2/alerts/{id}/logs`, `/v2/schedules/{id}/timeline`) → paydown page
//! deliveries and shift entries, for `paydown sync opsgenie`.
//!
//! Pure, like [`super::pagerduty_rest`]: one JSON value per record, so a malformed one is
//! reported with its path and the others still map. The shapes are those of Opsgenie's
//! published OpenAPI document (`opsgenie/opsgenie-oas`: `definitions/alert.yaml`
//! `BaseAlert`, `AlertReport`, `AlertLog`; `definitions/user.yaml` `User`;
//! `definitions/schedule.yaml` `ScheduleTimeline`, `TimelinePeriod`). Times are RFC 3339
//! strings here, not the epoch numbers of the webhook.
//!
//! ## Alerts
//!
//! One alert and its log become **one** delivery of page `(opsgenie, <alert id>)`, the key the
//! webhook uses (`alert.alertId`), so a synced alert and webhook deliveries of it fold:
//!
//! | paydown | Opsgenie |
//! | --- | --- |
//! | service | `integration.name` mapped through [`SourceMapping::services`], else as written, else `opsgenie` (the webhook's fallback) |
//! | title, alert key | `message`, `alias` |
//! | lane | `priority` as the webhook reads it (`opsgenie_wake_priorities` → wake, other → later) |
//! | triggered at | `createdAt` |
//! | acknowledged at, by | the earliest log saying the alert was acknowledged, by its `owner`; else `createdAt + report.ackTime` (milliseconds) by `report.acknowledgedBy` |
//! | resolved at | when `status` is `closed`: the latest log saying it was closed, else `createdAt + report.closeTime`, else `updatedAt` |
//!
//! The acknowledger is named as the webhook names it: mapped through
//! [`SourceMapping::people`], else the username (an email, lower-cased). Logs of
//! un-acknowledgement, ownership and escalation are counted, not kept as pay facts.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::pagerduty_rest::record;
use super::{IngestError, MappedDelivery, SourceMapping, checked, identity};
use crate::domain::page::{Delivery, Lane};
use crate::domain::timestamp::{format_rfc3339, rfc3339, rfc3339_option};

/// The source of Opsgenie pages and shifts (the webhook's too).
pub const SOURCE: &str = super::opsgenie::SOURCE;

/// A user of `GET /v2/users`: `username` is their email.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(default, rename = "fullName")]
    pub full_name: Option<String>,
}

/// `integration` of an alert.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Integration {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `report` of an alert: times are milliseconds after its creation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Report {
    #[serde(default, rename = "ackTime")]
    pub ack_time: Option<i64>,
    #[serde(default, rename = "closeTime")]
    pub close_time: Option<i64>,
    #[serde(default, rename = "acknowledgedBy")]
    pub acknowledged_by: Option<String>,
    #[serde(default, rename = "closedBy")]
    pub closed_by: Option<String>,
}

/// An alert of `GET /v2/alerts` (`BaseAlert`).
#[derive(Debug, Clone, Deserialize)]
pub struct Alert {
    pub id: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(rename = "createdAt", with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default, rename = "updatedAt", with = "rfc3339_option")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub integration: Option<Integration>,
    #[serde(default)]
    pub report: Option<Report>,
}

/// One entry of `GET /v2/alerts/{id}/logs` (`AlertLog`).
#[derive(Debug, Clone, Deserialize)]
pub struct AlertLog {
    pub log: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(rename = "createdAt", with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// What a log entry records, read from its text (`Alert acknowledged via Web`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAction {
    Acknowledged,
    Unacknowledged,
    Closed,
    Escalated,
    Reassigned,
    Other,
}

impl AlertLog {
    pub fn action(&self) -> LogAction {
        let text = self.log.to_lowercase();
        // Notifications sent about an action are not the action.
        if self.kind.as_deref() == Some("alertRecipient") || text.contains("notification") {
            return LogAction::Other;
        }
        if text.contains("unacknowledged") {
            LogAction::Unacknowledged
        } else if text.contains("acknowledged") {
            LogAction::Acknowledged
        } else if text.contains("closed") {
            LogAction::Closed
        } else if text.contains("escalat") {
            LogAction::Escalated
        } else if text.contains("ownership") || text.contains("assigned") {
            LogAction::Reassigned
        } else {
            LogAction::Other
        }
    }
}

/// A period of a schedule's final timeline (`finalTimeline.rotations[].periods[]`): who was on
/// call, overrides included.
#[derive(Debug, Clone, Deserialize)]
pub struct TimelinePeriod {
    #[serde(rename = "startDate", with = "rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(rename = "endDate", with = "rfc3339")]
    pub end: DateTime<Utc>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub recipient: Option<Recipient>,
}

/// `recipient` of a period: a user (`type` = `user`, `name` their username) or a team.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Recipient {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl TimelinePeriod {
    /// The shift's idempotency key: the same period synced twice is one shift.
    pub fn external_id(&self, schedule_id: &str) -> String {
        let user = self.recipient.as_ref().and_then(|recipient| recipient.id.as_deref()).unwrap_or("");
        format!("{schedule_id}/{user}/{}/{}", format_rfc3339(&self.start), format_rfc3339(&self.end))
    }
}

/// Reads one record, naming the path of a problem inside `at` (`alerts[3]`).
pub fn read<T: serde::de::DeserializeOwned>(value: &serde_json::Value, at: &str) -> Result<T, IngestError> {
    record(value, at)
}

/// What an alert and its log amount to.
#[derive(Debug, Clone)]
pub struct SyncedAlert {
    pub delivery: MappedDelivery,
    pub reassignments: usize,
    pub escalations: usize,
}

fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

/// The identity an Opsgenie username acknowledges under, as the webhook names it.
pub fn person(username: Option<&str>, mapping: &SourceMapping) -> Option<String> {
    let username = non_blank(username)?;
    identity(mapping.person([username.as_str()]), &[Some(username.to_lowercase())])
}

/// Maps an alert (read from `at`, e.g. `alerts[3]`) and its log to the delivery the sync records.
pub fn alert_delivery(
    alert: &Alert,
    log: &[AlertLog],
    mapping: &SourceMapping,
    at: &str,
) -> Result<SyncedAlert, IngestError> {
    let integration = alert.integration.clone().unwrap_or_default();
    let service_key = mapping.service([integration.name.as_deref().unwrap_or("")]).unwrap_or_else(|| SOURCE.to_owned());
    let lane = non_blank(alert.priority.as_deref()).map(|priority| {
        let name = priority.to_ascii_uppercase();
        if mapping.opsgenie_wake_priorities.iter().any(|wake| wake.trim().eq_ignore_ascii_case(&name)) {
            Lane::Wake
        } else {
            Lane::Later
        }
    });
    let report = alert.report.clone().unwrap_or_default();
    let after_creation = |millis: Option<i64>| {
        millis.filter(|millis| *millis >= 0).map(|millis| alert.created_at + Duration::milliseconds(millis))
    };
    let from_log = log
        .iter()
        .filter(|entry| entry.action() == LogAction::Acknowledged)
        .min_by_key(|entry| entry.created_at)
        .map(|entry| (entry.created_at, person(entry.owner.as_deref(), mapping)));
    let from_report =
        after_creation(report.ack_time).map(|at| (at, person(report.acknowledged_by.as_deref(), mapping)));
    let acknowledgement = match (from_log, from_report) {
        (Some(log), Some(report)) => Some(if report.0 < log.0 { report } else { log }),
        (log, report) => log.or(report),
    };
    let resolved_at = if alert.status.as_deref().map(str::trim) == Some("closed") {
        log.iter()
            .filter(|entry| entry.action() == LogAction::Closed)
            .map(|entry| entry.created_at)
            .max()
            .or_else(|| after_creation(report.close_time))
            .or(alert.updated_at)
    } else {
        None
    };
    let delivery = Delivery {
        service_key,
        title: non_blank(alert.message.as_deref()),
        alert_key: non_blank(alert.alias.as_deref()),
        lane,
        triggered_at: alert.created_at,
        acknowledged_at: acknowledgement.as_ref().map(|(at, _)| *at),
        acknowledged_by: acknowledgement.and_then(|(_, by)| by),
        resolved_at,
    };
    let delivery = checked(delivery, |field| {
        let name = match field {
            "acknowledged_at" | "acknowledged_by" => "report.ackTime",
            "resolved_at" => "report.closeTime",
            "triggered_at" => "createdAt",
            "service" => "integration.name",
            "alert_key" => "alias",
            "title" => "message",
            other => other,
        };
        format!("{at}.{name}")
    })?;
    let count = |action: LogAction| log.iter().filter(|entry| entry.action() == action).count();
    Ok(SyncedAlert {
        delivery: MappedDelivery {
            source: SOURCE,
            external_id: alert.id.clone(),
            delivery,
            event: "rest:alert".to_owned(),
        },
        reassignments: count(LogAction::Reassigned) + count(LogAction::Unacknowledged),
        escalations: count(LogAction::Escalated),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;
    use crate::ingest::Outcome;
    use serde_json::json;

    const ACKNOWLEDGE: &str = include_str!("../../tests/samples/opsgenie/zulip/acknowledge.json");

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    /// The webhook samples' alert as `GET /v2/alerts` lists it.
    fn listed() -> serde_json::Value {
        json!({"id": "052652ac-5d1c-464a-812a-7dd18bbfba8c", "tinyId": "1791", "alias": "event_573",
            "message": "Our servers are in danger", "status": "closed", "acknowledged": true, "isSeen": true,
            "tags": ["OverwriteQuietHours"], "snoozed": false, "count": 1,
            "lastOccurredAt": "2015-01-05T10:03:11.104Z", "createdAt": "2015-01-05T10:03:11.104Z",
            "updatedAt": "2015-01-05T10:06:14.669Z", "source": "Isengard", "owner": "fili@ifountain.com",
            "priority": "P1", "responders": [],
            "integration": {"id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "name": "Integration1", "type": "API"},
            "report": {"ackTime": 33660, "closeTime": 183565, "acknowledgedBy": "fili@ifountain.com", "closedBy": "fili@ifountain.com"}})
    }

    fn log(text: &str, owner: &str, when: &str) -> AlertLog {
        read(
            &json!({"log": text, "type": "alertAction", "owner": owner, "createdAt": when,
            "offset": "1420452224764_1420452224764002000"}),
            "logs[0]",
        )
        .unwrap()
    }

    #[test]
    fn a_closed_alert_carries_its_trigger_acknowledgement_and_close() {
        let alert: Alert = read(&listed(), "alerts[0]").unwrap();
        let logs = [
            log("Alert acknowledged via Web", "fili@ifountain.com", "2015-01-05T10:03:44.764Z"),
            log("Alert is escalated to [ops_team_escalation]", "System", "2015-01-05T10:03:20Z"),
            log("Alert closed via Web", "Fili@ifountain.com", "2015-01-05T10:06:14.669Z"),
            log(
                "Sent [email] notification to fili@ifountain.com: Alert acknowledged",
                "System",
                "2015-01-05T10:03:30Z",
            ),
        ];
        let synced = alert_delivery(&alert, &logs, &SourceMapping::default(), "alerts[0]").unwrap();
        let mapped = &synced.delivery;
        assert_eq!((mapped.source, mapped.external_id.as_str()), ("opsgenie", "052652ac-5d1c-464a-812a-7dd18bbfba8c"));
        let delivery = &mapped.delivery;
        assert_eq!(delivery.service_key, "Integration1");
        assert_eq!(delivery.lane, Some(Lane::Wake));
        assert_eq!(delivery.triggered_at, at("2015-01-05T10:03:11.104Z"));
        assert_eq!(delivery.acknowledged_at, Some(at("2015-01-05T10:03:44.764Z")), "the log, not the notification");
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("fili@ifountain.com"));
        assert_eq!(delivery.resolved_at, Some(at("2015-01-05T10:06:14.669Z")));
        assert_eq!(synced.escalations, 1);
    }

    #[test]
    fn without_logs_the_report_says_when() {
        let alert: Alert = read(&listed(), "alerts[0]").unwrap();
        let mapping = SourceMapping {
            people: [("fili@ifountain.com".to_owned(), "fili".to_owned())].into(),
            ..Default::default()
        };
        let delivery = alert_delivery(&alert, &[], &mapping, "alerts[0]").unwrap().delivery.delivery;
        assert_eq!(delivery.acknowledged_at, Some(at("2015-01-05T10:03:44.764Z")), "createdAt + 33,660 ms");
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("fili"));
        assert_eq!(delivery.resolved_at, Some(at("2015-01-05T10:06:14.669Z")), "createdAt + 183,565 ms");
        let mut open = listed();
        open["status"] = "open".into();
        let alert: Alert = read(&open, "alerts[0]").unwrap();
        assert_eq!(alert_delivery(&alert, &[], &mapping, "a").unwrap().delivery.delivery.resolved_at, None);
    }

    #[test]
    fn a_synced_alert_folds_with_its_webhook() {
        let Outcome::Deliveries(webhook) =
            crate::ingest::opsgenie::map(ACKNOWLEDGE.as_bytes(), &SourceMapping::default()).unwrap()
        else {
            panic!("a delivery")
        };
        let alert: Alert = read(&listed(), "alerts[0]").unwrap();
        let synced = alert_delivery(&alert, &[], &SourceMapping::default(), "alerts[0]").unwrap().delivery;
        assert_eq!((synced.source, &synced.external_id), (webhook[0].source, &webhook[0].external_id));
        let states: Vec<PageState> = [synced.delivery, webhook[0].delivery.clone()]
            .into_iter()
            .map(|delivery| PageState::from_delivery(delivery).unwrap())
            .collect();
        let page = PageState::fold(&states).unwrap();
        assert_eq!(page.status(), PageStatus::Resolved);
        assert_eq!(page.acknowledged_by.as_deref(), Some("fili@ifountain.com"));
    }

    #[test]
    fn malformed_records_are_named_by_their_path() {
        let mut alert = listed();
        alert["createdAt"] = 1_420_452_191_104_i64.into();
        assert_eq!(read::<Alert>(&alert, "alerts[2]").unwrap_err().field, "alerts[2].createdAt");
        let mut alert = listed();
        alert["report"]["ackTime"] = (-5_000_000_i64).into();
        alert["report"]["closeTime"] = serde_json::Value::Null;
        alert["updatedAt"] = "2015-01-05T09:00:00Z".into();
        let alert: Alert = read(&alert, "alerts[2]").unwrap();
        let error = alert_delivery(&alert, &[], &SourceMapping::default(), "alerts[2]").unwrap_err();
        assert_eq!(error.field, "alerts[2].report.closeTime", "{error:?}");
        let period = json!({"startDate": "2026-11-01T09:00:00Z", "endDate": "2026-11-01T17:00:00Z", "type": "override",
            "recipient": {"id": "b3578948-55b3-4acc-9bf1-2ce2db3alpha", "name": "fili@ifountain.com", "type": "user"}});
        let period: TimelinePeriod = read(&period, "periods[0]").unwrap();
        assert_eq!(
            period.external_id("sched-1"),
            "sched-1/b3578948-55b3-4acc-9bf1-2ce2db3alpha/2026-11-01T09:00:00Z/2026-11-01T17:00:00Z"
        );
    }
}
