//! The work connection's meter: a relay inside godwit, between sqlx and the server, that
//! reads the wire protocol's message lengths before sqlx reads the messages.
//!
//! sqlx reads each message whole: a row of MySQL/MariaDB (where no wrapping can make the
//! server measure its rows, see docs/security.md) or a PostgreSQL error message (a failed
//! cast quotes its input) can be as large as the server allows, far above a plugin's
//! memory limit, and would be in godwit's memory before any check could run. While a
//! plugin's statement runs, the host arms the meter (`Meter::arm`) with the plugin's cap.
//! A row over it is never passed on: the client is sent an error in its place, the rest
//! of that result is read from the server and dropped, and `Armed::disarm` says what
//! was held back, so that the host fails the plugin's call as too large (a typed
//! [`super::ResultTooLarge`], never a message to match). A PostgreSQL error or notice
//! over 64 KiB is passed on cut short. Either way the connection stays in step, and its
//! transaction open for the host to roll back.
//!
//! The relay listens on a Unix socket in a directory only this user can enter, for one
//! connection, and the other side is the server as the URL names it. Everything sqlx
//! sends passes unchanged, and so does everything the server sends while the meter is
//! not armed (godwit's own statements) or is within the cap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Which wire protocol the meter reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    MySql,
    Postgres,
}

/// Where the server listens, as the connection URL says.
#[derive(Clone, Debug)]
pub(crate) enum Upstream {
    Tcp(String, u16),
    Unix(PathBuf),
}

/// The largest PostgreSQL error or notice passed on whole while the meter is armed; a
/// longer one is cut to its short fields and the start of its message.
const NOTICE_LIMIT: usize = 64 << 10;
/// No armed limit is lower than this: protocol messages (column definitions, a MySQL
/// error, the end of a result) are never taken for an oversized row.
const LEAST_LIMIT: usize = 64 << 10;
/// How much of each field of a cut PostgreSQL error is kept.
const FIELD_KEEP: usize = 2 << 10;

/// The server's side of the relay, connected before the meter starts (so that a server
/// that cannot be reached is reported as sqlx would report it).
pub(crate) struct Server(Box<dyn Duplex>);

/// Connects to the server as the URL names it.
pub(crate) async fn connect(upstream: &Upstream) -> std::io::Result<Server> {
    Ok(Server(match upstream {
        Upstream::Tcp(host, port) => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
        Upstream::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
    }))
}

/// A running relay for one work connection (see the module's documentation). Dropping it
/// stops the relay.
pub struct Meter {
    dir: PathBuf,
    socket: PathBuf,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    /// The largest message the server may send while armed; 0 when not armed.
    limit: AtomicUsize,
    /// The size of the largest message held back since [`Meter::arm`]; 0 for none.
    held: AtomicUsize,
}

impl Meter {
    /// Listens for the one client that will reach `server` through the meter, on a
    /// socket named `socket_name` in a new directory only this user can enter.
    pub(crate) fn start(
        protocol: Protocol,
        server: Server,
        socket_name: &str,
    ) -> std::io::Result<Meter> {
        let local = |e: std::io::Error| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot make the socket godwit's meter relays the work connection through, in {}: {e}; point TMPDIR at a writable directory with a short path",
                    std::env::temp_dir().display()
                ),
            )
        };
        let dir = tempfile::Builder::new()
            .prefix("godwit-meter-")
            .tempdir()
            .map_err(local)?;
        let socket = dir.path().join(socket_name);
        let listener = tokio::net::UnixListener::bind(&socket).map_err(local)?;
        let shared = Arc::new(Shared::default());
        Ok(Meter {
            dir: dir.path().to_path_buf(),
            socket,
            shared: Arc::clone(&shared),
            task: tokio::spawn(relay(dir, listener, server.0, protocol, shared)),
        })
    }

    /// The directory holding the socket (what sqlx's PostgreSQL options take).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket itself (what sqlx's MySQL options take).
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// From now until the returned [`Armed`] is disarmed or dropped, no message of the
    /// server's larger than `cap` bytes (and never less than a protocol message needs)
    /// reaches the client.
    pub(crate) fn arm(&self, cap: usize) -> Armed {
        self.shared.held.store(0, Ordering::SeqCst);
        self.shared
            .limit
            .store(cap.saturating_add(LEAST_LIMIT), Ordering::SeqCst);
        Armed {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The meter while armed by [`Meter::arm`]; disarmed when dropped.
pub(crate) struct Armed {
    shared: Arc<Shared>,
}

impl Armed {
    /// The size of the largest row held back since [`Meter::arm`], if one was.
    pub(crate) fn held(&self) -> Option<usize> {
        match self.shared.held.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// Ends [`Meter::arm`]: the size of the largest row held back meanwhile, if one was.
    pub(crate) fn disarm(self) -> Option<usize> {
        self.held()
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.shared.limit.store(0, Ordering::SeqCst);
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// The relay: one client, then both directions until either side closes. A filter that
/// cannot keep the two sides in step ([`Cut`]) closes both, which the server takes as the
/// client gone (rolling its transaction back). The socket and its directory are removed
/// as soon as the client is in (or the relay is dropped before): godwit often exits
/// without dropping its connections, and must leave nothing behind in the temp directory.
async fn relay(
    dir: tempfile::TempDir,
    listener: tokio::net::UnixListener,
    server: Box<dyn Duplex>,
    protocol: Protocol,
    shared: Arc<Shared>,
) {
    let accepted = listener.accept().await;
    drop(listener);
    drop(dir);
    let Ok((client, _)) = accepted else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let mut filter = Filter::new(protocol, shared);
        let mut buf = vec![0u8; 64 << 10];
        let mut out = Vec::with_capacity(buf.len());
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            out.clear();
            if filter.feed(&buf[..n], &mut out).is_err() {
                break;
            }
            if client_write.write_all(&out).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// The relay cannot keep client and server in step past this point.
#[derive(Debug, PartialEq, Eq)]
struct Cut;

/// What happens to the body of the message being read.
#[derive(Debug, PartialEq, Eq)]
enum Body {
    Forward,
    Drop,
    /// A PostgreSQL error or notice kept in part, sent on once read.
    Shorten,
    /// A part of a MySQL logical packet that spans several, kept until the last part
    /// shows the whole is within the limit (sent on then) or the limit is passed.
    Hold,
}

/// The server-to-client half of the protocol, read as a stream of length-prefixed
/// messages; bytes are passed on as they come, never gathered beyond a header.
struct Filter {
    protocol: Protocol,
    shared: Arc<Shared>,
    /// The header (and, for MySQL, the first payload bytes) of the next message.
    head: Vec<u8>,
    /// Bytes of the current message's body still to come; `None` while reading a head.
    left: Option<usize>,
    body: Body,
    /// MySQL: the packet being read continues the previous one (which was 2^24 - 1
    /// bytes long).
    continuing: bool,
    /// MySQL: the size so far of the logical packet being passed on.
    logical: usize,
    /// MySQL: the parts so far of a logical packet in several (see [`Body::Hold`]), and
    /// the sequence id of its first.
    hold: Vec<u8>,
    hold_sequence: u8,
    /// A row was held back: drop what the server sends until its result ends.
    discarding: bool,
    /// MySQL: the packet being dropped ends the result.
    ends: bool,
    /// PostgreSQL: the error or notice being shortened.
    shortened: Shortened,
}

impl Filter {
    fn new(protocol: Protocol, shared: Arc<Shared>) -> Filter {
        Filter {
            protocol,
            shared,
            head: Vec::with_capacity(16),
            left: None,
            body: Body::Forward,
            continuing: false,
            logical: 0,
            hold: Vec::new(),
            hold_sequence: 0,
            discarding: false,
            ends: false,
            shortened: Shortened::default(),
        }
    }

    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), Cut> {
        while !input.is_empty() {
            match self.left {
                None => {
                    let want = self.head_len();
                    let take = (want - self.head.len()).min(input.len());
                    self.head.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.head.len() == self.head_len() {
                        let left = self.start(out)?;
                        self.head.clear();
                        self.left = Some(left);
                        if left == 0 {
                            self.finish(out);
                        }
                    }
                }
                Some(left) => {
                    let take = left.min(input.len());
                    match self.body {
                        Body::Forward => out.extend_from_slice(&input[..take]),
                        Body::Drop => {}
                        Body::Shorten => self.shortened.feed(&input[..take]),
                        Body::Hold => self.hold.extend_from_slice(&input[..take]),
                    }
                    input = &input[take..];
                    self.left = Some(left - take);
                    if left == take {
                        self.finish(out);
                    }
                }
            }
        }
        Ok(())
    }

    /// How many bytes the head of the current message takes: MySQL's four-byte header
    /// and, on a packet that starts a logical one, up to 9 bytes of payload (enough to
    /// tell an error or the end of a result from a row); PostgreSQL's type and length.
    fn head_len(&self) -> usize {
        match self.protocol {
            Protocol::Postgres => 5,
            Protocol::MySql if self.head.len() < 4 => 4,
            Protocol::MySql => {
                let len = mysql_len(&self.head);
                4 + if self.continuing { 0 } else { len.min(9) }
            }
        }
    }

    /// Decides what to do with the message whose head was just read; returns how many
    /// of its body's bytes are still to come.
    fn start(&mut self, out: &mut Vec<u8>) -> Result<usize, Cut> {
        match self.protocol {
            Protocol::MySql => self.start_mysql(out),
            Protocol::Postgres => Ok(self.start_postgres(out)),
        }
    }

    fn start_mysql(&mut self, out: &mut Vec<u8>) -> Result<usize, Cut> {
        let len = mysql_len(&self.head);
        let sequence = self.head[3];
        let prefix = &self.head[4..];
        let continuing = std::mem::replace(&mut self.continuing, len == 0xFF_FFFF);
        let limit = self.shared.limit.load(Ordering::SeqCst);
        self.body = if self.discarding {
            if !continuing {
                match prefix.first() {
                    Some(0xFF) => self.ends = true,
                    Some(0xFE) if len < 9 => {
                        if more_results(prefix) {
                            // Another result follows; the relay does not follow a second
                            // one's metadata while dropping it.
                            return Err(Cut);
                        }
                        self.ends = true;
                    }
                    _ => {}
                }
            }
            Body::Drop
        } else {
            self.logical = if continuing {
                self.logical.saturating_add(len)
            } else {
                len
            };
            let holding = continuing && !self.hold.is_empty();
            if limit != 0 && self.logical > limit {
                if continuing && !holding {
                    // Part of this logical packet was passed on already (the meter was
                    // armed in its middle); no error can take the rest's place.
                    return Err(Cut);
                }
                let sequence = if holding {
                    self.hold_sequence
                } else {
                    sequence
                };
                self.hold = Vec::new();
                self.shared.held.fetch_max(self.logical, Ordering::SeqCst);
                mysql_error(
                    out,
                    sequence,
                    self.logical,
                    limit.saturating_sub(LEAST_LIMIT),
                );
                self.discarding = true;
                Body::Drop
            } else if limit != 0 && (holding || len == 0xFF_FFFF) {
                if !holding {
                    self.hold_sequence = sequence;
                }
                Body::Hold
            } else {
                Body::Forward
            }
        };
        match self.body {
            Body::Forward => out.extend_from_slice(&self.head),
            Body::Hold => self.hold.extend_from_slice(&self.head),
            Body::Drop | Body::Shorten => {}
        }
        Ok(len - (self.head.len() - 4))
    }

    fn start_postgres(&mut self, out: &mut Vec<u8>) -> usize {
        let kind = self.head[0];
        let len = (u32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]])
            as usize)
            .saturating_sub(4);
        let limit = self.shared.limit.load(Ordering::SeqCst);
        self.body = if self.discarding {
            if kind == b'Z' {
                self.discarding = false;
                Body::Forward
            } else {
                Body::Drop
            }
        } else if limit == 0 {
            Body::Forward
        } else if matches!(kind, b'E' | b'N') && len > NOTICE_LIMIT {
            self.shortened = Shortened {
                kind,
                len,
                ..Shortened::default()
            };
            Body::Shorten
        } else if len > limit {
            self.shared.held.fetch_max(len, Ordering::SeqCst);
            postgres_error(out, len, limit.saturating_sub(LEAST_LIMIT));
            self.discarding = true;
            Body::Drop
        } else {
            Body::Forward
        };
        if self.body == Body::Forward {
            out.extend_from_slice(&self.head);
        }
        len
    }

    /// The current message's body is all read.
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.left = None;
        match self.body {
            Body::Shorten => std::mem::take(&mut self.shortened).write(out),
            // The last part of a logical packet in several: the whole is within the limit.
            Body::Hold if !self.continuing => out.append(&mut self.hold),
            _ => {}
        }
        if self.ends {
            self.ends = false;
            self.discarding = false;
        }
    }
}

fn mysql_len(head: &[u8]) -> usize {
    usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16
}

/// Whether the end-of-result packet `payload` (under 9 bytes) says another result
/// follows: as an EOF packet (0xFE, warnings, status) or, where the client asked for no
/// EOF packets, as an OK packet headed 0xFE (affected rows and last id as length-encoded
/// integers, then the status).
fn more_results(payload: &[u8]) -> bool {
    const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
    let status_at = if payload.len() == 5 {
        3
    } else {
        let mut at = 1;
        for _ in 0..2 {
            at += match payload.get(at) {
                Some(0xFC) => 3,
                Some(0xFD) => 4,
                Some(0xFE) => 9,
                _ => 1,
            };
        }
        at
    };
    match payload.get(status_at..status_at + 2) {
        Some(&[low, high]) => u16::from_le_bytes([low, high]) & SERVER_MORE_RESULTS_EXISTS != 0,
        // Too short to say: take it as more, which cuts rather than guesses.
        _ => true,
    }
}

fn held_message(len: usize, cap: usize) -> String {
    format!(
        "godwit held back a row of {len} bytes: larger than the {cap} bytes this plugin's memory limit lets the host read for it; the rest of the result was not read"
    )
}

/// An ERR packet in place of a row (ER_NET_PACKET_TOO_LARGE, SQLSTATE 08S01).
fn mysql_error(out: &mut Vec<u8>, sequence: u8, len: usize, cap: usize) {
    let message = held_message(len, cap);
    let mut payload = vec![0xFF];
    payload.extend_from_slice(&1153u16.to_le_bytes());
    payload.extend_from_slice(b"#08S01");
    payload.extend_from_slice(message.as_bytes());
    let n = payload.len();
    out.extend_from_slice(&[n as u8, (n >> 8) as u8, (n >> 16) as u8, sequence]);
    out.extend_from_slice(&payload);
}

/// An ErrorResponse in place of a row (SQLSTATE 54000, program_limit_exceeded).
fn postgres_error(out: &mut Vec<u8>, len: usize, cap: usize) {
    let message = held_message(len, cap);
    postgres_message(
        out,
        b'E',
        &[
            (b'S', b"ERROR".as_slice()),
            (b'V', b"ERROR"),
            (b'C', b"54000"),
            (b'M', message.as_bytes()),
        ],
    );
}

fn postgres_message(out: &mut Vec<u8>, kind: u8, fields: &[(u8, &[u8])]) {
    let body: usize = fields.iter().map(|(_, v)| v.len() + 2).sum::<usize>() + 1;
    out.push(kind);
    out.extend_from_slice(&((body + 4) as u32).to_be_bytes());
    for (code, value) in fields {
        out.push(*code);
        out.extend_from_slice(value);
        out.push(0);
    }
    out.push(0);
}

/// A PostgreSQL error or notice read field by field, keeping the start of each.
#[derive(Default)]
struct Shortened {
    kind: u8,
    /// The whole body's length, as the server sent it.
    len: usize,
    fields: Vec<(u8, Vec<u8>, usize)>,
    /// Inside a field's value (its code read), or between fields.
    in_value: bool,
    done: bool,
}

impl Shortened {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.done {
            if !self.in_value {
                let code = bytes[0];
                bytes = &bytes[1..];
                if code == 0 {
                    self.done = true;
                } else {
                    self.fields.push((code, Vec::new(), 0));
                    self.in_value = true;
                }
                continue;
            }
            let Some((_, kept, total)) = self.fields.last_mut() else {
                return;
            };
            let end = bytes.iter().position(|&b| b == 0);
            let part = &bytes[..end.unwrap_or(bytes.len())];
            let room = FIELD_KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&part[..room.min(part.len())]);
            *total += part.len();
            match end {
                Some(end) => {
                    self.in_value = false;
                    bytes = &bytes[end + 1..];
                }
                None => bytes = &[],
            }
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        let len = self.len;
        let fields: Vec<(u8, Vec<u8>)> = self
            .fields
            .into_iter()
            .map(|(code, mut kept, total)| {
                // Cut at a character, never inside one.
                let valid = match std::str::from_utf8(&kept) {
                    Ok(_) => kept.len(),
                    Err(e) => e.valid_up_to(),
                };
                kept.truncate(valid);
                if total > kept.len() {
                    kept.extend_from_slice(
                        format!(" … [godwit cut this field to {valid} of {total} bytes; the whole message was {len} bytes]").as_bytes(),
                    );
                }
                (code, kept)
            })
            .collect();
        let fields: Vec<(u8, &[u8])> = fields.iter().map(|(c, v)| (*c, v.as_slice())).collect();
        postgres_message(out, self.kind, &fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(protocol: Protocol, limit: usize) -> Filter {
        let shared = Arc::new(Shared::default());
        shared.limit.store(limit, Ordering::SeqCst);
        Filter::new(protocol, shared)
    }

    fn mysql_packet(sequence: u8, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut out = vec![n as u8, (n >> 8) as u8, (n >> 16) as u8, sequence];
        out.extend_from_slice(payload);
        out
    }

    /// Feeds `input` a byte at a time and in one piece: the output is the same.
    fn through(make: impl Fn() -> Filter, input: &[u8]) -> Result<Vec<u8>, Cut> {
        let mut whole = Vec::new();
        make().feed(input, &mut whole)?;
        let mut bytewise = Vec::new();
        let mut f = make();
        for b in input {
            let mut out = Vec::new();
            f.feed(std::slice::from_ref(b), &mut out)?;
            bytewise.extend(out);
        }
        assert_eq!(whole, bytewise);
        Ok(whole)
    }

    #[test]
    fn mysql_rows_within_the_limit_pass_unchanged() {
        let mut input = mysql_packet(1, &[1]);
        input.extend(mysql_packet(2, &[0x03, b'd', b'e', b'f', 0, 0]));
        input.extend(mysql_packet(3, &[b'x'; 100]));
        input.extend(mysql_packet(4, &[0xFE, 0, 0, 0x02, 0, 0, 0]));
        input.extend(mysql_packet(0, &[0xFE]));
        assert_eq!(through(|| filter(Protocol::MySql, 200), &input), Ok(input));
    }

    #[test]
    fn a_mysql_row_over_the_limit_becomes_an_error_and_the_rest_is_dropped() {
        let mut input = mysql_packet(1, &[1]);
        input.extend(mysql_packet(2, &[5u8; 20]));
        input.extend(mysql_packet(3, &[b'x'; 300]));
        input.extend(mysql_packet(4, &[b'y'; 50]));
        input.extend(mysql_packet(5, &[0xFE, 0, 0, 0x02, 0, 0, 0]));
        // The next command's answer passes again.
        let next = mysql_packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        input.extend(&next);
        let out = through(|| filter(Protocol::MySql, 200), &input).unwrap();
        let mut expected = mysql_packet(1, &[1]);
        expected.extend(mysql_packet(2, &[5u8; 20]));
        assert!(out.starts_with(&expected));
        let error = &out[expected.len()..out.len() - next.len()];
        assert_eq!(
            (error[3], error[4]),
            (3, 0xFF),
            "an ERR packet in the row's place"
        );
        assert_eq!(mysql_len(error) + 4, error.len());
        assert!(out.ends_with(&next));
    }

    #[test]
    fn a_mysql_result_ending_in_an_error_ends_the_dropping() {
        let mut input = mysql_packet(3, &[b'x'; 300]);
        input.extend(mysql_packet(
            4,
            &[0xFF, 0x25, 0x05, b'#', b'7', b'0', b'1', b'0', b'0', b'!'],
        ));
        let next = mysql_packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        input.extend(&next);
        let out = through(|| filter(Protocol::MySql, 200), &input).unwrap();
        assert!(out.ends_with(&next));
        assert_eq!(out[4], 0xFF);
        assert_eq!(out.len(), mysql_len(&out) + 4 + next.len());
    }

    #[test]
    fn a_mysql_row_in_several_packets_is_measured_whole() {
        // A logical packet of 2^24 - 1 bytes continues in the next one, whose first byte
        // is data (0xFE here), not the end of the result.
        let mut payload = vec![b'x'; 0xFF_FFFF];
        payload[0] = 0xFE;
        let mut input = mysql_packet(3, &payload);
        input.extend(mysql_packet(4, &[0xFE, 1, 2]));
        input.extend(mysql_packet(5, &[0xFE, 0, 0, 0x02, 0, 0, 0]));
        let next = mysql_packet(1, &[0, 0, 0, 2, 0, 0, 0]);
        input.extend(&next);
        let mut out = Vec::new();
        filter(Protocol::MySql, 1000)
            .feed(&input, &mut out)
            .unwrap();
        assert_eq!(out[4], 0xFF);
        assert!(out.ends_with(&next));
        assert_eq!(out.len(), mysql_len(&out) + 4 + next.len());
        // Not armed, all of it passes.
        let mut out = Vec::new();
        filter(Protocol::MySql, 0).feed(&input, &mut out).unwrap();
        assert_eq!(out, input);
        // Armed above the first part: the parts are held until the second takes the
        // logical packet over the limit, and the error takes the first part's place.
        let held = through(|| filter(Protocol::MySql, 0xFF_FFFF + 1), &input).unwrap();
        assert_eq!((held[3], held[4]), (3, 0xFF));
        assert!(held.ends_with(&next));
        assert_eq!(held.len(), mysql_len(&held) + 4 + next.len());
        // Armed above the whole: the parts pass once the last shows it.
        assert_eq!(
            through(|| filter(Protocol::MySql, 0xFF_FFFF + 3), &input),
            Ok(input)
        );
    }

    #[test]
    fn more_results_are_read_from_eof_and_ok_packets() {
        assert!(more_results(&[0xFE, 0, 0, 0x0A, 0]));
        assert!(!more_results(&[0xFE, 0, 0, 0x02, 0]));
        assert!(more_results(&[0xFE, 0, 0, 0x0A, 0, 0, 0]));
        assert!(!more_results(&[0xFE, 0, 0, 0x02, 0, 0, 0]));
        assert!(!more_results(&[0xFE, 0xFC, 1, 0, 0, 0x02, 0, 0]));
        assert!(more_results(&[0xFE]));
    }

    fn pg_message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_postgres_row_over_the_limit_becomes_an_error_until_ready_for_query() {
        let mut input = pg_message(b'T', &[0, 1]);
        input.extend(pg_message(b'D', &[b'x'; 300]));
        input.extend(pg_message(b'D', &[b'y'; 10]));
        input.extend(pg_message(b'C', b"SELECT 2\0"));
        let ready = pg_message(b'Z', b"T");
        input.extend(&ready);
        let out = through(|| filter(Protocol::Postgres, 200), &input).unwrap();
        assert!(out.starts_with(&pg_message(b'T', &[0, 1])));
        assert_eq!(out[7], b'E');
        assert!(out.windows(7).any(|w| w == b"C54000\0"));
        assert!(out.ends_with(&ready));
        assert!(!out.windows(3).any(|w| w == b"yyy"));
    }

    #[test]
    fn a_long_postgres_error_is_cut_to_the_start_of_each_field() {
        let long = "é".repeat(NOTICE_LIMIT);
        let body = format!(
            "SERROR\0VERROR\0C22P02\0Minvalid input syntax for type integer: \"{long}\"\0\0"
        );
        let mut input = pg_message(b'E', body.as_bytes());
        let ready = pg_message(b'Z', b"E");
        input.extend(&ready);
        let out = through(|| filter(Protocol::Postgres, LEAST_LIMIT + 10), &input).unwrap();
        assert!(out.len() < FIELD_KEEP + 400, "{}", out.len());
        assert!(out.ends_with(&ready));
        let error = &out[..out.len() - ready.len()];
        assert_eq!(error[0], b'E');
        assert_eq!(
            u32::from_be_bytes([error[1], error[2], error[3], error[4]]) as usize,
            error.len() - 1
        );
        let text = std::str::from_utf8(&error[5..]).expect("cut at a character");
        assert!(text.starts_with("SERROR\0VERROR\0C22P02\0Minvalid input syntax"));
        assert!(text.contains("godwit cut this field"));
        assert!(text.ends_with("\0\0"));
        // Not armed: the host's own errors pass whole.
        assert_eq!(through(|| filter(Protocol::Postgres, 0), &input), Ok(input));
    }
}
