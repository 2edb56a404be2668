//! Pages and the rule that folds their deliveries into one state.
//!
//! Every source delivers at least once and in any order: a resolve may arrive before
//! its trigger, a trigger may arrive twice. So a page's state is not "the last delivery
//! received": paydown keeps every delivery and derives the state by folding all of them
//! in a canonical order (by the latest moment each describes, then by content), so the
//! result cannot depend on the order of arrival, and a repeated delivery changes nothing:
//!
//! - `triggered_at`: the earliest reported;
//! - acknowledgement: the earliest `acknowledged_at`, with the acknowledger reported with it;
//! - `resolved_at`: the latest reported;
//! - descriptive fields (service, title, alert key, lane): those of the delivery that
//!   describes the latest moment of the page; a field it leaves out keeps the value an
//!   earlier delivery gave.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::field_error::{FieldError, require_slug, require_text};
use super::limits::{check_free_text, check_instant};

/// How urgently a page asks for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Lane {
    /// Page a human now, whatever the hour.
    Wake,
    /// Deal with it in working hours.
    Later,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Wake => "wake",
            Lane::Later => "later",
        }
    }

    pub fn parse(text: &str) -> Option<Lane> {
        match text {
            "wake" => Some(Lane::Wake),
            "later" => Some(Lane::Later),
            _ => None,
        }
    }
}

/// What one delivery says about a page, or what all deliveries so far add up to.
///
/// Field order matters: the derived `Ord` is the canonical fold order, latest moment first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PageState {
    /// The latest moment this delivery describes; later descriptions win.
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub described_at: DateTime<Utc>,
    pub service_key: String,
    pub title: Option<String>,
    pub alert_key: Option<String>,
    pub lane: Option<Lane>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    pub triggered_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Longest source name, external id, service key and alert key accepted.
pub const KEY_LENGTH_MAX: usize = 256;
/// Longest page title accepted.
pub const TITLE_LENGTH_MAX: usize = 1_000;

/// What one delivery of a page says, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub service_key: String,
    pub title: Option<String>,
    pub alert_key: Option<String>,
    pub lane: Option<Lane>,
    pub triggered_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl PageState {
    /// The state one delivery reports; `described_at` is the latest instant it mentions.
    pub fn from_delivery(delivery: Delivery) -> Result<PageState, FieldError> {
        let Delivery {
            service_key,
            title,
            alert_key,
            lane,
            triggered_at,
            acknowledged_at,
            acknowledged_by,
            resolved_at,
        } = delivery;
        require_text("service", &service_key, KEY_LENGTH_MAX)?;
        if let Some(title) = &title {
            if title.chars().count() > TITLE_LENGTH_MAX {
                return Err(FieldError::new("title", format!("must be at most {TITLE_LENGTH_MAX} characters")));
            }
            check_free_text("title", title)?;
        }
        check_instant("triggered_at", triggered_at)?;
        if let Some(at) = acknowledged_at {
            check_instant("acknowledged_at", at)?;
        }
        if let Some(at) = resolved_at {
            check_instant("resolved_at", at)?;
        }
        if let Some(alert_key) = &alert_key {
            require_text("alert_key", alert_key, KEY_LENGTH_MAX)?;
        }
        if let Some(person) = &acknowledged_by {
            require_slug("acknowledged_by", person)?;
        }
        if acknowledged_at.is_some_and(|at| at < triggered_at) {
            return Err(FieldError::new("acknowledged_at", "must not be before triggered_at"));
        }
        if resolved_at.is_some_and(|at| at < triggered_at) {
            return Err(FieldError::new("resolved_at", "must not be before triggered_at"));
        }
        if acknowledged_by.is_some() && acknowledged_at.is_none() {
            return Err(FieldError::new("acknowledged_at", "is required when acknowledged_by is given"));
        }
        let described_at =
            [Some(triggered_at), acknowledged_at, resolved_at].into_iter().flatten().max().unwrap_or(triggered_at);
        Ok(PageState {
            described_at,
            service_key,
            title,
            alert_key,
            lane,
            triggered_at,
            acknowledged_at,
            acknowledged_by,
            resolved_at,
        })
    }

    /// The state all deliveries of one page add up to, whatever order they arrived in.
    /// Returns `None` only for an empty list.
    pub fn fold(deliveries: &[PageState]) -> Option<PageState> {
        let mut ordered: Vec<&PageState> = deliveries.iter().collect();
        ordered.sort();
        let (first, rest) = ordered.split_first()?;
        Some(rest.iter().fold((*first).clone(), |state, newer| state.apply(newer)))
    }

    /// Applies a delivery that sorts at or after this state in the canonical order.
    fn apply(self, newer: &PageState) -> PageState {
        let (acknowledged_at, acknowledged_by) = earliest_acknowledgement(&self, newer);
        PageState {
            described_at: self.described_at.max(newer.described_at),
            service_key: newer.service_key.clone(),
            title: newer.title.clone().or(self.title),
            alert_key: newer.alert_key.clone().or(self.alert_key),
            lane: newer.lane.or(self.lane),
            triggered_at: self.triggered_at.min(newer.triggered_at),
            acknowledged_at,
            acknowledged_by,
            resolved_at: self.resolved_at.max(newer.resolved_at),
        }
    }

    /// Where the page stands.
    pub fn status(&self) -> PageStatus {
        if self.resolved_at.is_some() {
            PageStatus::Resolved
        } else if self.acknowledged_at.is_some() {
            PageStatus::Acknowledged
        } else {
            PageStatus::Triggered
        }
    }
}

fn earliest_acknowledgement(a: &PageState, b: &PageState) -> (Option<DateTime<Utc>>, Option<String>) {
    let candidates =
        [a, b].into_iter().filter_map(|state| state.acknowledged_at.map(|at| (at, state.acknowledged_by.clone())));
    // Earliest time first; at the same time a named acknowledger beats none, then by name.
    let best = candidates.min_by(|(at_a, by_a), (at_b, by_b)| {
        at_a.cmp(at_b).then_with(|| by_a.is_none().cmp(&by_b.is_none())).then_with(|| by_a.cmp(by_b))
    });
    match best {
        Some((at, by)) => (Some(at), by),
        None => (None, None),
    }
}

/// The lifecycle stage of a page, derived from its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 3, 2, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    fn delivery(trigger: i64, ack: Option<(i64, &str)>, resolve: Option<i64>, title: Option<&str>) -> PageState {
        PageState::from_delivery(Delivery {
            service_key: "checkout".into(),
            title: title.map(str::to_owned),
            alert_key: Some("disk-full".into()),
            lane: Some(Lane::Wake),
            triggered_at: at(trigger),
            acknowledged_at: ack.map(|(minute, _)| at(minute)),
            acknowledged_by: ack.map(|(_, who)| who.to_owned()),
            resolved_at: resolve.map(at),
        })
        .unwrap()
    }

    #[test]
    fn a_resolve_before_its_trigger_ends_resolved() {
        let resolve = delivery(14, Some((20, "alice")), Some(51), Some("Disk full"));
        let trigger = delivery(14, None, None, Some("Disk full"));
        let merged = PageState::fold(&[resolve, trigger]).unwrap();
        assert_eq!(merged.status(), PageStatus::Resolved);
        assert_eq!(merged.resolved_at, Some(at(51)));
        assert_eq!(merged.acknowledged_by.as_deref(), Some("alice"));
    }

    #[test]
    fn the_first_acknowledgement_wins() {
        let late = delivery(0, Some((9, "bob")), None, None);
        let early = delivery(0, Some((4, "alice")), None, None);
        let merged = PageState::fold(&[late, early]).unwrap();
        assert_eq!(merged.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(merged.acknowledged_at, Some(at(4)));
    }

    #[test]
    fn a_later_delivery_without_a_title_keeps_the_earlier_title() {
        let first = delivery(0, None, None, Some("Disk full on db-7"));
        let resolve = delivery(0, None, Some(30), None);
        let merged = PageState::fold(&[resolve, first]).unwrap();
        assert_eq!(merged.title.as_deref(), Some("Disk full on db-7"));
    }

    #[test]
    fn inconsistent_deliveries_are_refused_with_the_field() {
        let early_ack = Delivery {
            service_key: "checkout".into(),
            triggered_at: at(10),
            acknowledged_at: Some(at(5)),
            ..Delivery::default()
        };
        let error = PageState::from_delivery(early_ack).unwrap_err();
        assert_eq!(error.field, "acknowledged_at");
        let blank_service = Delivery { service_key: "  ".into(), triggered_at: at(10), ..Delivery::default() };
        let error = PageState::from_delivery(blank_service).unwrap_err();
        assert_eq!(error.field, "service");
    }

    fn arbitrary_delivery() -> impl Strategy<Value = PageState> {
        (
            0_i64..60,
            proptest::option::of((0_i64..60, prop_oneof!["alice", "bob"])),
            proptest::option::of(0_i64..120),
            proptest::option::of(prop_oneof!["A", "B"]),
            proptest::option::of(prop_oneof![Just(Lane::Wake), Just(Lane::Later)]),
        )
            .prop_map(|(trigger, ack, resolve, title, lane)| {
                PageState::from_delivery(Delivery {
                    service_key: "checkout".into(),
                    title,
                    alert_key: None,
                    lane,
                    triggered_at: at(trigger),
                    acknowledged_at: ack.as_ref().map(|(minute, _)| at(trigger + *minute)),
                    acknowledged_by: ack.map(|(_, who)| who),
                    resolved_at: resolve.map(|minute| at(trigger + minute)),
                })
                .unwrap()
            })
    }

    proptest! {
        #[test]
        fn the_state_does_not_depend_on_delivery_order_or_repeats(
            deliveries in proptest::collection::vec(arbitrary_delivery(), 1..6),
            rotation in 0_usize..6,
            repeat in 0_usize..6,
        ) {
            let in_order = PageState::fold(&deliveries).unwrap();
            let mut reversed = deliveries.clone();
            reversed.reverse();
            let mut rotated = deliveries.clone();
            let len = rotated.len();
            rotated.rotate_left(rotation % len);
            let mut repeated = deliveries.clone();
            repeated.push(deliveries[repeat % len].clone());
            prop_assert_eq!(&in_order, &PageState::fold(&reversed).unwrap());
            prop_assert_eq!(&in_order, &PageState::fold(&rotated).unwrap());
            prop_assert_eq!(&in_order, &PageState::fold(&repeated).unwrap());
        }
    }
}
