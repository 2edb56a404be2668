//! Grafana OnCall HTTP API v1 records (`GET /api/v1/users/`, `/api/v1/integrations/`,
//! `/api/v1/alert_groups/`, `/api/v1/schedules/{id}/final_shifts`) → paydown page deliveries
//! and shift entries, for `paydown sync grafana-oncall`.
//!
//! Pure, like [`super::pagerduty_rest`]. The shapes are those of OnCall's published HTTP API
//! reference (`grafana/oncall`, `docs/sources/oncall-api-reference/`: `alertgroups.md`,
//! `users.md`, `integrations.md`, `schedules.md` § final shifts).
//!
//! ## Alert groups
//!
//! An alert group is a snapshot of the whole group, as each webhook event is, so it maps to
//! one delivery of page `(grafana_oncall, <id>)`, the webhook's key, and the two fold:
//!
//! | paydown | Grafana OnCall |
//! | --- | --- |
//! | service | the integration's name (`integration_id` looked up in `GET /integrations/`), then the id, mapped through [`SourceMapping::services`] as the webhook does |
//! | title | `title` |
//! | triggered at | `created_at` |
//! | acknowledged at, by | `acknowledged_at`; `acknowledged_by` (a user id) named as the webhook names a user: mapped, else their email (lower-cased), else `grafana_oncall:<id>` |
//! | resolved at | `resolved_at` |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{IngestError, MappedDelivery, SourceMapping, checked, identity};
use crate::domain::page::Delivery;
use crate::domain::timestamp::{format_rfc3339, rfc3339, rfc3339_option};

/// The source of Grafana OnCall pages and shifts (the webhook's too).
pub const SOURCE: &str = super::grafana_oncall::SOURCE;

/// A user of `GET /api/v1/users/`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// An alert group of `GET /api/v1/alert_groups/`.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertGroup {
    pub id: String,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339_option")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default, with = "rfc3339_option")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub title: Option<String>,
}

/// One final shift of `GET /api/v1/schedules/{id}/final_shifts`: who was on call, overrides
/// and swaps resolved by OnCall.
#[derive(Debug, Clone, Deserialize)]
pub struct FinalShift {
    pub user_pk: String,
    #[serde(default)]
    pub user_email: Option<String>,
    #[serde(default)]
    pub user_username: Option<String>,
    #[serde(with = "rfc3339")]
    pub shift_start: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub shift_end: DateTime<Utc>,
}

impl FinalShift {
    /// The shift's idempotency key: the same final shift synced twice is one shift.
    pub fn external_id(&self, schedule_id: &str) -> String {
        format!(
            "{schedule_id}/{}/{}/{}",
            self.user_pk.trim(),
            format_rfc3339(&self.shift_start),
            format_rfc3339(&self.shift_end)
        )
    }
}

fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(str::to_owned)
}

/// The identity a user acknowledges under, as the webhook names it.
pub fn person(user_id: &str, email: Option<&str>, username: Option<&str>, mapping: &SourceMapping) -> Option<String> {
    let id = non_blank(Some(user_id));
    let email = non_blank(email);
    let username = non_blank(username);
    let mapped = mapping.person([&id, &email, &username].into_iter().flatten().map(String::as_str));
    identity(mapped, &[email.map(|email| email.to_lowercase()), id.map(|id| format!("{SOURCE}:{id}"))])
}

/// Maps an alert group (read from `at`) to the delivery the sync records. `users` gives the
/// email of a user id; `integrations` the name of an integration id.
pub fn alert_group_delivery(
    group: &AlertGroup,
    users: &BTreeMap<String, User>,
    integrations: &BTreeMap<String, String>,
    mapping: &SourceMapping,
    at: &str,
) -> Result<MappedDelivery, IngestError> {
    let integration_id = group.integration_id.as_deref().unwrap_or("");
    let integration_name = integrations.get(integration_id).map(String::as_str).unwrap_or("");
    let service_key = mapping
        .service([integration_name, integration_id])
        .ok_or_else(|| IngestError::new(format!("{at}.integration_id"), "needs an integration to name the service"))?;
    let acknowledged_by = group.acknowledged_at.and(group.acknowledged_by.as_deref()).and_then(|user_id| {
        let user = users.get(user_id.trim());
        person(
            user_id,
            user.and_then(|user| user.email.as_deref()),
            user.and_then(|user| user.username.as_deref()),
            mapping,
        )
    });
    let delivery = checked(
        Delivery {
            service_key,
            title: non_blank(group.title.as_deref()),
            alert_key: None,
            lane: None,
            triggered_at: group.created_at,
            acknowledged_at: group.acknowledged_at,
            acknowledged_by,
            resolved_at: group.resolved_at,
        },
        |field| {
            let name = match field {
                "triggered_at" => "created_at",
                "service" => "integration_id",
                other => other,
            };
            format!("{at}.{name}")
        },
    )?;
    Ok(MappedDelivery { source: SOURCE, external_id: group.id.clone(), delivery, event: "rest:alert_group".to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageState, PageStatus};
    use crate::domain::timestamp::parse_rfc3339;
    use crate::ingest::Outcome;
    use crate::ingest::pagerduty_rest::record;
    use serde_json::json;

    const RESOLVE: &str = include_str!("../../tests/samples/grafana_oncall/docs/outgoing_webhook_resolve_example.json");

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    /// The resolve sample's alert group as `GET /api/v1/alert_groups/` lists it.
    fn listed() -> serde_json::Value {
        json!({"id": "I6HNZGUFG4K11", "integration_id": "CZ7URAT4V3QF2", "route_id": "RKHXJKVZYYVST",
            "alerts_count": 1, "state": "resolved", "created_at": "2023-04-19T21:53:48.231148Z",
            "resolved_at": "2023-04-19T21:59:21.714058Z", "acknowledged_at": "2023-04-19T21:54:39.029347Z",
            "acknowledged_by": "UVMX6YI9VY9PV", "resolved_by": "UVMX6YI9VY9PV", "title": "Incident",
            "permalinks": {"slack": null, "telegram": null}, "silenced_at": null})
    }

    fn directory() -> (BTreeMap<String, User>, BTreeMap<String, String>) {
        let user: User =
            record(&json!({"id": "UVMX6YI9VY9PV", "email": "Admin@localhost", "username": "admin"}), "users[0]")
                .unwrap();
        (
            [(user.id.clone(), user)].into(),
            [("CZ7URAT4V3QF2".to_owned(), "Main Integration - Webhook".to_owned())].into(),
        )
    }

    #[test]
    fn an_alert_group_maps_and_folds_like_its_webhook() {
        let group: AlertGroup = record(&listed(), "results[0]").unwrap();
        let (users, integrations) = directory();
        let synced =
            alert_group_delivery(&group, &users, &integrations, &SourceMapping::default(), "results[0]").unwrap();
        let Outcome::Deliveries(webhook) =
            crate::ingest::grafana_oncall::map(RESOLVE.as_bytes(), &SourceMapping::default()).unwrap()
        else {
            panic!("a delivery")
        };
        assert_eq!((synced.source, &synced.external_id), (webhook[0].source, &webhook[0].external_id));
        let delivery = &synced.delivery;
        assert_eq!(delivery.service_key, webhook[0].delivery.service_key);
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("admin@localhost"));
        assert_eq!(delivery.acknowledged_at, Some(at("2023-04-19T21:54:39.029347Z")));
        assert_eq!(delivery.resolved_at, Some(at("2023-04-19T21:59:21.714058Z")));
        let states: Vec<PageState> = [synced.delivery, webhook[0].delivery.clone()]
            .into_iter()
            .map(|delivery| PageState::from_delivery(delivery).unwrap())
            .collect();
        assert_eq!(PageState::fold(&states).unwrap().status(), PageStatus::Resolved);
    }

    #[test]
    fn an_unknown_user_and_integration_keep_their_ids() {
        let group: AlertGroup = record(&listed(), "results[0]").unwrap();
        let delivery = alert_group_delivery(&group, &BTreeMap::new(), &BTreeMap::new(), &SourceMapping::default(), "r")
            .unwrap()
            .delivery;
        assert_eq!(delivery.acknowledged_by.as_deref(), Some("grafana_oncall:UVMX6YI9VY9PV"));
        assert_eq!(delivery.service_key, "CZ7URAT4V3QF2");
    }

    #[test]
    fn malformed_records_are_named_by_their_path() {
        let mut group = listed();
        group["created_at"] = "2023-04-19 21:53:48".into();
        assert_eq!(record::<AlertGroup>(&group, "results[1]").unwrap_err().field, "results[1].created_at");
        let mut group = listed();
        group["acknowledged_at"] = "2023-04-19T20:00:00Z".into();
        let group: AlertGroup = record(&group, "results[1]").unwrap();
        let (users, integrations) = directory();
        let error =
            alert_group_delivery(&group, &users, &integrations, &SourceMapping::default(), "results[1]").unwrap_err();
        assert_eq!(error.field, "results[1].acknowledged_at");
        let shift: FinalShift = record(
            &json!({"user_pk": "UC2CHRT5SD34X", "user_email": "alice@example.com", "user_username": "alice",
                "shift_start": "2023-01-02T09:00:00Z", "shift_end": "2023-01-02T17:00:00Z"}),
            "results[0]",
        )
        .unwrap();
        assert_eq!(
            shift.external_id("SBM7DV7BKFUYU"),
            "SBM7DV7BKFUYU/UC2CHRT5SD34X/2023-01-02T09:00:00Z/2023-01-02T17:00:00Z"
        );
    }
}
