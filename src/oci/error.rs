//! The one error of the OCI commands: what was being done, to what, why, and what to try.
//! The binary writes it to stderr and to `--log` (text or JSON), where engines read it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciError {
    pub message: String,
    pub hint: Option<String>,
    /// The exit status: 1 as runc's, or the command's (125, 126, 127) when it could not start.
    pub exit: u8,
    /// Warnings of what ran after the failure (poststop hooks that failed too): written
    /// before the error, at level "warning".
    pub warnings: Vec<String>,
}

impl OciError {
    pub fn new(message: impl Into<String>) -> Self {
        OciError {
            message: message.into(),
            hint: None,
            exit: 1,
            warnings: Vec::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings.extend(warnings);
        self
    }

    pub fn exit(mut self, code: u8) -> Self {
        self.exit = code;
        self
    }

    /// A failed file operation: `doing` (with the path), and the error.
    pub fn io(doing: impl fmt::Display) -> impl FnOnce(std::io::Error) -> OciError {
        move |e| OciError::new(format!("{doing}: {e}"))
    }

    /// The container is not in the state folder.
    pub fn no_such(id: &str) -> Self {
        OciError::new(format!("container \"{id}\" does not exist"))
            .hint("`list` shows the containers of this --root")
    }
}

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OciError {}
