//! Container.toml: loading (syntax and shape, every problem at once) and validation into a
//! [`Plan`](crate::plan::Plan).

pub mod file;
mod shape;
mod validate;
mod values;

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::diagnostic::{Problem, Problems, SourceFile};
use file::ContainerFile;

pub use validate::plan;
pub use values::{parse_mode, parse_size};

/// A Container.toml that parsed and has the right shape.
#[derive(Debug)]
pub struct Loaded {
    pub source: SourceFile,
    pub file: ContainerFile,
}

/// Why a Container.toml could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has {} error(s)", .0.source.path.display(), .0.errors())]
    Invalid(Problems),
}

/// Reads and parses a Container.toml.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(SourceFile::new(path, text))
}

/// Parses the text of a Container.toml, reporting every syntax and shape problem at once.
pub fn parse(source: SourceFile) -> Result<Loaded, LoadError> {
    let text = source.text.clone();
    let mut problems = Problems::new(source);
    let (document, syntax_errors) = DeTable::parse_recoverable(&text);
    for error in &syntax_errors {
        problems.list.push(syntax_problem(error, &text));
    }
    if !syntax_errors.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    let schema = crate::schema::container_schema();
    let first_line = 0..text.find('\n').unwrap_or(text.len());
    shape::ShapeChecker::new(&schema).check_document(
        document.get_ref(),
        first_line,
        &mut problems.list,
    );
    if !problems.list.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    let deserializer = toml::de::Deserializer::from(document);
    match serde::Deserialize::deserialize(deserializer) {
        Ok(file) => Ok(Loaded {
            source: problems.source,
            file,
        }),
        Err(error) => {
            // The shape check accepts what serde accepts; this is a safety net that still
            // points at the file.
            let error: toml::de::Error = error;
            problems.list.push(syntax_problem(&error, &text));
            Err(LoadError::Invalid(problems))
        }
    }
}

fn syntax_problem(error: &toml::de::Error, text: &str) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let span = if span.is_empty() && span.start < text.len() {
        span.start..span.start + 1
    } else {
        span
    };
    let message = error.message().trim().to_string();
    Problem::error("config::syntax", "", span)
        .message(format!("invalid TOML: {message}"))
        .label(message)
        .help("see https://toml.io for the syntax; strings need quotes, tables are [name]")
}
