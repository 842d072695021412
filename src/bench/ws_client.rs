//! A minimal WebSocket client (RFC 6455) for load generation: the upgrade, masked text
//! frames out, unmasked frames in, pings answered. No extensions, no fragmentation.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct WsConn {
    stream: BufReader<TcpStream>,
    mask_seed: u32,
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
            let b0 = self.stream.read_u8().await?;
            let b1 = self.stream.read_u8().await?;
            let opcode = b0 & 0x0f;
            let len = match b1 & 0x7f {
                126 => u64::from(self.stream.read_u16().await?),
                127 => self.stream.read_u64().await?,
                n => u64::from(n),
            };
            if len > 16 * 1024 * 1024 {
                return Err(invalid("frame too large"));
            }
            let mut payload = vec![0; len as usize];
            self.stream.read_exact(&mut payload).await?;
            match opcode {
                0x1 => {
                    return String::from_utf8(payload)
                        .map(WsFrame::Text)
                        .map_err(|_| invalid("text frame is not UTF-8"))
                }
                0x2 => return Ok(WsFrame::Binary),
                0x8 => return Ok(WsFrame::Closed),
                0x9 => self.write_frame(0xA, &payload).await?,
                _ => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.write_frame(0x8, &1000u16.to_be_bytes()).await;
    }
}
