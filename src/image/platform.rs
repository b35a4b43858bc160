//! Platforms (`linux/amd64`, `linux/arm64/v8`): this machine's, one the caller asks for, and
//! which entry of an image index matches.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An OCI platform: os, architecture and, for ARM, a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The machine this launcher was built for, in the names Go (and so the registries) use.
    pub fn current() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(str::to_string),
        }
    }

    /// `os/architecture[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(format!(
                "platform {text:?} is not os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8"
            )),
        }
    }

    /// Whether an index entry for `offered` runs here when `self` is wanted. A missing variant
    /// on either side matches (arm64 images rarely say v8); otherwise they must agree.
    pub fn matches(&self, offered: &Platform) -> bool {
        self.os == offered.os
            && self.architecture == offered.architecture
            && match (&self.variant, &offered.variant) {
                (Some(want), Some(got)) => want == got,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for text in ["linux/amd64", "linux/arm64/v8", "linux/arm/v6"] {
            assert_eq!(Platform::parse(text).unwrap().to_string(), text);
        }
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/AMD64").is_err());
    }

    #[test]
    fn a_missing_variant_matches_and_a_different_one_does_not() {
        let want = Platform::parse("linux/arm64/v8").unwrap();
        assert!(want.matches(&Platform::parse("linux/arm64").unwrap()));
        assert!(!want.matches(&Platform::parse("linux/arm64/v9").unwrap()));
        assert!(!want.matches(&Platform::parse("linux/amd64").unwrap()));
    }

    #[test]
    fn current_is_linux() {
        assert_eq!(Platform::current().os, "linux");
    }
}
