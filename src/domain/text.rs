//! Free text as the API accepts it: trimmed, bounded in characters, and free of control
//! characters (which break logs, terminals and naive renderers). Multi-line text may keep
//! newlines and tabs.

use std::ops::RangeInclusive;

use crate::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    SingleLine,
    MultiLine,
}

pub fn bounded_text(
    field: &str,
    raw: &str,
    chars: RangeInclusive<usize>,
    kind: TextKind,
) -> Result<String, FieldError> {
    let value = raw.trim();
    let allowed_control = |c: char| kind == TextKind::MultiLine && matches!(c, '\n' | '\t' | '\r');
    if value.chars().any(|c| c.is_control() && !allowed_control(c)) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    let len = value.chars().count();
    if len < *chars.start() {
        return Err(if *chars.start() == 1 {
            FieldError::new(field, "must not be empty")
        } else {
            FieldError::new(
                field,
                format!("must be at least {} characters", chars.start()),
            )
        });
    }
    if len > *chars.end() {
        return Err(FieldError::new(
            field,
            format!("must be at most {} characters", chars.end()),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_accepts_text_within_bounds() {
        assert_eq!(
            bounded_text("name", "  Ada  ", 1..=10, TextKind::SingleLine).unwrap(),
            "Ada"
        );
    }

    #[test]
    fn rejects_blank_long_and_control_characters() {
        assert!(bounded_text("name", "   ", 1..=10, TextKind::SingleLine).is_err());
        assert!(bounded_text("name", "abcdefghijk", 1..=10, TextKind::SingleLine).is_err());
        assert!(bounded_text("name", "a\u{0}b", 1..=10, TextKind::SingleLine).is_err());
        assert!(bounded_text("name", "a\nb", 1..=10, TextKind::SingleLine).is_err());
        assert!(bounded_text("body", "a\nb", 1..=10, TextKind::MultiLine).is_ok());
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(bounded_text("name", "ééééé", 1..=5, TextKind::SingleLine).is_ok());
    }
}
