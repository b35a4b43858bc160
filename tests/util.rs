//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `launcher` with `args`, run from the repository root, without colours.
pub fn launcher(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("launcher").expect("the launcher binary was not built");
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .args(args);
    cmd
}

/// Runs `launcher` and returns its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    launcher(args)
        .output()
        .expect("could not run the launcher binary")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A folder that holds a Container.toml with `text`, removed when dropped.
pub struct TempContainer {
    pub dir: tempfile::TempDir,
}

impl TempContainer {
    pub fn new(text: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("launcher-test-")
            .tempdir()
            .expect("cannot create a temporary folder");
        std::fs::write(dir.path().join("Container.toml"), text)
            .expect("cannot write Container.toml");
        TempContainer { dir }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("Container.toml")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn file_str(&self) -> String {
        self.file().display().to_string()
    }
}

/// Every example folder under examples/.
pub fn examples() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/ is missing")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Container.toml").is_file())
        .collect();
    found.sort();
    found
}

pub fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}
