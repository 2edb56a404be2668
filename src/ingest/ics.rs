//! Shifts from iCalendar (ICS) on-call feeds, as PagerDuty, Opsgenie, GoAlert and Grafana
//! OnCall publish them, and as Google Calendar exports them.
//!
//! # What becomes a shift
//!
//! Each `VEVENT` is one shift; a recurring one (`RRULE`, `RDATE`) is one shift per
//! occurrence. Occurrences are expanded only inside the window `[from, to)` the caller
//! passes, and at most [`OCCURRENCES_PER_EVENT_MAX`] per event (more is reported as a row
//! error and the rest of that event is not expanded). A shift is kept when it overlaps the
//! window (`start < to` and `end > from`); it is not clipped to it.
//!
//! - `EXDATE` removes the occurrence starting at that instant.
//! - A `VEVENT` with a `RECURRENCE-ID` replaces the occurrence its `RECURRENCE-ID` names
//!   (its own `DTSTART`, `DTEND` and `SUMMARY` win). One whose `RECURRENCE-ID` names no
//!   occurrence (Google writes such orphans) is kept as a shift of its own.
//! - `STATUS:CANCELLED` events, and cancelled overrides, are not shifts.
//! - The end is `DTEND`, else `DTSTART` + `DURATION`, else (all-day events only) one day.
//!   An occurrence lasts as many *wall-clock* hours as the first one, so a weekly
//!   09:00–17:00 Europe/Berlin shift stays 09:00–17:00 local across the DST change (that is
//!   what calendar apps show and what the rota means), and an all-day event runs local
//!   midnight to midnight (23 or 25 real hours on DST days).
//!
//! # Times
//!
//! - `…Z` is UTC; `TZID=Area/City` is that IANA zone (a path prefix such as
//!   `/freeassociation.sourceforge.net/Europe/Berlin` is tolerated); a `TZID` that is not an
//!   IANA name (a Windows zone name, a custom `VTIMEZONE`) is a row error rather than a guess.
//! - Floating times (no `Z`, no `TZID`) and all-day dates (`VALUE=DATE`) are read in the
//!   calendar's zone: `X-WR-TIMEZONE` when the feed has one, else the caller's
//!   `default_time_zone` (UTC when in doubt). An all-day event is local midnight to midnight.
//! - A local time in a DST gap is read with the offset before the gap (RFC 5545 §3.3.5:
//!   02:30 on the spring-forward night in Berlin is 03:30 CEST); one in a fold is the first.
//!
//! # Who and what role
//!
//! The person is, in this order: the caller's `person` (for personal feeds such as
//! GoAlert's and PagerDuty's "my on-call shifts", which name nobody), the first
//! `ATTENDEE` email, the `ORGANIZER` email, else the `SUMMARY`:
//! `[L1] alice` (Grafana OnCall) → `alice`; `On Call - Alice Smith - Payments` (PagerDuty)
//! → `Alice Smith`; `@Alex` (Grafana's Google calendars) → `Alex`; anything else is the
//! name as written. Emails are lower-cased, since every tool matches them case-insensitively.
//!
//! The role is `primary` unless the summary says otherwise: a level tag `[L2]` →
//! `secondary`, `[L3]` and deeper → `backup`; or the word `secondary` / `backup` in it.
//! The schedule is the calendar's `X-WR-CALNAME`.
//!
//! # Keys
//!
//! `source` is the caller's (the feed's name or URL). The external id is the `UID` for a
//! single event and `UID/<occurrence start in UTC, RFC 3339>` for an occurrence of a
//! recurring one, where the occurrence start is the *original* one (the `RECURRENCE-ID`),
//! so a moved occurrence keeps its key and re-importing an edited feed updates the shift
//! instead of adding a second.
//!
//! # Errors
//!
//! An unparseable calendar is a `FileError`. A bad event is a `RowError` whose line is
//! the event's `BEGIN:VEVENT` line and whose field is the property at fault; the other
//! events are still read.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property, read_calendar, unfold};
use icalendar::rrule::{RRule, RRuleSet, Unvalidated};

use super::csv_shifts::normalise_person_key;
use super::rows::{FileError, ImportedShift, RowError};
use crate::domain::field_error::require_text;
use crate::domain::page::KEY_LENGTH_MAX;
use crate::domain::shift::{ShiftRole, check_interval};
use crate::domain::timestamp::format_rfc3339;

/// Largest calendar accepted, in bytes. A year of a 50-person rota is well under 1 MiB.
pub const ICS_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Most `VEVENT`s read from one calendar.
pub const EVENTS_MAX: usize = 100_000;
/// Most occurrences one recurring event expands to inside the window (five years of daily shifts).
pub const OCCURRENCES_PER_EVENT_MAX: u16 = 2_000;
/// Most shifts one calendar yields.
pub const SHIFTS_MAX: usize = 1_000_000;
/// Longest window accepted, in days: expansion cost grows with it.
pub const WINDOW_DAYS_MAX: i64 = 5 * 366;

/// What an ICS import needs besides the calendar text.
#[derive(Debug, Clone)]
pub struct IcsOptions {
    /// The source every shift gets: the feed's name or URL.
    pub source: String,
    /// Start of the window recurring events are expanded in (inclusive).
    pub from: DateTime<Utc>,
    /// End of the window (exclusive).
    pub to: DateTime<Utc>,
    /// The zone for floating times and all-day dates when the feed has no `X-WR-TIMEZONE`.
    pub default_time_zone: Tz,
    /// The person every shift belongs to, for personal feeds that name nobody.
    pub person: Option<String>,
}

/// Reads the shifts of an iCalendar feed: one `Result` per shift or bad event.
///
/// The calendar is parsed whole (it is bounded by [`ICS_BYTES_MAX`]), so this returns a
/// list rather than a stream. Fails only when the text is not a readable calendar or the
/// window is empty or longer than [`WINDOW_DAYS_MAX`] (reported at line 0).
pub fn shifts_from_ics(text: &str, options: &IcsOptions) -> Result<Vec<Result<ImportedShift, RowError>>, FileError> {
    check_window(options)?;
    if text.len() > ICS_BYTES_MAX {
        return Err(FileError::new(1, format!("the calendar is larger than {ICS_BYTES_MAX} bytes")));
    }
    let event_lines = vevent_lines(text);
    if event_lines.len() > EVENTS_MAX {
        return Err(FileError::new(1, format!("the calendar has more than {EVENTS_MAX} events")));
    }
    let unfolded = unfold(text);
    let parsed = read_calendar(&unfolded)
        .map_err(|error| FileError::new(1, format!("not a readable iCalendar file: {error}")))?;
    if !text.trim_start_matches('\u{feff}').trim_start().to_ascii_uppercase().starts_with("BEGIN:VCALENDAR") {
        return Err(FileError::new(1, "not an iCalendar file: it does not start with BEGIN:VCALENDAR"));
    }
    let components: Vec<&Component<'_>> =
        parsed.components.iter().filter(|component| component.name.as_str().eq_ignore_ascii_case("VEVENT")).collect();
    // The parser stops quietly at the first line it cannot read; comparing counts turns
    // that silent truncation into an error that names where the calendar stopped parsing.
    if components.len() != event_lines.len() {
        let line = event_lines.get(components.len()).copied().unwrap_or(1);
        return Err(FileError::new(
            line,
            format!(
                "not a readable iCalendar file: {} events found but only {} could be parsed",
                event_lines.len(),
                components.len()
            ),
        ));
    }
    let calendar = CalendarContext::read(&parsed.properties, options)?;
    let events =
        components.iter().zip(event_lines).map(|(component, line)| Event::read(component, line, &calendar)).collect();
    Ok(Expansion::new(&calendar, options).run(events))
}

fn check_window(options: &IcsOptions) -> Result<(), FileError> {
    if options.to <= options.from {
        return Err(FileError::new(0, "the window must end after it starts"));
    }
    if options.to - options.from > Duration::days(WINDOW_DAYS_MAX) {
        return Err(FileError::new(0, format!("the window must be at most {WINDOW_DAYS_MAX} days")));
    }
    Ok(())
}

/// 1-based lines of `BEGIN:VEVENT` in the raw (folded) text, in order: the parser keeps
/// no positions, and the n-th event it returns is the n-th of these.
fn vevent_lines(text: &str) -> Vec<u64> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim().eq_ignore_ascii_case("BEGIN:VEVENT"))
        .map(|(index, _)| u64::try_from(index).map_or(u64::MAX, |index| index + 1))
        .collect()
}

/// What the calendar as a whole says.
struct CalendarContext {
    zone: Tz,
    name: Option<String>,
}

impl CalendarContext {
    fn read(properties: &[Property<'_>], options: &IcsOptions) -> Result<Self, FileError> {
        let value = |name: &str| {
            properties
                .iter()
                .find(|property| property.name.as_str().eq_ignore_ascii_case(name))
                .map(|property| property.val.as_str().trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let zone = match value("X-WR-TIMEZONE") {
            None => options.default_time_zone,
            // A wrong calendar zone would shift every all-day shift by hours: refuse the file.
            Some(name) => parse_zone(&name)
                .ok_or_else(|| FileError::new(1, format!("X-WR-TIMEZONE `{name}` is not an IANA time zone")))?,
        };
        Ok(CalendarContext { zone, name: value("X-WR-CALNAME") })
    }
}

/// An instant as the calendar wrote it, resolved to a zone.
#[derive(Debug, Clone, Copy)]
struct LocalTime {
    naive: NaiveDateTime,
    zone: Tz,
    all_day: bool,
}

impl LocalTime {
    fn to_utc(self) -> Option<DateTime<Utc>> {
        local_to_utc(self.naive, self.zone)
    }
}

/// Local wall time → instant: a fold takes the first, a gap the offset before the gap.
fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // Gaps last at most a few hours; a day earlier the offset before the gap holds.
            let before = naive.checked_sub_signed(Duration::days(1))?;
            let offset = zone.offset_from_local_datetime(&before).earliest()?.fix();
            let utc = naive.checked_sub_signed(Duration::seconds(i64::from(offset.local_minus_utc())))?;
            Some(utc.and_utc())
        }
    }
}

fn parse_zone(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    // Some producers prefix the IANA name with a path; try ever shorter suffixes.
    let parts: Vec<&str> = name.split('/').collect();
    (0..parts.len()).find_map(|skip| Tz::from_str(&parts[skip..].join("/")).ok())
}

fn find<'c>(component: &'c Component<'_>, name: &str) -> Option<&'c Property<'c>> {
    component.properties.iter().find(|property| property.name.as_str().eq_ignore_ascii_case(name))
}

fn find_all<'c>(component: &'c Component<'_>, name: &'c str) -> impl Iterator<Item = &'c Property<'c>> {
    component.properties.iter().filter(move |property| property.name.as_str().eq_ignore_ascii_case(name))
}

fn param<'p>(property: &'p Property<'_>, key: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|parameter| parameter.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|parameter| parameter.val.as_ref())
        .map(|value| value.as_str().trim_matches('"'))
}

fn text_value(property: &Property<'_>) -> String {
    property.val.clone().unescape_text().as_str().trim().to_owned()
}

/// Reads one DATE or DATE-TIME value of a property (`DTSTART`, one item of an `EXDATE`…).
fn parse_time(value: &str, property: &Property<'_>, calendar_zone: Tz) -> Result<LocalTime, String> {
    let value = value.trim();
    let is_date = param(property, "VALUE").is_some_and(|kind| kind.eq_ignore_ascii_case("DATE")) || value.len() == 8;
    if is_date {
        let date =
            NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| format!("`{value}` is not a date (YYYYMMDD)"))?;
        return Ok(LocalTime { naive: date.and_time(NaiveTime::MIN), zone: calendar_zone, all_day: true });
    }
    let (text, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(text) => (text, true),
        None => (value, false),
    };
    let naive = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("`{value}` is not a date-time (YYYYMMDDTHHMMSS[Z])"))?;
    let zone = if utc {
        Tz::UTC
    } else if let Some(tzid) = param(property, "TZID") {
        parse_zone(tzid).ok_or_else(|| format!("TZID `{tzid}` is not an IANA time zone"))?
    } else {
        calendar_zone
    };
    Ok(LocalTime { naive, zone, all_day: false })
}

/// An ISO 8601 / RFC 5545 duration (`PT8H`, `P1D`, `P1W`, `-PT5M` is refused): days and
/// weeks are nominal (wall-clock), hours, minutes and seconds exact.
fn parse_duration(text: &str) -> Option<(i64, i64)> {
    let rest = text.trim().strip_prefix('+').unwrap_or(text.trim()).strip_prefix('P')?;
    let (mut days, mut seconds, mut number, mut in_time) = (0_i64, 0_i64, String::new(), false);
    for character in rest.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        let amount: i64 = if character == 'T' { 0 } else { number.parse().ok()? };
        number.clear();
        match (character, in_time) {
            ('T', false) => in_time = true,
            ('W', false) => days = days.checked_add(amount.checked_mul(7)?)?,
            ('D', false) => days = days.checked_add(amount)?,
            ('H', true) => seconds = seconds.checked_add(amount.checked_mul(3_600)?)?,
            ('M', true) => seconds = seconds.checked_add(amount.checked_mul(60)?)?,
            ('S', true) => seconds = seconds.checked_add(amount)?,
            _ => return None,
        }
    }
    number.is_empty().then_some((days, seconds))
}

/// How an event's end follows from its start.
#[derive(Debug, Clone, Copy)]
enum Length {
    /// Same zone at both ends: this much wall-clock time later.
    WallClock(Duration),
    /// Different zones at both ends: this much real time later.
    Exact(Duration),
    /// A `DURATION`: nominal days, then exact seconds.
    Nominal { days: i64, seconds: i64 },
}

/// One `VEVENT`, read and checked, before expansion.
struct Event {
    line: u64,
    uid: String,
    person_key: String,
    role: ShiftRole,
    start: LocalTime,
    length: Length,
    rrule: Option<String>,
    rdates: Vec<LocalTime>,
    exdates: HashSet<DateTime<Utc>>,
    recurrence_id: Option<DateTime<Utc>>,
    cancelled: bool,
}

impl Event {
    fn read(component: &Component<'_>, line: u64, calendar: &CalendarContext) -> Result<Event, RowError> {
        let error = |field: &str, message: String| RowError::new(line, field, message);
        let uid = find(component, "UID")
            .map(text_value)
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| error("UID", "is required: it is the shift's idempotency key".to_owned()))?;
        require_text("UID", &uid, KEY_LENGTH_MAX).map_err(|field| error("UID", field.message))?;
        let start_property = find(component, "DTSTART").ok_or_else(|| error("DTSTART", "is required".to_owned()))?;
        let start = parse_time(start_property.val.as_str(), start_property, calendar.zone)
            .map_err(|message| error("DTSTART", message))?;
        let length = read_length(component, start).map_err(|(field, message)| error(field, message))?;
        check_first_instance(start, length).map_err(|message| error("DTEND", message))?;
        let summary = find(component, "SUMMARY").map(text_value).unwrap_or_default();
        let role = role_from_summary(&summary);
        let person_key = person_of(component, &summary).ok_or_else(|| {
            error("SUMMARY", "names nobody: no ATTENDEE, ORGANIZER or name in the summary".to_owned())
        })?;
        require_text("SUMMARY", &person_key, KEY_LENGTH_MAX).map_err(|field| error("SUMMARY", field.message))?;
        let recurrence_id = find(component, "RECURRENCE-ID")
            .map(|property| {
                parse_time(property.val.as_str(), property, calendar.zone)
                    .and_then(|time| time.to_utc().ok_or_else(|| "is not a valid instant".to_owned()))
            })
            .transpose()
            .map_err(|message| error("RECURRENCE-ID", message))?;
        Ok(Event {
            line,
            uid,
            person_key,
            role,
            start,
            length,
            rrule: find(component, "RRULE").map(|property| property.val.as_str().trim().to_owned()),
            rdates: read_times(component, "RDATE", calendar.zone).map_err(|message| error("RDATE", message))?,
            exdates: read_times(component, "EXDATE", calendar.zone)
                .map_err(|message| error("EXDATE", message))?
                .into_iter()
                .filter_map(LocalTime::to_utc)
                .collect(),
            recurrence_id,
            cancelled: find(component, "STATUS")
                .is_some_and(|status| status.val.as_str().trim().eq_ignore_ascii_case("CANCELLED")),
        })
    }

    fn is_recurring(&self) -> bool {
        self.rrule.is_some() || !self.rdates.is_empty()
    }

    /// The end of an occurrence starting at `start` (a local time in the event's zone).
    fn end_of(&self, start: NaiveDateTime, start_utc: DateTime<Utc>) -> Option<DateTime<Utc>> {
        occurrence_end(self.length, self.start.zone, start, start_utc)
    }
}

/// The end of an occurrence of `length` starting at `start` (local in `zone`, and in UTC).
fn occurrence_end(length: Length, zone: Tz, start: NaiveDateTime, start_utc: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match length {
        Length::WallClock(length) => local_to_utc(start.checked_add_signed(length)?, zone),
        Length::Exact(length) => start_utc.checked_add_signed(length),
        Length::Nominal { days, seconds } => local_to_utc(start.checked_add_signed(Duration::days(days))?, zone)?
            .checked_add_signed(Duration::seconds(seconds)),
    }
}

/// Checks the event's own interval when it is read, so a backwards or over-long event
/// is reported once, in file order, not once per occurrence.
fn check_first_instance(start: LocalTime, length: Length) -> Result<(), String> {
    let start_utc = start.to_utc().ok_or("DTSTART is not a valid instant")?;
    let end = occurrence_end(length, start.zone, start.naive, start_utc).ok_or("is not a valid instant")?;
    check_interval(start_utc, end).map_err(|error| error.message)
}

fn read_length(component: &Component<'_>, start: LocalTime) -> Result<Length, (&'static str, String)> {
    if let Some(property) = find(component, "DTEND") {
        let end = parse_time(property.val.as_str(), property, start.zone).map_err(|message| ("DTEND", message))?;
        if end.zone == start.zone {
            return Ok(Length::WallClock(end.naive - start.naive));
        }
        let (Some(end_utc), Some(start_utc)) = (end.to_utc(), start.to_utc()) else {
            return Err(("DTEND", "is not a valid instant".to_owned()));
        };
        return Ok(Length::Exact(end_utc - start_utc));
    }
    if let Some(property) = find(component, "DURATION") {
        let text = property.val.as_str();
        let (days, seconds) = parse_duration(text)
            .ok_or_else(|| ("DURATION", format!("`{text}` is not a duration such as PT8H or P7D")))?;
        return Ok(Length::Nominal { days, seconds });
    }
    if start.all_day {
        // RFC 5545 §3.6.1: an all-day event without an end lasts the one day.
        return Ok(Length::Nominal { days: 1, seconds: 0 });
    }
    Err(("DTEND", "is required (or DURATION): an event without an end is no shift".to_owned()))
}

/// All values of a multi-valued date property (`EXDATE:a,b` or several `EXDATE` lines).
fn read_times(component: &Component<'_>, name: &'static str, zone: Tz) -> Result<Vec<LocalTime>, String> {
    let mut times = Vec::new();
    for property in find_all(component, name) {
        for value in property.val.as_str().split(',').filter(|value| !value.trim().is_empty()) {
            if times.len() >= usize::from(OCCURRENCES_PER_EVENT_MAX) {
                return Err(format!("has more than {OCCURRENCES_PER_EVENT_MAX} values"));
            }
            times.push(parse_time(value, property, zone)?);
        }
    }
    Ok(times)
}

fn email_of(property: &Property<'_>) -> Option<String> {
    let value = property.val.as_str().trim();
    let address = value.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("mailto:")).map_or(value, |_| &value[7..]);
    address.contains('@').then(|| normalise_person_key(address))
}

fn person_of(component: &Component<'_>, summary: &str) -> Option<String> {
    find_all(component, "ATTENDEE")
        .find_map(email_of)
        .or_else(|| find(component, "ORGANIZER").and_then(email_of))
        .or_else(|| person_from_summary(summary))
}

/// The person a summary names; see the module documentation for the patterns.
fn person_from_summary(summary: &str) -> Option<String> {
    let mut text = summary.trim();
    if let Some(rest) = text.strip_prefix('[')
        && let Some((_, after)) = rest.split_once(']')
    {
        text = after.trim();
    }
    for prefix in ["on call - ", "on-call - ", "oncall - "] {
        if text.len() >= prefix.len()
            && text.is_char_boundary(prefix.len())
            && text[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            let rest = &text[prefix.len()..];
            text = rest.split(" - ").next().unwrap_or(rest).trim();
        }
    }
    let text = text.trim_start_matches('@').trim();
    (!text.is_empty()).then(|| normalise_person_key(text))
}

fn role_from_summary(summary: &str) -> ShiftRole {
    let summary = summary.trim();
    if let Some(rest) = summary.strip_prefix('[')
        && let Some((tag, _)) = rest.split_once(']')
    {
        let tag = tag.trim().to_ascii_lowercase();
        let level = tag.strip_prefix('l').unwrap_or(&tag).parse::<u32>().ok();
        match (level, tag.as_str()) {
            (Some(1), _) | (_, "primary") => return ShiftRole::Primary,
            (Some(2), _) | (_, "secondary") => return ShiftRole::Secondary,
            (Some(_), _) | (_, "backup") => return ShiftRole::Backup,
            _ => {}
        }
    }
    let words: Vec<String> =
        summary.split(|character: char| !character.is_alphanumeric()).map(str::to_lowercase).collect();
    if words.iter().any(|word| word == "secondary") {
        ShiftRole::Secondary
    } else if words.iter().any(|word| word == "backup") {
        ShiftRole::Backup
    } else {
        ShiftRole::Primary
    }
}

/// Expands the events of one calendar into shifts.
struct Expansion<'a> {
    calendar: &'a CalendarContext,
    options: &'a IcsOptions,
    results: Vec<Result<ImportedShift, RowError>>,
    shift_count: usize,
}

impl<'a> Expansion<'a> {
    fn new(calendar: &'a CalendarContext, options: &'a IcsOptions) -> Self {
        Expansion { calendar, options, results: Vec::new(), shift_count: 0 }
    }

    fn run(mut self, events: Vec<Result<Event, RowError>>) -> Vec<Result<ImportedShift, RowError>> {
        let mut masters = Vec::new();
        let mut overrides: HashMap<(String, DateTime<Utc>), Event> = HashMap::new();
        let mut master_uids = HashSet::new();
        for event in events {
            match event {
                Err(error) => self.results.push(Err(error)),
                Ok(event) => match event.recurrence_id {
                    Some(id) => match overrides.entry((event.uid.clone(), id)) {
                        // The first event of a UID and RECURRENCE-ID wins; a later one is reported.
                        Entry::Occupied(_) => self.duplicate(&event),
                        Entry::Vacant(slot) => {
                            slot.insert(event);
                        }
                    },
                    None if !master_uids.insert(event.uid.clone()) => self.duplicate(&event),
                    None => masters.push(event),
                },
            }
        }
        for master in &masters {
            self.expand(master, &mut overrides);
        }
        // Overrides whose RECURRENCE-ID matched no occurrence stand on their own, in file order.
        let mut orphans: Vec<Event> = overrides.into_values().collect();
        orphans.sort_by_key(|event| event.line);
        for orphan in &orphans {
            if let Some(id) = orphan.recurrence_id {
                self.emit_single(orphan, Some(id));
            }
        }
        self.results
    }

    fn duplicate(&mut self, event: &Event) {
        self.results.push(Err(RowError::new(
            event.line,
            "UID",
            format!(
                "an earlier event has the same UID `{}` and the same RECURRENCE-ID (or none); this one is ignored",
                event.uid
            ),
        )));
    }

    fn expand(&mut self, master: &Event, overrides: &mut HashMap<(String, DateTime<Utc>), Event>) {
        if !master.is_recurring() {
            self.emit_single(master, None);
            return;
        }
        let occurrences = match self.occurrences(master) {
            Ok(occurrences) => occurrences,
            Err(error) => {
                self.results.push(Err(error));
                return;
            }
        };
        for (local, start) in occurrences {
            if master.exdates.contains(&start) {
                continue;
            }
            match overrides.remove(&(master.uid.clone(), start)) {
                Some(replacement) => self.emit_single(&replacement, Some(start)),
                None if master.cancelled => {}
                None => {
                    let end = master.end_of(local, start);
                    self.emit(master, start, end, Some(start));
                }
            }
        }
    }

    /// Occurrence starts (local and UTC) of a recurring event that may overlap the window.
    fn occurrences(&self, master: &Event) -> Result<Vec<(NaiveDateTime, DateTime<Utc>)>, RowError> {
        let error = |field: &str, message: String| RowError::new(master.line, field, message);
        let zone = icalendar::rrule::Tz::Tz(master.start.zone);
        let start_utc = master.start.to_utc().ok_or_else(|| error("DTSTART", "is not a valid instant".to_owned()))?;
        let start_end = master
            .end_of(master.start.naive, start_utc)
            .ok_or_else(|| error("DTEND", "is not a valid instant".to_owned()))?;
        check_interval(start_utc, start_end).map_err(|field| error("DTEND", field.message))?;
        let dt_start = zone.from_utc_datetime(&start_utc.naive_utc());
        let mut set = match &master.rrule {
            Some(rule) => {
                let rule = until_in_utc(rule, master.start.zone).map_err(|message| error("RRULE", message))?;
                RRule::<Unvalidated>::from_str(&rule)
                    .and_then(|rule| rule.build(dt_start))
                    .map_err(|rrule_error| error("RRULE", format!("`{rule}` is not a valid rule: {rrule_error}")))?
            }
            // RFC 5545 §3.8.2.4: DTSTART is always the first instance, RDATEs add to it.
            None => RRuleSet::new(dt_start).rdate(dt_start),
        };
        for rdate in &master.rdates {
            let instant = rdate.to_utc().ok_or_else(|| error("RDATE", "is not a valid instant".to_owned()))?;
            set = set.rdate(zone.from_utc_datetime(&instant.naive_utc()));
        }
        // Reach back by the event's length so an occurrence that started before the
        // window but runs into it is kept.
        let reach_back = (start_end - start_utc) + Duration::days(1);
        let after = self.options.from - reach_back;
        let result = set
            .after(zone.from_utc_datetime(&after.naive_utc()))
            .before(zone.from_utc_datetime(&self.options.to.naive_utc()))
            .all(OCCURRENCES_PER_EVENT_MAX);
        if result.dates.len() >= usize::from(OCCURRENCES_PER_EVENT_MAX) {
            return Err(error(
                "RRULE",
                format!(
                    "expands to more than {OCCURRENCES_PER_EVENT_MAX} occurrences in the window; narrow the window"
                ),
            ));
        }
        Ok(result.dates.into_iter().map(|date| (date.naive_local(), date.with_timezone(&Utc))).collect())
    }

    /// A single event, or an override standing in for the occurrence at `occurrence`.
    fn emit_single(&mut self, event: &Event, occurrence: Option<DateTime<Utc>>) {
        if event.cancelled {
            return;
        }
        let Some(start) = event.start.to_utc() else {
            self.results.push(Err(RowError::new(event.line, "DTSTART", "is not a valid instant")));
            return;
        };
        let end = event.end_of(event.start.naive, start);
        self.emit(event, start, end, occurrence);
    }

    fn emit(
        &mut self,
        event: &Event,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        occurrence: Option<DateTime<Utc>>,
    ) {
        let Some(end) = end else {
            self.results.push(Err(RowError::new(event.line, "DTEND", "is not a valid instant")));
            return;
        };
        if let Err(error) = check_interval(start, end) {
            self.results.push(Err(RowError::new(event.line, "DTEND", error.message)));
            return;
        }
        if start >= self.options.to || end <= self.options.from {
            return;
        }
        if self.shift_count >= SHIFTS_MAX {
            if self.shift_count == SHIFTS_MAX {
                self.results.push(Err(RowError::new(
                    event.line,
                    "VEVENT",
                    format!("the calendar yields more than {SHIFTS_MAX} shifts; the rest were not read"),
                )));
                self.shift_count += 1;
            }
            return;
        }
        self.shift_count += 1;
        let external_id = match occurrence {
            Some(occurrence) => format!("{}/{}", event.uid, format_rfc3339(&occurrence)),
            None => event.uid.clone(),
        };
        let person_key = self.options.person.clone().unwrap_or_else(|| event.person_key.clone());
        self.results.push(Ok(ImportedShift {
            person_key,
            role: event.role,
            schedule: self.calendar.name.clone(),
            start,
            end,
            source: self.options.source.clone(),
            external_id,
        }));
    }
}

/// Rewrites a floating or DATE `UNTIL` as UTC: the rrule crate reads those in the
/// machine's local zone, which would make the result depend on the server it runs on.
/// A DATE `UNTIL` includes that whole local day.
///
/// A rule that is not ASCII is refused here: RFC 5545 writes rules in ASCII, and the rrule
/// crate slices `BYDAY` values by byte and panics inside a multi-byte character.
fn until_in_utc(rule: &str, zone: Tz) -> Result<String, String> {
    if !rule.is_ascii() {
        return Err(format!("`{rule}` is not a valid rule: an RRULE is written in ASCII"));
    }
    let parts: Result<Vec<String>, String> = rule
        .split(';')
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return Ok(part.to_owned());
            };
            if !key.trim().eq_ignore_ascii_case("UNTIL") || value.ends_with(['Z', 'z']) {
                return Ok(part.to_owned());
            }
            let local = if value.len() == 8 {
                NaiveDate::parse_from_str(value, "%Y%m%d").ok().and_then(|date| date.and_hms_opt(23, 59, 59))
            } else {
                NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()
            };
            let utc = local
                .and_then(|local| local_to_utc(local, zone))
                .ok_or_else(|| format!("UNTIL `{value}` is not a date or date-time"))?;
            Ok(format!("UNTIL={}", utc.format("%Y%m%dT%H%M%SZ")))
        })
        .collect();
    Ok(parts?.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timestamp::parse_rfc3339;

    fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    fn options(from: &str, to: &str) -> IcsOptions {
        IcsOptions {
            source: "ics:test".to_owned(),
            from: at(from),
            to: at(to),
            default_time_zone: Tz::UTC,
            person: None,
        }
    }

    fn shifts(text: &str, options: &IcsOptions) -> Vec<ImportedShift> {
        shifts_from_ics(text, options).unwrap().into_iter().map(|shift| shift.unwrap()).collect()
    }

    #[test]
    fn a_daily_recurring_event_expands_in_the_window() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/calendar_with_recurring_event.ics");
        let shifts = shifts(text, &options("2021-01-24T00:00:00Z", "2021-01-31T00:00:00Z"));
        assert_eq!(shifts.len(), 7);
        let first = &shifts[0];
        assert_eq!(first.person_key, "Bernard Desruisseaux");
        assert_eq!(first.role, ShiftRole::Primary);
        assert_eq!(first.schedule.as_deref(), Some("t"));
        // 13:00–22:00 Asia/Yekaterinburg (+05).
        assert_eq!((first.start, first.end), (at("2021-01-24T08:00:00Z"), at("2021-01-24T17:00:00Z")));
        assert_eq!(first.external_id, "0i0af8p6p8vfampe3r1vkog0jg@google.com/2021-01-24T08:00:00Z");
        assert_eq!(shifts[6].start, at("2021-01-30T08:00:00Z"));
    }

    #[test]
    fn an_edited_occurrence_replaces_the_original_and_keeps_its_key() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/calendar_with_edited_recurring_events.ics");
        let shifts = shifts(text, &options("2021-01-26T00:00:00Z", "2021-01-29T00:00:00Z"));
        let people: Vec<&str> = shifts.iter().map(|shift| shift.person_key.as_str()).collect();
        assert_eq!(people, ["Bernard Desruisseaux", "Bob", "Bernard Desruisseaux"]);
        assert_eq!(shifts[1].start, at("2021-01-27T08:00:00Z"));
        assert_eq!(shifts[1].external_id, "0i0af8p6p8vfampe3r1vkog0jg@google.com/2021-01-27T08:00:00Z");
    }

    #[test]
    fn all_day_events_run_midnight_to_midnight_in_the_calendar_zone() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/calendar_with_all_day_event.ics");
        let shifts = shifts(text, &options("2021-01-27T00:00:00Z", "2021-01-28T00:00:00Z"));
        let alex = shifts.iter().find(|shift| shift.person_key == "Alex").unwrap();
        // 2021-01-27 in Asia/Yekaterinburg (+05).
        assert_eq!((alex.start, alex.end), (at("2021-01-26T19:00:00Z"), at("2021-01-27T19:00:00Z")));
        assert_eq!(alex.external_id, "7q00jpu4hdlr9e3j4fftbv7kt7@google.com");
        let alice = shifts.iter().find(|shift| shift.person_key == "Alice").unwrap();
        assert_eq!(alice.end - alice.start, Duration::days(2));
        let people: Vec<&str> = shifts.iter().map(|shift| shift.person_key.as_str()).collect();
        // Of the daily 13:00–22:00 series only the 27th overlaps the window, and it was
        // edited to be Bob's.
        assert_eq!(people, ["Alex", "Alice", "Bob"]);
    }

    #[test]
    fn an_orphan_override_stands_on_its_own_like_grafana_oncall_does() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/modified_recurring_event.ics");
        let shifts = shifts(text, &options("2023-07-17T00:00:00Z", "2023-07-24T00:00:00Z"));
        assert_eq!(shifts.len(), 2);
        // The all-day series: 2023-07-17 to 2023-07-25 Europe/Berlin (CEST, +02).
        assert_eq!((shifts[0].start, shifts[0].end), (at("2023-07-16T22:00:00Z"), at("2023-07-24T22:00:00Z")));
        assert_eq!(shifts[0].external_id, "eventuid@google.com/2023-07-16T22:00:00Z");
        // The override whose RECURRENCE-ID (1970) names no occurrence: 10:00 Europe/Warsaw.
        assert_eq!((shifts[1].start, shifts[1].end), (at("2023-07-17T08:00:00Z"), at("2023-07-24T08:00:00Z")));
        assert_eq!(shifts[1].external_id, "eventuid@google.com/1970-01-01T00:00:00Z");
        assert!(shifts.iter().all(|shift| shift.person_key == "user"));
    }

    #[test]
    fn emails_in_the_summary_are_lower_cased() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/override_email_case_sensitivity.ics");
        let shifts = shifts(text, &options("2023-02-06T00:00:00Z", "2023-02-07T00:00:00Z"));
        assert_eq!(shifts.len(), 1);
        assert_eq!(shifts[0].person_key, "test@test.test");
        assert_eq!((shifts[0].start, shifts[0].end), (at("2023-02-06T11:00:00Z"), at("2023-02-06T12:00:00Z")));
    }

    #[test]
    fn a_real_calendar_with_overlaps_and_gaps_yields_every_shift() {
        let text = include_str!("../../tests/samples/ics/grafana_oncall/quality.ics");
        let options = options("2022-08-01T00:00:00Z", "2022-10-01T00:00:00Z");
        let shifts = shifts(text, &options);
        assert_eq!(shifts.len(), 26);
        let count = |person: &str| shifts.iter().filter(|shift| shift.person_key == person).count();
        assert_eq!((count("user1"), count("user2"), count("wrong"), count("test")), (15, 5, 5, 1));
        // 2022-09-12 to 2022-09-16, all day in Europe/London (BST, +01).
        let long = shifts.iter().find(|shift| shift.external_id == "038fgoffuoabpigf51vj2vftda@google.com").unwrap();
        assert_eq!((long.start, long.end), (at("2022-09-11T23:00:00Z"), at("2022-09-15T23:00:00Z")));
        // Importing the same feed twice yields the same keys.
        let again = shifts_from_ics(text, &options).unwrap().into_iter().map(Result::unwrap).collect::<Vec<_>>();
        assert_eq!(shifts, again);
        let keys: HashSet<&str> = shifts.iter().map(|shift| shift.external_id.as_str()).collect();
        assert_eq!(keys.len(), 26);
    }

    const WEEKLY_BERLIN: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
X-WR-CALNAME:payments\r
BEGIN:VEVENT\r
UID:weekly@paydown\r
DTSTART;TZID=Europe/Berlin:20260316T090000\r
DTEND;TZID=Europe/Berlin:20260316T170000\r
RRULE:FREQ=WEEKLY;UNTIL=20260413\r
EXDATE;TZID=Europe/Berlin:20260330T090000\r
SUMMARY:[L2] On Call - Alice Smith - Payments\r
ATTENDEE;CN=Alice Smith:mailto:Alice.Smith@Example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly@paydown\r
RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r
DTSTART;TZID=Europe/Berlin:20260323T100000\r
DTEND;TZID=Europe/Berlin:20260323T180000\r
SUMMARY:[L2] Bob\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly@paydown\r
RECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\r
DTSTART;TZID=Europe/Berlin:20260406T090000\r
DTEND;TZID=Europe/Berlin:20260406T170000\r
STATUS:CANCELLED\r
SUMMARY:Alice\r
END:VEVENT\r
END:VCALENDAR\r
";

    #[test]
    fn a_weekly_shift_stays_at_nine_local_across_the_dst_change() {
        let shifts = shifts(WEEKLY_BERLIN, &options("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"));
        let summary: Vec<(&str, ShiftRole, DateTime<Utc>, DateTime<Utc>)> =
            shifts.iter().map(|shift| (shift.person_key.as_str(), shift.role, shift.start, shift.end)).collect();
        assert_eq!(
            summary,
            [
                // 09:00 CET is 08:00 UTC.
                (
                    "alice.smith@example.com",
                    ShiftRole::Secondary,
                    at("2026-03-16T08:00:00Z"),
                    at("2026-03-16T16:00:00Z")
                ),
                // The moved occurrence: 10:00 CET, Bob's.
                ("Bob", ShiftRole::Secondary, at("2026-03-23T09:00:00Z"), at("2026-03-23T17:00:00Z")),
                // 2026-03-30 is excluded by EXDATE; after 2026-03-29, 09:00 CEST is 07:00 UTC.
                (
                    "alice.smith@example.com",
                    ShiftRole::Secondary,
                    at("2026-04-13T07:00:00Z"),
                    at("2026-04-13T15:00:00Z")
                ),
            ]
        );
        // The moved occurrence keeps the key of the occurrence it replaces.
        assert_eq!(shifts[1].external_id, "weekly@paydown/2026-03-23T08:00:00Z");
        assert_eq!(shifts[2].external_id, "weekly@paydown/2026-04-13T07:00:00Z");
    }

    #[test]
    fn the_window_bounds_the_expansion_and_an_unbounded_rule_is_capped() {
        let text = WEEKLY_BERLIN.replace(";UNTIL=20260413", "");
        let in_april = shifts(&text, &options("2026-04-01T00:00:00Z", "2026-04-30T00:00:00Z"));
        // 6, 13, 20, 27 April, minus the cancelled 6th.
        assert_eq!(in_april.len(), 3);
        let minutely = text.replace("FREQ=WEEKLY", "FREQ=MINUTELY").replace("T170000", "T090100");
        let results = shifts_from_ics(&minutely, &options("2026-03-16T00:00:00Z", "2026-03-30T00:00:00Z")).unwrap();
        let error = results.iter().find_map(|result| result.as_ref().err()).unwrap();
        assert_eq!((error.line, error.field.as_str()), (4, "RRULE"));
        let long_window =
            IcsOptions { to: at("2036-01-01T00:00:00Z"), ..options("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") };
        assert_eq!(shifts_from_ics(&text, &long_window).unwrap_err().line, 0);
    }

    #[test]
    fn a_rule_with_a_non_ascii_weekday_is_a_row_error_not_a_panic() {
        // Found by the `ics` fuzz target: the rrule crate panicked slicing `BYDAY=M\u{ea}U`.
        for byday in ["M\u{ea}U", "\u{ea}", "1\u{1F600}"] {
            let text = WEEKLY_BERLIN.replace("FREQ=WEEKLY;", &format!("FREQ=WEEKLY;BYDAY=MO,{byday};"));
            let results = shifts_from_ics(&text, &options("2026-03-01T00:00:00Z", "2026-04-30T00:00:00Z")).unwrap();
            let error = results.iter().find_map(|result| result.as_ref().err()).unwrap();
            assert_eq!((error.line, error.field.as_str()), (4, "RRULE"), "{byday}");
            assert!(error.message.contains("ASCII"), "{}", error.message);
        }
    }

    #[test]
    fn a_personal_feed_takes_its_person_from_the_caller() {
        let options = IcsOptions {
            person: Some("PABC123".to_owned()),
            ..options("2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z")
        };
        let shifts = shifts(WEEKLY_BERLIN, &options);
        assert_eq!(shifts[0].person_key, "PABC123");
    }

    #[test]
    fn bad_events_are_row_errors_and_the_rest_still_import() {
        let text = "BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:backwards
DTSTART:20260316T090000Z
DTEND:20260316T080000Z
SUMMARY:alice
END:VEVENT
BEGIN:VEVENT
UID:windows-zone
DTSTART;TZID=W. Europe Standard Time:20260316T090000
DTEND;TZID=W. Europe Standard Time:20260316T170000
SUMMARY:bob
END:VEVENT
BEGIN:VEVENT
DTSTART:20260316T090000Z
DTEND:20260316T170000Z
SUMMARY:no uid
END:VEVENT
BEGIN:VEVENT
UID:fine
DTSTART:20260316T090000Z
DURATION:PT8H
SUMMARY:[backup] carol
END:VEVENT
BEGIN:VEVENT
UID:nobody
DTSTART:20260316T090000Z
DTEND:20260316T170000Z
END:VEVENT
END:VCALENDAR
";
        let results = shifts_from_ics(text, &options("2026-03-16T00:00:00Z", "2026-03-17T00:00:00Z")).unwrap();
        let errors: Vec<(u64, &str)> = results
            .iter()
            .filter_map(|result| result.as_ref().err())
            .map(|error| (error.line, error.field.as_str()))
            .collect();
        assert_eq!(errors, [(3, "DTEND"), (9, "DTSTART"), (15, "UID"), (26, "SUMMARY")]);
        let good: Vec<&ImportedShift> = results.iter().filter_map(|result| result.as_ref().ok()).collect();
        assert_eq!(good.len(), 1);
        assert_eq!((good[0].person_key.as_str(), good[0].role), ("carol", ShiftRole::Backup));
        assert_eq!(good[0].end, at("2026-03-16T17:00:00Z"));
    }

    #[test]
    fn a_garbled_calendar_is_a_file_error() {
        let options = options("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z");
        assert!(shifts_from_ics("this is not a calendar", &options).is_err());
        assert!(
            shifts_from_ics("person,start,end\nalice,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z\n", &options).is_err()
        );
        let truncated = &WEEKLY_BERLIN[..WEEKLY_BERLIN.len() / 2];
        assert!(shifts_from_ics(truncated, &options).is_err());
        let garbage_inside = WEEKLY_BERLIN.replace("SUMMARY:[L2] Bob", "\u{0}\u{1}garbage without a colon");
        assert!(shifts_from_ics(&garbage_inside, &options).is_err());
        let bad_zone = WEEKLY_BERLIN.replace("X-WR-CALNAME:payments", "X-WR-TIMEZONE:Mars/Olympus");
        assert!(shifts_from_ics(&bad_zone, &options).unwrap_err().message.contains("Mars/Olympus"));
    }

    #[test]
    fn rdates_add_occurrences_and_a_repeated_uid_is_reported_once() {
        let text = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:extra
DTSTART:20260316T090000Z
DTEND:20260316T170000Z
RDATE:20260318T090000Z,20260320T090000Z
SUMMARY:alice
END:VEVENT
BEGIN:VEVENT
UID:extra
DTSTART:20260317T090000Z
DTEND:20260317T170000Z
SUMMARY:mallory
END:VEVENT
END:VCALENDAR
";
        let results = shifts_from_ics(text, &options("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")).unwrap();
        let starts: Vec<DateTime<Utc>> =
            results.iter().filter_map(|result| result.as_ref().ok()).map(|shift| shift.start).collect();
        assert_eq!(starts, [at("2026-03-16T09:00:00Z"), at("2026-03-18T09:00:00Z"), at("2026-03-20T09:00:00Z")]);
        let error = results.iter().find_map(|result| result.as_ref().err()).unwrap();
        assert_eq!((error.line, error.field.as_str()), (9, "UID"));
    }

    #[test]
    fn summaries_name_people_and_roles() {
        assert_eq!(person_from_summary("[L1] alice").as_deref(), Some("alice"));
        assert_eq!(person_from_summary("On Call - Alice Smith").as_deref(), Some("Alice Smith"));
        assert_eq!(person_from_summary("on call - Alice Smith - Payments").as_deref(), Some("Alice Smith"));
        assert_eq!(person_from_summary("@Alex").as_deref(), Some("Alex"));
        assert_eq!(person_from_summary("  ").as_deref(), None);
        assert_eq!(role_from_summary("[L1] alice"), ShiftRole::Primary);
        assert_eq!(role_from_summary("[L2] alice"), ShiftRole::Secondary);
        assert_eq!(role_from_summary("[L4] alice"), ShiftRole::Backup);
        assert_eq!(role_from_summary("On Call - Bob - Secondary"), ShiftRole::Secondary);
        assert_eq!(role_from_summary("bob"), ShiftRole::Primary);
        assert_eq!(parse_duration("P1W"), Some((7, 0)));
        assert_eq!(parse_duration("P1DT2H30M"), Some((1, 9_000)));
        assert_eq!(parse_duration("PT"), Some((0, 0)));
        assert_eq!(parse_duration("8 hours"), None);
    }

    #[test]
    fn local_times_in_dst_gaps_and_folds_follow_rfc_5545() {
        let berlin = chrono_tz::Europe::Berlin;
        let naive = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        // In the gap: read with the offset before it (+01).
        assert_eq!(local_to_utc(naive("2026-03-29 02:30"), berlin), Some(at("2026-03-29T01:30:00Z")));
        // In the fold: the first of the two.
        assert_eq!(local_to_utc(naive("2026-10-25 02:30"), berlin), Some(at("2026-10-25T00:30:00Z")));
    }
}
