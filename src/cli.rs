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
    /// The state folder of detached containers (records, logs, locks). Default:
    /// $LAUNCHER_STATE_DIR, else /run/launcher as root, else $XDG_RUNTIME_DIR/launcher (or
    /// /tmp/launcher-UID).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// The image store (blobs, unpacked layers, image records, refs). Default:
    /// $LAUNCHER_STORE_DIR, else /var/lib/launcher/images as root, else
    /// ~/.local/share/launcher/images.
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,

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
        /// Treat security warnings (CAP_SYS_ADMIN, seccomp unconfined, host network, a
        /// read-write bind of a host system folder) as errors.
        #[arg(long)]
        strict: bool,
        /// Fail when Container.lock does not pin the file's image (missing, or stale), as
        /// `cargo --locked` does.
        #[arg(long)]
        locked: bool,
    },
    /// Pin the file's image in Container.lock (next to it), pulling it when needed: the
    /// manifest digest its reference resolves to, and the platform.
    #[command(after_help = "Examples:
  launcher lock                       # pin what is not pinned yet
  launcher lock --update              # resolve the reference again (a moved tag)
  launcher check --locked             # in CI: the lock is there and up to date")]
    Lock {
        /// The Container.toml whose image to pin.
        #[arg(default_value = "Container.toml")]
        file: PathBuf,
        /// Resolve the reference anew (pull it) and write what it resolves to now.
        #[arg(long)]
        update: bool,
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
    /// Run the container in the foreground and exit with its command's status (or, with -d,
    /// in the background).
    #[command(
        after_help = "Examples:\n  sudo launcher up examples/hello/Container.toml\n  launcher up examples/busybox/Container.toml -- echo hi   # replaces `command`\n  launcher up -d examples/service/Container.toml           # in the background\n\nExit status: the command's own; 128+N when killed by signal N; 125 the launcher failed;\n126 the command cannot be run; 127 the command was not found."
    )]
    Up {
        /// The Container.toml to run.
        #[arg(default_value = "Container.toml")]
        file: PathBuf,
        /// Print the plan (as `launcher plan`) instead of running it.
        #[arg(long)]
        dry_run: bool,
        /// Run in the background under a monitor; print the name once the command runs.
        /// Output goes to `launcher logs NAME`.
        #[arg(short, long)]
        detach: bool,
        /// Print each step of the plan to stderr as it completes, with its time.
        #[arg(long)]
        debug: bool,
        /// The container's name instead of the file's `name` (so one file can run twice).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Set an environment variable (over the file's `env`); `-e K` takes K from here.
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// A command and arguments that replace `command` from the file.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// List detached containers: running ones, or all with -a.
    #[command(
        after_help = "Examples:\n  launcher ps\n  launcher ps -a --format json | jq '.[] | {name, state, exit_code}'\n\nA container whose processes are gone (a reboot, a killed monitor) shows as stopped."
    )]
    Ps {
        /// Stopped containers too.
        #[arg(short, long)]
        all: bool,
        /// Show whole commands, not cut to fit.
        #[arg(long)]
        no_trunc: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Stop containers: the `[stop] signal` (SIGTERM), then SIGKILL to every process after
    /// the timeout.
    #[command(
        after_help = "Examples:\n  launcher stop web\n  launcher stop -t 1 web worker     # SIGKILL after one second"
    )]
    Stop {
        /// Seconds to wait before SIGKILL (`2`, `0.5`, or `500ms`). Default: `[stop] timeout`
        /// of the container's file (10s).
        #[arg(short = 't', long = "time", value_name = "SECONDS", value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
        /// The containers.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Run stopped detached containers again, from their records; their logs are kept.
    #[command(after_help = "Example:\n  launcher start web")]
    Start {
        /// The containers.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop running containers (as `stop`) and start them again (as `start`).
    #[command(after_help = "Example:\n  launcher restart -t 2 web")]
    Restart {
        /// Seconds to wait before SIGKILL, as for `stop`.
        #[arg(short = 't', long = "time", value_name = "SECONDS", value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
        /// The containers.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send a signal to a container's first process (init forwards it to the command).
    #[command(
        after_help = "Examples:\n  launcher kill web            # SIGKILL\n  launcher kill web HUP\n  launcher kill web 10"
    )]
    Kill {
        /// The container.
        name: String,
        /// A name (`SIGHUP`, `HUP`) or number.
        #[arg(default_value = "SIGKILL")]
        signal: String,
    },
    /// Remove stopped containers: their records and logs.
    #[command(
        after_help = "Examples:\n  launcher rm web\n  launcher rm -f web     # stops it first (SIGKILL) if it runs"
    )]
    Rm {
        /// Stop a running container first (SIGKILL); remove a damaged record.
        #[arg(short, long)]
        force: bool,
        /// The containers.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Print what a container's command wrote (stdout and stderr, the last 10 to 20 MiB).
    #[command(
        after_help = "Examples:\n  launcher logs web\n  launcher logs -f web     # until it stops"
    )]
    Logs {
        /// Keep printing new output until the container stops.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines of each stream.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Only what came in the last DURATION (`10m`, `1h30m`, `90s`).
        #[arg(long, value_name = "DURATION", conflicts_with = "follow")]
        since: Option<String>,
        /// Each line after the time it came (RFC 3339, UTC).
        #[arg(short = 't', long, conflicts_with = "follow")]
        timestamps: bool,
        /// The container.
        name: String,
    },
    /// Print a container's record as JSON: state, pids, exit status, files, plan.
    #[command(after_help = "Example:\n  launcher inspect web | jq .state")]
    Inspect {
        /// The container.
        name: String,
    },
    /// Run a command in a running container: its namespaces, root, folder, user and env.
    #[command(
        after_help = "Examples:\n  launcher exec web -- hostname\n  launcher exec -t web -- /bin/sh\n\nExit status: the command's own; 126 it cannot be run; 127 not found; 125 the launcher failed."
    )]
    Exec {
        /// Give the command a pseudo-terminal (for a shell).
        #[arg(short, long)]
        tty: bool,
        /// Print each step to stderr as it completes, with its time.
        #[arg(long)]
        debug: bool,
        /// Run as USER (a name or uid from the container's /etc/passwd, or UID:GID).
        #[arg(short, long, value_name = "USER")]
        user: Option<String>,
        /// Set an environment variable (over the container's); `-e K` takes K from here.
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// The working folder inside the container (absolute).
        #[arg(short, long, value_name = "DIR")]
        workdir: Option<String>,
        /// The container.
        name: String,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Wait until a container stops; print its exit status.
    #[command(after_help = "Example:\n  launcher wait web")]
    Wait {
        /// The container.
        name: String,
    },
    /// Fetch an image into the store: from a registry, an OCI layout or a docker archive.
    #[command(
        after_help = "Examples:\n  launcher pull alpine:3.20                       # docker.io/library/alpine:3.20\n  launcher pull 127.0.0.1:5000/team/app@sha256:...\n  launcher pull oci:./layout:v1                   # an OCI image layout folder\n  launcher pull docker-archive:./app.tar          # `docker save` / `podman save` output\n  launcher pull --platform linux/arm64/v8 quay.io/org/app:1\n\nPrints the ref and its manifest digest. Exit status: 0 pulled, 1 the pull failed,\n2 usage error (a bad reference or platform)."
    )]
    Pull {
        /// The image: NAME[:TAG][@sha256:DIGEST], oci:PATH[:TAG] or docker-archive:PATH.
        reference: String,
        /// The platform to pick from a multi-platform image (os/arch[/variant]). Default:
        /// this machine's.
        #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
        platform: Option<String>,
        /// A registry (host or host:port) to reach over plain HTTP; localhost, 127.0.0.1 and
        /// ::1 always are. May be given more than once.
        #[arg(long = "insecure-registry", value_name = "HOST")]
        insecure_registries: Vec<String>,
    },
    /// List the images in the store.
    #[command(
        after_help = "Examples:\n  launcher images\n  launcher images --format json | jq '.[].refs'"
    )]
    Images {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Remove image refs; an image no other ref names goes with its ref (`prune` then frees
    /// its layers).
    #[command(
        after_help = "Examples:\n  launcher rmi alpine:3.20\n  launcher rmi sha256:0123...   # an image and every ref that names it\n\nExit status: 0 removed, 1 one of them was not in the store."
    )]
    Rmi {
        /// Refs as written to `pull`, or a manifest digest (sha256:...).
        #[arg(required = true, value_name = "REF")]
        references: Vec<String>,
    },
    /// Remove images no ref names, then the layers and blobs no image uses, and what killed
    /// pulls left behind.
    #[command(after_help = "Example:\n  launcher prune")]
    Prune,
    /// Container networks: list, inspect, remove, and clean up after dead containers.
    #[command(
        after_help = "Examples:\n  launcher network ls\n  launcher network inspect default | jq '.leases[].address'\n  sudo launcher network prune     # what containers killed with kill -9 left"
    )]
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Print the JSON schema of Container.toml.
    #[command(after_help = "Example:\n  launcher schema > container.schema.json")]
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// List the networks: bridge, subnet, containers.
    Ls {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a network and its leases as JSON.
    Inspect {
        /// The network.
        name: String,
    },
    /// Remove networks no running container uses: bridge, rules, state.
    Rm {
        /// The networks.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Remove what containers that are gone left (leases, veth ends, rules), and the
    /// networks no container uses.
    Prune,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `-t 2`, `-t 0.5`, `-t 500ms`.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ok(std::time::Duration::from_secs_f64(seconds))
        }
        Ok(_) => Err("a number of seconds, 0 or more".into()),
        Err(_) => launcher::plan::parse_duration(text),
    }
}
