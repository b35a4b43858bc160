//! Typed security values of a plan: capabilities, rlimits and the seccomp filter. Names are
//! parsed once, by the front end, at the line that wrote them; the executor never sees a name
//! it could drop.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Linux capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capability(pub caps::Capability);

impl Capability {
    /// `"net_admin"`, `"NET_ADMIN"`, `"CAP_NET_ADMIN"`.
    pub fn parse(name: &str) -> Option<Capability> {
        let upper = name.trim().to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        caps::Capability::from_str(&full).ok().map(Capability)
    }

    /// Every capability the caps crate knows.
    pub fn all() -> impl Iterator<Item = Capability> {
        caps::all().into_iter().map(Capability)
    }

    /// `"CAP_CHOWN"`.
    pub fn name(self) -> String {
        self.0.to_string()
    }
}

/// In the kernel's order (CHOWN, DAC_OVERRIDE, ...): comparing numbers, not names, as sets
/// of them are built at every start.
impl Ord for Capability {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.index().cmp(&other.0.index())
    }
}

impl PartialOrd for Capability {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Capability::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown capability {name:?}")))
    }
}

/// The capabilities the command keeps, in the kernel's order.
pub type CapabilitySet = BTreeSet<Capability>;

/// The per-process limits setrlimit knows, by their `[rlimits]` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RlimitKind {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RlimitKind {
    pub const ALL: [RlimitKind; 16] = [
        RlimitKind::As,
        RlimitKind::Core,
        RlimitKind::Cpu,
        RlimitKind::Data,
        RlimitKind::Fsize,
        RlimitKind::Locks,
        RlimitKind::Memlock,
        RlimitKind::Msgqueue,
        RlimitKind::Nice,
        RlimitKind::Nofile,
        RlimitKind::Nproc,
        RlimitKind::Rss,
        RlimitKind::Rtprio,
        RlimitKind::Rttime,
        RlimitKind::Sigpending,
        RlimitKind::Stack,
    ];

    /// The kernel's number for it (`RLIMIT_NOFILE`).
    pub fn resource(self) -> libc::__rlimit_resource_t {
        match self {
            RlimitKind::As => libc::RLIMIT_AS,
            RlimitKind::Core => libc::RLIMIT_CORE,
            RlimitKind::Cpu => libc::RLIMIT_CPU,
            RlimitKind::Data => libc::RLIMIT_DATA,
            RlimitKind::Fsize => libc::RLIMIT_FSIZE,
            RlimitKind::Locks => libc::RLIMIT_LOCKS,
            RlimitKind::Memlock => libc::RLIMIT_MEMLOCK,
            RlimitKind::Msgqueue => libc::RLIMIT_MSGQUEUE,
            RlimitKind::Nice => libc::RLIMIT_NICE,
            RlimitKind::Nofile => libc::RLIMIT_NOFILE,
            RlimitKind::Nproc => libc::RLIMIT_NPROC,
            RlimitKind::Rss => libc::RLIMIT_RSS,
            RlimitKind::Rtprio => libc::RLIMIT_RTPRIO,
            RlimitKind::Rttime => libc::RLIMIT_RTTIME,
            RlimitKind::Sigpending => libc::RLIMIT_SIGPENDING,
            RlimitKind::Stack => libc::RLIMIT_STACK,
        }
    }

    /// The `[rlimits]` key: `"nofile"`.
    pub fn name(self) -> &'static str {
        match self {
            RlimitKind::As => "as",
            RlimitKind::Core => "core",
            RlimitKind::Cpu => "cpu",
            RlimitKind::Data => "data",
            RlimitKind::Fsize => "fsize",
            RlimitKind::Locks => "locks",
            RlimitKind::Memlock => "memlock",
            RlimitKind::Msgqueue => "msgqueue",
            RlimitKind::Nice => "nice",
            RlimitKind::Nofile => "nofile",
            RlimitKind::Nproc => "nproc",
            RlimitKind::Rss => "rss",
            RlimitKind::Rtprio => "rtprio",
            RlimitKind::Rttime => "rttime",
            RlimitKind::Sigpending => "sigpending",
            RlimitKind::Stack => "stack",
        }
    }
}

/// One rlimit; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlimitSpec {
    pub name: RlimitKind,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The seccomp profile a front end asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeccompProfile {
    /// The launcher's own allow-list.
    Default,
    /// No filter.
    Unconfined,
    /// A Docker/OCI JSON profile, absolute.
    File(PathBuf),
}

impl fmt::Display for SeccompProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompProfile::Default => f.write_str("default"),
            SeccompProfile::Unconfined => f.write_str("unconfined"),
            SeccompProfile::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The filter the command gets: none, or a program compiled for this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "filter", rename_all = "lowercase")]
pub enum SeccompFilter {
    Unconfined,
    Compiled {
        profile: SeccompProfile,
        /// Size of the program, in bytes.
        size: usize,
        /// System call names the profile lists that this machine does not know.
        unknown_names: Vec<String>,
        /// The program (struct sock_filter array).
        bpf: Bpf,
    },
}

/// A compiled BPF program, as libseccomp exports it; hex in JSON. Never empty.
#[derive(Clone, PartialEq, Eq)]
pub struct Bpf(Vec<u8>);

impl Bpf {
    /// A program of whole 8-byte instructions, at least one.
    pub fn new(bytes: Vec<u8>) -> Result<Bpf, String> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
            return Err(format!(
                "a BPF program is whole 8-byte instructions, not {} bytes",
                bytes.len()
            ));
        }
        Ok(Bpf(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bpf({} bytes)", self.0.len())
    }
}

impl Serialize for Bpf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written at every start (in the container's record): one allocation, no formatting.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = Vec::with_capacity(self.0.len() * 2);
        for byte in &self.0 {
            hex.push(DIGITS[usize::from(byte >> 4)]);
            hex.push(DIGITS[usize::from(byte & 0xf)]);
        }
        s.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Bpf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let bytes = bytes.ok_or_else(|| serde::de::Error::custom("a BPF program in hex"))?;
        Bpf::new(bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_parse_with_or_without_cap() {
        let chown = Capability(caps::Capability::CAP_CHOWN);
        assert_eq!(Capability::parse("chown"), Some(chown));
        assert_eq!(Capability::parse("CAP_CHOWN"), Some(chown));
        assert_eq!(Capability::parse("NOPE"), None);
        assert_eq!(chown.name(), "CAP_CHOWN");
    }

    #[test]
    fn a_bpf_program_round_trips_through_hex_and_refuses_nonsense() {
        let bpf = Bpf::new(vec![1, 2, 3, 4, 5, 6, 7, 0xff]).unwrap();
        let json = serde_json::to_string(&bpf).unwrap();
        assert_eq!(json, "\"01020304050607ff\"");
        assert_eq!(serde_json::from_str::<Bpf>(&json).unwrap(), bpf);
        assert!(serde_json::from_str::<Bpf>("\"\"").is_err());
        assert!(serde_json::from_str::<Bpf>("\"0102\"").is_err());
        assert!(serde_json::from_str::<Bpf>("\"zz\"").is_err());
    }

    #[test]
    fn rlimit_kinds_are_named_as_in_the_file() {
        let names: Vec<&str> = RlimitKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), 16);
        for kind in RlimitKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }
}
