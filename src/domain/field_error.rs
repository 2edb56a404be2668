//! Validation failures that name the field at fault.

/// A value was refused: `field` is its path in the input (`triggered_at`, `shifts[3].end`),
/// `message` says what was wrong in words a client developer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }

    /// Prefixes the field path, so an error inside a batch item names the item.
    pub fn within(self, prefix: &str) -> Self {
        FieldError { field: format!("{prefix}.{}", self.field), message: self.message }
    }
}

/// Checks a required text field (a name, a key, an id): present, not blank, at most
/// `length_max` characters, no control character (`domain::limits`).
pub fn require_text(field: &str, value: &str, length_max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > length_max {
        return Err(FieldError::new(field, format!("must be at most {length_max} characters")));
    }
    super::limits::check_no_control(field, value)
}

/// Checks an identifier used in URLs: 1 to 128 characters of `[A-Za-z0-9._:@-]`.
pub fn require_slug(field: &str, value: &str) -> Result<(), FieldError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@');
    if value.is_empty() || value.len() > 128 || !value.chars().all(allowed) {
        return Err(FieldError::new(field, "must be 1 to 128 characters of letters, digits and . _ - : @"));
    }
    Ok(())
}
