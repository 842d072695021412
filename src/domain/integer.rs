//! Integers as JSON Schema counts them: `2853.0` is the integer 2853 (JSON has one number
//! type, and "integer" means "no fractional part"), as pydantic and DRF read it too. serde
//! would refuse it for an `i64` field; `#[serde(deserialize_with = "integer")]` does not.

use serde::de::{Deserializer, Error};
use serde::Deserialize;

/// The largest integer an `f64` holds exactly.
const EXACT_IN_F64: f64 = 9_007_199_254_740_992.0;

pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT_IN_F64)
            .map(|f| f as i64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("{number} is not an integer in range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row {
        #[serde(deserialize_with = "integer")]
        n: i32,
    }

    fn n(json: &str) -> Result<i32, serde_json::Error> {
        serde_json::from_str::<Row>(json).map(|r| r.n)
    }

    #[test]
    fn whole_numbers_in_any_notation_are_integers() {
        assert_eq!(n(r#"{"n": 7}"#).unwrap(), 7);
        assert_eq!(n(r#"{"n": 7.0}"#).unwrap(), 7);
        assert_eq!(n(r#"{"n": -2e3}"#).unwrap(), -2000);
        assert!(n(r#"{"n": 7.5}"#).is_err());
        assert!(n(r#"{"n": "7"}"#).is_err());
        assert!(n(r#"{"n": 3e10}"#).is_err());
    }
}
