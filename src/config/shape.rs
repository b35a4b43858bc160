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

    fn resolve(&self, mut schema: &'s Json) -> &'s Json {
        while let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
            let name = reference.rsplit('/').next().unwrap_or_default();
            match self.root.get("definitions").and_then(|d| d.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
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
                    out.push(unknown_word(value.span(), text, &allowed, key));
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
                            .help("give a number of 0 or more"),
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
                        format!("`[{key}]`")
                    };
                    let about = properties
                        .and_then(|p| p.get(name))
                        .and_then(|s| s.get("description"))
                        .and_then(Json::as_str)
                        .and_then(|d| d.split(". ").next())
                        .unwrap_or("");
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
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            let mut parts: Vec<String> = alternatives
                .iter()
                .map(|a| self.describe(a))
                .filter(|d| !d.is_empty())
                .collect();
            parts.dedup();
            return or_list(&parts);
        }
        if let Some(words) = schema.get("enum").and_then(Json::as_array) {
            let words: Vec<String> = words
                .iter()
                .filter_map(Json::as_str)
                .map(|w| format!("\"{w}\""))
                .collect();
            return or_list(&words);
        }
        if let Some(word) = schema.get("const").and_then(Json::as_str) {
            return format!("\"{word}\"");
        }
        let names: Vec<String> = match schema.get("type") {
            Some(Json::String(t)) => vec![type_name(t).to_string()],
            Some(Json::Array(list)) => list
                .iter()
                .filter_map(Json::as_str)
                .filter(|t| *t != "null")
                .map(|t| type_name(t).to_string())
                .collect(),
            _ => Vec::new(),
        };
        or_list(&names)
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "boolean" => "true or false",
        "integer" => "a whole number",
        "number" => "a number",
        "array" => "an array",
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
    Problem::error("config::wrong-type", key, value.span())
        .message(format!("`{key}` must be {expected}, not {found}"))
        .label(format!("expected {expected}"))
        .help(format!(
            "write `{key}` as {expected}; see `launcher schema` for every key"
        ))
}

fn unknown_word(span: Range<usize>, word: &str, allowed: &[&str], key: &str) -> Problem {
    let quoted: Vec<String> = allowed.iter().map(|w| format!("\"{w}\"")).collect();
    let problem = Problem::error("config::unknown-value", key, span)
        .message(format!("`{key}` cannot be \"{word}\""))
        .label(format!("not one of {}", or_list(&quoted)));
    match suggest(word, allowed) {
        Some(best) => problem.help(format!("did you mean \"{best}\"?")),
        None => problem.help(format!("use one of {}", or_list(&quoted))),
    }
}

fn unknown_key(name: &Spanned<std::borrow::Cow<'_, str>>, known: &[&str], table: &str) -> Problem {
    let word = name.get_ref().as_ref();
    let place = if table.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `[{table}]`")
    };
    let problem = Problem::error("config::unknown-key", join(table, word), name.span())
        .message(format!("unknown key `{word}` {place}"))
        .label("unknown key");
    match suggest(word, known) {
        Some(best) => problem.help(format!("did you mean `{best}`?")),
        None => problem.help(format!("keys allowed {place}: {}", known.join(", "))),
    }
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
