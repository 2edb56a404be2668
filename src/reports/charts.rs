//! Server-side SVG charts for the dashboard.
//!
//! Why SVG strings: the dashboard must work with no internet access, print to PDF and read on
//! a phone, so paydown draws its own charts: plain SVG, no script, no web font (a generic
//! `sans-serif` family), a `viewBox` and no fixed size so they scale to the screen, `role="img"`
//! with a `<title>` and `aria-label` for screen readers. Every piece of text is XML-escaped.
//!
//! Values are `Decimal` and are scaled to pixels with `Decimal` arithmetic, rounded to one
//! decimal place (half away from zero): money never passes through floating point, and the
//! output is byte-for-byte reproducible. Negative values are drawn as zero-length bars (the
//! figures charted, costs and counts, are never negative) but keep their printed value.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::fmt::Write as _;

use rust_decimal::{Decimal, RoundingStrategy};

/// Width of every chart's coordinate system (the `viewBox`); the browser scales it. Narrow
/// on purpose: on a 390 px phone the chart is drawn at about 0.87 of this, so the 13-unit
/// text stays above 11 px; on a wide screen the page caps the chart's width instead.
const WIDTH: i64 = 420;
/// Room for the title above the plot.
const TITLE_HEIGHT: i64 = 32;
/// Height of one horizontal bar's row.
const ROW_HEIGHT: i64 = 28;
/// Thickness of one horizontal bar.
const BAR_THICKNESS: i64 = 18;
/// Width of the label column left of horizontal bars.
const LABEL_WIDTH: i64 = 140;
/// Longest bar (the axis' last tick); the rest of the width is left for its printed value.
const BAR_MAX: i64 = 170;
/// Room below horizontal bars for the value axis: tick labels and the axis title.
const BAR_AXIS_HEIGHT: i64 = 40;
/// Height of the plot of the stacked chart.
const PLOT_HEIGHT: i64 = 220;
/// Room below the stacked plot for the month labels and the axis title.
const AXIS_HEIGHT: i64 = 44;
/// Height of one legend row.
const LEGEND_ROW: i64 = 20;
/// Left margin of the stacked plot, for the value axis' tick labels (compact: `12k`).
const PLOT_LEFT: i64 = 56;
/// Labels longer than this are shortened beside the bar (the full label stays in the
/// tooltip `<title>`), so a long alert key cannot run off the left edge on a phone.
const LABEL_MAX_CHARS: usize = 18;
/// Horizontal room one month label needs; closer columns label every second (third…) month.
const MONTH_LABEL_WIDTH: i64 = 48;
/// About how many steps a value axis is divided into.
const AXIS_STEPS: i64 = 4;

/// Series colours; chosen to stay distinguishable when printed in grey scale (alternating
/// light and dark), repeating beyond eight series.
const PALETTE: [&str; 8] = ["#1f4e79", "#f4a261", "#2a9d8f", "#e76f51", "#264653", "#e9c46a", "#6a4c93", "#a8dadc"];

/// The ticks of a value axis from zero to at least `max`: a round step (1, 2, 2.5 or 5 times a
/// power of ten) giving about [`AXIS_STEPS`] steps. An axis of nothing is `[0, 1]`.
pub fn axis_ticks(max: Decimal) -> Vec<Decimal> {
    if max <= Decimal::ZERO {
        return vec![Decimal::ZERO, Decimal::ONE];
    }
    let rough = max / Decimal::from(AXIS_STEPS);
    let mut power = Decimal::ONE;
    while power * Decimal::TEN <= rough {
        power *= Decimal::TEN;
    }
    while power > rough && power > Decimal::new(1, 6) {
        power /= Decimal::TEN;
    }
    let step = [Decimal::ONE, Decimal::TWO, Decimal::new(25, 1), Decimal::new(5, 0), Decimal::TEN]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step * Decimal::from(AXIS_STEPS) >= max)
        .unwrap_or(power * Decimal::TEN);
    let mut ticks = vec![Decimal::ZERO];
    let mut tick = Decimal::ZERO;
    while tick < max && ticks.len() <= 12 {
        tick += step;
        ticks.push(tick.normalize());
    }
    ticks
}

/// A tick label short enough for a phone: `950`, `12.5k`, `1.2M`.
pub fn compact(value: Decimal) -> String {
    let thousand = Decimal::from(1_000);
    let million = Decimal::from(1_000_000);
    let short = |scaled: Decimal, suffix: &str| {
        format!("{}{suffix}", scaled.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero).normalize())
    };
    if value.abs() >= million {
        short(value / million, "M")
    } else if value.abs() >= Decimal::from(10_000) {
        short(value / thousand, "k")
    } else {
        format_value(value)
    }
}

/// Escapes text for XML content and attribute values, so a label such as `<script>` is inert.
pub fn escape(text: &str) -> String {
    // `&#39;` is understood by both HTML and XML parsers, so one escape serves both.
    super::statement_html::escape_html(text)
}

/// `label` shortened to [`LABEL_MAX_CHARS`] characters with an ellipsis.
fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_MAX_CHARS {
        return label.to_owned();
    }
    let mut short: String = label.chars().take(LABEL_MAX_CHARS - 1).collect();
    short.push('…');
    short
}

/// A pixel coordinate with at most one decimal (`12`, `12.5`), half away from zero.
fn px(value: Decimal) -> String {
    value.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero).normalize().to_string()
}

/// `value / max × span`, or zero when `max` is not positive (an all-zero chart has no bars,
/// rather than a division by zero); negative values give zero.
fn scale(value: Decimal, max: Decimal, span: i64) -> Decimal {
    if max <= Decimal::ZERO || value <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    value
        .checked_mul(Decimal::from(span))
        .and_then(|scaled| scaled.checked_div(max))
        .map_or(Decimal::from(span), |scaled| scaled.min(Decimal::from(span)))
        .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
}

/// A value as printed beside a bar: at most two decimals, `,` thousands separators.
pub fn format_value(value: Decimal) -> String {
    let rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero).normalize();
    let text = rounded.abs().to_string();
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A value and its unit, e.g. `41,200 EUR`; no unit gives the bare number.
fn with_unit(value: Decimal, unit: &str) -> String {
    if unit.is_empty() { format_value(value) } else { format!("{} {unit}", format_value(value)) }
}

/// The opening `<svg>` with its title, shared by every chart.
fn open_svg(out: &mut String, title: &str, height: i64) {
    let title = escape(title);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{title}" font-family="sans-serif" font-size="13" preserveAspectRatio="xMinYMin meet" style="max-width:100%;height:auto">"#
    );
    let _ = write!(out, r#"<title>{title}</title>"#);
    let _ = write!(out, r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##);
    let _ = write!(out, r#"<text x="8" y="20" font-size="15" font-weight="bold">{title}</text>"#);
}

/// A horizontal bar chart: one row per `(label, value)`, in the given order, bars scaled to a
/// value axis drawn below them (round ticks from zero, labelled, titled `axis`), each value
/// printed after its bar with `unit`. An empty list draws the title and a "no data" note.
pub fn bar_chart(title: &str, bars: &[(String, Decimal)], unit: &str, axis: &str) -> String {
    let rows = i64::try_from(bars.len()).unwrap_or(i64::MAX / ROW_HEIGHT).max(1);
    let plot_bottom = TITLE_HEIGHT + rows * ROW_HEIGHT;
    let height = plot_bottom + BAR_AXIS_HEIGHT + 4;
    let mut out = String::new();
    open_svg(&mut out, title, height);
    if bars.is_empty() {
        let _ = write!(out, r#"<text x="8" y="{}">no data</text>"#, TITLE_HEIGHT + 18);
    }
    let max = bars.iter().map(|(_, value)| *value).max().unwrap_or(Decimal::ZERO);
    let ticks = axis_ticks(max);
    let top = ticks.last().copied().unwrap_or(Decimal::ONE);
    // The value axis: a line under the bars, a tick and a label per round value, its title.
    let _ = write!(
        out,
        r##"<line x1="{LABEL_WIDTH}" y1="{plot_bottom}" x2="{right}" y2="{plot_bottom}" stroke="#555555"/>"##,
        right = LABEL_WIDTH + BAR_MAX
    );
    for tick in &ticks {
        let x = px(Decimal::from(LABEL_WIDTH) + scale(*tick, top, BAR_MAX));
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{TITLE_HEIGHT}" x2="{x}" y2="{tick_end}" stroke="#d0d0d0"/><text x="{x}" y="{label_y}" text-anchor="middle" font-size="12">{}</text>"##,
            escape(&compact(*tick)),
            tick_end = plot_bottom + 4,
            label_y = plot_bottom + 17,
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
        LABEL_WIDTH + BAR_MAX / 2,
        plot_bottom + 35,
        escape(axis)
    );
    for (row, (label, value)) in (0_i64..).zip(bars) {
        let bar_top = TITLE_HEIGHT + row * ROW_HEIGHT + 4;
        let width = scale(*value, top, BAR_MAX);
        let text_y = bar_top + BAR_THICKNESS - 4;
        let (full, short) = (escape(label), escape(&shorten(label)));
        let _ = write!(
            out,
            r#"<g><title>{full}: {value_text}</title><text x="{label_x}" y="{text_y}" text-anchor="end">{short}</text><rect x="{LABEL_WIDTH}" y="{bar_top}" width="{width}" height="{BAR_THICKNESS}" fill="{colour}"/><text x="{value_x}" y="{text_y}">{value_text}</text></g>"#,
            value_text = escape(&with_unit(*value, unit)),
            label_x = LABEL_WIDTH - 6,
            width = px(width),
            colour = PALETTE[0],
            value_x = px(Decimal::from(LABEL_WIDTH + 4) + width),
        );
    }
    out.push_str("</svg>");
    out
}

/// One series of a stacked chart: a name (e.g. a team) and one value per month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The series' name, shown in the legend.
    pub name: String,
    /// One value per month, in the order of the months; missing trailing values count zero.
    pub values: Vec<Decimal>,
}

/// A stacked column chart, one column per month (cost by team and month): each column stacks
/// the series' values in order from the bottom against a value axis of round ticks (titled
/// with `unit`), months labelled below (every second or third when columns are close), and a
/// legend below names the series.
pub fn stacked_monthly(title: &str, months: &[String], series: &[Series], unit: &str) -> String {
    let legend_rows = i64::try_from(series.len()).unwrap_or(0);
    let plot_top = TITLE_HEIGHT + 16;
    let plot_bottom = plot_top + PLOT_HEIGHT;
    let height = plot_bottom + AXIS_HEIGHT + legend_rows * LEGEND_ROW + 8;
    let mut out = String::new();
    open_svg(&mut out, title, height);

    let value_at = |s: &Series, month: usize| s.values.get(month).copied().unwrap_or(Decimal::ZERO).max(Decimal::ZERO);
    let totals: Vec<Decimal> = (0..months.len()).map(|m| series.iter().map(|s| value_at(s, m)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(Decimal::ZERO);
    let ticks = axis_ticks(max);
    let axis_top = ticks.last().copied().unwrap_or(Decimal::ONE);
    let right = WIDTH - 8;

    // The value axis: its unit above it, a gridline and a label per round value.
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text>"#,
        PLOT_LEFT - 6,
        plot_top - 6,
        escape(unit)
    );
    for tick in &ticks {
        let y = px(Decimal::from(plot_bottom) - scale(*tick, axis_top, PLOT_HEIGHT));
        let _ = write!(
            out,
            r##"<line x1="{PLOT_LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{stroke}"/><text x="{label_x}" y="{y}" dy="4" text-anchor="end" font-size="12">{}</text>"##,
            escape(&compact(*tick)),
            stroke = if tick.is_zero() { "#555555" } else { "#d0d0d0" },
            label_x = PLOT_LEFT - 6,
        );
    }

    let columns = i64::try_from(months.len()).unwrap_or(1).max(1);
    let slot = Decimal::from(right - PLOT_LEFT) / Decimal::from(columns);
    let column_width = slot * Decimal::new(7, 1);
    let plot_width = right - PLOT_LEFT;
    let label_every =
        usize::try_from(((MONTH_LABEL_WIDTH * columns + plot_width - 1) / plot_width).max(1)).unwrap_or(1);
    for ((index, month), total) in (0_i64..).zip(months).zip(&totals) {
        let x = Decimal::from(PLOT_LEFT) + slot * Decimal::from(index) + (slot - column_width) / Decimal::TWO;
        let _ = write!(out, "<g><title>{}: {}</title>", escape(month), escape(&with_unit(*total, unit)));
        // Stack by cumulative sums, so rounding never leaves gaps or overlaps between segments.
        let mut below = Decimal::ZERO;
        let month_index = usize::try_from(index).unwrap_or(usize::MAX);
        for (s, colour) in series.iter().zip(PALETTE.iter().cycle()) {
            let value = value_at(s, month_index);
            let bottom = scale(below, axis_top, PLOT_HEIGHT);
            below += value;
            let top = scale(below, axis_top, PLOT_HEIGHT);
            if top > bottom {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}"><title>{}, {}: {}</title></rect>"#,
                    px(x),
                    px(Decimal::from(plot_bottom) - top),
                    px(column_width),
                    px(top - bottom),
                    escape(&s.name),
                    escape(month),
                    escape(&with_unit(value, unit)),
                );
            }
        }
        if month_index.is_multiple_of(label_every) {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
                px(x + column_width / Decimal::TWO),
                plot_bottom + 16,
                escape(month)
            );
        }
        out.push_str("</g>");
    }
    if months.is_empty() {
        let _ = write!(out, r#"<text x="{}" y="{}">no data</text>"#, PLOT_LEFT + 8, plot_top + 40);
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">month (UTC)</text>"#,
        (PLOT_LEFT + right) / 2,
        plot_bottom + 34
    );

    let legend_top = plot_bottom + AXIS_HEIGHT;
    for ((row, s), colour) in (0_i64..).zip(series).zip(PALETTE.iter().cycle()) {
        let y = legend_top + row * LEGEND_ROW;
        let _ = write!(
            out,
            r#"<rect x="{PLOT_LEFT}" y="{y}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            PLOT_LEFT + 18,
            y + 11,
            escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// A small XML well-formedness check: every `<x>` is closed by `</x>` in order, `<x/>` is
    /// self-closing, and no raw `<`/`>` appears in text or `&` outside an entity.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            assert!(!text.contains('>'), "raw > in text: {text}");
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#39;"].iter().any(|e| entity.starts_with(e)),
                    "bare & in {text}"
                );
            }
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "< inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().expect("empty tag");
                stack.push(name.to_owned());
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert!(rest.is_empty(), "text after </svg>");
    }

    fn bars(items: &[(&str, Decimal)]) -> Vec<(String, Decimal)> {
        items.iter().map(|(label, value)| ((*label).to_owned(), *value)).collect()
    }

    #[test]
    fn bar_chart_scales_with_decimals() {
        let svg = bar_chart(
            "Cost by team",
            &bars(&[("db", dec!(41200)), ("web", dec!(10300.5)), ("ops", dec!(0))]),
            "EUR",
            "cost (EUR)",
        );
        assert_well_formed(&svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 420 "));
        assert!(svg.contains(r#"role="img""#) && svg.contains("<title>Cost by team</title>"));
        // The axis runs 0, 20k, 40k, 60k (170 px): db 41200 / 60000 × 170 = 116.73… → 116.7;
        // web 10300.5 / 60000 × 170 = 29.18… → 29.2.
        assert!(svg.contains(r#"width="116.7" height="18""#), "{svg}");
        assert!(svg.contains(r#"width="29.2" height="18""#));
        assert!(svg.contains(r#"width="0" height="18""#));
        for tick in [">0<", ">20k<", ">40k<", ">60k<", ">cost (EUR)<"] {
            assert!(svg.contains(tick), "{tick}");
        }
        assert!(svg.contains(">41,200 EUR<") && svg.contains(">10,300.5 EUR<"));
        let long = "an-alert-key-far-too-long-for-a-phone";
        let svg = bar_chart("t", &bars(&[(long, dec!(1))]), "", "");
        assert!(svg.contains(&format!("<title>{long}: 1</title>")));
        assert!(svg.contains(">an-alert-key-far-…<"), "{svg}");
    }

    #[test]
    fn labels_are_escaped() {
        let svg =
            bar_chart("<script>alert(1)</script> & co", &bars(&[("<script>x</script>", dec!(1))]), "\"u\"", "<a>");
        assert_well_formed(&svg);
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(svg.contains("&amp; co"));
        assert!(svg.contains("&quot;u&quot;"));
        let stacked =
            stacked_monthly("t", &["<m>".to_owned()], &[Series { name: "a&b'".into(), values: vec![dec!(1)] }], "EUR");
        assert_well_formed(&stacked);
        assert!(stacked.contains("a&amp;b&#39;") && stacked.contains("&lt;m&gt;"));
    }

    #[test]
    fn empty_zero_and_single_inputs_do_not_divide_by_zero() {
        for svg in [
            bar_chart("empty", &[], "EUR", "EUR"),
            bar_chart("zeros", &bars(&[("a", dec!(0)), ("b", dec!(0))]), "", ""),
            bar_chart("one", &bars(&[("a", dec!(5))]), "pages", "pages"),
            bar_chart("negative", &bars(&[("a", dec!(-5))]), "", ""),
            stacked_monthly("empty", &[], &[], "EUR"),
            stacked_monthly("zeros", &["2026-01".into()], &[Series { name: "a".into(), values: vec![] }], "EUR"),
            stacked_monthly("one", &["2026-01".into()], &[Series { name: "a".into(), values: vec![dec!(3)] }], ""),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
        }
        assert!(bar_chart("empty", &[], "EUR", "EUR").contains(">no data<"));
        assert!(bar_chart("one", &bars(&[("a", dec!(5))]), "pages", "pages").contains(r#"width="141.7" height="18""#));
        assert!(bar_chart("negative", &bars(&[("a", dec!(-5))]), "", "").contains(">-5<"));
    }

    #[test]
    fn stacked_columns_use_cumulative_heights() {
        // Totals: Jan 100 + 50 = 150, Feb 30 + 0 = 30; the axis runs 0, 50, 100, 150 (220 px).
        // Jan: db 100/150 × 220 = 146.7, web 220 − 146.7 = 73.3. Feb: db 30/150 × 220 = 44;
        // web is zero and is not drawn.
        let svg = stacked_monthly(
            "Cost by team and month",
            &["2026-01".into(), "2026-02".into()],
            &[
                Series { name: "db".into(), values: vec![dec!(100), dec!(30)] },
                Series { name: "web".into(), values: vec![dec!(50)] },
            ],
            "EUR",
        );
        assert_well_formed(&svg);
        assert!(svg.contains(r##"height="146.7" fill="#1f4e79""##), "{svg}");
        assert!(svg.contains(r##"height="73.3" fill="#f4a261""##));
        assert!(svg.contains(r##"height="44" fill="#1f4e79""##));
        assert_eq!(svg.matches("<rect").count(), 1 + 3 + 2, "background, 3 segments, 2 legend swatches");
        assert!(svg.contains("2026-01: 150 EUR") && svg.contains(">150<") && svg.contains(">month (UTC)<"));
    }

    #[test]
    fn axes_have_round_ticks_and_compact_labels() {
        assert_eq!(axis_ticks(dec!(41200)), [dec!(0), dec!(20000), dec!(40000), dec!(60000)]);
        assert_eq!(axis_ticks(dec!(150)), [dec!(0), dec!(50), dec!(100), dec!(150)]);
        assert_eq!(axis_ticks(dec!(5)), [dec!(0), dec!(2), dec!(4), dec!(6)]);
        assert_eq!(axis_ticks(dec!(9)), [dec!(0), dec!(2.5), dec!(5), dec!(7.5), dec!(10)]);
        assert_eq!(axis_ticks(dec!(0.3)), [dec!(0), dec!(0.1), dec!(0.2), dec!(0.3)]);
        assert_eq!(axis_ticks(dec!(0)), [dec!(0), dec!(1)]);
        assert_eq!(compact(dec!(950)), "950");
        assert_eq!(compact(dec!(9500)), "9,500");
        assert_eq!(compact(dec!(12500)), "12.5k");
        assert_eq!(compact(dec!(1250000)), "1.3M");
    }

    #[test]
    fn month_labels_thin_out_when_columns_are_close() {
        let months: Vec<String> = (1..=12).map(|m| format!("2026-{m:02}")).collect();
        let svg = stacked_monthly("t", &months, &[Series { name: "a".into(), values: vec![dec!(1); 12] }], "EUR");
        assert_well_formed(&svg);
        // 12 columns in 356 px need 48 px a label: every second month is labelled.
        assert!(svg.contains(">2026-01<") && !svg.contains(">2026-02<") && svg.contains(">2026-03<"));
    }

    #[test]
    fn numbers_format() {
        assert_eq!(format_value(dec!(1234567.891)), "1,234,567.89");
        assert_eq!(format_value(dec!(1000.00)), "1,000");
        assert_eq!(format_value(dec!(-12.5)), "-12.5");
        assert_eq!(format_value(dec!(0)), "0");
        assert_eq!(px(dec!(12.25)), "12.3");
        assert_eq!(px(dec!(12.0)), "12");
    }
}
