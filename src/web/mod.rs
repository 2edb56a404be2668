//! The HTML pages people use (issue 19): the engineer's own page, the manager's dashboard,
//! finance's periods, sign-in. Pure rendering from plain values: the handlers in
//! `http::html` read the data, these functions write the page.
//!
//! Why server-rendered strings: the pages must work with no front-end build, no network
//! beyond paydown itself, without JavaScript (every form is a POST answered by a 303), on a
//! 390 px phone and on paper. Every page shares [`layout`] and one small stylesheet,
//! [`STYLESHEET`], served at [`STYLESHEET_PATH`]. Every dynamic value goes through [`escape`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod dashboard;
pub mod home;
pub mod periods;

use std::fmt::Write as _;

use rust_decimal::Decimal;

use crate::domain::role::Role;

/// Where the shared stylesheet is served (public: the sign-in page uses it too).
pub const STYLESHEET_PATH: &str = "/assets/paydown.css";

/// The one stylesheet of every page. A wide table scrolls inside its own box (focusable, so
/// a keyboard can scroll it) rather than the page sideways. Colours keep a contrast of at least 4.5:1 on white
/// (WCAG AA); focus is a thick outline; tables of numbers right-align both the numbers
/// and their headers; print drops navigation and forms.
pub const STYLESHEET: &str = r#":root{--ink:#1a1a1a;--muted:#4d4d4d;--line:#c4c4c4;--accent:#0b4f8a;--bad:#9b0000;--ok:#1d6b2f;--panel:#f2f5f8}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff;margin:0}
.skip{position:absolute;left:-999rem;top:0}.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.5rem;z-index:2}
header.site{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.5rem 1rem;border-bottom:3px solid var(--accent)}
header.site .brand{font-weight:700;font-size:1.15rem;color:var(--accent);text-decoration:none}
header.site nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin:0;padding:0}
header.site form{margin-left:auto}
main{max-width:72rem;margin:0 auto;padding:1rem}
footer.site{max-width:72rem;margin:2rem auto 1rem;padding:0 1rem;color:var(--muted);font-size:.9rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .75rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:1rem 0 .25rem}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #c25e00;outline-offset:2px}
.muted{color:var(--muted)}
.table-wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.95rem;margin:.5rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600}thead th{background:var(--panel)}
th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}
.headline{background:var(--panel);border-left:5px solid var(--accent);padding:.75rem 1rem;margin:0 0 1rem}
.headline .figure{display:block;font-size:2.25rem;font-weight:700;line-height:1.2}
.headline p{margin:.35rem 0}
.notice{background:#e7f3ea;border-left:5px solid var(--ok);padding:.5rem 1rem}
.problem,.field-error{color:var(--bad);font-weight:600}
.field-error{display:block;margin:.15rem 0}
.error-summary{border:3px solid var(--bad);padding:.5rem 1rem;margin:0 0 1rem}
label,legend{display:block;font-weight:600;margin-top:.6rem}
fieldset{border:1px solid var(--line);margin:.6rem 0;padding:.25rem .75rem .6rem}
fieldset label{display:inline;font-weight:400;margin-right:1rem}
input,select,textarea,button{font:inherit}
input[type=text],input[type=password],input[type=date],input[type=datetime-local],select,textarea{padding:.35rem;border:1px solid #666;border-radius:3px;width:100%;max-width:24rem}
textarea{max-width:36rem;min-height:3.5rem}
[aria-invalid=true]{border:2px solid var(--bad)}
button{padding:.45rem 1rem;border:2px solid var(--accent);background:var(--accent);color:#fff;border-radius:3px;cursor:pointer;margin-top:.6rem}
button.secondary{background:#fff;color:var(--accent)}
.controls{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:flex-end}
.controls>div{min-width:10rem}
.card{border:1px solid var(--line);border-radius:4px;padding:.5rem 1rem .75rem;margin:.75rem 0}
.card h3{margin-top:.25rem}
details{margin:.5rem 0}summary{cursor:pointer;color:var(--accent);font-weight:600}
.tag{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;background:#e4e4e4;color:#1a1a1a;margin-right:.25rem}
.tag.night{background:#1f2a44;color:#fff}.tag.bad{background:#9b0000;color:#fff}.tag.ok{background:#1d6b2f;color:#fff}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));gap:.5rem 1.5rem;margin:.5rem 0 1rem}
.chart svg{display:block;width:100%;max-width:36rem;height:auto}
.quick a{margin-right:.75rem}
@media (max-width:40rem){main{padding:.5rem .75rem}.headline .figure{font-size:1.75rem}h1{font-size:1.35rem}}
@media print{header.site nav,header.site form,form,.skip,.no-print{display:none}main{max-width:none;padding:0}a{color:inherit;text-decoration:none}section,.card,tr{break-inside:avoid}h2,h3{break-after:avoid}thead{display:table-header-group}.headline{border:1px solid #000}}
"#;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    crate::reports::statement_html::escape_html(text)
}

/// **The one place money is written on a page**: `1,234.50 GBP`, the amount rounded to its
/// currency's minor unit and never added to another currency's. A total converted to a
/// reporting currency is written through here too, with that currency's code.
pub fn money(currency: &str, amount: Decimal) -> String {
    match currency.parse::<crate::domain::currency::Currency>() {
        Ok(known) => format!("{} {}", crate::domain::debt::format_amount(known, amount), known.code()),
        Err(_) => format!("{} {currency}", crate::reports::charts::format_value(amount)),
    }
}

/// A whole number with `,` thousands separators.
pub fn count(value: u64) -> String {
    crate::reports::charts::format_value(Decimal::from(value))
}

/// A link of the site's navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

/// The pages a role has, first its landing page (where sign-in takes it).
pub fn nav_for(role: Role) -> Vec<NavLink> {
    let link = |href, label| NavLink { href, label };
    match role {
        Role::Engineer => vec![link("/", "My pages and pay")],
        Role::Manager => vec![link("/dashboard", "Dashboard")],
        Role::Finance => vec![link("/periods", "Pay periods"), link("/dashboard", "Dashboard")],
        Role::Admin => vec![link("/dashboard", "Dashboard")],
        Role::Ingest => Vec::new(),
    }
}

/// Where a role lands after signing in; `None` for roles without pages.
pub fn landing(role: Role) -> Option<&'static str> {
    nav_for(role).first().map(|link| link.href)
}

/// Who the page is for: their role and, when signed in, the anti-forgery value of their forms.
pub struct Viewer<'a> {
    pub role: Role,
    pub name: &'a str,
    pub csrf: &'a str,
}

/// A whole page: head, skip link, header with navigation and sign-out, `main`, footer.
/// `current` is the path of the page, marked `aria-current` in the navigation.
pub fn layout(title: &str, viewer: Option<&Viewer<'_>>, current: &str, body: &str) -> String {
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · paydown</title><link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\"></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to the content</a><header class=\"site\"><a class=\"brand\" href=\"/\">paydown</a>",
        escape(title)
    );
    if let Some(viewer) = viewer {
        html.push_str("<nav aria-label=\"Main\"><ul>");
        for link in nav_for(viewer.role) {
            let here = if link.href == current { " aria-current=\"page\"" } else { "" };
            let _ = write!(html, "<li><a href=\"{}\"{here}>{}</a></li>", link.href, link.label);
        }
        html.push_str("<li><a href=\"/docs/\">API docs</a></li></ul></nav>");
        let _ = write!(
            html,
            "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <span class=\"muted\">{} ({})</span> <button type=\"submit\" class=\"secondary\">Sign out</button></form>",
            escape(viewer.csrf),
            escape(viewer.name),
            viewer.role.as_str()
        );
    }
    let _ = write!(
        html,
        "</header><main id=\"main\">{body}</main><footer class=\"site\"><p>paydown: on-call cost and pay. Times are shown in the zone named beside them.</p></footer></body></html>"
    );
    html
}

/// A page saying what went wrong, with a way on.
pub fn problem_page(title: &str, viewer: Option<&Viewer<'_>>, message: &str, field: Option<&str>) -> String {
    let field = field.map(|field| format!(" (parameter <code>{}</code>)", escape(field))).unwrap_or_default();
    let way_on = match viewer.and_then(|viewer| landing(viewer.role)) {
        Some(home) => format!("<p><a href=\"{home}\">Back to your page</a></p>"),
        None => "<p><a href=\"/login\">Sign in</a></p>".to_owned(),
    };
    layout(
        title,
        viewer,
        "",
        &format!(
            "<h1>{}</h1><p class=\"problem\" role=\"alert\">{}{field}</p>{way_on}",
            escape(title),
            escape(message)
        ),
    )
}

/// The sign-in page: a token pasted once is kept in an HttpOnly cookie.
pub fn login_page(csrf: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|text| format!("<p role=\"alert\" class=\"problem\" id=\"token-error\">{}</p>", escape(text)))
        .unwrap_or_default();
    let described = if problem.is_empty() { "" } else { " aria-describedby=\"token-error\" aria-invalid=\"true\"" };
    layout(
        "Sign in",
        None,
        "/login",
        &format!(
            "<h1>Sign in to paydown</h1><form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label for=\"token\">Your paydown token</label>{problem}\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required{described}>\
             <button type=\"submit\">Sign in</button></form>\
             <p class=\"muted\">Engineers land on their own pages and pay, managers on the dashboard, finance on the pay periods. Ask an admin for a token.</p>",
            escape(csrf)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_is_written_per_currency_to_its_minor_unit() {
        assert_eq!(money("GBP", dec!(1234.5)), "1,234.50 GBP");
        assert_eq!(money("EUR", dec!(41200)), "41,200 EUR");
        assert_eq!(money("JPY", dec!(1200.4)), "1,200 JPY");
        assert_eq!(money("GBP", dec!(-12.25)), "-12.25 GBP");
        assert_eq!(money("XXX?", dec!(3)), "3 XXX?");
    }

    #[test]
    fn each_role_lands_on_its_page() {
        assert_eq!(landing(Role::Engineer), Some("/"));
        assert_eq!(landing(Role::Manager), Some("/dashboard"));
        assert_eq!(landing(Role::Finance), Some("/periods"));
        assert_eq!(landing(Role::Admin), Some("/dashboard"));
        assert_eq!(landing(Role::Ingest), None);
    }

    #[test]
    fn the_layout_has_landmarks_and_escapes() {
        let viewer = Viewer { role: Role::Finance, name: "<b>", csrf: "c\"" };
        let html = layout("a<b", Some(&viewer), "/periods", "<p>x</p>");
        assert!(html.starts_with("<!doctype html><html lang=\"en\">"));
        for landmark in ["<header", "<nav aria-label=\"Main\"", "<main id=\"main\"", "<footer", "class=\"skip\""] {
            assert!(html.contains(landmark), "{landmark}");
        }
        assert!(html.contains("<title>a&lt;b · paydown</title>") && html.contains("&lt;b&gt;"));
        assert!(html.contains("value=\"c&quot;\""));
        assert!(html.contains("<a href=\"/periods\" aria-current=\"page\">"));
        assert!(!html.contains("<script"));
    }
}
