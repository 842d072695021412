//! The chat and events frames (docs/PROTOCOL.md): JSON text with a `type` field. Client
//! frames are parsed into types that are valid by construction; server frames are serialized
//! once per broadcast and the bytes shared by every recipient.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};

pub use crate::domain::CLIENT_ID_MAX;
use crate::domain::{MessageBody, RoomName};
use crate::error::AppError;
use crate::services::chat::{ChatMessage, MAX_HISTORY_PAGE};
use crate::services::events::UserRef;

/// The longest access token an `auth` frame may carry.
pub const TOKEN_MAX: usize = 4096;

/// A valid client frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Join {
        room: RoomName,
        /// The last seq the client has of this room: resume after it.
        since: Option<i64>,
    },
    /// A fresh access token for the same user, before the current one expires.
    Auth {
        token: String,
    },
    Leave {
        room: RoomName,
    },
    Message {
        room: RoomName,
        body: MessageBody,
        client_id: Option<String>,
    },
    Typing {
        room: RoomName,
    },
    History {
        room: RoomName,
        before: Option<i32>,
        limit: i64,
    },
}

/// Why a client frame was refused: a code from docs/PROTOCOL.md and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
    pub client_id: Option<String>,
    /// The room the refused frame was about, when it named one.
    pub room: Option<String>,
}

impl FrameError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_id: None,
            room: None,
        }
    }

    pub fn with_room(mut self, room: &RoomName) -> Self {
        self.room = Some(room.as_str().to_owned());
        self
    }

    pub fn with_client_id(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    pub fn not_a_member(room: &RoomName) -> Self {
        Self::new("NOT_A_MEMBER", format!("join the room {room} first")).with_room(room)
    }

    pub fn to_frame(&self) -> ByteString {
        encode(&ServerFrame::Error {
            code: self.code,
            message: &self.message,
            client_id: self.client_id.as_deref(),
            room: self.room.as_deref(),
        })
    }
}

/// The one error type reaches WebSocket clients through its stable code. Server faults say
/// nothing about their cause, as in problem+json.
impl From<&AppError> for FrameError {
    fn from(err: &AppError) -> Self {
        let message = match err {
            AppError::Database(_) | AppError::Internal(_) => {
                "an internal error occurred; retry".to_owned()
            }
            AppError::Pool(_) => "the database is not reachable right now; retry".to_owned(),
            AppError::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        Self::new(err.code(), message)
    }
}

/// The wire shape, before validation. Unknown fields are refused so typos are visible.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawFrame {
    Join {
        room: String,
        #[serde(default)]
        since: Option<i64>,
    },
    Auth {
        token: String,
    },
    Leave {
        room: String,
    },
    Message {
        room: String,
        body: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    Typing {
        room: String,
    },
    History {
        room: String,
        #[serde(default)]
        before: Option<i32>,
        #[serde(default)]
        limit: Option<i64>,
    },
}

const TYPES: [&str; 6] = ["join", "leave", "message", "typing", "history", "auth"];

fn bad_input(message: impl Into<String>) -> FrameError {
    FrameError::new("BAD_USER_INPUT", message)
}

fn room(raw: &str) -> Result<RoomName, FrameError> {
    RoomName::parse("room", raw).map_err(|e| bad_input(format!("{}: {}", e.field, e.message)))
}

impl ClientFrame {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| FrameError::new("BAD_FRAME", format!("not valid JSON: {e}")))?;
        let kind = value
            .as_object()
            .ok_or_else(|| FrameError::new("BAD_FRAME", "a frame must be a JSON object"))?
            .get("type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| FrameError::new("BAD_FRAME", "a frame needs a string `type`"))?;
        if !TYPES.contains(&kind) {
            return Err(FrameError::new(
                "UNKNOWN_TYPE",
                format!(
                    "unknown frame type {:?}; expected one of {}",
                    truncate(kind, 32),
                    TYPES.join(", ")
                ),
            ));
        }
        let client_id = value
            .get("client_id")
            .and_then(|c| c.as_str())
            .filter(|c| c.len() <= CLIENT_ID_MAX)
            .map(str::to_owned);
        let raw: RawFrame = serde_json::from_value(value)
            .map_err(|e| bad_input(e.to_string()).with_client_id(client_id.clone()))?;
        Ok(match raw {
            RawFrame::Join { room: r, since } => {
                if since.is_some_and(|s| s < 0) {
                    return Err(bad_input("since: must be a seq (0 or more)"));
                }
                ClientFrame::Join {
                    room: room(&r)?,
                    since,
                }
            }
            RawFrame::Auth { token } => {
                if token.is_empty() || token.len() > TOKEN_MAX {
                    return Err(bad_input(format!(
                        "token: must be 1 to {TOKEN_MAX} characters"
                    )));
                }
                ClientFrame::Auth { token }
            }
            RawFrame::Leave { room: r } => ClientFrame::Leave { room: room(&r)? },
            RawFrame::Typing { room: r } => ClientFrame::Typing { room: room(&r)? },
            RawFrame::Message {
                room: r,
                body,
                client_id,
            } => {
                let in_error = |e: FrameError| e.with_client_id(client_id.clone());
                if client_id.as_ref().is_some_and(|c| c.len() > CLIENT_ID_MAX) {
                    return Err(bad_input(format!(
                        "client_id: must be at most {CLIENT_ID_MAX} bytes"
                    )));
                }
                let room = room(&r).map_err(in_error)?;
                let body = MessageBody::parse("body", &body)
                    .map_err(|e| in_error(bad_input(format!("{}: {}", e.field, e.message))))?;
                ClientFrame::Message {
                    room,
                    body,
                    client_id,
                }
            }
            RawFrame::History {
                room: r,
                before,
                limit,
            } => {
                let limit = limit.unwrap_or(50);
                if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
                    return Err(bad_input(format!(
                        "limit: must be from 1 to {MAX_HISTORY_PAGE}"
                    )));
                }
                ClientFrame::History {
                    room: room(&r)?,
                    before,
                    limit,
                }
            }
        })
    }
}

/// The `client_id` of a frame refused before parsing (over the rate limit), so the sender
/// can still match the refusal to its message.
pub fn client_id_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Peek {
        client_id: Option<String>,
    }
    serde_json::from_str::<Peek>(text)
        .ok()?
        .client_id
        .filter(|c| c.len() <= CLIENT_ID_MAX)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Every frame the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Ready {
        user: &'a UserRef,
        #[serde(skip_serializing_if = "Option::is_none")]
        dashboard: Option<bool>,
    },
    Joined {
        room: &'a str,
        members: Vec<&'a UserRef>,
        history: &'a [ChatMessage],
        /// True when `history` is exactly what came after the join's `since`.
        recovered: bool,
        /// The room's newest seq as of this frame; live messages continue after it.
        last_seq: i64,
    },
    Left {
        room: &'a str,
        /// `removed` when the room's owner or an admin ended the membership.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    /// A moderator deleted the message `id`.
    Deleted {
        room: &'a str,
        id: i32,
    },
    /// The token sent in an `auth` frame was accepted; the connection now lasts until
    /// `expires_at` (Unix seconds).
    Authenticated {
        expires_at: i64,
    },
    Message {
        #[serde(flatten)]
        message: &'a ChatMessage,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
    },
    Presence {
        room: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        joined: Option<&'a UserRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        left: Option<&'a UserRef>,
    },
    Typing {
        room: &'a str,
        user: &'a UserRef,
    },
    History {
        room: &'a str,
        messages: &'a [ChatMessage],
        has_more: bool,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<&'a str>,
    },
}

/// Serializes a frame once; the result is cheap to clone for every recipient.
pub fn encode<T: Serialize>(frame: &T) -> ByteString {
    match serde_json::to_string(frame) {
        Ok(text) => ByteString::from(text),
        Err(err) => {
            // Our own frames are plain data; this cannot happen short of a bug.
            tracing::error!(error = %err, "cannot serialize a websocket frame");
            ByteString::from_static(
                r#"{"type":"error","code":"INTERNAL_SERVER_ERROR","message":"an internal error occurred"}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        ClientFrame::parse(text).unwrap_err().code
    }

    #[test]
    fn parses_every_client_frame() {
        let general = RoomName::parse("room", "general").unwrap();
        assert_eq!(
            ClientFrame::parse(r#"{"type":"join","room":" General "}"#).unwrap(),
            ClientFrame::Join {
                room: general.clone(),
                since: None
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"join","room":"general","since":7}"#).unwrap(),
            ClientFrame::Join {
                room: general.clone(),
                since: Some(7)
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"auth","token":"t"}"#).unwrap(),
            ClientFrame::Auth {
                token: "t".to_owned()
            }
        );
        assert_eq!(
            ClientFrame::parse(
                r#"{"type":"message","room":"general","body":" hi ","client_id":"c1"}"#
            )
            .unwrap(),
            ClientFrame::Message {
                room: general.clone(),
                body: MessageBody::parse("body", "hi").unwrap(),
                client_id: Some("c1".to_owned())
            }
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"history","room":"general","before":10}"#).unwrap(),
            ClientFrame::History {
                room: general,
                before: Some(10),
                limit: 50
            }
        );
    }

    #[test]
    fn refuses_bad_frames_with_their_codes() {
        assert_eq!(code("not json"), "BAD_FRAME");
        assert_eq!(code("[1,2]"), "BAD_FRAME");
        assert_eq!(code(r#"{"room":"a"}"#), "BAD_FRAME");
        assert_eq!(code(r#"{"type":7}"#), "BAD_FRAME");
        assert_eq!(code(r#"{"type":"shout","room":"a"}"#), "UNKNOWN_TYPE");
        assert_eq!(code(r#"{"type":"join"}"#), "BAD_USER_INPUT");
        assert_eq!(code(r#"{"type":"join","room":"a b"}"#), "BAD_USER_INPUT");
        assert_eq!(
            code(r#"{"type":"join","room":"a","since":-1}"#),
            "BAD_USER_INPUT"
        );
        assert_eq!(code(r#"{"type":"auth","token":""}"#), "BAD_USER_INPUT");
        assert_eq!(
            code(r#"{"type":"join","room":"a","extra":1}"#),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            code(r#"{"type":"message","room":"a","body":"  "}"#),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            code(r#"{"type":"history","room":"a","limit":0}"#),
            "BAD_USER_INPUT"
        );
        let long = format!(
            r#"{{"type":"message","room":"a","body":"{}"}}"#,
            "x".repeat(4097)
        );
        assert_eq!(code(&long), "BAD_USER_INPUT");
    }

    #[test]
    fn a_refused_message_keeps_its_client_id() {
        let err = ClientFrame::parse(r#"{"type":"message","room":"a","body":"","client_id":"c9"}"#)
            .unwrap_err();
        assert_eq!(err.client_id.as_deref(), Some("c9"));
        assert!(err.to_frame().contains(r#""client_id":"c9""#));
    }

    #[test]
    fn the_client_id_of_an_unparsed_frame_can_be_recovered() {
        assert_eq!(
            client_id_of(r#"{"type":"message","room":"a","body":"b","client_id":"c7"}"#).as_deref(),
            Some("c7")
        );
        assert_eq!(client_id_of("not json"), None);
        assert_eq!(
            client_id_of(&format!(r#"{{"client_id":"{}"}}"#, "x".repeat(65))),
            None
        );
    }

    #[test]
    fn message_frames_flatten_the_message_and_add_the_type() {
        let msg = ChatMessage {
            id: 3,
            seq: 1,
            room: "general".to_owned(),
            user: UserRef {
                id: 1,
                name: "Ada".to_owned(),
            },
            body: "<b>hi</b>".to_owned(),
            sent_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        };
        let text = encode(&ServerFrame::Message {
            message: &msg,
            client_id: None,
        });
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], "message");
        assert_eq!(value["id"], 3);
        assert_eq!(value["user"]["name"], "Ada");
        assert_eq!(value["body"], "<b>hi</b>");
        assert!(value.get("client_id").is_none());
    }
}
