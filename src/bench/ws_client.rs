//! A minimal WebSocket client (RFC 6455) for load generation: the upgrade, masked text
//! frames out, unmasked frames in, pings answered. No extensions, no fragmentation.
//! [`WsConn::next`] is cancel-safe (frames are cut from a buffer that only a completed read
//! fills), so a client may wait for a frame and a timer at once.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct WsConn {
    stream: BufReader<TcpStream>,
    mask_seed: u32,
    /// Bytes read and not yet cut into frames.
    buf: Vec<u8>,
    /// A ping's payload, answered on the next call.
    pong: Option<Vec<u8>>,
}

/// The opcode and payload of the first whole frame in `buf`, and its length.
fn frame_in(buf: &[u8]) -> io::Result<Option<(u8, Vec<u8>, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0f;
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(n), 10)
        }
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len > 16 * 1024 * 1024 {
        return Err(invalid("frame too large"));
    }
    let end = head + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((opcode, buf[head..end].to_vec(), end)))
}

/// A data frame from the server.
pub enum WsFrame {
    Text(String),
    /// Binary frames carry nothing the scenarios read.
    Binary,
    Closed,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl WsConn {
    /// Opens `path` (which may carry `?token=`) on `addr`.
    pub async fn connect(addr: &str, path: &str) -> io::Result<Self> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c3dpdGNoYm9hcmQtYmVuY2g=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut stream = BufReader::with_capacity(16 * 1024, stream);
        let mut head = Vec::with_capacity(256);
        while !head.ends_with(b"\r\n\r\n") {
            let byte = stream.read_u8().await?;
            head.push(byte);
            if head.len() > 8192 {
                return Err(invalid("upgrade response too long"));
            }
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            let line = String::from_utf8_lossy(&head);
            return Err(invalid(line.lines().next().unwrap_or("no status")));
        }
        Ok(Self {
            stream,
            mask_seed: 0x9e37_79b9,
            buf: Vec::with_capacity(16 * 1024),
            pong: None,
        })
    }

    async fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        // Any mask will do for a benchmark client; it only has to vary.
        self.mask_seed = self
            .mask_seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mask = self.mask_seed.to_be_bytes();
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= u16::MAX as usize => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.get_mut().write_all(&frame).await
    }

    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.write_frame(0x1, text.as_bytes()).await
    }

    /// The next data frame; pings are answered and other control frames skipped.
    pub async fn next(&mut self) -> io::Result<WsFrame> {
        loop {
            if let Some(payload) = self.pong.take() {
                self.write_frame(0xA, &payload).await?;
            }
            if let Some((opcode, payload, used)) = frame_in(&self.buf)? {
                self.buf.drain(..used);
                match opcode {
                    0x1 => {
                        return String::from_utf8(payload)
                            .map(WsFrame::Text)
                            .map_err(|_| invalid("text frame is not UTF-8"))
                    }
                    0x2 => return Ok(WsFrame::Binary),
                    0x8 => return Ok(WsFrame::Closed),
                    0x9 => self.pong = Some(payload),
                    _ => {}
                }
                continue;
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.write_frame(0x8, &1000u16.to_be_bytes()).await;
    }
}
