//! Finance's page (`/periods`): every pay period, its state, and its payroll files.

use std::fmt::Write as _;

use super::{escape, money};
use crate::domain::pay_run::RunState;
use crate::pay_run::{Anomaly, Review};
use crate::storage::ledger::Period;

/// The built-in payroll layouts offered as downloads (finance's own layouts are reachable
/// through the API's `layout=`).
pub const LAYOUTS: &[(&str, &str)] = &[("long", "one row per line"), ("wide", "one row per person")];

/// The page's body: the pay run of one period (`pay_run_section`) above every period.
pub fn render(periods: &[Period], pay_run: Option<&str>) -> String {
    let mut out = String::from("<h1>Pay periods</h1>");
    if let Some(section) = pay_run {
        out.push_str(section);
    }
    out.push_str(
        "<section aria-labelledby=\"periods-title\"><h2 id=\"periods-title\">Periods and their exports</h2>\
         <p>An open period's files are provisional and say so; a closed period's never change.</p>",
    );
    if periods.is_empty() {
        out.push_str("<p>No pay period has been posted to yet.</p></section>");
        return out;
    }
    out.push_str(
        "<div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Period</th><th scope=\"col\">Days</th><th scope=\"col\">State</th>\
         <th scope=\"col\">Payroll files</th><th scope=\"col\">Accruals</th></tr></thead><tbody>",
    );
    for period in periods.iter().rev() {
        let state = if period.is_open() {
            "<span class=\"tag\">open</span>".to_owned()
        } else {
            format!(
                "<span class=\"tag ok\">closed</span> {}{}",
                period.closed_at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
                period.closed_by.as_deref().map(|by| format!(" by {}", escape(by))).unwrap_or_default()
            )
        };
        let id = escape(&period.id);
        let mut files = String::new();
        for (layout, what) in LAYOUTS {
            let _ = write!(files, "<span class=\"muted\">{layout} ({what}):</span> ");
            for (index, format) in ["csv", "xlsx"].into_iter().enumerate() {
                let separator = if index > 0 { " · " } else { "" };
                let _ = write!(
                    files,
                    "{separator}<a href=\"/periods/{id}/payroll?layout={layout}&amp;format={format}\" aria-label=\"{id} payroll, {layout} layout, {}\" download>{}</a>",
                    format.to_uppercase(),
                    format.to_uppercase()
                );
            }
            files.push_str("<br>");
        }
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{id}</th><td>{} to {}</td><td>{state}</td><td>{files}</td><td><a href=\"/periods/{id}/accruals?format=csv\" aria-label=\"{id} accruals, CSV\" download>CSV</a></td></tr>",
            period.starts_on,
            period.ends_on.pred_opt().unwrap_or(period.ends_on)
        );
    }
    out.push_str("</tbody></table></div></section>");
    out
}

/// Longest reason a pay run step takes (`domain::pay_run` refuses more).
const REASON_CHARS_MAX: usize = 1_000;

fn minutes_text(minutes: i64) -> String {
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

/// One anomaly as a sentence, with how many ledger entries it concerns.
fn anomaly_text(anomaly: &Anomaly) -> String {
    match anomaly {
        Anomaly::PayOverTrailingMedian { person, currency, amount, median, trailing_periods, entries } => format!(
            "{person} is paid {} this period, more than three times their median of {} over {} ({} entries).",
            money(currency, *amount),
            money(currency, *median),
            trailing_periods.join(", "),
            entries.len()
        ),
        Anomaly::PayOverCap { person, currency, amount, cap, policies, entries } => format!(
            "{person} is paid {}, over the period cap of {} set by {} ({} entries).",
            money(currency, *amount),
            money(currency, *cap),
            policies.join(", "),
            entries.len()
        ),
        Anomaly::LongResponse { person, response, minutes, entries } => format!(
            "{person}'s response {response} is paid for {minutes} minutes, over twelve hours ({} entries).",
            entries.len()
        ),
        Anomaly::PendingClaim { person, response, page, minutes } => format!(
            "{person} claims {} for page {page} (response {response}): awaiting approval, not paid, not in the totals.",
            minutes_text(*minutes)
        ),
        Anomaly::DailyRest {
            person,
            date,
            longest_rest_minutes,
            compensatory_rest_minutes,
            recovery_hours,
            entries,
            ..
        } => format!(
            "{person} had at most {} of rest before working on {date}, under the 11 hours of daily rest: {} of \
             compensatory rest owed (the policy granted {recovery_hours} recovery hours; {} entries).",
            minutes_text(*longest_rest_minutes),
            minutes_text(*compensatory_rest_minutes),
            entries.len()
        ),
    }
}

fn step_form(out: &mut String, id: &str, csrf: &str, step: &str, label: &str, hint: &str) {
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/periods/{id}/step\" class=\"step\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"step\" value=\"{step}\"><label for=\"reason-{step}\">Reason to {label}</label>\
         <p class=\"muted\" id=\"hint-{step}\">{hint}</p><textarea id=\"reason-{step}\" name=\"reason\" required maxlength=\"{REASON_CHARS_MAX}\" \
         aria-describedby=\"hint-{step}\" rows=\"2\"></textarea><button type=\"submit\">{}</button></form>",
        escape(csrf),
        escape(&capitalised(label)),
    );
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The pay run of one period: its state, totals, what changed since the last export, the
/// anomalies to look at, and the step forms its state allows (approve; withdraw the
/// approval or close). `done` is what the last form did, for its notice.
pub fn pay_run_section(review: &Review, csrf: &str, done: Option<&str>) -> String {
    let run = &review.run;
    let id = escape(&run.period.id);
    let mut out = String::new();
    let _ = write!(out, "<section aria-labelledby=\"run-title\"><h2 id=\"run-title\">Pay run of {id}</h2>");
    if let Some(done) = done {
        let _ = write!(out, "<p class=\"notice\" role=\"status\">Period {id}: {}.</p>", escape(done));
    }
    let state = match run.run.state {
        RunState::Closed => "<span class=\"tag ok\">closed</span>".to_owned(),
        RunState::Approved => match &run.run.approval {
            Some(approval) => format!(
                "<span class=\"tag ok\">approved</span> by {} at {}",
                escape(&approval.by.actor),
                approval.at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => "<span class=\"tag ok\">approved</span>".to_owned(),
        },
        RunState::Open if run.run.approval_lapsed => format!(
            "<span class=\"tag bad\">open</span>: the approval lapsed, {} entries were posted after it",
            run.run.entries_since_approval
        ),
        RunState::Open => "<span class=\"tag\">open</span>".to_owned(),
    };
    let _ = write!(
        out,
        "<p>State: {state}; {} entries{}.</p>",
        run.entries,
        if run.four_eyes { "; four-eyes is on: another finance user closes" } else { "" }
    );
    if !run.earlier_open.is_empty() {
        let _ = write!(out, "<p>Close {} first: periods close in order.</p>", escape(&run.earlier_open.join(", ")));
    }

    let totals: Vec<String> =
        review.total_by_currency.iter().map(|(currency, amount)| escape(&money(currency, *amount))).collect();
    if !totals.is_empty() {
        let _ = write!(out, "<p>Total posted: <strong>{}</strong>.</p>", totals.join(" · "));
    }
    let changes = &review.changes_since_export;
    match &changes.last_export {
        Some(export) => {
            let _ = write!(
                out,
                "<p>Since the last export ({} {} by {} at {}): {} entries changed.</p>",
                escape(&export.layout),
                escape(&export.format),
                escape(&export.exported_by),
                export.exported_at.format("%Y-%m-%d %H:%M UTC"),
                changes.count
            );
        }
        None => {
            let _ = write!(out, "<p>Never exported: all {} entries are new.</p>", changes.count);
        }
    }

    let _ = write!(out, "<h3>Anomalies ({})</h3>", review.anomalies.len());
    if review.anomalies.is_empty() {
        out.push_str("<p>None: nothing unusual to look at.</p>");
    } else {
        out.push_str("<ul class=\"anomalies\">");
        for anomaly in &review.anomalies {
            let _ = write!(out, "<li>{}</li>", escape(&anomaly_text(anomaly)));
        }
        out.push_str("</ul>");
    }

    match run.run.state {
        RunState::Open => step_form(
            &mut out,
            &id,
            csrf,
            "approve",
            "approve",
            "Posts what the period lacks first; a later posting lapses the approval.",
        ),
        RunState::Approved => {
            step_form(
                &mut out,
                &id,
                csrf,
                "close",
                "close",
                "Freezes the period for good: later changes land in the next open period.",
            );
            step_form(&mut out, &id, csrf, "reopen", "withdraw the approval", "To add an adjustment, say.");
        }
        RunState::Closed => {}
    }
    out.push_str("<div class=\"table-wrap\" tabindex=\"0\"><table><caption>Totals per person and component</caption><thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Component</th><th scope=\"col\" class=\"n\">Entries</th><th scope=\"col\" class=\"n\">Amount</th></tr></thead><tbody>");
    for total in &review.totals {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&total.person),
            escape(&total.component),
            total.entries,
            escape(&money(&total.currency, total.amount))
        );
    }
    for (currency, amount) in &review.total_by_currency {
        let _ = write!(
            out,
            "<tr class=\"total\"><th scope=\"row\" colspan=\"3\">Total</th><td class=\"n\">{}</td></tr>",
            escape(&money(currency, *amount))
        );
    }
    if review.totals.is_empty() {
        out.push_str("<tr><td colspan=\"4\">Nothing is posted to this period.</td></tr>");
    }
    out.push_str("</tbody></table></div>");

    out.push_str("</section>");
    out
}
