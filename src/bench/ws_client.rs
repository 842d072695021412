//! The bench's WebSocket client: tokio-tungstenite over a TCP connection the bench opens
//! itself. The library does the handshake (a random key, the server's
//! `Sec-WebSocket-Accept` checked), masks what it sends, reassembles fragmented messages and
//! answers pings. [`WsConn::next`] is cancel-safe (tungstenite keeps a partly read frame in
//! its own buffer), so a client may wait for a frame and a timer at once.

use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

pub struct WsConn {
    stream: WebSocketStream<TcpStream>,
}

/// A data message from the server.
pub enum WsFrame {
    Text(String),
    /// Binary messages carry nothing the scenarios read.
    Binary,
    Closed,
}

fn io_error(error: Error) -> io::Error {
    match error {
        Error::Io(e) => e,
        Error::ConnectionClosed | Error::AlreadyClosed => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ),
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Buffers sized for the chat and echo frames the scenarios read (tungstenite's defaults,
/// 128 KiB each way, add up over ws-hold's 10,000 connections); the size limits stay the
/// library's (16 MiB a frame, 64 MiB a message).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

impl WsConn {
    /// Opens `path` (which may carry `?token=`) on `addr`.
    pub async fn connect(addr: &str, path: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let url = format!("ws://{addr}{path}");
        let (stream, _response) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config()))
                .await
                .map_err(io_error)?;
        Ok(Self { stream })
    }

    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.stream
            .send(Message::text(text))
            .await
            .map_err(io_error)
    }

    /// The next data message; control frames are handled by the library (pings answered).
    pub async fn next(&mut self) -> io::Result<WsFrame> {
        loop {
            let message = match self.stream.next().await {
                Some(message) => message.map_err(io_error)?,
                None => return Err(io_error(Error::ConnectionClosed)),
            };
            match message {
                Message::Text(text) => return Ok(WsFrame::Text(text.as_str().to_owned())),
                Message::Binary(_) => return Ok(WsFrame::Binary),
                Message::Close(_) => return Ok(WsFrame::Closed),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = self.stream.close(Some(frame)).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

    use super::*;

    /// Reads an upgrade request and returns its `Sec-WebSocket-Key`.
    async fn key_of_request(socket: &mut TcpStream) -> String {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(socket.read_u8().await.unwrap());
        }
        String::from_utf8(head)
            .unwrap()
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("a Sec-WebSocket-Key")
    }

    async fn upgrade(socket: &mut TcpStream, accept: &str) {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        socket.write_all(response.as_bytes()).await.unwrap();
    }

    async fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (listener, addr)
    }

    #[tokio::test]
    async fn a_fragmented_message_arrives_whole_and_a_ping_between_its_fragments_is_answered() {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let key = key_of_request(&mut socket).await;
            upgrade(&mut socket, &derive_accept_key(key.as_bytes())).await;
            // Text "Hel" (not final), a ping, the continuation "lo" (final): unmasked, as
            // a server sends.
            let frames = [
                &[0x01, 3, b'H', b'e', b'l'][..],
                &[0x89, 1, b'p'],
                &[0x80, 2, b'l', b'o'],
            ];
            socket.write_all(&frames.concat()).await.unwrap();
            // The pong: final, opcode 0xA, masked, payload "p".
            let mut pong = [0u8; 7];
            socket.read_exact(&mut pong).await.unwrap();
            assert_eq!(&pong[..2], &[0x8A, 0x81]);
            assert_eq!(pong[6] ^ pong[2], b'p');
        });
        let mut ws = WsConn::connect(&addr, "/ws/echo").await.unwrap();
        match ws.next().await.unwrap() {
            WsFrame::Text(text) => assert_eq!(text, "Hello"),
            _ => panic!("not a text message"),
        }
        // The pong goes out with the client's next read or write.
        ws.send_text("x").await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_sec_websocket_accept_is_refused() {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            key_of_request(&mut socket).await;
            upgrade(&mut socket, &derive_accept_key(b"another key")).await;
            // Held open: the client must refuse the answer, not wait for more.
            let _ = socket.read_u8().await;
        });
        assert!(WsConn::connect(&addr, "/ws/echo").await.is_err());
    }

    #[tokio::test]
    async fn every_connection_sends_a_key_of_its_own() {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut keys = Vec::new();
            for _ in 0..2 {
                let (mut socket, _) = listener.accept().await.unwrap();
                let key = key_of_request(&mut socket).await;
                upgrade(&mut socket, &derive_accept_key(key.as_bytes())).await;
                keys.push(key);
            }
            keys
        });
        let _first = WsConn::connect(&addr, "/a").await.unwrap();
        let _second = WsConn::connect(&addr, "/b").await.unwrap();
        let keys = server.await.unwrap();
        assert_ne!(keys[0], keys[1]);
    }
}
