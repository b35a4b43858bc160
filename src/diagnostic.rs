//! Problems found in a Container.toml, each pointing at a span of the file.
//!
//! Config, plan and preflight checks all produce [`Problem`]s; runtime failures are turned into
//! one with the origin span of the step that failed. Only `main.rs` renders them.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceCode};
use serde::Serialize;

/// The text of a Container.toml and where it was read from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Byte offset of each line's start, for line:column in O(log n): a file with a thousand
    /// mounts asks for thousands of them.
    line_starts: Arc<[usize]>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line.saturating_sub(1)];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line.max(1), column)
    }

    pub fn named_source(&self) -> NamedSource<String> {
        NamedSource::new(self.path.display().to_string(), self.text.to_string())
    }

    pub fn display_path(&self) -> &Path {
        &self.path
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How bad a problem is. Warnings become errors with `check --strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One problem in a Container.toml.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub level: Level,
    /// A stable identifier, e.g. `config::unknown-key`.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The key the problem is about, as a path: `mount[2].target`, `namespaces.net`.
    pub key: String,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// The text shown under the span.
    pub label: String,
    /// What to try.
    pub help: Option<String>,
    /// Where the value came from when the file did not hold it (`launcher up FILE --
    /// COMMAND`): such a problem is not pointed at in the file, its span is not used.
    pub given_by: Option<String>,
}

impl Problem {
    pub fn error(code: &'static str, key: impl Into<String>, span: Range<usize>) -> Self {
        Problem {
            level: Level::Error,
            code,
            message: String::new(),
            key: key.into(),
            span,
            label: String::new(),
            help: None,
            given_by: None,
        }
    }

    /// The value came from `what` (the command line), not from the file.
    pub fn given_by(mut self, what: impl Into<String>) -> Self {
        self.given_by = Some(what.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn warning(mut self) -> Self {
        self.level = Level::Warning;
        self
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone)]
pub struct Problems {
    pub source: SourceFile,
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn new(source: SourceFile) -> Self {
        Problems {
            source,
            list: Vec::new(),
        }
    }

    pub fn errors(&self) -> usize {
        self.list.iter().filter(|p| p.level == Level::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.list.len() - self.errors()
    }

    /// The problems as miette diagnostics, in file order.
    pub fn diagnostics(&self) -> Vec<ProblemDiagnostic> {
        let source = Arc::new(self.source.named_source());
        let mut list: Vec<&Problem> = self.list.iter().collect();
        list.sort_by_key(|p| p.span.start);
        list.into_iter()
            .map(|p| ProblemDiagnostic {
                problem: p.clone(),
                source: source.clone(),
                location: self.source.line_column(p.span.start),
            })
            .collect()
    }

    /// The machine-readable form printed by `check --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut list: Vec<&Problem> = self.list.iter().collect();
        list.sort_by_key(|p| p.span.start);
        let diagnostics: Vec<serde_json::Value> = list
            .iter()
            .map(|p| {
                let (line, column) = match p.given_by {
                    Some(_) => (None, None),
                    None => {
                        let (line, column) = self.source.line_column(p.span.start);
                        (Some(line), Some(column))
                    }
                };
                let mut json = serde_json::json!({
                    "level": p.level,
                    "code": p.code,
                    "message": p.message,
                    "key": p.key,
                    "line": line,
                    "column": column,
                    "span": { "start": p.span.start, "end": p.span.end },
                    "label": p.label,
                    "help": p.help,
                });
                if let Some(given_by) = &p.given_by {
                    json["given_by"] = serde_json::json!(given_by);
                }
                json
            })
            .collect();
        serde_json::json!({
            "file": self.source.path.display().to_string(),
            "valid": self.errors() == 0,
            "errors": self.errors(),
            "warnings": self.warnings(),
            "diagnostics": diagnostics,
        })
    }
}

/// A [`Problem`] with its file, ready for miette to render.
#[derive(Debug)]
pub struct ProblemDiagnostic {
    problem: Problem,
    source: Arc<NamedSource<String>>,
    location: (usize, usize),
}

impl std::fmt::Display for ProblemDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, column) = self.location;
        if self.problem.given_by.is_some() {
            // Not from the file: no line of it is named.
            return write!(
                f,
                "{}: {}: {}",
                self.source.name(),
                self.problem.message,
                self.problem.label
            );
        }
        write!(
            f,
            "{}:{line}:{column}: {}",
            self.source.name(),
            self.problem.message
        )
    }
}

impl std::error::Error for ProblemDiagnostic {}

impl Diagnostic for ProblemDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.problem.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(match self.problem.level {
            Level::Error => Severity::Error,
            Level::Warning => Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.problem
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self.problem.given_by {
            Some(_) => None,
            None => Some(&*self.source),
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.problem.given_by.is_some() {
            return None;
        }
        let span = &self.problem.span;
        let label = if self.problem.key.is_empty() {
            self.problem.label.clone()
        } else {
            format!("{}: {}", self.problem.key, self.problem.label)
        };
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(
                Some(label),
                (span.start, span.end.saturating_sub(span.start)),
            ),
        )))
    }
}

/// How diagnostics are drawn: colours for a terminal, plain Unicode otherwise (and in tests).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

/// Renders one diagnostic as text.
pub fn render(diagnostic: &dyn Diagnostic, style: Style) -> String {
    let theme = if style.color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = format!("{diagnostic}\n");
    }
    out
}

/// Renders every problem of a file, then a one-line summary.
pub fn render_problems(problems: &Problems, style: Style) -> String {
    let mut out = String::new();
    for diagnostic in problems.diagnostics() {
        out.push_str(&render(&diagnostic, style));
        out.push('\n');
    }
    let (errors, warnings) = (problems.errors(), problems.warnings());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{}: {}, {}\n",
        problems.source.path.display(),
        plural(errors, "error"),
        plural(warnings, "warning")
    ));
    out
}
