//! Time classes: which kind of time an instant is *for one person*, in their local time.
//!
//! Policy: every rule that depends on "is it night / a weekend / a holiday" is decided on the
//! person's local wall clock (their IANA zone), never on UTC. Local days are real days: a DST
//! day lasts 23 or 25 hours, a non-existent local hour is skipped and a repeated one is classed
//! twice. Intervals are always half-open, `[start, end)`, in UTC instants, so that splitting an
//! interval never loses or double-counts a second.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(clippy::float_arithmetic, clippy::as_conversions)]

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The kind of time an instant is for one person (PRODUCT.md, "time class").
///
/// `Night`, `Weekend` and `Holiday` overlap the others; `Business` and `OffHours` exclude
/// each other and only occur on working days (not a weekend day, not a holiday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeClass {
    /// Inside working hours on a working day.
    Business,
    /// Outside working hours on a working day.
    OffHours,
    /// Inside the sleep window (default 22:00–08:00).
    Night,
    /// On one of the person's weekend days.
    Weekend,
    /// On a date of the person's holiday calendar.
    Holiday,
}

impl TimeClass {
    /// Every class, in the order used to break ties (later wins a tie).
    pub const ALL: [TimeClass; 5] =
        [TimeClass::Business, TimeClass::OffHours, TimeClass::Night, TimeClass::Weekend, TimeClass::Holiday];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeClass::Business => "business",
            TimeClass::OffHours => "off_hours",
            TimeClass::Night => "night",
            TimeClass::Weekend => "weekend",
            TimeClass::Holiday => "holiday",
        }
    }

    fn bit(self) -> u8 {
        match self {
            TimeClass::Business => 1,
            TimeClass::OffHours => 2,
            TimeClass::Night => 4,
            TimeClass::Weekend => 8,
            TimeClass::Holiday => 16,
        }
    }
}

impl fmt::Display for TimeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of classes an instant belongs to (several at once: a Saturday night is both
/// `night` and `weekend`). A small bit set, so it is `Copy` and cheap to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TimeClassSet(u8);

impl TimeClassSet {
    /// The empty set.
    pub const EMPTY: TimeClassSet = TimeClassSet(0);

    /// A set holding the given classes.
    pub fn of(classes: &[TimeClass]) -> TimeClassSet {
        classes.iter().fold(TimeClassSet::EMPTY, |set, &class| set.with(class))
    }

    /// This set plus `class`.
    #[must_use]
    pub fn with(self, class: TimeClass) -> TimeClassSet {
        TimeClassSet(self.0 | class.bit())
    }

    /// Whether `class` is in the set.
    pub fn contains(self, class: TimeClass) -> bool {
        self.0 & class.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Out of hours = any class but `business` (PRODUCT.md rule 3): a working-hours minute
    /// inside the sleep window still counts as out of hours.
    pub fn is_out_of_hours(self) -> bool {
        TimeClass::ALL.iter().any(|&class| class != TimeClass::Business && self.contains(class))
    }

    /// The classes in the set, in [`TimeClass::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = TimeClass> {
        TimeClass::ALL.into_iter().filter(move |&class| self.contains(class))
    }
}

impl fmt::Display for TimeClassSet {
    /// Writes e.g. `night, weekend`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, class) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(class.as_str())?;
        }
        Ok(())
    }
}

/// A daily window of local wall-clock time, `[start, end)`. When `end <= start` it wraps past
/// midnight (22:00–08:00); `start == end` is an empty window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalWindow {
    /// First local time inside the window.
    pub start: NaiveTime,
    /// First local time after the window.
    pub end: NaiveTime,
}

impl LocalWindow {
    /// A window from `start` to `end` local time.
    pub fn new(start: NaiveTime, end: NaiveTime) -> LocalWindow {
        LocalWindow { start, end }
    }

    /// Whether the local time `time` is inside the window.
    pub fn contains(self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else if self.start > self.end {
            time >= self.start || time < self.end
        } else {
            false
        }
    }
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

/// A person's working calendar: zone, working hours, weekend, holidays and sleep window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingCalendar {
    /// The IANA zone all local rules are evaluated in.
    #[serde(with = "tz_name")]
    pub zone: Tz,
    /// Working hours per weekday, Monday first; `None` = no working hours that day.
    /// Windows are expected not to wrap midnight (a wrapping window is only honoured up to
    /// midnight of the same local day).
    pub working_hours: [Option<LocalWindow>; 7],
    /// The weekend days.
    pub weekend_days: Vec<Weekday>,
    /// Local dates that are holidays.
    pub holidays: BTreeSet<NaiveDate>,
    /// The sleep window (PagerDuty's "sleep hours").
    pub sleep_window: LocalWindow,
}

mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(zone.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse::<Tz>().map_err(serde::de::Error::custom)
    }
}

/// One maximal piece of an interval during which the set of classes does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassSegment {
    /// First instant of the piece.
    pub start: DateTime<Utc>,
    /// First instant after the piece.
    pub end: DateTime<Utc>,
    /// The classes every instant of the piece belongs to.
    pub classes: TimeClassSet,
}

impl ClassSegment {
    /// Real elapsed seconds of the piece.
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }
}

/// Which kind of day a local date is, for standby rates (PRODUCT.md rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayClass {
    /// A working day.
    Weekday,
    /// A weekend day that is not a holiday.
    Weekend,
    /// A holiday (a holiday on a weekend is a holiday).
    Holiday,
}

impl DayClass {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            DayClass::Weekday => "weekday",
            DayClass::Weekend => "weekend",
            DayClass::Holiday => "holiday",
        }
    }
}

impl WorkingCalendar {
    /// The defaults of PRODUCT.md in `zone`: Mon–Fri 09:00–17:00, weekend Sat + Sun, no
    /// holidays, sleep window 22:00–08:00.
    pub fn new(zone: Tz) -> WorkingCalendar {
        let office = Some(LocalWindow::new(hm(9, 0), hm(17, 0)));
        WorkingCalendar {
            zone,
            working_hours: [office, office, office, office, office, None, None],
            weekend_days: vec![Weekday::Sat, Weekday::Sun],
            holidays: BTreeSet::new(),
            sleep_window: LocalWindow::new(hm(22, 0), hm(8, 0)),
        }
    }

    /// The same calendar with `holidays` added.
    #[must_use]
    pub fn with_holidays(mut self, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.holidays.extend(holidays);
        self
    }

    /// The working-hours window of `weekday`, if any.
    pub fn working_hours_on(&self, weekday: Weekday) -> Option<LocalWindow> {
        let index = usize::try_from(weekday.num_days_from_monday()).ok()?;
        self.working_hours.get(index).copied().flatten()
    }

    /// Whether `date` is a weekend day.
    pub fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend_days.contains(&date.weekday())
    }

    /// The class of the local date `date`: holiday beats weekend beats weekday.
    pub fn day_class(&self, date: NaiveDate) -> DayClass {
        if self.holidays.contains(&date) {
            DayClass::Holiday
        } else if self.is_weekend(date) {
            DayClass::Weekend
        } else {
            DayClass::Weekday
        }
    }

    /// The local wall-clock time of an instant.
    pub fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.zone).naive_local()
    }

    /// The classes of one instant.
    pub fn classes_at(&self, instant: DateTime<Utc>) -> TimeClassSet {
        let local = self.local(instant);
        let (date, time) = (local.date(), local.time());
        let mut classes = TimeClassSet::EMPTY;
        if self.sleep_window.contains(time) {
            classes = classes.with(TimeClass::Night);
        }
        let holiday = self.holidays.contains(&date);
        let weekend = self.is_weekend(date);
        if holiday {
            classes = classes.with(TimeClass::Holiday);
        }
        if weekend {
            classes = classes.with(TimeClass::Weekend);
        }
        if !holiday && !weekend {
            let in_hours = self
                .working_hours_on(date.weekday())
                .is_some_and(|hours| hours.start < hours.end && hours.contains(time));
            classes = classes.with(if in_hours { TimeClass::Business } else { TimeClass::OffHours });
        }
        classes
    }

    /// The first instant whose local time is at or after `local`: the instant itself when the
    /// local time exists once, its first occurrence when it is repeated, and the moment the
    /// clocks jump when it falls in a DST gap.
    pub fn first_instant_at_or_after(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(instant) => instant.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // No UTC offset exceeds ±14 h, so the jump lies within a day of the naive
                // reading; local time only moves forward there, so bisection is valid.
                let guess = local.and_utc();
                let reach = TimeDelta::hours(26);
                bisect(
                    guess.checked_sub_signed(reach).unwrap_or(DateTime::<Utc>::MIN_UTC),
                    guess.checked_add_signed(reach).unwrap_or(DateTime::<Utc>::MAX_UTC),
                    |at| self.local(at) >= local,
                )
            }
        }
    }

    /// The first instant of local date `date` (local midnight, or the jump when midnight
    /// does not exist on that date).
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        self.first_instant_at_or_after(date.and_time(NaiveTime::MIN))
    }

    /// `[start, end)` of local date `date` in UTC; its length is the day's real length
    /// (23, 24 or 25 hours around DST changes).
    pub fn day_bounds(&self, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let next = date.succ_opt().unwrap_or(date);
        (self.day_start(date), self.day_start(next))
    }

    /// Splits `[start, end)` into maximal segments with one constant set of classes, in order.
    /// An empty or reversed interval yields no segment.
    pub fn split(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<ClassSegment> {
        if end <= start {
            return Vec::new();
        }
        let mut cuts = vec![start];
        let first_date = self.local(start).date().pred_opt().unwrap_or(NaiveDate::MIN);
        let last_date = self.local(end).date().succ_opt().unwrap_or(NaiveDate::MAX);
        for date in first_date.iter_days().take_while(|date| *date <= last_date) {
            for time in self.boundaries_on(date) {
                self.push_instants(date.and_time(time), &mut cuts);
            }
        }
        cuts.retain(|cut| start <= *cut && *cut < end);
        cuts.sort_unstable();
        cuts.dedup();

        let mut segments: Vec<ClassSegment> = Vec::with_capacity(cuts.len());
        let ends = cuts.iter().skip(1).copied().chain(std::iter::once(end));
        for (&piece_start, piece_end) in cuts.iter().zip(ends) {
            let classes = self.classes_at(piece_start);
            match segments.last_mut() {
                Some(last) if last.classes == classes => last.end = piece_end,
                _ => segments.push(ClassSegment { start: piece_start, end: piece_end, classes }),
            }
        }
        segments
    }

    /// Local times on `date` at which the classes may change.
    fn boundaries_on(&self, date: NaiveDate) -> Vec<NaiveTime> {
        let mut times = vec![NaiveTime::MIN, self.sleep_window.start, self.sleep_window.end];
        if let Some(hours) = self.working_hours_on(date.weekday()) {
            times.push(hours.start);
            times.push(hours.end);
        }
        times
    }

    /// Pushes every instant at which the local clock reaches `local`. A repeated local time
    /// gives both occurrences plus the jump back between them, because a class boundary
    /// inside the repeated hour is crossed again, backwards, at the jump.
    fn push_instants(&self, local: NaiveDateTime, out: &mut Vec<DateTime<Utc>>) {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(instant) => out.push(instant.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, second) => {
                let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
                let offset_after = offset_seconds(self.zone, second);
                out.push(first);
                out.push(second);
                out.push(bisect(first, second, |at| offset_seconds(self.zone, at) == offset_after));
            }
            LocalResult::None => out.push(self.first_instant_at_or_after(local)),
        }
    }
}

fn offset_seconds(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
}

fn from_seconds(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first whole second in `(low, high]` at which `holds` becomes true, assuming it is false
/// at `low`, true at `high` and flips once. Zone transitions fall on whole seconds.
fn bisect(low: DateTime<Utc>, high: DateTime<Utc>, holds: impl Fn(DateTime<Utc>) -> bool) -> DateTime<Utc> {
    let (mut low, mut high) = (low.timestamp(), high.timestamp());
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if holds(from_seconds(middle)) {
            high = middle;
        } else {
            low = middle;
        }
    }
    from_seconds(high)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use chrono_tz::{America::New_York, Europe::London};
    use proptest::prelude::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn set(classes: &[TimeClass]) -> TimeClassSet {
        TimeClassSet::of(classes)
    }

    fn minutes_per_class(segments: &[ClassSegment]) -> BTreeMap<TimeClassSet, i64> {
        let mut minutes = BTreeMap::new();
        for segment in segments {
            *minutes.entry(segment.classes).or_insert(0) += segment.seconds();
        }
        minutes
    }

    use TimeClass::*;

    #[test]
    fn instants_are_classed_in_local_time() {
        let london = WorkingCalendar::new(London);
        // (instant, expected classes); London is UTC+0 in winter, UTC+1 in summer.
        let table = [
            ("2026-01-14T10:00:00Z", set(&[Business])),        // Wed 10:00
            ("2026-01-14T17:00:00Z", set(&[OffHours])),        // Wed 17:00, end is exclusive
            ("2026-01-14T08:59:00Z", set(&[OffHours])),        // Wed 08:59, after sleep window
            ("2026-01-14T07:59:00Z", set(&[OffHours, Night])), // Wed 07:59
            ("2026-01-14T22:00:00Z", set(&[OffHours, Night])), // Wed 22:00
            ("2026-01-17T02:14:00Z", set(&[Night, Weekend])),  // Sat 02:14
            ("2026-01-17T12:00:00Z", set(&[Weekend])),         // Sat noon
            ("2026-07-15T08:30:00Z", set(&[Business])),        // Wed 09:30 BST
            ("2026-07-15T21:30:00Z", set(&[OffHours, Night])), // Wed 22:30 BST
        ];
        for (instant, expected) in table {
            assert_eq!(london.classes_at(utc(instant)), expected, "{instant}");
        }
        let holiday = london.with_holidays([date("2026-12-25")]);
        assert_eq!(holiday.classes_at(utc("2026-12-25T12:00:00Z")), set(&[Holiday]));
        assert_eq!(
            holiday.classes_at(utc("2026-12-26T23:00:00Z")),
            set(&[Night, Weekend]),
            "Sat 26 Dec is not in the calendar"
        );
    }

    #[test]
    fn a_weekday_is_split_at_its_local_boundaries() {
        let london = WorkingCalendar::new(London);
        // Wed 14 Jan 2026 00:00 → Thu 00:00: night to 08:00, off-hours to 09:00, business
        // to 17:00, off-hours to 22:00, night to midnight (which continues the next day).
        let segments = london.split(utc("2026-01-14T00:00:00Z"), utc("2026-01-15T00:00:00Z"));
        let shape: Vec<(String, TimeClassSet)> =
            segments.iter().map(|s| (s.start.format("%H:%M").to_string(), s.classes)).collect();
        assert_eq!(
            shape,
            vec![
                ("00:00".to_owned(), set(&[OffHours, Night])),
                ("08:00".to_owned(), set(&[OffHours])),
                ("09:00".to_owned(), set(&[Business])),
                ("17:00".to_owned(), set(&[OffHours])),
                ("22:00".to_owned(), set(&[OffHours, Night])),
            ]
        );
    }

    #[test]
    fn dst_days_last_23_and_25_hours() {
        let london = WorkingCalendar::new(London);
        let (start, end) = london.day_bounds(date("2026-03-29"));
        assert_eq!((end - start).num_hours(), 23);
        let (start, end) = london.day_bounds(date("2026-10-25"));
        assert_eq!((end - start).num_hours(), 25);
        let new_york = WorkingCalendar::new(New_York);
        let (start, end) = new_york.day_bounds(date("2026-03-08"));
        assert_eq!((end - start).num_hours(), 23);
        let (start, end) = new_york.day_bounds(date("2026-11-01"));
        assert_eq!((end - start).num_hours(), 25);
    }

    #[test]
    fn days_without_a_midnight_or_without_any_time_still_have_bounds() {
        // Santiago springs forward at midnight: Sun 6 Sep 2026 starts at 01:00 -03, which is
        // 04:00 UTC, and lasts 23 h.
        let santiago = WorkingCalendar::new(chrono_tz::America::Santiago);
        let (start, end) = santiago.day_bounds(date("2026-09-06"));
        assert_eq!(start, utc("2026-09-06T04:00:00Z"));
        assert_eq!((end - start).num_hours(), 23);
        // Samoa skipped Fri 30 Dec 2011 altogether: that local day lasts nothing.
        let apia = WorkingCalendar::new(chrono_tz::Pacific::Apia);
        let (start, end) = apia.day_bounds(date("2011-12-30"));
        assert_eq!(start, end);
        let (start, end) = apia.day_bounds(date("2011-12-29"));
        assert_eq!((end - start).num_hours(), 24);
    }

    #[test]
    fn a_boundary_in_a_dst_gap_moves_to_the_jump() {
        // A sleep window starting at 01:30 on the London spring-forward night: 01:30 does
        // not exist, so the night starts at the jump, 01:00 UTC (02:00 BST).
        let mut calendar = WorkingCalendar::new(London);
        calendar.sleep_window = LocalWindow::new(hm(1, 30), hm(5, 0));
        let segments = calendar.split(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T06:00:00Z"));
        let nights: Vec<_> = segments.iter().filter(|s| s.classes.contains(Night)).map(|s| (s.start, s.end)).collect();
        // 05:00 BST = 04:00 UTC.
        assert_eq!(nights, vec![(utc("2026-03-29T01:00:00Z"), utc("2026-03-29T04:00:00Z"))]);
    }

    #[test]
    fn a_boundary_in_a_repeated_hour_is_crossed_twice() {
        // Night ends at 01:30 local on the London fall-back night: 01:00–01:30 is night twice,
        // 01:30–02:00 BST is not, then the clock goes back to 01:00 GMT and it is night again.
        let mut calendar = WorkingCalendar::new(London);
        calendar.sleep_window = LocalWindow::new(hm(22, 0), hm(1, 30));
        // Sunday, so the weekend class is constant throughout.
        let segments = calendar.split(utc("2026-10-24T23:00:00Z"), utc("2026-10-25T03:00:00Z"));
        let nights: Vec<_> = segments.iter().filter(|s| s.classes.contains(Night)).map(|s| (s.start, s.end)).collect();
        assert_eq!(
            nights,
            vec![
                // 00:00 BST → 01:30 BST (00:30 UTC)
                (utc("2026-10-24T23:00:00Z"), utc("2026-10-25T00:30:00Z")),
                // 01:00 GMT (01:00 UTC) → 01:30 GMT (01:30 UTC)
                (utc("2026-10-25T01:00:00Z"), utc("2026-10-25T01:30:00Z")),
            ]
        );
    }

    #[test]
    fn the_spring_forward_night_has_one_hour_less_of_night() {
        // Sat 28 → Sun 29 March 2026 in London, 22:00 → 08:00 local is 9 real hours.
        let london = WorkingCalendar::new(London);
        let segments = london.split(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        let night: i64 = segments.iter().filter(|s| s.classes.contains(Night)).map(ClassSegment::seconds).sum();
        assert_eq!(night, 9 * 3600);
        // In New York the fall-back night (Sat 31 Oct → Sun 1 Nov 2026) has 11 hours.
        let new_york = WorkingCalendar::new(New_York);
        let segments = new_york.split(utc("2026-10-31T16:00:00Z"), utc("2026-11-01T17:00:00Z"));
        let night: i64 = segments.iter().filter(|s| s.classes.contains(Night)).map(ClassSegment::seconds).sum();
        assert_eq!(night, 11 * 3600);
    }

    #[test]
    fn segments_are_maximal_and_contiguous() {
        let london = WorkingCalendar::new(London);
        let segments = london.split(utc("2026-01-16T12:00:00Z"), utc("2026-01-19T12:00:00Z"));
        for pair in segments.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_ne!(pair[0].classes, pair[1].classes);
        }
        assert!(london.split(utc("2026-01-16T12:00:00Z"), utc("2026-01-16T12:00:00Z")).is_empty());
    }

    #[test]
    fn calendar_round_trips_through_json() {
        let calendar = WorkingCalendar::new(New_York).with_holidays([date("2026-07-03")]);
        let json = serde_json::to_string(&calendar).unwrap();
        assert!(json.contains("\"America/New_York\""));
        let back: WorkingCalendar = serde_json::from_str(&json).unwrap();
        assert_eq!(back, calendar);
    }

    fn zones() -> impl Strategy<Value = Tz> {
        prop_oneof![Just(London), Just(New_York), Just(chrono_tz::Australia::Lord_Howe), Just(chrono_tz::Asia::Kolkata)]
    }

    proptest! {
        #[test]
        fn splitting_an_interval_keeps_the_minutes_per_class(
            zone in zones(),
            // Any start in 2024–2027, up to 10 days long, cut anywhere inside.
            start in 1_704_067_200_i64..1_830_297_600_i64,
            length in 1_i64..864_000,
            cut_permille in 0_i64..=1000,
        ) {
            let calendar = WorkingCalendar::new(zone).with_holidays([date("2026-12-25")]);
            let start = from_seconds(start);
            let end = start + TimeDelta::seconds(length);
            let cut = start + TimeDelta::seconds(length * cut_permille / 1000);
            let whole = minutes_per_class(&calendar.split(start, end));
            let mut halves = minutes_per_class(&calendar.split(start, cut));
            for (classes, seconds) in minutes_per_class(&calendar.split(cut, end)) {
                *halves.entry(classes).or_insert(0) += seconds;
            }
            prop_assert_eq!(whole, halves);
        }

        #[test]
        fn every_segment_is_classed_like_its_instants(
            zone in zones(),
            start in 1_704_067_200_i64..1_830_297_600_i64,
            length in 1_i64..400_000,
            probe in 0_i64..400_000,
        ) {
            let calendar = WorkingCalendar::new(zone);
            let start = from_seconds(start);
            let end = start + TimeDelta::seconds(length);
            let at = start + TimeDelta::seconds(probe % length);
            let segments = calendar.split(start, end);
            let holding = segments.iter().find(|s| s.start <= at && at < s.end);
            prop_assert_eq!(holding.map(|s| s.classes), Some(calendar.classes_at(at)));
            let total: i64 = segments.iter().map(ClassSegment::seconds).sum();
            prop_assert_eq!(total, length);
        }
    }
}
