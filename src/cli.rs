//! Command-line types (clap). No logic here.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Linux containers declared in a Container.toml.
#[derive(Debug, Parser)]
#[command(name = "launcher", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  launcher check                      # validate ./Container.toml\n  launcher plan examples/hello/Container.toml\n  sudo launcher up examples/hello/Container.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a Container.toml: syntax, keys, values, and the host facts it relies on.
    #[command(
        after_help = "Examples:\n  launcher check\n  launcher check examples/busybox/Container.toml --format json\n\nExit status: 0 valid, 1 the file has errors, 2 usage error."
    )]
    Check {
        /// The Container.toml to check.
        #[arg(default_value = "Container.toml")]
        file: PathBuf,
        /// Output format of the diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print, step by step, what `up` would do, without doing it.
    #[command(
        after_help = "Examples:\n  launcher plan\n  launcher plan examples/mounts/Container.toml --format json | jq '.steps[].step'\n\nEach step names its origin: the line of Container.toml that asked for it, or \"default\"."
    )]
    Plan {
        /// The Container.toml to plan.
        #[arg(default_value = "Container.toml")]
        file: PathBuf,
        /// Output format of the plan.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the container in the foreground and exit with its command's status.
    #[command(
        after_help = "Examples:\n  sudo launcher up examples/hello/Container.toml\n  launcher up examples/busybox/Container.toml -- echo hi   # replaces `command`\n\nExit status: the command's own; 128+N when killed by signal N; 125 the launcher failed;\n126 the command cannot be run; 127 the command was not found."
    )]
    Up {
        /// The Container.toml to run.
        #[arg(default_value = "Container.toml")]
        file: PathBuf,
        /// Print the plan (as `launcher plan`) instead of running it.
        #[arg(long)]
        dry_run: bool,
        /// A command and arguments that replace `command` from the file.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Print the JSON schema of Container.toml.
    #[command(after_help = "Example:\n  launcher schema > container.schema.json")]
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}
