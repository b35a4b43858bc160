//! Checks the shape of a parsed TOML tree against the JSON schema generated from the serde
//! types, reporting every unknown key, wrong type and missing key at once.
//!
//! serde stops at the first error; this walk does not. It reads the same schema that
//! `launcher schema` prints, so the file format has one description: the serde types.

use std::ops::Range;

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Problem;

pub struct ShapeChecker<'s> {
    root: &'s Json,
}

impl<'s> ShapeChecker<'s> {
    pub fn new(root: &'s Json) -> Self {
        ShapeChecker { root }
    }

    /// Checks the document; `doc_span` is where "missing key" problems of the top level point.
    pub fn check_document(
        &self,
        doc: &DeTable<'_>,
        doc_span: Range<usize>,
        out: &mut Vec<Problem>,
    ) {
        self.check_table(doc, doc_span, self.root, "", out);
    }

    /// Follows `$ref`, and `allOf` of a single schema (schemars wraps a `$ref` that way when
    /// the field has its own description).
    fn resolve(&self, mut schema: &'s Json) -> &'s Json {
        loop {
            if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
                let name = reference.rsplit('/').next().unwrap_or_default();
                match self.root.get("definitions").and_then(|d| d.get(name)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
            } else if let Some([only]) = schema
                .get("allOf")
                .and_then(Json::as_array)
                .map(Vec::as_slice)
            {
                schema = only;
            } else {
                return schema;
            }
        }
    }

    /// The words a string may be when the schema allows only some (`enum`, `const`, or
    /// alternatives of those, such as an enum written as `oneOf` consts); `None` when any
    /// string goes.
    fn words(&self, schema: &'s Json) -> Option<Vec<&'s str>> {
        let schema = self.resolve(schema);
        if let Some(words) = schema.get("enum").and_then(Json::as_array) {
            return Some(words.iter().filter_map(Json::as_str).collect());
        }
        if let Some(word) = schema.get("const").and_then(Json::as_str) {
            return Some(vec![word]);
        }
        let alternatives = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)?;
        let mut all = Vec::new();
        for alternative in alternatives {
            let resolved = self.resolve(alternative);
            let takes_strings = resolved.get("type").is_none()
                || self.type_matches(&DeValue::String("".into()), resolved);
            if takes_strings {
                all.extend(self.words(alternative)?);
            }
        }
        (!all.is_empty()).then_some(all)
    }

    fn check_value(
        &self,
        value: &Spanned<DeValue<'_>>,
        schema: &'s Json,
        key: &str,
        out: &mut Vec<Problem>,
    ) {
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            return self.check_alternatives(value, schema, alternatives, key, out);
        }
        if !self.type_matches(value.get_ref(), schema) {
            out.push(wrong_type(value, &self.describe(schema), key));
            return;
        }
        match value.get_ref() {
            DeValue::Table(table) => self.check_table(table, value.span(), schema, key, out),
            DeValue::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(item, item_schema, &format!("{key}[{}]", i + 1), out);
                    }
                }
            }
            DeValue::String(text) => {
                let allowed = schema
                    .get("enum")
                    .and_then(Json::as_array)
                    .map(|v| v.iter().filter_map(Json::as_str).collect::<Vec<_>>())
                    .or_else(|| schema.get("const").and_then(Json::as_str).map(|c| vec![c]));
                if let Some(allowed) = allowed
                    && !allowed.contains(&text.as_ref())
                {
                    let expected = self.describe(schema);
                    out.push(unknown_word(value.span(), text, &allowed, &expected, key));
                }
            }
            DeValue::Integer(int) => {
                let minimum = schema.get("minimum").and_then(Json::as_i64);
                let negative = int.as_str().trim_start().starts_with('-');
                if minimum.is_some_and(|m| m >= 0) && negative {
                    out.push(
                        Problem::error("config::negative", key, value.span())
                            .message(format!("`{key}` cannot be negative"))
                            .label("a negative number")
                            .help("remove the minus sign"),
                    );
                }
            }
            _ => {}
        }
    }

    /// `anyOf` / `oneOf`: fine when one alternative fits; otherwise report the problems of the
    /// alternative of the value's own type (a table against the table form), or a type error.
    fn check_alternatives(
        &self,
        value: &Spanned<DeValue<'_>>,
        schema: &'s Json,
        alternatives: &'s [Json],
        key: &str,
        out: &mut Vec<Problem>,
    ) {
        // A choice of words: one problem that lists them all, not one per alternative.
        if let DeValue::String(text) = value.get_ref()
            && let Some(words) = self.words(schema)
        {
            if !words.contains(&text.as_ref()) {
                let expected = self.describe(schema);
                out.push(unknown_word(value.span(), text, &words, &expected, key));
            }
            return;
        }
        let mut best: Option<Vec<Problem>> = None;
        for alternative in alternatives {
            let alternative = self.resolve(alternative);
            if !self.type_matches(value.get_ref(), alternative) {
                continue;
            }
            let mut found = Vec::new();
            self.check_value(value, alternative, key, &mut found);
            if found.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                best = Some(found);
            }
        }
        match best {
            Some(found) => out.extend(found),
            None => out.push(wrong_type(value, &self.describe(schema), key)),
        }
    }

    fn check_table(
        &self,
        table: &DeTable<'_>,
        span: Range<usize>,
        schema: &'s Json,
        key: &str,
        out: &mut Vec<Problem>,
    ) {
        let schema = self.resolve(schema);
        let properties = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        for (name, value) in table.iter() {
            let child_key = join(key, name.get_ref());
            match properties.and_then(|p| p.get(name.get_ref().as_ref())) {
                Some(child) => self.check_value(value, child, &child_key, out),
                None => match additional {
                    Some(Json::Bool(false)) => {
                        let known: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        out.push(unknown_key(name, &known, key));
                    }
                    Some(child @ Json::Object(_)) => {
                        self.check_value(value, child, &child_key, out)
                    }
                    _ => {}
                },
            }
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if !table.iter().any(|(k, _)| k.get_ref() == name) {
                    let what = if key.is_empty() {
                        "the file".to_string()
                    } else {
                        place(key)
                    };
                    let property = properties.and_then(|p| p.get(name));
                    let mut about = property
                        .and_then(|s| s.get("description"))
                        .and_then(Json::as_str)
                        .map(first_sentence)
                        .unwrap_or_default();
                    if let Some(words) = property.and_then(|s| self.words(s)) {
                        let quoted: Vec<String> =
                            words.iter().map(|w| format!("\"{w}\"")).collect();
                        about.push_str(&format!(", one of {}", or_list(&quoted)));
                    }
                    out.push(
                        Problem::error("config::missing-key", join(key, name), span.clone())
                            .message(format!("{what} has no `{name}`, which is required"))
                            .label(format!("`{name}` missing here"))
                            .help(format!("add `{name} = ...`: {about}")),
                    );
                }
            }
        }
    }

    fn type_matches(&self, value: &DeValue<'_>, schema: &Json) -> bool {
        let Some(types) = schema.get("type") else {
            // `enum`/`const` without a type are strings in this schema.
            return !(schema.get("enum").is_some() || schema.get("const").is_some())
                || matches!(value, DeValue::String(_));
        };
        let fits = |t: &str| match t {
            "string" => matches!(value, DeValue::String(_)),
            "boolean" => matches!(value, DeValue::Boolean(_)),
            "integer" => matches!(value, DeValue::Integer(_)),
            "number" => matches!(value, DeValue::Integer(_) | DeValue::Float(_)),
            "array" => matches!(value, DeValue::Array(_)),
            "object" => matches!(value, DeValue::Table(_)),
            _ => false,
        };
        match types {
            Json::String(t) => fits(t),
            Json::Array(list) => list.iter().filter_map(Json::as_str).any(fits),
            _ => true,
        }
    }

    /// "a string or a table", "true, false or \"auto\"", for messages.
    fn describe(&self, schema: &Json) -> String {
        or_list(&self.describe_parts(schema))
    }

    fn describe_parts(&self, schema: &Json) -> Vec<String> {
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            let mut parts: Vec<String> = alternatives
                .iter()
                .flat_map(|a| self.describe_parts(a))
                .collect();
            parts.dedup();
            return parts;
        }
        if let Some(words) = schema.get("enum").and_then(Json::as_array) {
            return words
                .iter()
                .filter_map(Json::as_str)
                .map(|w| format!("\"{w}\""))
                .collect();
        }
        if let Some(word) = schema.get("const").and_then(Json::as_str) {
            return vec![format!("\"{word}\"")];
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(list)) => list.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        types
            .into_iter()
            .filter(|t| *t != "null")
            .flat_map(|t| match t {
                "boolean" => vec!["true".to_string(), "false".to_string()],
                "array" => vec![self.describe_array(schema)],
                other => vec![type_name(other).to_string()],
            })
            .collect()
    }

    /// "an array of strings", "an array of tables".
    fn describe_array(&self, schema: &Json) -> String {
        let items = schema.get("items").map(|i| self.resolve(i));
        match items.and_then(|i| i.get("type")).and_then(Json::as_str) {
            Some("string") => "an array of strings".into(),
            Some("object") => "an array of tables".into(),
            _ => "an array".into(),
        }
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "object" => "a table",
        _ => "a value",
    }
}

fn found_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn or_list(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn join(key: &str, name: &str) -> String {
    if key.is_empty() {
        name.to_string()
    } else {
        format!("{key}.{name}")
    }
}

fn wrong_type(value: &Spanned<DeValue<'_>>, expected: &str, key: &str) -> Problem {
    let found = found_name(value.get_ref());
    let name = key.rsplit('.').next().unwrap_or(key);
    let bare = match value.get_ref() {
        // An octal integer keeps its digits, which is what a mode written as 0o755 means.
        DeValue::Integer(int) if matches!(int.radix(), 8 | 10) => Some(int.as_str().to_string()),
        DeValue::Float(float) => Some(float.as_str().to_string()),
        DeValue::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let help = match (value.get_ref(), expected, bare) {
        (_, "a string", Some(bare)) => format!("put the value in quotes: {name} = \"{bare}\""),
        (DeValue::String(_), "true or false", _) => {
            format!("write {name} = true or {name} = false, without quotes")
        }
        (DeValue::String(text), "an array of strings", _)
            if !text.trim().is_empty() && !text.contains(['"', '\'', '\\']) =>
        {
            let items: Vec<String> = text
                .split_whitespace()
                .map(|w| format!("\"{w}\""))
                .collect();
            format!("one string per item: {name} = [{}]", items.join(", "))
        }
        _ => format!("write `{key}` as {expected}; see `launcher schema` for every key"),
    };
    Problem::error("config::wrong-type", key, value.span())
        .message(format!("`{key}` must be {expected}, not {found}"))
        .label(format!("expected {expected}"))
        .help(help)
}

fn unknown_word(
    span: Range<usize>,
    word: &str,
    allowed: &[&str],
    expected: &str,
    key: &str,
) -> Problem {
    let problem = Problem::error("config::unknown-value", key, span)
        .message(format!("`{key}` cannot be \"{word}\""))
        .label(format!("expected {expected}"));
    // A network of its own is set in [network], where `namespaces.net` has its words too.
    if key == "namespaces.net" && matches!(word, "bridge" | "pasta") {
        return problem.help(format!(
            "remove this line and write `[network]` with `mode = \"{word}\"`"
        ));
    }
    match suggest(word, allowed) {
        Some(best) => problem.help(format!("did you mean \"{best}\"?")),
        None => problem.help(format!("use {expected}")),
    }
}

fn unknown_key(name: &Spanned<std::borrow::Cow<'_, str>>, known: &[&str], table: &str) -> Problem {
    let word = name.get_ref().as_ref();
    let place = if table.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in {}", place(table))
    };
    let problem = Problem::error("config::unknown-key", join(table, word), name.span())
        .message(format!("unknown key `{word}` {place}"))
        .label("unknown key");
    match suggest(word, known) {
        Some(best) => problem.help(format!("did you mean `{best}`?")),
        None => problem.help(format!("keys allowed {place}: {}", known.join(", "))),
    }
}

/// A table as the file shows it: `[namespaces]`; an entry of an array of tables by its key,
/// `mount[2]`, since `[mount[2]]` is not TOML.
fn place(key: &str) -> String {
    if key.ends_with(']') {
        format!("`{key}`")
    } else {
        format!("`[{key}]`")
    }
}

/// The first sentence of a field's documentation, on one line, without its full stop.
fn first_sentence(description: &str) -> String {
    let flat = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = flat.split(". ").next().unwrap_or_default();
    first.trim_end_matches('.').to_string()
}

/// The closest known word, when it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
