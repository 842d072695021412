//! A minimal HTTP/1.1 keep-alive client for load generation: one request at a time per
//! connection, responses read by `Content-Length` or chunked encoding. Lean on purpose: on a
//! two-core machine the load generator shares the CPU with the server, and every cycle it
//! spends is one the server does not get.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct HttpConn {
    stream: BufReader<TcpStream>,
    host: String,
    line: String,
    /// One more header line (with its CRLF) sent with every request.
    extra: String,
}

/// What came back: the status and the body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpConn {
    pub async fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::with_capacity(64 * 1024, stream),
            host: addr.to_owned(),
            line: String::new(),
            extra: String::new(),
        })
    }

    /// Sends `name: value` with every request from now on.
    pub fn with_header(mut self, header: Option<&(String, String)>) -> Self {
        if let Some((name, value)) = header {
            self.extra = format!("{name}: {value}\r\n");
        }
        self
    }

    pub async fn get(&mut self, path: &str, bearer: Option<&str>) -> io::Result<Reply> {
        self.send("GET", path, bearer, None).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: &[u8],
    ) -> io::Result<Reply> {
        self.send("POST", path, bearer, Some(("application/json", body)))
            .await
    }

    pub async fn post_form(&mut self, path: &str, body: &str) -> io::Result<Reply> {
        let body = ("application/x-www-form-urlencoded", body.as_bytes());
        self.send("POST", path, None, Some(body)).await
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> io::Result<Reply> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{}",
            self.host, self.extra
        );
        if let Some(token) = bearer {
            head.push_str("Authorization: Bearer ");
            head.push_str(token);
            head.push_str("\r\n");
        }
        if let Some((content_type, body)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        match body {
            // One write: a separate small write for the body would wait on Nagle/delayed ACK.
            Some((_, body)) => {
                let mut all = head.into_bytes();
                all.extend_from_slice(body);
                stream.write_all(&all).await?;
            }
            None => stream.write_all(head.as_bytes()).await?,
        }
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> io::Result<Reply> {
        self.line.clear();
        if self.stream.read_line(&mut self.line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed in headers",
                ));
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.trim().eq_ignore_ascii_case("chunked");
                }
            }
        }
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let mut body = vec![0; length.unwrap_or(0)];
            self.stream.read_exact(&mut body).await?;
            body
        };
        Ok(Reply { status, body })
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await?;
            let size = usize::from_str_radix(self.line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                self.line.clear();
                self.stream.read_line(&mut self.line).await?;
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.stream.read_exact(&mut body[start..]).await?;
            self.line.clear();
            self.stream.read_line(&mut self.line).await?;
        }
    }
}
