//! A person's statements as the API shows them: the preview priced now
//! (`pricing::statement`) and a period's, read from the ledger (`accrual::period_statement`),
//! each with the person as the reports know them. Handlers call these and only choose the
//! format.

use crate::accrual::PeriodStatement;
use crate::pricing::{self, Statement, StatementError};
use crate::reports::input::PersonInfo;
use crate::reports::statement_html::{StatementInput, StatementLine, totals_from_lines};
use crate::storage::{AnyConnection, StorageError, report_input};

/// The person's lines over `[from, to)` priced now (not yet posted), and the person.
pub fn preview(
    conn: &mut AnyConnection,
    person: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<(Statement, PersonInfo), StatementError> {
    let statement = pricing::statement(conn, person, from, to)?;
    let info = report_input::person_info(conn, person)?;
    Ok((statement, info))
}

/// What is posted to `period` for the person, and its printable page (provisional until the
/// period is closed).
pub fn of_period(
    conn: &mut AnyConnection,
    person: &str,
    period: &str,
) -> Result<(PeriodStatement, StatementInput), StorageError> {
    let (posted, mut page) = crate::accrual::period_statement(conn, person, period)?;
    page.person = report_input::person_info(conn, person)?;
    page.provisional = !posted.is_final;
    Ok((posted, page))
}

/// A previewed statement as the printable page shows it: always provisional, since nothing
/// in it is posted yet.
pub fn printable(priced: &Statement, person: PersonInfo) -> StatementInput {
    let lines: Vec<StatementLine> = priced
        .lines
        .iter()
        .map(|line| StatementLine {
            occurred_at: line.occurred_at,
            component: line.component.as_str().to_owned(),
            quantity: line.quantity,
            unit: line.unit.as_str().to_owned(),
            amount: line.amount,
            currency: line.currency.code().to_owned(),
            explanation: line.explanation.clone(),
            policy_id: line.policy.id.clone(),
            policy_version: i32::try_from(line.policy.version).unwrap_or(i32::MAX),
        })
        .collect();
    StatementInput {
        person,
        from: priced.from.date_naive(),
        to: priced.to.date_naive(),
        provisional: true,
        totals: totals_from_lines(&lines),
        lines,
    }
}
