//! A look at the client's frame headers before actix's codec decodes them, for the two
//! judgements RFC 6455 asks of a server that the codec cannot make:
//!
//! - A header declaring a payload over the size limit must fail the connection (1009) at
//!   once; the codec waits for the whole payload first, so a client declaring a terabyte
//!   would hold the connection until the heartbeat gave up (1001).
//! - A close frame whose reason is not UTF-8 must close with 1007 (section 8.1). The codec
//!   reports it with the same error as an invalid close code (`BadOpCode`), which is 1002.
//!
//! Only headers are parsed and only close payloads (at most 125 bytes) are kept, so the cost
//! per data frame is a few comparisons; the codec still does all the decoding.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

const OPCODE_CLOSE: u8 = 0x8;
/// Control frames carry at most 125 bytes (section 5.5); longer ones are the codec's error.
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// What the watch saw that decides the close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A frame header declared a payload over the limit.
    TooLarge,
    /// A close frame's reason was not UTF-8.
    CloseReasonNotUtf8,
}

/// The connection's side of the watch: what, if anything, it saw.
#[derive(Debug, Clone, Default)]
pub struct Watch(Rc<Cell<Option<Fault>>>);

impl Watch {
    pub fn fault(&self) -> Option<Fault> {
        self.0.get()
    }

    /// Wraps the request body (the client's frames) so this watch sees them.
    pub fn observe<S>(&self, inner: S, max_payload: usize) -> Watched<S> {
        Watched {
            inner,
            seen: self.clone(),
            scanner: Scanner::new(max_payload as u64),
        }
    }
}

pub struct Watched<S> {
    inner: S,
    seen: Watch,
    scanner: Scanner,
}

impl<S> Stream for Watched<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.seen.fault() == Some(Fault::TooLarge) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match this.scanner.feed(&chunk) {
                Some(Fault::TooLarge) => {
                    this.seen.0.set(Some(Fault::TooLarge));
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
                Some(fault) => {
                    this.seen.0.set(Some(fault));
                    Poll::Ready(Some(Ok(chunk)))
                }
                None => Poll::Ready(Some(Ok(chunk))),
            },
            other => other,
        }
    }
}

/// Where the scanner is within the client's byte stream.
enum State {
    /// Reading a header; `have` bytes of it are in `buf`.
    Header { buf: [u8; 14], have: usize },
    /// Skipping a data frame's payload.
    Skip(u64),
    /// Collecting a close frame's payload, to unmask and check it.
    Close {
        mask: Option<[u8; 4]>,
        need: usize,
        data: Vec<u8>,
    },
    /// Something was found, or the stream is not parseable; look no further.
    Done,
}

struct Scanner {
    max_payload: u64,
    state: State,
}

impl Scanner {
    fn new(max_payload: u64) -> Self {
        Self {
            max_payload,
            state: State::Header {
                buf: [0; 14],
                have: 0,
            },
        }
    }

    fn header_state() -> State {
        State::Header {
            buf: [0; 14],
            have: 0,
        }
    }

    /// Advances over `bytes`; the first fault found, if any.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<Fault> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return None,
                State::Skip(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.state = Self::header_state();
                    }
                }
                State::Close { mask, need, data } => {
                    let n = (*need - data.len()).min(bytes.len());
                    data.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if data.len() == *need {
                        if let Some(mask) = mask {
                            for (i, b) in data.iter_mut().enumerate() {
                                *b ^= mask[i % 4];
                            }
                        }
                        let reason_ok = data.len() <= 2 || std::str::from_utf8(&data[2..]).is_ok();
                        self.state = Self::header_state();
                        if !reason_ok {
                            self.state = State::Done;
                            return Some(Fault::CloseReasonNotUtf8);
                        }
                    }
                }
                State::Header { buf, have } => {
                    buf[*have] = bytes[0];
                    *have += 1;
                    bytes = &bytes[1..];
                    if let Some(next) = Self::parse_header(&buf[..*have], self.max_payload) {
                        match next {
                            Ok(state) => self.state = state,
                            Err(fault) => {
                                self.state = State::Done;
                                return Some(fault);
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// The state after a complete header, `None` while more of it is needed.
    fn parse_header(h: &[u8], max_payload: u64) -> Option<Result<State, Fault>> {
        if h.len() < 2 {
            return None;
        }
        let opcode = h[0] & 0x0f;
        let masked = h[1] & 0x80 != 0;
        let ext = match h[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let total = 2 + ext + if masked { 4 } else { 0 };
        if h.len() < total {
            return None;
        }
        let length = match ext {
            2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            8 => u64::from_be_bytes(h[2..10].try_into().ok()?),
            _ => u64::from(h[1] & 0x7f),
        };
        if length > max_payload {
            return Some(Err(Fault::TooLarge));
        }
        let mask = masked.then(|| {
            let at = 2 + ext;
            [h[at], h[at + 1], h[at + 2], h[at + 3]]
        });
        Some(Ok(match length {
            0 => Self::header_state(),
            n if opcode == OPCODE_CLOSE && n <= MAX_CONTROL_PAYLOAD => State::Close {
                mask,
                need: n as usize,
                data: Vec::with_capacity(n as usize),
            },
            // A longer control frame is the codec's protocol error; nothing more to see.
            _ if opcode & 0x8 != 0 && length > MAX_CONTROL_PAYLOAD => State::Done,
            n => State::Skip(n),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn a_declared_length_over_the_limit_is_found_from_the_header_alone() {
        let mut header = vec![0x82, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        let mut scanner = Scanner::new(65_536);
        assert_eq!(scanner.feed(&header), Some(Fault::TooLarge));
    }

    #[test]
    fn frames_within_the_limit_pass_even_split_byte_by_byte() {
        let mut stream = frame(0x1, &[b'a'; 65_536], [9, 8, 7, 6]);
        stream.extend(frame(0x2, &[0; 200], [1, 1, 1, 1]));
        stream.extend(frame(0x8, &[0x03, 0xe8, b'o', b'k'], [5, 6, 7, 8]));
        let mut scanner = Scanner::new(65_536);
        for byte in &stream {
            assert_eq!(scanner.feed(std::slice::from_ref(byte)), None);
        }
        assert!(matches!(scanner.state, State::Header { have: 0, .. }));
    }

    #[test]
    fn a_close_reason_that_is_not_utf8_is_found_after_earlier_frames() {
        let mut stream = frame(0x1, b"hello", [1, 2, 3, 4]);
        stream.extend(frame(
            0x8,
            &[0x03, 0xe8, 0xce, 0xba, 0xff],
            [0xaa, 0xbb, 0xcc, 0xdd],
        ));
        let mut scanner = Scanner::new(1024);
        assert_eq!(scanner.feed(&stream), Some(Fault::CloseReasonNotUtf8));
    }
}
