//! The server's listening socket, bound before the app is built so port 0 works and the
//! real port is known.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Connections the kernel may hold finished (and half-finished) for `accept`: what
/// `HttpServer::bind` asks for, capped by `net.core.somaxconn`. std's `TcpListener::bind`
/// asks for 128, and when an instance's clients all come back at once (a restart, a failed
/// peer's users reconnecting) every connection past that waits for its SYN to be sent again,
/// after 1 s, then 2 s more, then 4 s more (docs/DEPLOY.md, "A million WebSocket
/// connections").
pub const BACKLOG: i32 = 2048;

/// Binds `host:port` with [`BACKLOG`] and `SO_REUSEADDR` (as std and actix-server do, so a
/// restarted server gets its port back while the old connections sit in `TIME_WAIT`).
pub fn bind(host: IpAddr, port: u16) -> io::Result<TcpListener> {
    let addr = SocketAddr::new(host, port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    /// The kernel's own account of the queue length: for a listening socket, TCP_INFO's
    /// `tcpi_sacked` is `sk_max_ack_backlog` (what `ss -ltn` shows as Send-Q).
    fn kernel_backlog(listener: &TcpListener) -> u32 {
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: a valid socket, and a buffer of the size given.
        let rc = unsafe {
            libc::getsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "TCP_INFO: {}", io::Error::last_os_error());
        info.tcpi_sacked
    }

    #[test]
    fn the_listener_queues_as_many_connections_as_the_kernel_allows_up_to_2048() {
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .expect("somaxconn")
            .trim()
            .parse()
            .expect("a number");
        let listener = bind(IpAddr::from([127, 0, 0, 1]), 0).expect("binds");
        assert_eq!(kernel_backlog(&listener), somaxconn.min(BACKLOG as u32));
        // What std's own bind gives, so the test tells the two apart wherever somaxconn > 128.
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(kernel_backlog(&std_listener), somaxconn.min(128));
    }
}
