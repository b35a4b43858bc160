//! Links: bridges, veth pairs (one end created straight in the container's namespace), up,
//! lookup by name, removal.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};

use super::Netlink;

fn named(name: &str) -> LinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    message
}

fn up(message: &mut LinkMessage) {
    message.header.flags |= LinkFlags::Up;
    message.header.change_mask |= LinkFlags::Up;
}

impl Netlink {
    /// The index of the link called `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        match self.get(RouteNetlinkMessage::GetLink(named(name))) {
            Ok(replies) => Ok(replies.into_iter().find_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => Some(link.header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a bridge, up. Fails with EEXIST when `name` is taken.
    pub fn add_bridge(&mut self, name: &str) -> io::Result<()> {
        let mut message = named(name);
        message
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        up(&mut message);
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Creates a veth pair in one request: `host` here, a port of bridge `master`, up;
    /// its peer `peer` straight in the namespace `netns` (a /proc/PID/ns/net descriptor),
    /// so the container's end never appears among the host's links.
    pub fn add_veth_into(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        netns: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let mut peer_message = named(peer);
        peer_message
            .attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut message = named(host);
        message.attributes.push(LinkAttribute::Controller(master));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ]));
        up(&mut message);
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Sets the link `index` up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        up(&mut message);
        self.request(RouteNetlinkMessage::SetLink(message), 0)
    }

    /// Removes the link called `name`; `Ok(false)` when there was none.
    pub fn delete_link(&mut self, name: &str) -> io::Result<bool> {
        match self.request(RouteNetlinkMessage::DelLink(named(name)), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The names of every link.
    pub fn link_names(&mut self) -> io::Result<Vec<String>> {
        let replies = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => {
                    link.attributes.into_iter().find_map(|a| match a {
                        LinkAttribute::IfName(name) => Some(name),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }
}
