//! The ledger's pure rule: given what the pay engine says a person is owed now and what
//! the ledger already holds, which entries to post so that the ledger says the same,
//! without ever changing an entry.
//!
//! - Every priced line has an identity (`line_key`) that survives repricing: person,
//!   component, the fact it prices and the instant that places it.
//! - For one identity the ledger holds a chain of revisions: revision 1 is posted, a
//!   change posts a reversal of revision n and revision n + 1, a line that no longer
//!   holds is reversed. At most one revision of an identity is live (posted, not reversed).
//! - A line whose terms did not change posts nothing, so accruing twice posts nothing
//!   the second time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::pay::PricedLine;
use super::period::{PeriodScheme, PeriodSpan};
use super::timestamp::format_rfc3339;

/// How many periods after its own a posting may walk to find an open one.
pub const PERIOD_WALK_MAX: usize = 1_000;

/// Where an entry is posted: its natural period while that is open, otherwise the
/// earliest open period after it, where it is an adjustment naming its natural period (a
/// closed period never changes). `is_open` says whether a period takes postings; `None`
/// when none of the next [`PERIOD_WALK_MAX`] does.
pub fn posting_period<E>(
    scheme: PeriodScheme,
    natural: &PeriodSpan,
    mut is_open: impl FnMut(&PeriodSpan) -> Result<bool, E>,
) -> Result<Option<PeriodSpan>, E> {
    let mut span = natural.clone();
    for _ in 0..PERIOD_WALK_MAX {
        if is_open(&span)? {
            return Ok(Some(span));
        }
        span = scheme.next(&span);
    }
    Ok(None)
}

/// Cuts postings into batches of about `max` (at least one batch, possibly empty), with
/// every entry of one line identity (`key`) in the same batch, so that no batch leaves a
/// line reversed without its new revision. Lines go in order of their earliest `instant`,
/// then identity: the order of the ledger's unique index (person, instant, identity), so
/// each batch writes that index, and the person's page index, near where the last one
/// ended. In identity order (component first) every batch wrote across the person's whole
/// year.
pub fn batches<T, I: Ord + Copy>(
    mut postings: Vec<T>,
    max: usize,
    key: impl Fn(&T) -> &str,
    instant: impl Fn(&T) -> I,
) -> Vec<Vec<T>> {
    postings.sort_by(|a, b| key(a).cmp(key(b)));
    let mut lines: Vec<(I, Vec<T>)> = Vec::new();
    for posting in postings {
        match lines.last_mut() {
            Some((earliest, line)) if line.last().is_some_and(|previous| key(previous) == key(&posting)) => {
                *earliest = (*earliest).min(instant(&posting));
                line.push(posting);
            }
            _ => lines.push((instant(&posting), vec![posting])),
        }
    }
    // Stable: lines of one instant stay in identity order.
    lines.sort_by_key(|(earliest, _)| *earliest);
    let mut batches: Vec<Vec<T>> = vec![Vec::new()];
    for (_, line) in lines {
        let Some(current) = batches.last_mut() else { break };
        if current.len() >= max.max(1) {
            batches.push(line);
        } else {
            current.extend(line);
        }
    }
    batches
}

/// The natural period of an entry about to be posted: a reversal undoes its entry in that
/// entry's natural period (whatever zone is in force now); a line belongs to the period
/// of the person's local date of its instant.
pub fn natural_period(
    scheme: PeriodScheme,
    kind: EntryKind,
    reversed_natural: &str,
    local_date: chrono::NaiveDate,
) -> PeriodSpan {
    match kind {
        EntryKind::Reversal => scheme.span_of(reversed_natural),
        EntryKind::Line => None,
    }
    .unwrap_or_else(|| scheme.period_of(local_date))
}

/// What a ledger entry does: post a revision of a line, or reverse one. Stored and shown
/// as `line` / `reversal`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Line,
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Line => "line",
            EntryKind::Reversal => "reversal",
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EntryKind {
    type Err = String;

    fn from_str(text: &str) -> Result<EntryKind, String> {
        match text {
            "line" => Ok(EntryKind::Line),
            "reversal" => Ok(EntryKind::Reversal),
            other => Err(format!("`{other}` is not an entry kind (line or reversal)")),
        }
    }
}

/// The identity of a priced line across repricings.
pub fn line_key(line: &PricedLine) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        line.person_id,
        line.component.as_str(),
        line.fact.kind.as_str(),
        line.fact.id,
        format_rfc3339(&line.occurred_at)
    )
}

/// Everything about a line that, if it changes, changes what the ledger must say. The
/// explanation is left out on purpose: rewording it must not repost history.
pub fn line_terms(line: &PricedLine) -> String {
    format!(
        "{}|{} {}|{}|{}|{}|{}|{}|{} {}|{}@{}|{}",
        line.component.as_str(),
        line.quantity.normalize(),
        line.unit.as_str(),
        line.unit_rate.normalize(),
        line.multiplier.normalize(),
        line.time_class.map(|class| class.as_str()).unwrap_or("-"),
        line.day_class.map(|class| class.as_str()).unwrap_or("-"),
        line.page_id.as_deref().unwrap_or("-"),
        line.amount.normalize(),
        line.currency.code(),
        line.policy.id,
        line.policy.version,
        format_rfc3339(&line.occurred_at),
    )
}

/// A live entry (a posted line revision that no reversal points at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    pub entry_id: String,
    pub line_key: String,
    pub revision: i32,
    pub terms: String,
}

/// One thing to post.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<'a> {
    /// Post `line` as `revision` of its identity.
    Post { line_key: String, revision: i32, line: &'a PricedLine },
    /// Reverse a live entry.
    Reverse { entry: LiveEntry },
}

/// The postings that make the ledger hold exactly `desired`.
///
/// `live` are the live entries of the same person; `revisions_max` the highest revision
/// ever posted per identity (reversed ones included), so a revived line gets a fresh
/// revision. Reversals come before the posts they make room for; the order is stable.
pub fn changes<'a>(
    desired: &'a [PricedLine],
    live: &[LiveEntry],
    revisions_max: &BTreeMap<String, i32>,
) -> Vec<Change<'a>> {
    changes_of_keyed(keyed(desired), live, revisions_max)
}

fn changes_of_keyed<'a>(
    keyed: Vec<(String, &'a PricedLine)>,
    live: &[LiveEntry],
    revisions_max: &BTreeMap<String, i32>,
) -> Vec<Change<'a>> {
    let live_by_key: HashMap<&str, &LiveEntry> = live.iter().map(|entry| (entry.line_key.as_str(), entry)).collect();
    let seen: HashSet<&str> =
        if live.is_empty() { HashSet::new() } else { keyed.iter().map(|(key, _)| key.as_str()).collect() };
    let mut result = Vec::with_capacity(keyed.len());
    let mut gone: Vec<Change<'a>> = live
        .iter()
        .filter(|entry| !seen.contains(entry.line_key.as_str()))
        .map(|entry| Change::Reverse { entry: entry.clone() })
        .collect();
    for (key, line) in keyed {
        let next_revision = revisions_max.get(&key).copied().unwrap_or(0) + 1;
        match live_by_key.get(key.as_str()) {
            Some(entry) if entry.terms == line_terms(line) => {}
            Some(entry) => {
                result.push(Change::Reverse { entry: (*entry).clone() });
                result.push(Change::Post { line_key: key, revision: next_revision, line });
            }
            None => result.push(Change::Post { line_key: key, revision: next_revision, line }),
        }
    }
    result.append(&mut gone);
    result
}

/// [`changes`], and a line whose terms are unchanged but whose natural period is no longer
/// the one its live entry was posted for (a change of the person's zone from an earlier
/// date moved its local date across a period edge): reversed and posted again, so that
/// every entry sits in the period of its local date. `period_of` gives a desired line's
/// natural period, `posted_for` a live entry's (by entry id).
pub fn changes_in_periods<'a>(
    desired: &'a [PricedLine],
    live: &[LiveEntry],
    revisions_max: &BTreeMap<String, i32>,
    period_of: impl Fn(&PricedLine) -> String,
    posted_for: &BTreeMap<String, String>,
) -> Vec<Change<'a>> {
    let keyed = keyed(desired);
    // Nothing is live on a person's first accrual: no line can have moved period.
    let held: Vec<(String, &'a PricedLine)> =
        if live.is_empty() { Vec::new() } else { keyed.iter().map(|(key, line)| (key.clone(), *line)).collect() };
    let mut result = changes_of_keyed(keyed, live, revisions_max);
    if held.is_empty() {
        return result;
    }
    let reversed: BTreeSet<String> = result
        .iter()
        .filter_map(|change| match change {
            Change::Reverse { entry } => Some(entry.line_key.clone()),
            Change::Post { .. } => None,
        })
        .collect();
    let live_by_key: BTreeMap<&str, &LiveEntry> = live.iter().map(|entry| (entry.line_key.as_str(), entry)).collect();
    for (key, line) in held {
        let Some(entry) = live_by_key.get(key.as_str()) else { continue };
        if reversed.contains(&key) || posted_for.get(&entry.entry_id).is_none_or(|posted| *posted == period_of(line)) {
            continue;
        }
        let next_revision = revisions_max.get(&key).copied().unwrap_or(0) + 1;
        result.push(Change::Reverse { entry: (*entry).clone() });
        result.push(Change::Post { line_key: key, revision: next_revision, line });
    }
    result
}

/// Pairs each line with its identity; should the engine ever price two lines with one
/// identity, the later ones get `#2`, `#3`… so that neither is lost.
pub fn keyed(lines: &[PricedLine]) -> Vec<(String, &PricedLine)> {
    let mut keys: Vec<String> = lines.iter().map(line_key).collect();
    let mut counts: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    let mut suffixes: Vec<(usize, usize)> = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let count = counts.entry(key.as_str()).or_insert(0);
        *count += 1;
        if *count > 1 {
            suffixes.push((index, *count));
        }
    }
    for (index, count) in suffixes {
        keys[index] = format!("{}#{count}", keys[index]);
    }
    keys.into_iter().zip(lines).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pay::{Component, FactKind, FactRef, QuantityUnit};
    use crate::domain::policy::PolicyRef;
    use chrono::{TimeZone, Utc};
    use rust_decimal::Decimal;

    fn line(fact: &str, amount: i64) -> PricedLine {
        PricedLine {
            person_id: "alice".into(),
            component: Component::Callout,
            quantity: Decimal::ONE,
            unit: QuantityUnit::Count,
            unit_rate: Decimal::new(amount, 2),
            multiplier: Decimal::ONE,
            time_class: None,
            day_class: None,
            amount: Decimal::new(amount, 2),
            currency: "GBP".parse().unwrap(),
            fact: FactRef { kind: FactKind::Page, id: fact.into() },
            page_id: Some(fact.into()),
            policy: PolicyRef { id: "uk".into(), version: 1 },
            occurred_at: Utc.with_ymd_and_hms(2026, 10, 3, 1, 14, 0).unwrap(),
            explanation: "callout".into(),
        }
    }

    fn live(line: &PricedLine, revision: i32) -> LiveEntry {
        LiveEntry { entry_id: format!("e{revision}"), line_key: line_key(line), revision, terms: line_terms(line) }
    }

    #[test]
    fn an_unchanged_ledger_needs_nothing() {
        let lines = vec![line("p1", 5000), line("p2", 2500)];
        let held: Vec<_> = lines.iter().map(|l| live(l, 1)).collect();
        let revisions = held.iter().map(|e| (e.line_key.clone(), 1)).collect();
        assert!(changes(&lines, &held, &revisions).is_empty());
    }

    #[test]
    fn a_changed_line_is_reversed_and_reposted_as_the_next_revision() {
        let before = line("p1", 5000);
        let after = line("p1", 10000);
        let held = vec![live(&before, 1)];
        let revisions = [(line_key(&before), 1)].into();
        let result = changes(std::slice::from_ref(&after), &held, &revisions);
        assert_eq!(result.len(), 2);
        assert!(matches!(&result[0], Change::Reverse { entry } if entry.revision == 1));
        assert!(matches!(&result[1], Change::Post { revision: 2, .. }));
    }

    #[test]
    fn a_line_that_no_longer_holds_is_reversed_and_a_revived_one_gets_a_fresh_revision() {
        let gone = line("p1", 5000);
        let result = changes(&[], &[live(&gone, 1)], &[(line_key(&gone), 1)].into());
        assert!(matches!(result.as_slice(), [Change::Reverse { .. }]));
        let result = changes(std::slice::from_ref(&gone), &[], &[(line_key(&gone), 1)].into());
        assert!(matches!(result.as_slice(), [Change::Post { revision: 2, .. }]));
    }

    #[test]
    fn a_line_moved_to_another_period_is_reversed_and_reposted() {
        let moved = line("p1", 5000);
        let held = vec![live(&moved, 1)];
        let revisions = [(line_key(&moved), 1)].into();
        let posted_for: BTreeMap<String, String> = [("e1".to_owned(), "2026-11".to_owned())].into();
        let same =
            changes_in_periods(std::slice::from_ref(&moved), &held, &revisions, |_| "2026-11".into(), &posted_for);
        assert!(same.is_empty());
        let result =
            changes_in_periods(std::slice::from_ref(&moved), &held, &revisions, |_| "2026-10".into(), &posted_for);
        assert_eq!(result.len(), 2);
        assert!(matches!(&result[0], Change::Reverse { entry } if entry.revision == 1));
        assert!(matches!(&result[1], Change::Post { revision: 2, .. }));
        // A changed line is reversed once, whatever its period.
        let changed = line("p1", 9000);
        let result =
            changes_in_periods(std::slice::from_ref(&changed), &held, &revisions, |_| "2026-10".into(), &posted_for);
        assert_eq!(result.len(), 2);
    }

    #[test]
    fn rewording_an_explanation_posts_nothing() {
        let mut reworded = line("p1", 5000);
        let held = vec![live(&reworded, 1)];
        reworded.explanation = "a clearer sentence".into();
        assert!(changes(&[reworded.clone()], &held, &[(line_key(&reworded), 1)].into()).is_empty());
    }

    #[test]
    fn twin_lines_keep_distinct_identities() {
        let twins = vec![line("p1", 5000), line("p1", 5000)];
        let keys: Vec<String> = keyed(&twins).into_iter().map(|(key, _)| key).collect();
        assert_ne!(keys[0], keys[1]);
        assert!(keys[1].ends_with("#2"));
    }

    fn month(id: &str) -> PeriodSpan {
        PeriodScheme::Monthly.span_of(id).unwrap()
    }

    #[test]
    fn a_posting_goes_to_its_own_period_while_it_is_open() {
        let found = posting_period(PeriodScheme::Monthly, &month("2026-09"), |_| Ok::<_, ()>(true));
        assert_eq!(found, Ok(Some(month("2026-09"))));
    }

    #[test]
    fn a_posting_for_a_closed_period_goes_to_the_earliest_open_one_after_it() {
        let closed = ["2026-09", "2026-10", "2026-11"];
        let mut asked = Vec::new();
        let found = posting_period(PeriodScheme::Monthly, &month("2026-09"), |span| {
            asked.push(span.id.clone());
            Ok::<_, ()>(!closed.contains(&span.id.as_str()))
        });
        assert_eq!(found, Ok(Some(month("2026-12"))));
        assert_eq!(asked, ["2026-09", "2026-10", "2026-11", "2026-12"]);
        // Across a year end, and on a semi-monthly scheme.
        let found = posting_period(PeriodScheme::Monthly, &month("2026-12"), |span| Ok::<_, ()>(span.id != "2026-12"));
        assert_eq!(found, Ok(Some(month("2027-01"))));
        let half = PeriodScheme::SemiMonthly.span_of("2026-02-H2").unwrap();
        let found = posting_period(PeriodScheme::SemiMonthly, &half, |span| Ok::<_, ()>(span.id != "2026-02-H2"));
        assert_eq!(found.unwrap().unwrap().id, "2026-03-H1");
    }

    #[test]
    fn a_posting_walks_at_most_the_limit_and_stops_at_the_first_error() {
        let mut asked = 0;
        let found = posting_period(PeriodScheme::Monthly, &month("2026-09"), |_| {
            asked += 1;
            Ok::<_, ()>(false)
        });
        assert_eq!(found, Ok(None));
        assert_eq!(asked, PERIOD_WALK_MAX);
        let mut asked = 0;
        let failed = posting_period(PeriodScheme::Monthly, &month("2026-09"), |_| {
            asked += 1;
            if asked == 2 { Err("database gone") } else { Ok(false) }
        });
        assert_eq!(failed, Err("database gone"));
        assert_eq!(asked, 2);
    }

    #[test]
    fn a_reversal_stays_in_the_period_of_the_entry_it_reverses() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        // The person moved zone: the instant's local date is now in October, the reversed
        // entry was posted for September.
        assert_eq!(natural_period(PeriodScheme::Monthly, EntryKind::Reversal, "2026-09", date), month("2026-09"));
        assert_eq!(natural_period(PeriodScheme::Monthly, EntryKind::Line, "", date), month("2026-10"));
        // A natural period that does not parse falls back to the local date's.
        assert_eq!(natural_period(PeriodScheme::Monthly, EntryKind::Reversal, "junk", date), month("2026-10"));
        assert_eq!("reversal".parse::<EntryKind>(), Ok(EntryKind::Reversal));
        assert!("lines".parse::<EntryKind>().is_err());
    }

    #[test]
    fn batches_keep_a_line_together_and_stay_near_the_limit() {
        let keys = ["b", "a", "c", "a", "d", "e", "e", "f"];
        let same_instant = |_: &&str| 0;
        let cut = batches(keys.to_vec(), 2, |key| key, same_instant);
        assert_eq!(cut, vec![vec!["a", "a"], vec!["b", "c"], vec!["d", "e", "e"], vec!["f"]]);
        assert_eq!(batches(Vec::<&str>::new(), 2, |key| key, same_instant), vec![Vec::<&str>::new()]);
        // A zero limit still makes progress: one identity per batch.
        assert_eq!(batches(vec!["x", "y"], 0, |key| key, same_instant), vec![vec!["x"], vec!["y"]]);
        let all: Vec<u32> = (0..1_234).collect();
        let keyed: Vec<String> = all.iter().map(|n| format!("{n:05}")).collect();
        let cut = batches(keyed.clone(), 500, String::as_str, |_| 0);
        assert_eq!(cut.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 234]);
        assert_eq!(cut.concat(), keyed);
    }

    #[test]
    fn batches_go_in_time_order_and_a_line_goes_at_its_earliest_instant() {
        // (identity, instant): a callout and a response of each of three pages, and a line
        // whose reversal (instant 1) and new revision (instant 7) must stay together.
        let postings = vec![
            ("callout|p3", 30),
            ("response|p1", 11),
            ("callout|p1", 10),
            ("response|p3", 31),
            ("moved", 7),
            ("callout|p2", 20),
            ("moved", 1),
            ("response|p2", 21),
        ];
        let cut = batches(postings, 3, |(key, _)| key, |(_, at)| *at);
        let keys: Vec<Vec<&str>> = cut.iter().map(|batch| batch.iter().map(|(key, _)| *key).collect()).collect();
        assert_eq!(
            keys,
            vec![
                vec!["moved", "moved", "callout|p1"],
                vec!["response|p1", "callout|p2", "response|p2"],
                vec!["callout|p3", "response|p3"],
            ]
        );
    }
}
