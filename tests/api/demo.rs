//! The demo data set loads through the real storage path, the same on both backends.

use std::collections::BTreeSet;

use paydown::storage::pages::{self, PageFilter};
use paydown::storage::{people, shifts};

use crate::helpers::{Backend, TestDb};

fn page_facts(store: &paydown::storage::Store) -> BTreeSet<String> {
    let mut conn = store.conn().unwrap();
    let all = pages::list(&mut conn, &PageFilter { limit: 100_000, ..Default::default() }).unwrap();
    all.iter()
        .map(|page| {
            format!(
                "{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{}",
                page.source,
                page.external_id,
                page.service,
                page.status,
                page.triggered_at,
                page.acknowledged_at,
                page.resolved_at,
                page.acknowledged_by.as_deref().unwrap_or("-"),
                page.owned
            )
        })
        .collect()
}

#[test]
fn the_demo_loads_once_and_identically_on_both_backends() {
    let sqlite_db = TestDb::new(Backend::Sqlite);
    let postgres_db = TestDb::new(Backend::Postgres);
    let sqlite = sqlite_db.store();
    let postgres = postgres_db.store();
    let seed = paydown::demo::DEFAULT_SEED;
    let summary = paydown::demo::load_if_empty(&sqlite, seed).unwrap().expect("an empty database gets the demo");
    let summary_pg = paydown::demo::load_if_empty(&postgres, seed).unwrap().expect("an empty database gets the demo");
    assert_eq!(summary, summary_pg);
    assert!(summary.people >= 20 && summary.teams >= 3, "{summary}");
    // A second start does not load it again.
    assert_eq!(paydown::demo::load_if_empty(&sqlite, seed).unwrap(), None);

    let sqlite_pages = page_facts(&sqlite);
    assert_eq!(sqlite_pages.len(), summary.pages);
    assert_eq!(sqlite_pages, page_facts(&postgres));
    assert!(summary.deliveries > summary.pages, "repeated and out-of-order deliveries fold into pages");
    let mut conn = sqlite.conn().unwrap();
    assert_eq!(people::list(&mut conn, None).unwrap().len(), summary.people);
    assert_eq!(shifts::list(&mut conn, None, None, None, 10_000).unwrap().len(), summary.shifts);
    let unowned =
        pages::list(&mut conn, &PageFilter { unowned_only: true, limit: 10_000, ..Default::default() }).unwrap();
    assert!(!unowned.is_empty(), "the demo has pages nobody owns");
}
