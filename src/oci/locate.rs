//! JSON paths (`linux.namespaces[2].type`) and where they are in a document's text, so that a
//! problem found after parsing still names its line.

use std::fmt;

/// One step of a path: a member's key or an element's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document's top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonPath(pub Vec<Seg>);

impl JsonPath {
    /// `linux.namespaces[2]` from `"linux.namespaces[2]"` (keys hold no `.` or `[` here).
    pub fn parse(text: &str) -> JsonPath {
        let mut segs = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
            if !key.is_empty() {
                segs.push(Seg::Key(key.to_string()));
            }
            for index in rest.split('[') {
                if let Ok(i) = index.trim_end_matches(']').parse() {
                    segs.push(Seg::Index(i));
                }
            }
        }
        JsonPath(segs)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) if i == 0 => write!(f, "{key}")?,
                Seg::Key(key) => write!(f, ".{key}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The (line, column) of the value at `path` in `text`, from 1; for a path that is not there,
/// the place of its nearest parent.
pub fn line_of(text: &str, path: &JsonPath) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut scanner = Scanner { bytes, pos: 0 };
    scanner.find(&path.0);
    let before = &text[..scanner.pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn blank(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Leaves `pos` at the value `path` names (or the nearest parent found).
    fn find(&mut self, path: &[Seg]) {
        self.blank();
        let Some(first) = path.first() else { return };
        let start = self.pos;
        match (self.peek(), first) {
            (Some(b'{'), Seg::Key(wanted)) => {
                self.pos += 1;
                loop {
                    self.blank();
                    if self.peek() != Some(b'"') {
                        break;
                    }
                    let key = self.string();
                    self.blank();
                    if self.peek() == Some(b':') {
                        self.pos += 1;
                    }
                    self.blank();
                    if key == *wanted {
                        return self.find(&path[1..]);
                    }
                    self.skip();
                    self.blank();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                }
            }
            (Some(b'['), Seg::Index(wanted)) => {
                self.pos += 1;
                for index in 0.. {
                    self.blank();
                    if matches!(self.peek(), None | Some(b']')) {
                        break;
                    }
                    if index == *wanted {
                        return self.find(&path[1..]);
                    }
                    self.skip();
                    self.blank();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                }
            }
            _ => {}
        }
        self.pos = start;
    }

    /// A string's text (escapes kept as written: keys of configs have none).
    fn string(&mut self) -> String {
        self.pos += 1;
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.pos += 2,
                b'"' => break,
                _ => self.pos += 1,
            }
        }
        let text = String::from_utf8_lossy(&self.bytes[start..self.pos.min(self.bytes.len())]);
        self.pos += 1;
        text.into_owned()
    }

    /// Skips one value.
    fn skip(&mut self) {
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(b) = self.peek() {
                    match b {
                        b'"' => {
                            self.string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\n  \"process\": {\"args\": [\"sh\"]},\n  \"linux\": {\n    \"namespaces\": [\n      {\"type\": \"pid\"},\n      {\"type\": \"time\"}\n    ]\n  }\n}\n";

    #[test]
    fn a_path_is_found_at_its_line() {
        let at = |p: &str| line_of(TEXT, &JsonPath::parse(p)).0;
        assert_eq!(at("process.args[0]"), 2);
        assert_eq!(at("linux.namespaces[1].type"), 6);
        assert_eq!(at("linux.namespaces[0]"), 5);
        // Not there: its nearest parent.
        assert_eq!(at("linux.seccomp"), 3);
    }

    #[test]
    fn a_path_prints_as_written() {
        let path = JsonPath::parse("linux.namespaces[2].type");
        assert_eq!(path.to_string(), "linux.namespaces[2].type");
    }
}
