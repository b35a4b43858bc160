//! What an unpack could not keep (rootless: owners, device nodes, privileged xattrs), counted
//! so that a pull can say so in a few lines instead of one per file.

use std::ffi::OsStr;

/// Counts and a few examples of each thing not kept, plus totals.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    pub files: u64,
    pub bytes: u64,
    pub whiteouts: u64,
    other_owners: u64,
    devices: Vec<String>,
    devices_skipped: u64,
    xattrs: Vec<String>,
    xattrs_skipped: u64,
}

const EXAMPLES: usize = 3;

impl Notes {
    /// Rootless, an entry keeps the unpacking user as owner; one whose owner in the image is
    /// not 0:0 (which maps onto that user in the container) loses its owner.
    pub fn owner(&mut self, uid: u32, gid: u32) {
        if uid != 0 || gid != 0 {
            self.other_owners += 1;
        }
    }

    pub fn skipped_device(&mut self, entry: &str) {
        self.devices_skipped += 1;
        if self.devices.len() < EXAMPLES {
            self.devices.push(entry.to_string());
        }
    }

    pub fn skipped_xattr(&mut self, entry: &str, name: &OsStr, why: &str) {
        self.xattrs_skipped += 1;
        if self.xattrs.len() < EXAMPLES {
            self.xattrs
                .push(format!("{} on {entry} ({why})", name.to_string_lossy()));
        }
    }

    /// One line per kind of thing not kept; empty when everything was.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.other_owners > 0 {
            lines.push(format!(
                "{} entries owned by other ids than 0:0 in the image belong to the unpacking user (rootless: no chown)",
                self.other_owners
            ));
        }
        if self.devices_skipped > 0 {
            lines.push(format!(
                "{} device nodes skipped (rootless: no mknod), e.g. {}",
                self.devices_skipped,
                self.devices.join(", ")
            ));
        }
        if self.xattrs_skipped > 0 {
            lines.push(format!(
                "{} xattrs not set, e.g. {}",
                self.xattrs_skipped,
                self.xattrs.join("; ")
            ));
        }
        lines
    }
}
