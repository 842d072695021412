//! Chat input: room names (they appear in URLs, so a small URL-safe alphabet) and message
//! bodies (plain text, bounded in characters like every other text field).

use std::fmt;

use crate::error::FieldError;

pub const ROOM_NAME_MAX: usize = 64;
/// Bodies are limited in characters, as JSON Schema's `maxLength` counts them (at most
/// 16 KiB of UTF-8, well inside a WebSocket frame).
pub const MESSAGE_BODY_MAX_CHARS: usize = 4096;

/// A room's name: trimmed, lower-cased, `[a-z0-9][a-z0-9_-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim().to_lowercase();
        if value.is_empty() || value.len() > ROOM_NAME_MAX {
            return Err(FieldError::new(
                field,
                format!("must be 1 to {ROOM_NAME_MAX} characters"),
            ));
        }
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !first_ok || !rest_ok {
            return Err(FieldError::new(
                field,
                "may contain only letters, digits, '-' and '_', and must start with a letter or digit",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may see a room: everyone signed in, or only its members, its owner and admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 2] = [Visibility::Public, Visibility::Private];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// A stored value; the database's CHECK constraint admits only these two, so anything
    /// else is treated as the safer of them.
    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "public" => Visibility::Public,
            _ => Visibility::Private,
        }
    }
}

/// The most bytes of a sender's idempotency key (`client_id`, `Idempotency-Key`).
pub const CLIENT_ID_MAX: usize = 64;

/// A sender's idempotency key: 1 to 64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > CLIENT_ID_MAX {
            return Err(FieldError::new(
                field,
                format!("must be 1 to {CLIENT_ID_MAX} characters"),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(FieldError::new(field, "must be printable ASCII"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A chat message's text: trimmed, 1 to 4096 characters, no control characters but newline
/// and tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if value.chars().count() > MESSAGE_BODY_MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {MESSAGE_BODY_MAX_CHARS} characters"),
            ));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(FieldError::new(
                field,
                "must not contain control characters other than newline and tab",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_normalised_and_checked() {
        assert_eq!(
            RoomName::parse("room", " General ").unwrap().as_str(),
            "general"
        );
        assert_eq!(
            RoomName::parse("room", "rust-lang_2").unwrap().as_str(),
            "rust-lang_2"
        );
        for bad in ["", "  ", "-dash-first", "has space", "émoji", "a/b", "a.b"] {
            assert!(
                RoomName::parse("room", bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(RoomName::parse("room", &"a".repeat(64)).is_ok());
        assert!(RoomName::parse("room", &"a".repeat(65)).is_err());
    }

    #[test]
    fn client_ids_are_short_printable_ascii() {
        assert!(ClientId::parse("client_id", "c-1 x").is_ok());
        assert!(ClientId::parse("client_id", &"k".repeat(64)).is_ok());
        for bad in ["", "tab\t", "é", &"k".repeat(65)] {
            assert!(ClientId::parse("client_id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_stored_visibility_is_private() {
        assert_eq!(Visibility::from_stored("public"), Visibility::Public);
        assert_eq!(Visibility::from_stored("private"), Visibility::Private);
        assert_eq!(Visibility::from_stored("PUBLIC"), Visibility::Private);
    }

    #[test]
    fn bodies_are_bounded_in_characters_and_free_of_control_characters() {
        assert_eq!(
            MessageBody::parse("body", "  hi \n").unwrap().as_str(),
            "hi"
        );
        assert!(MessageBody::parse("body", "line one\nline\ttwo").is_ok());
        assert!(MessageBody::parse("body", " \n ").is_err());
        assert!(MessageBody::parse("body", "bell\u{7}").is_err());
        assert!(MessageBody::parse("body", &"é".repeat(4096)).is_ok());
        assert!(MessageBody::parse("body", &"é".repeat(4097)).is_err());
    }
}
