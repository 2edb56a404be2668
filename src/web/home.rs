//! The engineer's own page (`/`): the pages they were called for with a form to log,
//! amend or withdraw their response, their claims, their statement of a period read from
//! the ledger, and their out-of-hours load against the bar.
//!
//! Times are shown and typed in the engineer's own zone (`domain::local_time`); a form
//! whose input was refused comes back with what was typed and the message beside the field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{count, escape, money};
use crate::domain::local_time::{to_display, to_form_value};
use crate::storage::pages::Page;
use crate::storage::responses::Response;

/// One page the engineer was called for, with their current response on it, if any.
pub struct CalledPage {
    pub page: Page,
    /// Why it is theirs: `acknowledged`, `on call` or `responded`.
    pub why: &'static str,
    /// Triggered inside their sleep window / outside working hours, in their zone.
    pub night: bool,
    pub out_of_hours: bool,
    /// Their response in force (paid or pending), if any.
    pub response: Option<Response>,
}

/// A form that was refused: which one, the field at fault, and what was typed.
pub struct FormProblem {
    /// The form's id (`log-{page}`, `amend-{response}`, `withdraw-{response}`).
    pub form: String,
    pub field: Option<String>,
    pub message: String,
    pub values: BTreeMap<String, String>,
}

/// A statement line as the page shows it.
pub struct StatementRow {
    pub occurred_at: DateTime<Utc>,
    pub component: String,
    pub kind: crate::domain::posting::EntryKind,
    pub quantity: String,
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    pub explanation: String,
    pub natural_period: String,
}

/// The statement of one period.
pub struct StatementView {
    pub period: String,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: chrono::NaiveDate,
    pub is_final: bool,
    pub lines: Vec<StatementRow>,
    pub totals: BTreeMap<String, rust_decimal::Decimal>,
    pub pending_claims: usize,
}

/// Everything the engineer's page shows.
pub struct Home {
    pub person_id: String,
    pub person_name: String,
    pub zone: Tz,
    pub csrf: String,
    /// What the last form did (`logged`, `amended`, `withdrawn`).
    pub notice: Option<String>,
    pub pages: Vec<CalledPage>,
    /// Their responses, newest first, every status.
    pub responses: Vec<Response>,
    /// Period ids to choose from, newest first.
    pub periods: Vec<String>,
    pub statement: Option<StatementView>,
    /// Out-of-hours and night pages in the trailing year.
    pub out_of_hours: u64,
    pub night: u64,
    pub problem: Option<FormProblem>,
}

/// The message shown after a form did its work.
pub fn notice_text(done: &str) -> Option<&'static str> {
    match done {
        "logged" => Some("Your response is logged. Its pay appears in your statement within a moment."),
        "amended" => Some("Your response is amended: the old version is reversed and the new one priced."),
        "withdrawn" => Some("Your response is withdrawn: it is no longer paid."),
        _ => None,
    }
}

fn status_tag(status: &str) -> String {
    let (class, text) = match status {
        "paid" => ("ok", "paid"),
        "pending" => ("", "pending: a claim awaiting approval"),
        "rejected" => ("bad", "rejected"),
        "superseded" => ("", "amended (old version)"),
        "withdrawn" => ("", "withdrawn"),
        other => ("", other),
    };
    format!("<span class=\"tag {class}\">{}</span>", escape(text))
}

/// The values a form starts with: what was typed when it was refused, else `defaults`.
fn values_for<'a>(
    problem: Option<&'a FormProblem>,
    form: &str,
    defaults: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Option<&'a FormProblem>) {
    match problem.filter(|problem| problem.form == form) {
        Some(problem) => (problem.values.clone(), Some(problem)),
        None => (defaults, None),
    }
}

/// A labelled input with its error beside it when the refused field is this one.
fn field(
    out: &mut String,
    form: &str,
    name: &str,
    label: &str,
    input: &str,
    value: &str,
    problem: Option<&FormProblem>,
) {
    let id = format!("{form}-{name}");
    let error = problem.filter(|problem| problem.field.as_deref() == Some(name));
    let _ = write!(out, "<label for=\"{id}\">{}</label>", escape(label));
    let mut attributes = String::new();
    if let Some(error) = error {
        let _ = write!(out, "<span class=\"field-error\" id=\"{id}-error\">{}</span>", escape(&error.message));
        attributes = format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"");
    }
    match input {
        "textarea" => {
            let _ = write!(out, "<textarea id=\"{id}\" name=\"{name}\"{attributes}>{}</textarea>", escape(value));
        }
        kind => {
            let required = if kind == "datetime-local" || name == "reason" { " required" } else { "" };
            let _ = write!(
                out,
                "<input type=\"{kind}\" id=\"{id}\" name=\"{name}\" value=\"{}\"{required}{attributes}>",
                escape(value)
            );
        }
    }
}

/// The yes/no question of whether the page needed a human.
fn actionable(out: &mut String, form: &str, value: &str, problem: Option<&FormProblem>) {
    let error = problem.filter(|problem| problem.field.as_deref() == Some("actionable"));
    let described =
        if error.is_some() { format!(" aria-describedby=\"{form}-actionable-error\"") } else { String::new() };
    let _ = write!(out, "<fieldset{described}><legend>Did it need you (actionable)?</legend>");
    if let Some(error) = error {
        let _ =
            write!(out, "<span class=\"field-error\" id=\"{form}-actionable-error\">{}</span>", escape(&error.message));
    }
    for (choice, label) in [("true", "yes"), ("false", "no")] {
        let checked = if value == choice { " checked" } else { "" };
        let _ = write!(
            out,
            "<input type=\"radio\" id=\"{form}-actionable-{choice}\" name=\"actionable\" value=\"{choice}\" required{checked}> <label for=\"{form}-actionable-{choice}\">{label}</label> "
        );
    }
    out.push_str("</fieldset>");
}

/// A problem the form's fields do not show (a conflict, an unknown field) at the form's top.
fn form_level_problem(out: &mut String, problem: Option<&FormProblem>, fields: &[&str]) {
    if let Some(problem) = problem
        && !problem.field.as_deref().is_some_and(|field| fields.contains(&field))
    {
        let _ = write!(out, "<p class=\"problem\" role=\"alert\">{}</p>", escape(&problem.message));
    }
}

fn hidden(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value));
}

const RESPONSE_FIELDS: &[&str] = &["started_at", "ended_at", "actionable", "notes"];

fn response_fields(out: &mut String, form: &str, values: &BTreeMap<String, String>, problem: Option<&FormProblem>) {
    let value = |name: &str| values.get(name).map(String::as_str).unwrap_or_default();
    field(out, form, "started_at", "Started (your time)", "datetime-local", value("started_at"), problem);
    field(out, form, "ended_at", "Ended (your time)", "datetime-local", value("ended_at"), problem);
    actionable(out, form, value("actionable"), problem);
    field(out, form, "notes", "Notes (optional)", "textarea", value("notes"), problem);
}

fn log_form(out: &mut String, home: &Home, called: &CalledPage) {
    let page = &called.page;
    let form = format!("log-{}", page.id);
    let start = page.acknowledged_at.unwrap_or(page.triggered_at);
    let end = page.resolved_at.unwrap_or(start);
    let defaults = BTreeMap::from([
        ("started_at".to_owned(), to_form_value(home.zone, start)),
        ("ended_at".to_owned(), to_form_value(home.zone, end)),
        ("actionable".to_owned(), "true".to_owned()),
        ("client_id".to_owned(), format!("web:{}", uuid::Uuid::new_v4().simple())),
    ]);
    let (values, problem) = values_for(home.problem.as_ref(), &form, defaults);
    let open = if problem.is_some() { " open" } else { "" };
    let _ = write!(
        out,
        "<details{open}><summary>Log my response</summary><form method=\"post\" action=\"/pages/{}/respond\" id=\"{form}\">",
        escape(&page.id)
    );
    form_level_problem(out, problem, RESPONSE_FIELDS);
    hidden(out, "csrf", &home.csrf);
    hidden(out, "client_id", values.get("client_id").map(String::as_str).unwrap_or_default());
    response_fields(out, &form, &values, problem);
    out.push_str("<button type=\"submit\">Log response</button></form></details>");
}

fn correction_forms(out: &mut String, home: &Home, response: &Response) {
    let amend = format!("amend-{}", response.id);
    let defaults = BTreeMap::from([
        ("started_at".to_owned(), to_form_value(home.zone, response.started_at)),
        ("ended_at".to_owned(), to_form_value(home.zone, response.ended_at)),
        ("actionable".to_owned(), response.actionable.to_string()),
        ("notes".to_owned(), response.notes.clone().unwrap_or_default()),
    ]);
    let (values, problem) = values_for(home.problem.as_ref(), &amend, defaults);
    let open = if problem.is_some() { " open" } else { "" };
    let _ = write!(
        out,
        "<details{open}><summary>Amend my response</summary><form method=\"post\" action=\"/responses/{}/amend\" id=\"{amend}\">",
        escape(&response.id)
    );
    let mut fields = RESPONSE_FIELDS.to_vec();
    fields.push("reason");
    form_level_problem(out, problem, &fields);
    hidden(out, "csrf", &home.csrf);
    response_fields(out, &amend, &values, problem);
    let reason = values.get("reason").map(String::as_str).unwrap_or_default();
    field(out, &amend, "reason", "Why the change", "text", reason, problem);
    out.push_str("<button type=\"submit\">Amend response</button></form></details>");

    let withdraw = format!("withdraw-{}", response.id);
    let (values, problem) = values_for(home.problem.as_ref(), &withdraw, BTreeMap::new());
    let open = if problem.is_some() { " open" } else { "" };
    let _ = write!(
        out,
        "<details{open}><summary>Withdraw my response</summary><form method=\"post\" action=\"/responses/{}/withdraw\" id=\"{withdraw}\">",
        escape(&response.id)
    );
    form_level_problem(out, problem, &["reason"]);
    hidden(out, "csrf", &home.csrf);
    let reason = values.get("reason").map(String::as_str).unwrap_or_default();
    field(out, &withdraw, "reason", "Why withdraw it", "text", reason, problem);
    out.push_str("<button type=\"submit\" class=\"secondary\">Withdraw response</button></form></details>");
}

fn pages_section(out: &mut String, home: &Home) {
    out.push_str("<section aria-labelledby=\"pages-title\"><h2 id=\"pages-title\">Pages you were called for</h2>");
    if home.pages.is_empty() {
        out.push_str("<p>No pages in the last year.</p></section>");
        return;
    }
    let _ = write!(
        out,
        "<p class=\"muted\">Newest first; times in your zone, {}. The form starts from the page's acknowledge → resolve times.</p>",
        escape(home.zone.name())
    );
    for called in &home.pages {
        let page = &called.page;
        let title = page.title.as_deref().unwrap_or("(no title)");
        let _ = write!(
            out,
            "<article class=\"card\" id=\"page-{}\"><h3>{} <span class=\"muted\">{}</span></h3><p>",
            escape(&page.id),
            escape(&page.external_id),
            escape(title)
        );
        let _ = write!(
            out,
            "Triggered {} · service {} · source {} · you {}",
            escape(&to_display(home.zone, page.triggered_at)),
            escape(&page.service),
            escape(&page.source),
            called.why
        );
        if let Some(at) = page.acknowledged_at {
            let _ = write!(out, " · acknowledged {}", escape(&to_display(home.zone, at)));
        }
        if let Some(at) = page.resolved_at {
            let _ = write!(out, " · resolved {}", escape(&to_display(home.zone, at)));
        }
        out.push_str("</p><p>");
        if called.night {
            out.push_str("<span class=\"tag night\">at night</span>");
        } else if called.out_of_hours {
            out.push_str("<span class=\"tag\">out of hours</span>");
        }
        match &called.response {
            Some(response) => {
                let _ = write!(
                    out,
                    "Your response: {} → {} ({} min, {}) {}</p>",
                    escape(&to_display(home.zone, response.started_at)),
                    escape(&to_display(home.zone, response.ended_at)),
                    response.duration_minutes,
                    if response.actionable { "actionable" } else { "not actionable" },
                    status_tag(&response.status)
                );
                correction_forms(out, home, response);
            }
            None => {
                out.push_str("No response logged yet.</p>");
                log_form(out, home, called);
            }
        }
        out.push_str("</article>");
    }
    out.push_str("</section>");
}

fn responses_section(out: &mut String, home: &Home) {
    out.push_str(
        "<section aria-labelledby=\"claims-title\"><h2 id=\"claims-title\">Your responses and claims</h2>\
         <p class=\"muted\">A response on a page you acknowledged or were on call for is paid; any other is a claim a manager of your team or finance approves.</p>",
    );
    if home.responses.is_empty() {
        out.push_str("<p>None yet.</p></section>");
        return;
    }
    out.push_str(
        "<div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Page</th>\
         <th scope=\"col\" class=\"n\">Minutes</th><th scope=\"col\">State</th><th scope=\"col\">Decision</th></tr></thead><tbody>",
    );
    for response in &home.responses {
        let decision = match (&response.decided_by, &response.decision_reason) {
            (Some(by), Some(reason)) => format!("{}: {}", escape(by), escape(reason)),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"#page-{}\">{}</a></td><td class=\"n\">{}</td><td>{}</td><td>{decision}</td></tr>",
            escape(&to_display(home.zone, response.started_at)),
            escape(&response.page_id),
            escape(&response.page_id),
            response.duration_minutes,
            status_tag(&response.status)
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn statement_section(out: &mut String, home: &Home) {
    out.push_str("<section aria-labelledby=\"statement-title\"><h2 id=\"statement-title\">Your statement</h2>");
    out.push_str("<form method=\"get\" action=\"/\" class=\"controls no-print\"><div><label for=\"period\">Pay period</label><select id=\"period\" name=\"period\">");
    let selected = home.statement.as_ref().map(|statement| statement.period.as_str());
    for period in &home.periods {
        let mark = if Some(period.as_str()) == selected { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{mark}>{0}</option>", escape(period));
    }
    out.push_str("</select></div><div><button type=\"submit\" class=\"secondary\">Show</button></div></form>");
    let Some(statement) = &home.statement else {
        out.push_str("<p>No statement for this period.</p></section>");
        return;
    };
    let state = if statement.is_final {
        "<span class=\"tag ok\">final</span> the period is closed; these figures will not change."
    } else {
        "<span class=\"tag\">provisional</span> the period is open; lines may still be added, amended or reversed."
    };
    let _ = write!(
        out,
        "<p>Period {} ({} to {}, read from the ledger): {state}</p>",
        escape(&statement.period),
        statement.starts_on,
        statement.ends_on.pred_opt().unwrap_or(statement.ends_on)
    );
    if statement.totals.is_empty() {
        out.push_str("<p><strong>Total: nothing posted.</strong></p>");
    }
    for (currency, total) in &statement.totals {
        let _ = write!(out, "<p><strong>Total: {}</strong></p>", escape(&money(currency, *total)));
    }
    if statement.pending_claims > 0 {
        let _ = write!(
            out,
            "<p>{} pending claim(s) are not in these figures until approved.</p>",
            statement.pending_claims
        );
    }
    if statement.lines.is_empty() {
        out.push_str("</section>");
        return;
    }
    let _ = write!(
        out,
        "<div class=\"table-wrap\" tabindex=\"0\"><table><caption>Every line and why it was paid (times in {})</caption><thead><tr>\
         <th scope=\"col\">When</th><th scope=\"col\">Component</th><th scope=\"col\" class=\"n\">Quantity</th>\
         <th scope=\"col\" class=\"n\">Amount</th><th scope=\"col\">Explanation</th></tr></thead><tbody>",
        escape(home.zone.name())
    );
    for line in &statement.lines {
        let mut component = escape(&line.component);
        if line.kind == crate::domain::posting::EntryKind::Reversal {
            component.push_str(" <span class=\"tag\">reversal</span>");
        }
        if line.natural_period != statement.period {
            let _ = write!(component, " <span class=\"tag\">adjustment for {}</span>", escape(&line.natural_period));
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{component}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&to_display(home.zone, line.occurred_at)),
            escape(&line.quantity),
            escape(&money(&line.currency, line.amount)),
            escape(&line.explanation)
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn load_section(out: &mut String, home: &Home) {
    let bar = crate::domain::health::OUT_OF_HOURS_BAR_PER_YEAR;
    let verdict = if home.out_of_hours > bar {
        format!(
            "<span class=\"tag bad\">over the bar</span> more than {bar} a year is more than is reasonable; your manager sees this too."
        )
    } else {
        "<span class=\"tag ok\">within the bar</span>".to_owned()
    };
    let _ = write!(
        out,
        "<section aria-labelledby=\"load-title\"><h2 id=\"load-title\">Your out-of-hours pages, last 365 days</h2>\
         <p>Being woken two or three times a year is reasonable; more is not.</p>\
         <div class=\"table-wrap\" tabindex=\"0\"><table><thead><tr><th scope=\"col\">Pages you acknowledged</th><th scope=\"col\" class=\"n\">Count</th>\
         <th scope=\"col\" class=\"n\">Bar a year</th></tr></thead><tbody>\
         <tr><td>Out of hours</td><td class=\"n\">{}</td><td class=\"n\">{bar}</td></tr>\
         <tr><td>At night</td><td class=\"n\">{}</td><td class=\"n\"></td></tr></tbody></table></div><p>{verdict}</p></section>",
        count(home.out_of_hours),
        count(home.night)
    );
}

/// The page's body (the caller wraps it in the layout).
pub fn render(home: &Home) -> String {
    let mut out = String::new();
    let _ = write!(out, "<h1>{}: your pages and pay</h1>", escape(&home.person_name));
    if let Some(problem) = &home.problem {
        let target = match &problem.field {
            Some(field) if RESPONSE_FIELDS.contains(&field.as_str()) || field == "reason" => {
                format!("{}-{field}", problem.form)
            }
            _ => problem.form.clone(),
        };
        let _ = write!(
            out,
            "<div class=\"error-summary\" role=\"alert\"><p class=\"problem\">That was not saved: {}</p><p><a href=\"#{}\">Go to the form</a></p></div>",
            escape(&problem.message),
            escape(&target)
        );
    }
    if let Some(notice) = home.notice.as_deref().and_then(notice_text) {
        let _ = write!(out, "<p class=\"notice\" role=\"status\">{notice}</p>");
    }
    out.push_str(
        "<nav aria-label=\"On this page\" class=\"quick no-print\"><a href=\"#pages-title\">Pages</a><a href=\"#statement-title\">Statement</a>\
         <a href=\"#claims-title\">Responses and claims</a><a href=\"#load-title\">Out-of-hours load</a></nav>",
    );
    pages_section(&mut out, home);
    statement_section(&mut out, home);
    responses_section(&mut out, home);
    load_section(&mut out, home);
    out
}
