//! What the fuzz targets share: the source mappings the webhook mappers are run under.

use std::collections::BTreeMap;

use paydown::domain::page::Lane;
use paydown::ingest::SourceMapping;

/// The default mapping (`{}` in the configuration) and one that maps people, services,
/// alert-key labels and priorities, so both the raw-identity and the mapped paths run.
pub fn mappings() -> [SourceMapping; 2] {
    let mapped = SourceMapping {
        people: BTreeMap::from([
            ("PXPGF42".to_owned(), "alice".to_owned()),
            ("admin@example.com".to_owned(), "bob".to_owned()),
            ("U1".to_owned(), "carol".to_owned()),
        ]),
        services: BTreeMap::from([("checkout".to_owned(), "svc-checkout".to_owned())]),
        service_label: "job".to_owned(),
        alert_key_labels: vec!["instance".to_owned(), "severity".to_owned()],
        lane_label: "priority".to_owned(),
        wake_label_values: vec!["P1".to_owned()],
        pagerduty_priority_lanes: BTreeMap::from([("P1".to_owned(), Lane::Wake), ("P3".to_owned(), Lane::Later)]),
        opsgenie_wake_priorities: vec!["P1".to_owned()],
        ..SourceMapping::default()
    };
    [SourceMapping::default(), mapped]
}
