//! Choosing a layout and a format, shared by the CLI and the API.

use super::input::PayrollInput;
use super::layout::{Layout, builtin_layouts, load_layout};
use super::{accruals, payroll};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
        }
    }

    /// The format an `Accept` header asks for (CSV when it names none of ours).
    pub fn from_accept(accept: &str) -> Format {
        if accept.contains("spreadsheetml") {
            Format::Xlsx
        } else if accept.contains("application/json") {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// A layout by name: finance's file in the reports directory first
/// (`<reports_dir>/payroll/<name>.toml`, the configuration's `reports_dir`), then the
/// built-ins.
pub fn layout(reports_dir: &std::path::Path, name: &str) -> Result<Layout, String> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!("`{name}` is not a layout name"));
    }
    let path = reports_dir.join("payroll").join(format!("{name}.toml"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        return load_layout(&text).map_err(|error| format!("{}: {error}", path.display()));
    }
    let (_, text) = builtin_layouts()
        .into_iter()
        .find(|(builtin, _)| *builtin == name)
        .ok_or_else(|| format!("unknown layout `{name}`: built in are {}", layout_names().join(", ")))?;
    load_layout(text).map_err(|error| error.to_string())
}

/// The names of the built-in layouts.
pub fn layout_names() -> Vec<&'static str> {
    builtin_layouts().into_iter().map(|(name, _)| name).collect()
}

/// A payroll export: (file name, bytes).
pub fn payroll_file(
    reports_dir: &std::path::Path,
    layout_name: &str,
    format: Format,
    input: &PayrollInput,
) -> Result<(String, Vec<u8>), String> {
    let layout = layout(reports_dir, layout_name)?;
    let bytes = match format {
        Format::Csv => payroll::write_csv(&layout, input),
        Format::Xlsx => payroll::write_xlsx(&layout, input),
        Format::Json => payroll::write_json(&layout, input),
    }
    .map_err(|error| error.to_string())?;
    Ok((payroll::file_name(&layout, &input.period, format.extension()), bytes))
}

/// The accruals by cost centre: (file name, bytes); CSV, XLSX or JSON, as asked.
pub fn accruals_file(format: Format, input: &PayrollInput) -> Result<(String, Vec<u8>), String> {
    let bytes = match format {
        Format::Csv => accruals::write_csv(input),
        Format::Xlsx => accruals::write_xlsx(input),
        Format::Json => accruals::write_json(input),
    }
    .map_err(|error| error.to_string())?;
    let status = if input.period.closed { "" } else { "-PROVISIONAL" };
    Ok((format!("accruals-{}{status}.{}", input.period.id, format.extension()), bytes))
}

/// The changes since the period's last payroll export: (file name, bytes); CSV or XLSX.
pub fn changes_file(
    format: Format,
    input: &PayrollInput,
    since: Option<&super::changes::SinceExport>,
) -> Result<(String, Vec<u8>), String> {
    let bytes = match format {
        Format::Csv => super::changes::write_csv(input, since),
        Format::Xlsx => super::changes::write_xlsx(input, since),
        Format::Json => return Err("the changes file is CSV or XLSX".to_owned()),
    }
    .map_err(|error| error.to_string())?;
    Ok((super::changes::file_name(input, format.extension()), bytes))
}

/// People per slice of a streamed payroll export: bounds memory to a slice's entries.
pub const STREAM_PEOPLE_PER_CHUNK: usize = 200;

/// Writes a payroll export in any format a slice of people at a time (see
/// `payroll::PayrollWriter`). Slices must come in the order the file lists people (payroll
/// id, then id); the output is then byte for byte what `payroll_file` gives for the whole
/// period at once.
pub fn stream_payroll<E: From<String>, W: std::io::Write + Send>(
    reports_dir: &std::path::Path,
    layout_name: &str,
    format: Format,
    slices: impl IntoIterator<Item = Result<PayrollInput, E>>,
    out: W,
) -> Result<W, E> {
    let layout = layout(reports_dir, layout_name).map_err(E::from)?;
    let mut writer = payroll::PayrollWriter::new(&layout, format, out);
    for slice in slices {
        writer.write(&slice?).map_err(|error| E::from(error.to_string()))?;
    }
    // `finish` refuses an export that was given no slice, not even an empty one.
    writer.finish().map_err(|error| E::from(error.to_string()))
}

/// The file name of a payroll export.
pub fn payroll_file_name(
    reports_dir: &std::path::Path,
    layout_name: &str,
    format: Format,
    period: &super::input::PeriodInfo,
) -> Result<String, String> {
    Ok(payroll::file_name(&layout(reports_dir, layout_name)?, period, format.extension()))
}
