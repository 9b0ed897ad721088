//! [`ToSocketAddrs`]: the addresses `greenlet::net` takes, converted at once
//! when they are numeric and otherwise turned into an owned lookup job for
//! the resolver (see `resolver.rs`).
//!
//! This module decides only *whether* a lookup is needed; it never looks a
//! name up itself, so nothing here blocks.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::{option, vec};

/// Something that names one or more socket addresses: what
/// [`TcpStream::connect`](super::TcpStream::connect),
/// [`TcpListener::bind`](super::TcpListener::bind),
/// [`UdpSocket::bind`](super::UdpSocket::bind), [`lookup_host`](super::lookup_host)
/// and the like take.
///
/// Implemented for every type that `std::net::ToSocketAddrs` is implemented
/// for, with the same meaning and errors: [`SocketAddr`], [`SocketAddrV4`],
/// [`SocketAddrV6`], `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`,
/// `(&str, u16)`, `(String, u16)`, `str`, `String`, `&[SocketAddr]` and
/// `&T` for any of them. Addresses written as numbers are converted at once,
/// on the calling thread; a host name is looked up by the resolver's small
/// pool of threads (see [`lookup_host`](super::lookup_host)) while the
/// calling greenlet parks.
///
/// The trait is sealed (it cannot be implemented outside this crate), as
/// tokio's `ToSocketAddrs` is: a lookup needs an owned host name to send to
/// another thread, which std's trait cannot give. Code generic over std's
/// trait can become generic over this one, or call std's `to_socket_addrs`
/// first (which blocks the whole thread for a host name) and pass the
/// addresses as a `&[SocketAddr]`.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use greenlet::net::{TcpListener, TcpStream, ToSocketAddrs};
///
/// fn connect_quietly(addr: impl ToSocketAddrs) -> Option<TcpStream> {
///     TcpStream::connect(addr).ok()
/// }
///
/// let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let port = listener.local_addr()?.port();
/// assert!(connect_quietly(("127.0.0.1", port)).is_some()); // numeric: no lookup
/// assert!(connect_quietly(format!("localhost:{port}")).is_some()); // looked up
/// let addrs: [SocketAddr; 1] = [listener.local_addr()?];
/// assert!(connect_quietly(&addrs[..]).is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs: sealed::Resolve {}

pub(super) mod sealed {
    use super::*;

    /// How a [`ToSocketAddrs`] becomes addresses; private, so that the
    /// public trait stays sealed.
    pub trait Resolve {
        /// The addresses, or the host name that has to be looked up.
        fn to_addresses(&self) -> io::Result<Addresses>;
    }

    /// What [`Resolve::to_addresses`] gives.
    #[derive(Debug)]
    pub enum Addresses {
        /// Converted already (numeric addresses).
        Ready(SocketAddrs),
        /// A host name and port for `std::net::ToSocketAddrs` on the
        /// resolver's threads: owned, so a greenlet killed while it waits
        /// leaves nothing borrowed behind.
        Lookup(String, u16),
    }

    /// The addresses one [`ToSocketAddrs`] stands for, in order: one without
    /// allocating, or a list.
    #[derive(Debug)]
    pub struct SocketAddrs(Inner);

    #[derive(Debug)]
    enum Inner {
        One(option::IntoIter<SocketAddr>),
        Many(vec::IntoIter<SocketAddr>),
    }

    impl SocketAddrs {
        pub fn one(addr: SocketAddr) -> SocketAddrs {
            SocketAddrs(Inner::One(Some(addr).into_iter()))
        }

        pub fn many(addrs: Vec<SocketAddr>) -> SocketAddrs {
            SocketAddrs(Inner::Many(addrs.into_iter()))
        }
    }

    impl Iterator for SocketAddrs {
        type Item = SocketAddr;

        fn next(&mut self) -> Option<SocketAddr> {
            match &mut self.0 {
                Inner::One(one) => one.next(),
                Inner::Many(many) => many.next(),
            }
        }

        fn size_hint(&self) -> (usize, Option<usize>) {
            match &self.0 {
                Inner::One(one) => one.size_hint(),
                Inner::Many(many) => many.size_hint(),
            }
        }
    }
}

use sealed::{Addresses, Resolve, SocketAddrs};

fn ready(addr: impl Into<SocketAddr>) -> io::Result<Addresses> {
    Ok(Addresses::Ready(SocketAddrs::one(addr.into())))
}

impl ToSocketAddrs for SocketAddr {}
impl Resolve for SocketAddr {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {}
impl Resolve for SocketAddrV4 {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for SocketAddrV6 {}
impl Resolve for SocketAddrV6 {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for (IpAddr, u16) {}
impl Resolve for (IpAddr, u16) {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {}
impl Resolve for (Ipv4Addr, u16) {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {}
impl Resolve for (Ipv6Addr, u16) {
    fn to_addresses(&self) -> io::Result<Addresses> {
        ready(*self)
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Resolve for (&str, u16) {
    fn to_addresses(&self) -> io::Result<Addresses> {
        let (host, port) = *self;
        // As std: an IP address first, then a name to look up.
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return ready((ip, port));
        }
        if let Ok(ip) = host.parse::<Ipv6Addr>() {
            return ready((ip, port));
        }
        Ok(Addresses::Lookup(host.to_owned(), port))
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Resolve for (String, u16) {
    fn to_addresses(&self) -> io::Result<Addresses> {
        (self.0.as_str(), self.1).to_addresses()
    }
}

impl ToSocketAddrs for str {}
impl Resolve for str {
    fn to_addresses(&self) -> io::Result<Addresses> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return ready(addr);
        }
        // As std: "host:port", split at the last colon, with std's errors.
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| invalid_input("invalid socket address"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| invalid_input("invalid port value"))?;
        // A host that is an IP address (an IPv6 one without brackets, say)
        // is what getaddrinfo would have given back unchanged.
        (host, port).to_addresses()
    }
}

impl ToSocketAddrs for String {}
impl Resolve for String {
    fn to_addresses(&self) -> io::Result<Addresses> {
        self.as_str().to_addresses()
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl Resolve for &[SocketAddr] {
    fn to_addresses(&self) -> io::Result<Addresses> {
        Ok(Addresses::Ready(SocketAddrs::many(self.to_vec())))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Resolve for &T {
    fn to_addresses(&self) -> io::Result<Addresses> {
        (**self).to_addresses()
    }
}

fn invalid_input(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converted<A: ToSocketAddrs + ?Sized>(addr: &A) -> Option<Vec<SocketAddr>> {
        match addr.to_addresses().unwrap() {
            Addresses::Ready(addrs) => Some(addrs.collect()),
            Addresses::Lookup(..) => None,
        }
    }

    fn lookup<A: ToSocketAddrs + ?Sized>(addr: &A) -> Option<(String, u16)> {
        match addr.to_addresses().unwrap() {
            Addresses::Ready(_) => None,
            Addresses::Lookup(host, port) => Some((host, port)),
        }
    }

    fn error_of<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Error {
        addr.to_addresses().unwrap_err()
    }

    const V4: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80));
    const V6: SocketAddr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0));

    #[test]
    fn numeric_forms_of_every_kind_are_converted_without_a_lookup() {
        assert_eq!(converted(&V4), Some(vec![V4]));
        assert_eq!(
            converted(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80)),
            Some(vec![V4])
        );
        assert_eq!(
            converted(&SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0)),
            Some(vec![V6])
        );
        assert_eq!(
            converted(&(IpAddr::from(Ipv4Addr::LOCALHOST), 80)),
            Some(vec![V4])
        );
        assert_eq!(converted(&(Ipv4Addr::LOCALHOST, 80)), Some(vec![V4]));
        assert_eq!(converted(&(Ipv6Addr::LOCALHOST, 80)), Some(vec![V6]));
        assert_eq!(converted(&("127.0.0.1", 80)), Some(vec![V4]));
        assert_eq!(converted(&("::1", 80)), Some(vec![V6]));
        assert_eq!(converted(&("127.0.0.1".to_owned(), 80)), Some(vec![V4]));
        assert_eq!(converted("127.0.0.1:80"), Some(vec![V4]));
        assert_eq!(converted("[::1]:80"), Some(vec![V6]));
        assert_eq!(converted(&"127.0.0.1:80".to_owned()), Some(vec![V4]));
        assert_eq!(converted(&&&V4), Some(vec![V4]));
        assert_eq!(converted(&&[V4, V6][..]), Some(vec![V4, V6]));
    }

    #[test]
    fn an_ipv6_host_without_brackets_before_the_port_is_converted_as_getaddrinfo_would() {
        assert_eq!(converted("::1:80"), Some(vec![V6]));
    }

    #[test]
    fn host_names_become_an_owned_lookup_of_host_and_port() {
        assert_eq!(lookup("localhost:80"), Some(("localhost".to_owned(), 80)));
        assert_eq!(
            lookup(&("localhost", 80)),
            Some(("localhost".to_owned(), 80))
        );
        assert_eq!(
            lookup(&("example.org".to_owned(), 443)),
            Some(("example.org".to_owned(), 443))
        );
        assert_eq!(lookup(&&"a:b:1"), Some(("a:b".to_owned(), 1)));
    }

    #[test]
    fn malformed_strings_fail_with_std_s_errors() {
        for (text, message) in [
            ("localhost", "invalid socket address"),
            ("localhost:http", "invalid port value"),
            ("localhost:65536", "invalid port value"),
            ("127.0.0.1", "invalid socket address"),
        ] {
            let ours = error_of(text);
            let std = std::net::ToSocketAddrs::to_socket_addrs(text).unwrap_err();
            assert_eq!(ours.kind(), io::ErrorKind::InvalidInput, "{text}");
            assert_eq!(ours.kind(), std.kind(), "{text}");
            assert_eq!(ours.to_string(), message, "{text}");
            assert_eq!(ours.to_string(), std.to_string(), "{text}");
        }
    }
}
