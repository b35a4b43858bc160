//! rtnetlink through netlink-packet-route and netlink-sys: one socket, requests that wait for
//! their acknowledgement, and dumps. A socket works in the network namespace it was opened
//! in; [`super::netns`] opens one inside a container's.

mod address;
mod link;

pub use address::HostRoute;

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A route netlink socket and the sequence number of its next request.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
    buffer: Vec<u8>,
}

/// Room for one read: the kernel sends dumps in chunks of at most a page or two.
const RECEIVE_BUFFER: usize = 64 * 1024;

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Extended acks make the kernel name the attribute it refused; harmless when absent.
        let _ = socket.set_ext_ack(true);
        Ok(Netlink {
            socket,
            sequence: 0,
            buffer: Vec::with_capacity(RECEIVE_BUFFER),
        })
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        Ok(self.sequence)
    }

    /// Reads replies to `sequence` and hands each inner message to `each`, until the
    /// acknowledgement (a request) or the end of the dump.
    fn receive(
        &mut self,
        sequence: u32,
        mut each: impl FnMut(RouteNetlinkMessage),
    ) -> io::Result<()> {
        loop {
            self.buffer.clear();
            let length = self.socket.recv(&mut self.buffer, 0)?;
            let mut offset = 0;
            while offset + 16 <= length.min(self.buffer.len()) {
                let size = u32::from_ne_bytes([
                    self.buffer[offset],
                    self.buffer[offset + 1],
                    self.buffer[offset + 2],
                    self.buffer[offset + 3],
                ]) as usize;
                if size < 16 || offset + size > self.buffer.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a netlink reply with a bad length",
                    ));
                }
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(
                    &self.buffer[offset..offset + size],
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                offset += (size + 3) & !3;
                if message.header.sequence_number != sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::Error(error) if error.code.is_some() => {
                        return Err(error.to_io());
                    }
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::InnerMessage(inner) => each(inner),
                    NetlinkPayload::Noop | NetlinkPayload::Overrun(_) => {}
                    _ => {}
                }
            }
        }
    }

    /// Sends a request and waits for the kernel's acknowledgement (or its errno).
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        self.receive(sequence, |_| {})
    }

    /// Sends a request for one object and collects the reply (before the acknowledgement).
    pub fn get(&mut self, message: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_ACK)?;
        let mut replies = Vec::new();
        self.receive(sequence, |reply| replies.push(reply))?;
        Ok(replies)
    }

    /// Sends a dump request and collects every message of the reply.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut replies = Vec::new();
        self.receive(sequence, |reply| replies.push(reply))?;
        Ok(replies)
    }
}
