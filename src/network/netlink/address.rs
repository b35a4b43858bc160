//! Addresses and routes: an IPv4 address on a link, the default route via a gateway, and the
//! host's routes (to check a subnet against before use).

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::Netlink;
use crate::network::subnet::Subnet;

/// A route of the host's main table: what a new subnet must not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    pub destination: Subnet,
    /// The index of the link it goes out of (0 when it has none, as for a blackhole).
    pub link: u32,
}

impl Netlink {
    /// Adds `address/prefix` to link `index`; `replace` makes it idempotent (a bridge that
    /// has it already).
    pub fn add_address(
        &mut self,
        index: u32,
        address: Ipv4Addr,
        prefix: u8,
        replace: bool,
    ) -> io::Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message
            .attributes
            .push(AddressAttribute::Local(IpAddr::V4(address)));
        message
            .attributes
            .push(AddressAttribute::Address(IpAddr::V4(address)));
        let flags = if replace {
            NLM_F_CREATE | NLM_F_REPLACE
        } else {
            NLM_F_CREATE | NLM_F_EXCL
        };
        self.request(RouteNetlinkMessage::NewAddress(message), flags)
    }

    /// Adds the default route via `gateway` out of link `index`.
    pub fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> io::Result<()> {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        message.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// The IPv4 routes of the main table, less default routes (every subnet overlaps those).
    pub fn host_routes(&mut self) -> io::Result<Vec<HostRoute>> {
        let mut query = RouteMessage::default();
        query.header.address_family = AddressFamily::Inet;
        let replies = self.dump(RouteNetlinkMessage::GetRoute(query))?;
        let mut routes = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewRoute(route) = reply else {
                continue;
            };
            if route.header.table != RouteHeader::RT_TABLE_MAIN
                || route.header.destination_prefix_length == 0
            {
                continue;
            }
            let mut destination = None;
            let mut link = 0;
            for attribute in &route.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(address)) => {
                        destination = Some(*address)
                    }
                    RouteAttribute::Oif(index) => link = *index,
                    _ => {}
                }
            }
            let prefix = route.header.destination_prefix_length;
            if let Some(Ok(destination)) = destination.map(|d| Subnet::new(d, prefix)) {
                routes.push(HostRoute { destination, link });
            }
        }
        Ok(routes)
    }

    /// The name of link `index` (for messages), or its number when it has gone.
    pub fn link_name(&mut self, index: u32) -> String {
        let mut message = LinkMessage::default();
        message.header.index = index;
        let replies = self
            .get(RouteNetlinkMessage::GetLink(message))
            .unwrap_or_default();
        replies
            .into_iter()
            .find_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => {
                    link.attributes.into_iter().find_map(|a| match a {
                        LinkAttribute::IfName(name) => Some(name),
                        _ => None,
                    })
                }
                _ => None,
            })
            .unwrap_or_else(|| format!("#{index}"))
    }
}
