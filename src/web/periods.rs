//! Finance's page (`/periods`): every pay period, its state, and its payroll files.

use std::fmt::Write as _;

use super::escape;
use crate::storage::ledger::Period;

/// The built-in payroll layouts offered as downloads (finance's own layouts are reachable
/// through the API's `layout=`).
pub const LAYOUTS: &[(&str, &str)] = &[("long", "one row per line"), ("wide", "one row per person")];

/// The page's body. `pay_run` is the slot of the pay run review of the open period
/// (review, anomalies, approve, close): PAY RUN — the pay-run work renders its section into
/// it, above the periods; until it lands the handler passes `None`.
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
