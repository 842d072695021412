//! The bench's HTTP/1.1 client: hyper's client connection, one per closed-loop worker, kept
//! alive between requests. hyper parses the responses (`Content-Length`, chunked, or
//! delimited by the close), so a framing the server chooses cannot be misread.
//!
//! The connection runs in a task of its own, as hyper's examples have it, and ends when its
//! `HttpConn` (the only sender) is dropped. Driving it inside the worker's task instead, with a
//! `select!` per request, cost 5 % more client CPU per request and 3–12 % of the server's
//! throughput (docs/PERFORMANCE.md): on a two-core machine the load generator shares the CPU
//! with the server it measures, and every cycle it spends is one the server does not get.

use std::io;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    /// One more header sent with every request.
    extra: Option<(HeaderName, HeaderValue)>,
    /// The last bearer token and its header, so a worker that sends the same token on every
    /// request builds the header once.
    bearer: Option<(String, HeaderValue)>,
}

/// What came back: the status and the body.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl HttpConn {
    pub async fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        // Its error, if any, is the next request's (`ready` or `send_request` fails).
        tokio::spawn(async move {
            let _: Result<(), hyper::Error> = conn.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(addr).map_err(invalid)?,
            extra: None,
            bearer: None,
        })
    }

    /// Sends `name: value` with every request from now on.
    pub fn with_header(mut self, header: Option<&(String, String)>) -> io::Result<Self> {
        if let Some((name, value)) = header {
            self.extra = Some((
                HeaderName::from_bytes(name.as_bytes()).map_err(invalid)?,
                HeaderValue::from_str(value).map_err(invalid)?,
            ));
        }
        Ok(self)
    }

    pub async fn get(&mut self, path: &str, bearer: Option<&str>) -> io::Result<Reply> {
        self.send(Method::GET, path, bearer, None).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: impl Into<Bytes>,
    ) -> io::Result<Reply> {
        let body = ("application/json", body.into());
        self.send(Method::POST, path, bearer, Some(body)).await
    }

    pub async fn post_form(&mut self, path: &str, body: &str) -> io::Result<Reply> {
        let body = (
            "application/x-www-form-urlencoded",
            Bytes::copy_from_slice(body.as_bytes()),
        );
        self.send(Method::POST, path, None, Some(body)).await
    }

    fn bearer_header(&mut self, token: &str) -> io::Result<HeaderValue> {
        match &self.bearer {
            Some((cached, value)) if cached == token => Ok(value.clone()),
            _ => {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(invalid)?;
                self.bearer = Some((token.to_owned(), value.clone()));
                Ok(value)
            }
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<(&'static str, Bytes)>,
    ) -> io::Result<Reply> {
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().map_err(invalid)?;
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        if let Some((name, value)) = &self.extra {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(token) = bearer {
            let value = self.bearer_header(token)?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        if let Some((content_type, body)) = body {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            *request.body_mut() = Full::new(body);
        }

        self.sender.ready().await.map_err(io::Error::other)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    use super::*;

    /// One request as the server saw it: the head (header names as sent) and the body.
    async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut seen = Vec::new();
        let end = loop {
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut buf = [0; 1024];
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&seen[..end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |n| n.trim().parse().unwrap());
        let mut body = seen[end..].to_vec();
        while body.len() < length {
            let mut buf = [0; 1024];
            let n = socket.read(&mut buf).await.ok()?;
            body.extend_from_slice(&buf[..n]);
        }
        Some((head, body))
    }

    /// A server that answers the requests on its first connection with `responses` in turn,
    /// then closes it; it hands back the requests it read.
    async fn canned(
        responses: &'static [&'static str],
    ) -> (String, JoinHandle<Vec<(String, Vec<u8>)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut requests = Vec::new();
            for response in responses {
                let Some(request) = read_request(&mut socket).await else {
                    break;
                };
                requests.push(request);
                socket.write_all(response.as_bytes()).await.unwrap();
            }
            requests
        });
        (addr, server)
    }

    #[tokio::test]
    async fn chunked_and_length_framed_answers_read_whole_on_one_kept_alive_connection() {
        let (addr, server) = canned(&[
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nmissing",
        ])
        .await;
        let mut conn = HttpConn::connect(&addr).await.unwrap();
        let first = conn.get("/chunked", None).await.unwrap();
        assert_eq!((first.status, &first.body[..]), (200, &b"hello, world"[..]));
        let second = conn.get("/length", None).await.unwrap();
        assert_eq!((second.status, &second.body[..]), (404, &b"missing"[..]));
        assert_eq!(server.await.unwrap().len(), 2, "both on the one connection");
    }

    #[tokio::test]
    async fn an_answer_delimited_by_the_close_reads_whole_and_the_next_request_fails() {
        let (addr, server) = canned(&[
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, no chunks: all of this",
        ])
        .await;
        let mut conn = HttpConn::connect(&addr).await.unwrap();
        let reply = conn.get("/", None).await.unwrap();
        assert_eq!(&reply.body[..], b"no length, no chunks: all of this");
        server.await.unwrap();
        assert!(conn.get("/", None).await.is_err());
    }

    #[tokio::test]
    async fn a_request_carries_host_the_extra_header_the_token_and_its_body() {
        let (addr, server) = canned(&["HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"]).await;
        let extra = ("x-bench-run".to_owned(), "lab-1".to_owned());
        let mut conn = HttpConn::connect(&addr)
            .await
            .unwrap()
            .with_header(Some(&extra))
            .unwrap();
        let reply = conn
            .post_json("/graphql?x=1", Some("tok"), r#"{"query":"{ a }"}"#)
            .await
            .unwrap();
        assert_eq!((reply.status, reply.body.len()), (201, 0));
        let requests = server.await.unwrap();
        let (head, body) = &requests[0];
        let lines: Vec<&str> = head.lines().collect();
        assert_eq!(lines[0], "POST /graphql?x=1 HTTP/1.1");
        for line in [
            format!("host: {addr}"),
            "x-bench-run: lab-1".to_owned(),
            "authorization: Bearer tok".to_owned(),
            "content-type: application/json".to_owned(),
            "content-length: 17".to_owned(),
        ] {
            assert!(lines.contains(&line.as_str()), "{line} missing in {head}");
        }
        assert_eq!(body, br#"{"query":"{ a }"}"#);
    }
}
