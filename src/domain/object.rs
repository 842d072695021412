//! JSON objects as JSON Schema types them. serde's derived structs also take an array of
//! their fields in order (`[1, 2]` for `{a, b}`), which a document saying `type: object`
//! refuses; `#[serde(deserialize_with = "object")]` (or `objects` for a list) refuses it too.

use serde::de::{DeserializeOwned, Deserializer, Error};
use serde::Deserialize;
use serde_json::{Map, Value};

pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let fields = Map::<String, Value>::deserialize(deserializer)?;
    T::deserialize(Value::Object(fields)).map_err(D::Error::custom)
}

pub fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Vec::<Map<String, Value>>::deserialize(deserializer)?
        .into_iter()
        .enumerate()
        .map(|(i, fields)| {
            T::deserialize(Value::Object(fields))
                .map_err(|e| D::Error::custom(format!("[{i}]: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        a: i32,
        b: i32,
    }

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "object")]
        one: Pair,
        #[serde(deserialize_with = "objects")]
        many: Vec<Pair>,
    }

    #[test]
    fn objects_are_taken_and_arrays_of_fields_refused() {
        let ok: Body =
            serde_json::from_str(r#"{"one": {"a": 1, "b": 2}, "many": [{"a": 3, "b": 4}]}"#)
                .unwrap();
        assert_eq!(ok.one, Pair { a: 1, b: 2 });
        assert_eq!(ok.many, vec![Pair { a: 3, b: 4 }]);
        assert!(serde_json::from_str::<Body>(r#"{"one": [1, 2], "many": []}"#).is_err());
        assert!(
            serde_json::from_str::<Body>(r#"{"one": {"a": 1, "b": 2}, "many": [[3, 4]]}"#).is_err()
        );
        // Serde's default, for comparison: the array form passes.
        assert!(serde_json::from_str::<Pair>("[1, 2]").is_ok());
    }
}
