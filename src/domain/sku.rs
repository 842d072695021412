//! Stock-keeping units: short codes printed on labels, so a conservative character set.

use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.is_empty() || value.len() > 64 {
            return Err(FieldError::new(field, "must be 1 to 64 characters"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(FieldError::new(
                field,
                "may contain only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_and_rejects_others() {
        assert!(Sku::parse("sku", "SKU-00001").is_ok());
        assert!(Sku::parse("sku", "").is_err());
        assert!(Sku::parse("sku", "has space").is_err());
        assert!(Sku::parse("sku", &"A".repeat(65)).is_err());
    }
}
