//! The manager's dashboard (`/dashboard`) and the page of one alert.
//!
//! It leads with one sentence and one number a CFO reads: what on-call cost over the range
//! against the range before, and the alert that cost most. Money is per currency and never
//! summed across currencies; every amount is written by `web::money`, and the headline's
//! figures by [`headline_totals`], the one place a total converted to a reporting currency
//! would replace the per-currency list.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{count, escape, money};
use crate::dashboard::{DebtOverview, HealthOverview, MonthlyCost};
use crate::domain::debt::GroupBy;
use crate::domain::health::RotationStatus;
use crate::reports::charts::{bar_chart, stacked_monthly};

/// How many alerts the "most expensive" and "noisiest" lists show.
pub const TOP_ALERTS: usize = 10;

/// The dashboard's controls as the query string carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controls {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// One team, or `None` for every team the viewer sees.
    pub team: Option<String>,
    pub group_by: GroupBy,
}

impl Controls {
    /// The query string of this view (bookmarkable), with `group_by` only when not the default.
    pub fn query(&self) -> String {
        let mut query = format!("from={}&to={}", self.from.format("%Y-%m-%d"), self.to.format("%Y-%m-%d"));
        if let Some(team) = &self.team {
            let _ = write!(query, "&team={}", url_component(team));
        }
        if self.group_by != GroupBy::AlertKey {
            let _ = write!(query, "&group_by={}", group_by_word(self.group_by));
        }
        query
    }

    fn days(&self) -> i64 {
        (self.to - self.from).num_days().max(1)
    }
}

/// Percent-encodes a query or path component (ids are slugs, alert keys may be anything).
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The query-string word of a grouping.
pub fn group_by_word(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::AlertKey => "alert_key",
        GroupBy::Service => "service",
        GroupBy::Team => "team",
        GroupBy::Month => "month",
    }
}

fn group_by_label(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::AlertKey => "alert",
        GroupBy::Service => "service",
        GroupBy::Team => "team",
        GroupBy::Month => "month",
    }
}

/// What the dashboard shows, read by the handler within the viewer's reach.
pub struct Dashboard<'a> {
    pub controls: Controls,
    /// Teams the viewer may choose from.
    pub teams: Vec<String>,
    pub by_team: &'a DebtOverview,
    pub by_alert: &'a DebtOverview,
    pub breakdown: &'a DebtOverview,
    pub monthly: &'a [MonthlyCost],
    pub signals: &'a HealthOverview,
    /// Whether the viewer sees what no team owns (finance and admin).
    pub sees_unowned: bool,
}

/// One currency's total over the range and the range before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotal {
    pub currency: String,
    pub current: Decimal,
    pub previous: Decimal,
}

/// Totals per currency of a grouped report (every group counted once, currencies apart).
pub fn totals_by_currency(overview: &DebtOverview) -> Vec<CurrencyTotal> {
    let mut totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for line in &overview.groups {
        let entry = totals.entry(line.group.currency.code().to_owned()).or_default();
        entry.0 = entry.0.saturating_add(line.group.total);
        entry.1 = entry.1.saturating_add(line.previous_total);
    }
    totals.into_iter().map(|(currency, (current, previous))| CurrencyTotal { currency, current, previous }).collect()
}

/// `+12 %`, `-3 %`, or `None` when there was nothing before to compare with.
pub fn change_percent(current: Decimal, previous: Decimal) -> Option<Decimal> {
    if previous <= Decimal::ZERO {
        return None;
    }
    let change = current.checked_sub(previous)?.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(previous)?;
    Some(change.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
}

/// The headline's number(s) and sentence(s): per currency today. When a reporting currency
/// is added, its converted total is written here, once, through `web::money`.
pub fn headline_totals(totals: &[CurrencyTotal], days: i64, range: &str) -> String {
    let mut out = String::new();
    if totals.is_empty() {
        let _ = write!(out, "<span class=\"figure\">0</span><p>On-call cost nothing {range}: no costed pages.</p>");
        return out;
    }
    for total in totals {
        let comparison = match change_percent(total.current, total.previous) {
            Some(percent) if percent > Decimal::ZERO => format!("up {percent} %"),
            Some(percent) if percent < Decimal::ZERO => format!("down {} %", percent.abs()),
            Some(_) => "the same as".to_owned(),
            None => "with no cost".to_owned(),
        };
        let previous = if total.previous > Decimal::ZERO {
            format!(" ({})", escape(&money(&total.currency, total.previous)))
        } else {
            String::new()
        };
        let joiner = if comparison.starts_with("with") { "in" } else { "on" };
        let _ = write!(
            out,
            "<span class=\"figure\">{}</span><p>On-call cost {} {range}, {comparison} {joiner} the previous {days} days{previous}.</p>",
            escape(&money(&total.currency, total.current)),
            escape(&money(&total.currency, total.current)),
        );
    }
    out
}

/// The reporting currency's total of a grouped report: the converted lines only (a line
/// without a rate keeps its own currency and is never added in). `None` without a reporting
/// currency or when no line converted.
pub fn reporting_total(overview: &DebtOverview) -> Option<CurrencyTotal> {
    let currency = overview.reporting.currency?;
    let converted: Vec<&crate::dashboard::ReportingFigure> =
        overview.groups.iter().filter_map(|line| line.reporting.as_ref()).collect();
    if converted.is_empty() {
        return None;
    }
    let current = converted.iter().fold(Decimal::ZERO, |sum, figure| sum.saturating_add(figure.total));
    let previous = converted.iter().fold(Decimal::ZERO, |sum, figure| sum.saturating_add(figure.previous_total));
    Some(CurrencyTotal { currency: currency.code().to_owned(), current, previous })
}

/// The headline of a grouped report: one figure in the reporting currency when one is set
/// (with the rates used, and each currency left unconverted on its own), else one per currency.
pub fn headline(overview: &DebtOverview, days: i64, range: &str) -> String {
    let per_currency = totals_by_currency(overview);
    let Some(total) = reporting_total(overview) else {
        let mut out = headline_totals(&per_currency, days, range);
        for note in &overview.reporting.notes {
            let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
        }
        return out;
    };
    let mut out = headline_totals(std::slice::from_ref(&total), days, range);
    let rates: Vec<String> = overview
        .reporting
        .rates_used
        .iter()
        .map(|rate| {
            format!(
                "1 {} = {} {} from {}",
                rate.currency.code(),
                rate.rate,
                rate.to_currency.code(),
                rate.effective_from
            )
        })
        .collect();
    if !rates.is_empty() {
        let _ = write!(
            out,
            "<p class=\"note\">Converted into {} at the rates in force on {}: {}.</p>",
            escape(&total.currency),
            overview.reporting.rates_on,
            escape(&rates.join("; "))
        );
    }
    let unconverted: Vec<CurrencyTotal> = per_currency
        .into_iter()
        .filter(|each| overview.reporting.unconverted.iter().any(|left| left.currency.code() == each.currency))
        .collect();
    if !unconverted.is_empty() {
        out.push_str("<p>Not in that total, for want of a rate:</p>");
        out.push_str(&headline_totals(&unconverted, days, range));
    }
    for note in &overview.reporting.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out
}

fn rotation_words(status: RotationStatus) -> &'static str {
    match status {
        RotationStatus::TooSmall => "too small: on call too often",
        RotationStatus::Healthy => "healthy",
        RotationStatus::Large => "large: on call too rarely to stay practised",
    }
}

fn minutes(seconds: i64) -> String {
    format!("{}", seconds / 60)
}

/// A link to an alert's own page, in the same view.
pub fn alert_link(controls: &Controls, alert: &str) -> String {
    format!(
        "<a href=\"/dashboard/alerts/{}?{}\">{}</a>",
        url_component(alert),
        escape(&controls.query()),
        escape(alert)
    )
}

fn controls_form(out: &mut String, dashboard: &Dashboard<'_>) {
    let controls = &dashboard.controls;
    out.push_str(
        "<form method=\"get\" action=\"/dashboard\" class=\"controls no-print\" aria-label=\"Range and team\">",
    );
    let _ = write!(
        out,
        "<div><label for=\"from\">From</label><input type=\"date\" id=\"from\" name=\"from\" value=\"{}\"></div>\
         <div><label for=\"to\">To (not included)</label><input type=\"date\" id=\"to\" name=\"to\" value=\"{}\"></div>",
        controls.from.format("%Y-%m-%d"),
        controls.to.format("%Y-%m-%d")
    );
    out.push_str("<div><label for=\"team\">Team</label><select id=\"team\" name=\"team\"><option value=\"\">All your teams</option>");
    for team in &dashboard.teams {
        let mark = if controls.team.as_deref() == Some(team.as_str()) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{mark}>{0}</option>", escape(team));
    }
    out.push_str("</select></div><div><label for=\"group_by\">Break cost down by</label><select id=\"group_by\" name=\"group_by\">");
    for group_by in [GroupBy::AlertKey, GroupBy::Service, GroupBy::Team, GroupBy::Month] {
        let mark = if controls.group_by == group_by { " selected" } else { "" };
        let _ =
            write!(out, "<option value=\"{}\"{mark}>{}</option>", group_by_word(group_by), group_by_label(group_by));
    }
    out.push_str("</select></div><div><button type=\"submit\">Show</button></div></form>");
    let team = controls.team.as_ref().map(|team| format!("&team={}", url_component(team))).unwrap_or_default();
    out.push_str("<p class=\"quick no-print\">Quick ranges to today: ");
    for days in [30, 90, 365] {
        let from = controls.to - chrono::Duration::days(days);
        let _ = write!(
            out,
            "<a href=\"/dashboard?from={}&amp;to={}{}\">last {days} days</a>",
            from.format("%Y-%m-%d"),
            controls.to.format("%Y-%m-%d"),
            escape(&team)
        );
    }
    out.push_str("</p>");
}

fn money_table_rows(out: &mut String, lines: &[crate::dashboard::DebtLine], controls: &Controls, link_alerts: bool) {
    for line in lines {
        let group = &line.group;
        let key = if link_alerts && group.key != crate::domain::debt::NO_ALERT_KEY {
            alert_link(controls, &group.key)
        } else {
            escape(&group.key)
        };
        let not_actionable = crate::domain::debt::non_actionable_percent(group)
            .map_or_else(|| "not logged".to_owned(), |percent| format!("{percent} %"));
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{key}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            count(group.pages),
            count(group.night_pages),
            escape(&not_actionable),
            escape(&money(group.currency.code(), group.total)),
            escape(&money(group.currency.code(), line.previous_total)),
        );
    }
}

fn money_table(
    out: &mut String,
    caption: &str,
    first: &str,
    lines: &[crate::dashboard::DebtLine],
    controls: &Controls,
    link: bool,
) {
    let _ = write!(
        out,
        "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"n\">Pages</th>\
         <th scope=\"col\" class=\"n\">At night</th><th scope=\"col\" class=\"n\">Not actionable</th><th scope=\"col\" class=\"n\">Cost</th>\
         <th scope=\"col\" class=\"n\">Previous range</th></tr></thead><tbody>",
        escape(caption),
        escape(first)
    );
    money_table_rows(out, lines, controls, link);
    if lines.is_empty() {
        out.push_str("<tr><td colspan=\"6\">No costed pages in this range.</td></tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// The dashboard's body.
pub fn render(dashboard: &Dashboard<'_>) -> String {
    let controls = &dashboard.controls;
    let mut out = String::new();
    let range = format!("from {} to {}", controls.from.format("%Y-%m-%d"), controls.to.format("%Y-%m-%d"));
    let scope = controls.team.as_deref().map_or_else(|| "your teams".to_owned(), |team| format!("team {team}"));
    let _ = write!(out, "<h1>What on-call cost {}</h1>", escape(&scope));
    controls_form(&mut out, dashboard);

    out.push_str("<section class=\"headline\" aria-label=\"Summary\">");
    out.push_str(&headline(dashboard.by_team, controls.days(), &escape(&range)));
    match dashboard.by_alert.groups.first() {
        Some(top) => {
            let _ = write!(
                out,
                "<p>The alert that cost most: {} <a href=\"/dashboard/alerts/{}?{}\">See its pages</a>.</p>",
                escape(&top.summary),
                url_component(&top.group.key),
                escape(&controls.query())
            );
        }
        None => out.push_str("<p>No alert cost anything in this range.</p>"),
    }
    out.push_str("</section>");

    out.push_str(
        "<section id=\"cost-by-team\" aria-labelledby=\"cost-title\"><h2 id=\"cost-title\">Cost by team and month</h2>",
    );
    out.push_str("<div class=\"charts\">");
    for cost in dashboard.monthly {
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            stacked_monthly(
                &format!("Cost by team and month ({})", cost.currency),
                &cost.months,
                &cost.series,
                &cost.currency
            )
        );
    }
    out.push_str("</div>");
    money_table(
        &mut out,
        "Cost by team, this range and the previous one",
        "Team",
        &dashboard.by_team.groups,
        controls,
        false,
    );
    if dashboard.controls.group_by != GroupBy::Team {
        let label = group_by_label(controls.group_by);
        money_table(
            &mut out,
            &format!("Cost by {label}"),
            label,
            &dashboard.breakdown.groups,
            controls,
            controls.group_by == GroupBy::AlertKey,
        );
    }
    if !dashboard.by_team.missing_rates.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\">Time of {} is not costed: no loaded hourly cost is set for them.</p>",
            escape(&dashboard.by_team.missing_rates.join(", "))
        );
    }
    out.push_str("</section>");

    out.push_str("<section id=\"top-alerts\" aria-labelledby=\"alerts-title\"><h2 id=\"alerts-title\">The most expensive alerts</h2>");
    let top: Vec<_> = dashboard.by_alert.groups.iter().take(TOP_ALERTS).cloned().collect();
    out.push_str("<div class=\"charts\">");
    // With a reporting currency, the ranked alerts share one axis in it (the debt report
    // ranks them by their converted totals); the others keep a chart per own currency
    // (amounts of different currencies share no axis).
    let mut own_currency: Vec<&crate::dashboard::DebtLine> = top.iter().collect();
    if let Some(reporting) = dashboard.by_alert.reporting.currency {
        let converted: Vec<(String, Decimal)> = top
            .iter()
            .filter(|line| line.ranked)
            .filter_map(|line| line.reporting.as_ref().map(|figure| (line.group.key.clone(), figure.total)))
            .collect();
        if !converted.is_empty() {
            own_currency.retain(|line| !line.ranked || line.reporting.is_none());
            let _ = write!(
                out,
                "<div class=\"chart\">{}</div>",
                bar_chart(
                    &format!("Most expensive alerts ({})", reporting.code()),
                    &converted,
                    reporting.code(),
                    &format!("cost ({}, converted)", reporting.code())
                )
            );
        }
    }
    let currencies: std::collections::BTreeSet<_> = own_currency.iter().map(|line| line.group.currency).collect();
    for currency in currencies {
        let bars: Vec<(String, Decimal)> = own_currency
            .iter()
            .filter(|line| line.group.currency == currency)
            .map(|line| (line.group.key.clone(), line.group.total))
            .collect();
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            bar_chart(
                &format!("Most expensive alerts, cost in {}", currency.code()),
                &bars,
                currency.code(),
                &format!("cost ({})", currency.code())
            )
        );
    }
    out.push_str("</div>");
    money_table(&mut out, "Most expensive alerts", "Alert", &top, controls, true);
    out.push_str("</section>");

    out.push_str(
        "<section id=\"noisy-alerts\" aria-labelledby=\"noisy-title\"><h2 id=\"noisy-title\">The noisiest alerts</h2>\
         <div class=\"table-wrap\" tabindex=\"0\"><table><caption>Alerts whose pages most often needed nobody</caption><thead><tr><th scope=\"col\">Alert</th>\
         <th scope=\"col\" class=\"n\">Pages</th><th scope=\"col\" class=\"n\">Answered</th><th scope=\"col\" class=\"n\">Not actionable</th></tr></thead><tbody>",
    );
    for noisy in dashboard.signals.noisy_alerts.iter().take(TOP_ALERTS) {
        let share = noisy.non_actionable_share.map_or_else(|| "not logged".to_owned(), |share| format!("{share} %"));
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            alert_link(controls, &noisy.alert_key),
            count(noisy.pages),
            count(noisy.answered),
            escape(&share)
        );
    }
    if dashboard.signals.noisy_alerts.is_empty() {
        out.push_str("<tr><td colspan=\"4\">No alerts in this range.</td></tr>");
    }
    out.push_str("</tbody></table></div></section>");

    let bar = crate::domain::health::OUT_OF_HOURS_BAR_PER_YEAR;
    let over: Vec<_> = dashboard.signals.out_of_hours.iter().filter(|load| load.over_bar).collect();
    let _ = write!(
        out,
        "<section id=\"out-of-hours\" aria-labelledby=\"ooh-title\"><h2 id=\"ooh-title\">People over the out-of-hours bar</h2>\
         <p>Out-of-hours pages per person over the 365 days to {}; being woken two or three times a year is reasonable, more than {bar} is not. Only people over the bar are listed, worst first.</p>",
        controls.to.format("%Y-%m-%d")
    );
    if over.is_empty() {
        out.push_str("<p><span class=\"tag ok\">nobody</span> is over the bar.</p>");
    } else {
        let bars: Vec<(String, Decimal)> =
            over.iter().map(|load| (load.person.clone(), Decimal::from(load.out_of_hours))).collect();
        let _ = write!(
            out,
            "<div class=\"chart\">{}</div>",
            bar_chart("Out-of-hours pages per person, last 365 days", &bars, "", "out-of-hours pages")
        );
        out.push_str(
            "<div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Person</th><th scope=\"col\" class=\"n\">Out of hours</th>\
             <th scope=\"col\" class=\"n\">At night</th></tr></thead><tbody>",
        );
        for load in &over {
            let _ = write!(
                out,
                "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&load.person),
                count(load.out_of_hours),
                count(load.night)
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");

    out.push_str(
        "<section id=\"bad-nights\" aria-labelledby=\"nights-title\"><h2 id=\"nights-title\">On call again after a bad night</h2>",
    );
    if dashboard.signals.on_call_after_bad_night.is_empty() {
        out.push_str("<p>Nobody was on call the night after a night they were woken.</p>");
    } else {
        out.push_str(
            "<div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Woken the night of</th>\
             <th scope=\"col\">On call again the night of</th></tr></thead><tbody>",
        );
        for violation in &dashboard.signals.on_call_after_bad_night {
            let _ = write!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                escape(&violation.person),
                violation.bad_night,
                violation.next_night
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");

    let _ = write!(
        out,
        "<section id=\"rotations\" aria-labelledby=\"rota-title\"><h2 id=\"rota-title\">Rota sizes</h2><p>Healthy: {} to {} people.</p>\
         <div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Team</th><th scope=\"col\" class=\"n\">People</th><th scope=\"col\">Verdict</th></tr></thead><tbody>",
        crate::domain::health::ROTATION_MIN,
        crate::domain::health::ROTATION_MAX
    );
    for rotation in &dashboard.signals.rotations {
        let class = if rotation.status == RotationStatus::Healthy { "ok" } else { "bad" };
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td><span class=\"tag {class}\">{}</span></td></tr>",
            escape(&rotation.team),
            rotation.size,
            rotation_words(rotation.status)
        );
    }
    out.push_str("</tbody></table></div></section>");

    if dashboard.sees_unowned {
        out.push_str(
            "<section id=\"unowned\" aria-labelledby=\"unowned-title\"><h2 id=\"unowned-title\">Services nobody owns</h2>",
        );
        if dashboard.signals.unowned.is_empty() {
            out.push_str("<p>Every paged service has an owning team.</p>");
        } else {
            out.push_str(
                "<div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Service</th><th scope=\"col\" class=\"n\">Pages</th></tr></thead><tbody>",
            );
            for service in &dashboard.signals.unowned {
                let _ = write!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td></tr>",
                    escape(&service.service),
                    count(service.pages)
                );
            }
            out.push_str("</tbody></table></div>");
        }
        out.push_str("</section>");
    }

    out.push_str(
        "<section id=\"response-times\" aria-labelledby=\"times-title\"><h2 id=\"times-title\">Time to acknowledge and resolve (minutes)</h2>",
    );
    for (caption, times) in
        [("By lane", &dashboard.signals.response_times_by_lane), ("By team", &dashboard.signals.response_times_by_team)]
    {
        let _ = write!(
            out,
            "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>{caption}</caption><thead><tr><th scope=\"col\">{}</th>\
             <th scope=\"col\" class=\"n\">Pages</th><th scope=\"col\" class=\"n\">Ack p50</th><th scope=\"col\" class=\"n\">Ack p90</th>\
             <th scope=\"col\" class=\"n\">Ack p99</th><th scope=\"col\" class=\"n\">Resolve p50</th><th scope=\"col\" class=\"n\">Resolve p90</th>\
             <th scope=\"col\" class=\"n\">Resolve p99</th></tr></thead><tbody>",
            if caption == "By lane" { "Lane" } else { "Team" }
        );
        for row in times {
            let cells = |percentiles: &Option<crate::domain::health::Percentiles>| match percentiles {
                Some(p) => format!(
                    "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                    minutes(p.p50),
                    minutes(p.p90),
                    minutes(p.p99)
                ),
                None => "<td class=\"n\">–</td><td class=\"n\">–</td><td class=\"n\">–</td>".to_owned(),
            };
            let pages = row.resolve.map(|p| p.count).max(row.ack.map(|p| p.count)).unwrap_or_default();
            let _ = write!(
                out,
                "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td>{}{}</tr>",
                escape(&row.key),
                pages,
                cells(&row.ack),
                cells(&row.resolve)
            );
        }
        if times.is_empty() {
            out.push_str("<tr><td colspan=\"8\">No pages in this range.</td></tr>");
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");
    out
}

/// One page of an alert as its page lists it.
pub struct AlertPage {
    pub external_id: String,
    pub title: Option<String>,
    pub service: String,
    pub team: Option<String>,
    pub triggered_at: DateTime<Utc>,
    /// Who acknowledged it, when the viewer may see them.
    pub woke: Option<String>,
    pub night: bool,
    pub minutes_to_resolve: Option<i64>,
}

/// The page of one alert: its cost, who it woke, its pages.
pub fn render_alert(
    alert: &str,
    controls: &Controls,
    cost: &[crate::dashboard::DebtLine],
    pages: &[AlertPage],
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<h1>Alert {}</h1><p><a href=\"/dashboard?{}\">Back to the dashboard</a></p>",
        escape(alert),
        escape(&controls.query())
    );
    out.push_str("<section class=\"headline\" aria-label=\"Summary\">");
    for line in cost {
        let _ = write!(
            out,
            "<span class=\"figure\">{}</span><p>{}</p>",
            escape(&money(line.group.currency.code(), line.group.total)),
            escape(&line.summary)
        );
    }
    if cost.is_empty() {
        out.push_str("<p>No cost recorded for this alert in this range.</p>");
    }
    out.push_str("</section>");
    let mut woke: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for page in pages {
        let entry = woke.entry(page.woke.clone().unwrap_or_else(|| "nobody you see".to_owned())).or_default();
        entry.0 += 1;
        entry.1 += u64::from(page.night);
    }
    let mut woke: Vec<_> = woke.into_iter().collect();
    woke.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| b.1.0.cmp(&a.1.0)).then_with(|| a.0.cmp(&b.0)));
    out.push_str(
        "<section aria-labelledby=\"woke-title\"><h2 id=\"woke-title\">Who it woke</h2><div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr>\
         <th scope=\"col\">Person</th><th scope=\"col\" class=\"n\">Pages acknowledged</th><th scope=\"col\" class=\"n\">At night</th></tr></thead><tbody>",
    );
    for (person, (pages, nights)) in &woke {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(person),
            count(*pages),
            count(*nights)
        );
    }
    out.push_str("</tbody></table></div></section>");
    let _ = write!(
        out,
        "<section aria-labelledby=\"alert-pages-title\"><h2 id=\"alert-pages-title\">Its pages ({})</h2><div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr>\
         <th scope=\"col\">Triggered (UTC)</th><th scope=\"col\">Page</th><th scope=\"col\">Service</th><th scope=\"col\">Acknowledged by</th>\
         <th scope=\"col\" class=\"n\">Minutes to resolve</th></tr></thead><tbody>",
        pages.len()
    );
    for page in pages {
        let night = if page.night { " <span class=\"tag night\">at night</span>" } else { "" };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}{night}</td><td class=\"n\">{}</td></tr>",
            page.triggered_at.format("%Y-%m-%d %H:%M"),
            escape(&page.external_id),
            escape(page.title.as_deref().unwrap_or_default()),
            escape(&page.service),
            escape(page.woke.as_deref().unwrap_or("–")),
            page.minutes_to_resolve.map_or_else(|| "–".to_owned(), |minutes| minutes.to_string())
        );
    }
    out.push_str("</tbody></table></div></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn change_is_a_whole_percent_and_absent_without_a_previous_cost() {
        assert_eq!(change_percent(dec!(110), dec!(100)), Some(dec!(10)));
        assert_eq!(change_percent(dec!(50), dec!(200)), Some(dec!(-75)));
        assert_eq!(change_percent(dec!(1), dec!(3)), Some(dec!(-67)));
        assert_eq!(change_percent(dec!(5), dec!(0)), None);
    }

    #[test]
    fn the_headline_keeps_currencies_apart() {
        let totals = [
            CurrencyTotal { currency: "EUR".into(), current: dec!(1200), previous: dec!(1000) },
            CurrencyTotal { currency: "GBP".into(), current: dec!(296), previous: dec!(0) },
        ];
        let html = headline_totals(&totals, 90, "from 2026-01-01 to 2026-04-01");
        assert!(html.contains("<span class=\"figure\">1,200 EUR</span>"), "{html}");
        assert!(html.contains("up 20 % on the previous 90 days (1,000 EUR)"), "{html}");
        assert!(html.contains("296 GBP") && html.contains("with no cost in the previous 90 days"), "{html}");
        assert!(!html.contains("1,496"), "never summed across currencies");
    }

    fn team_line(key: &str, currency: &str, total: Decimal, previous: Decimal) -> crate::dashboard::DebtLine {
        crate::dashboard::DebtLine {
            group: crate::domain::debt::DebtGroup {
                group_by: GroupBy::Team,
                key: key.to_owned(),
                currency: currency.parse().unwrap(),
                pages: 1,
                night_pages: 0,
                out_of_hours_pages: 0,
                non_actionable_pages: 0,
                answered_pages: 0,
                total,
                paid: total,
                responder_time: Decimal::ZERO,
                interruption_overhead: Decimal::ZERO,
                recovery: Decimal::ZERO,
            },
            summary: String::new(),
            annualised: None,
            previous_total: previous,
            reporting: None,
            ranked: true,
        }
    }

    /// With a reporting currency the headline is one figure: the converted lines summed,
    /// the rate shown, and a currency without a rate kept apart, never added in.
    #[test]
    fn the_headline_leads_with_the_reporting_currency_and_keeps_the_unconverted_apart() {
        let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
        let usd: crate::domain::currency::Currency = "USD".parse().unwrap();
        let rates = [crate::domain::currency::ExchangeRate {
            currency: "INR".parse().unwrap(),
            to: usd,
            rate: dec!(0.012),
            effective_from: day("2026-01-01"),
        }];
        let lines = vec![
            team_line("search", "INR", dec!(676282.49), dec!(500000)),
            team_line("payments", "USD", dec!(24302.17), dec!(20000)),
            team_line("platform", "GBP", dec!(100), dec!(0)),
        ];
        let (groups, reporting) = crate::dashboard::convert_debt_lines(lines, Some(usd), &rates, day("2026-03-31"));
        let overview = DebtOverview {
            from: "2026-01-01T00:00:00Z".parse().unwrap(),
            to: "2026-04-01T00:00:00Z".parse().unwrap(),
            group_by: GroupBy::Team,
            groups,
            missing_rates: Vec::new(),
            reporting,
        };
        let html = headline(&overview, 90, "from 2026-01-01 to 2026-04-01");
        // 676,282.49 INR × 0.012 = 8,115.39 USD; + 24,302.17 USD = 32,417.56 USD.
        assert!(html.contains("<span class=\"figure\">32,417.56 USD</span>"), "{html}");
        assert!(html.contains("1 INR = 0.012 USD from 2026-01-01"), "{html}");
        assert!(html.contains("100 GBP") || html.contains("100.00 GBP"), "{html}");
        assert!(html.contains("for want of a rate"), "{html}");
        // 500,000 INR → 6,000.00 USD; + 20,000 = 26,000 before: up 25 %.
        assert!(html.contains("up 25 %"), "{html}");
    }

    #[test]
    fn a_view_is_a_bookmarkable_query() {
        let controls = Controls {
            from: "2026-01-01T00:00:00Z".parse().unwrap(),
            to: "2026-04-01T00:00:00Z".parse().unwrap(),
            team: Some("pay ments".into()),
            group_by: GroupBy::Service,
        };
        assert_eq!(controls.query(), "from=2026-01-01&to=2026-04-01&team=pay%20ments&group_by=service");
        assert_eq!(url_component("disk/full?x&y"), "disk%2Ffull%3Fx%26y");
    }
}
