//! Every problem at once, even when the shape is wrong: the values the shape check refused are
//! taken out of the parsed file (or, where the file must have one, replaced by a placeholder),
//! what is left is validated as usual, and the validation's problems about a value that
//! was taken out are dropped. A file with a typo'd key, an empty command and a relative mount
//! target shows all three in one run.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Problem;

/// Keys a file must have, and what stands in for them while the rest is validated.
fn placeholder(key: &[Part]) -> Option<DeValue<'static>> {
    match key {
        [Part::Name(mount), Part::Index(_), Part::Name(field)] if mount == "mount" => {
            match field.as_str() {
                "type" => Some(DeValue::String("tmpfs".into())),
                "target" => Some(DeValue::String(format!("/{}", key_text(key)).into())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One part of a problem's key: `mount[2].target` is `mount`, 2, `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Name(String),
    /// 1-based, as keys write it.
    Index(usize),
}

fn parts(key: &str) -> Vec<Part> {
    let mut found = Vec::new();
    for piece in key.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = piece.split_once('[').unwrap_or((piece, ""));
        found.push(Part::Name(name.to_string()));
        for index in indexes.split('[') {
            if let Ok(n) = index.trim_end_matches(']').parse() {
                found.push(Part::Index(n));
            }
        }
    }
    found
}

fn key_text(parts: &[Part]) -> String {
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Name(name) if text.is_empty() => text.push_str(name),
            Part::Name(name) => {
                text.push('.');
                text.push_str(name);
            }
            Part::Index(n) => text.push_str(&format!("[{n}]")),
        }
    }
    text
}

/// Takes out (or stands in for) the value each shape problem is about. Returns the keys that
/// no longer hold what the file wrote; `None` when the file cannot be mended.
pub fn mend(document: &mut DeTable<'_>, shape: &[Problem]) -> Option<Vec<String>> {
    let mut tainted = Vec::new();
    for problem in shape {
        if problem.code == "config::syntax" {
            return None;
        }
        let mut key = parts(&problem.key);
        loop {
            if key.is_empty() {
                return None;
            }
            if let Some(value) = placeholder(&key) {
                if !set(document, &key, value) {
                    return None;
                }
                break;
            }
            // A member of a table can go; an item of an array cannot (the items after it would
            // change numbers), so the array goes instead.
            if matches!(key.last(), Some(Part::Name(_))) && remove(document, &key) {
                break;
            }
            key.pop();
        }
        tainted.push(key_text(&key));
    }
    Some(tainted)
}

/// Whether a validation problem is about a value the mending took out or stood in for: the
/// key itself, below it, above it (a rule of `[rootfs]` reads `rootfs.host`), or, for an
/// entry of an array of tables (`mount[2].type`), anything of that entry, since its rules
/// read its other values together.
pub fn depends_on_mended(problem: &Problem, tainted: &[String]) -> bool {
    let above = |t: &str| {
        !problem.key.is_empty()
            && (t.starts_with(&format!("{}.", problem.key))
                || t.starts_with(&format!("{}[", problem.key)))
    };
    tainted.iter().any(|t| {
        if above(t) {
            return true;
        }
        let entry = match t.rfind("].") {
            Some(end) => &t[..=end],
            None => t.as_str(),
        };
        let under = |base: &str| {
            problem.key == base
                || problem.key.starts_with(&format!("{base}."))
                || problem.key.starts_with(&format!("{base}["))
        };
        under(t) || under(entry)
    })
}

/// The table a key's last part lives in, walking from the document.
fn parent<'a, 'i>(document: &'a mut DeTable<'i>, key: &[Part]) -> Option<&'a mut DeTable<'i>> {
    let mut table = document;
    let mut parts = key[..key.len() - 1].iter().peekable();
    while let Some(part) = parts.next() {
        let Part::Name(name) = part else {
            return None;
        };
        let value = table
            .iter_mut()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)?;
        let mut value = value.get_mut();
        while let Some(Part::Index(n)) = parts.peek() {
            let DeValue::Array(items) = value else {
                return None;
            };
            value = items.get_mut(n.checked_sub(1)?)?.get_mut();
            parts.next();
        }
        let DeValue::Table(inner) = value else {
            return None;
        };
        table = inner;
    }
    Some(table)
}

fn remove(document: &mut DeTable<'_>, key: &[Part]) -> bool {
    let Some(Part::Name(name)) = key.last() else {
        return false;
    };
    let Some(table) = parent(document, key) else {
        return false;
    };
    table.remove(name.as_str()).is_some()
}

fn set(document: &mut DeTable<'_>, key: &[Part], value: DeValue<'static>) -> bool {
    let Some(Part::Name(name)) = key.last() else {
        return false;
    };
    let Some(table) = parent(document, key) else {
        return false;
    };
    table.remove(name.as_str());
    table.insert(
        Spanned::new(0..0, Cow::Owned(name.clone())),
        Spanned::new(0..0, value),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(code: &'static str, key: &str) -> Problem {
        Problem::error(code, key, 0..0)
    }

    #[test]
    fn keys_split_into_names_and_indexes() {
        assert_eq!(
            parts("mount[2].target"),
            [
                Part::Name("mount".into()),
                Part::Index(2),
                Part::Name("target".into())
            ]
        );
        assert_eq!(key_text(&parts("mount[2].target")), "mount[2].target");
        assert_eq!(key_text(&parts("command[1]")), "command[1]");
    }

    #[test]
    fn refused_values_go_and_required_ones_get_a_placeholder() {
        let text = "hostnme = \"x\"\ncommand = [\"/bin/sh\", 3]\n[[mount]]\ntarget = \"/a\"\n[rlimits]\nnofile = { soft = 1 }\n";
        let (mut document, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let shape = [
            problem("config::unknown-key", "hostnme"),
            problem("config::wrong-type", "command[2]"),
            problem("config::missing-key", "mount[1].type"),
            problem("config::missing-key", "rlimits.nofile.hard"),
        ];
        let tainted = mend(document.get_mut(), &shape).unwrap();
        assert_eq!(
            tainted,
            ["hostnme", "command", "mount[1].type", "rlimits.nofile",]
        );
        let table = document.get_ref();
        assert!(table.get("hostnme").is_none());
        assert!(
            table.get("command").is_none(),
            "an array with a wrong item goes whole"
        );
        let rlimits = table.get("rlimits").unwrap().get_ref().as_table().unwrap();
        assert!(rlimits.get("nofile").is_none());
        let depends = |key: &str| depends_on_mended(&problem("plan::x", key), &tainted);
        assert!(depends("command"));
        assert!(depends("command[1]"));
        assert!(depends("mount[1].target"));
        assert!(!depends("mount[2].target"));
        assert!(!depends("hostname"));
        assert!(depends("rlimits"), "a rule of the table that held it");
        assert!(depends("mount"));
    }

    #[test]
    fn a_syntax_error_cannot_be_mended() {
        let (mut document, _) = DeTable::parse_recoverable("a = 1\n");
        let shape = [problem("config::syntax", "")];
        assert_eq!(mend(document.get_mut(), &shape), None);
    }
}
