//! `launcher network ls|inspect|rm|prune`: each calls the library and prints what it returns.
//! Part of main.rs, in a file of its own for length.

use launcher::network::{self, Lease, NetworkError};
use launcher::state::Store;

use super::ExitCode;
use super::cli::{Format, NetworkCommand};

const EXIT_FAILED: u8 = 1;

fn report(error: &NetworkError) -> ExitCode {
    eprintln!("error: {error}\n  help: {}", error.hint());
    ExitCode::from(EXIT_FAILED)
}

/// A lease is in use while the process it was taken for runs.
fn alive(lease: &Lease) -> bool {
    lease.owner_alive()
}

pub fn run(store: &Store, command: NetworkCommand) -> ExitCode {
    let root = store.root();
    let done = match command {
        NetworkCommand::Ls { format } => ls(store, format),
        NetworkCommand::Inspect { name } => inspect(store, &name),
        NetworkCommand::Rm { names } => names
            .iter()
            .try_for_each(|name| network::remove(root, name, alive).map(|()| println!("{name}"))),
        NetworkCommand::Prune => network::prune(root, alive).map(|report| {
            for lease in &report.leases {
                println!("removed lease {lease}");
            }
            for name in &report.networks {
                println!("removed network {name}");
            }
            for name in &report.pastas {
                println!("ended the pasta of {name}");
            }
            for link in &report.links {
                println!("removed link {link}");
            }
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

fn ls(store: &Store, format: Format) -> Result<(), NetworkError> {
    let networks = network::list(store.root())?;
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&networks).unwrap_or_default();
            println!("{json}");
        }
        Format::Text => {
            println!(
                "{:<20} {:<18} {:<16} CONTAINERS",
                "NAME", "SUBNET", "BRIDGE"
            );
            for info in &networks {
                let names: Vec<&str> = info.leases.iter().map(|l| l.container.as_str()).collect();
                println!(
                    "{:<20} {:<18} {:<16} {}",
                    info.record.name,
                    info.record.subnet.to_string(),
                    info.record.bridge,
                    names.join(",")
                );
            }
        }
    }
    Ok(())
}

fn inspect(store: &Store, name: &str) -> Result<(), NetworkError> {
    network::check_name("network", name)?;
    let networks = network::list(store.root())?;
    let info = networks
        .into_iter()
        .find(|n| n.record.name == name)
        .ok_or_else(|| NetworkError::Invalid {
            what: format!("network {name:?}"),
            why: "there is no such network; `launcher network ls` lists them".to_string(),
        })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&info).unwrap_or_default()
    );
    Ok(())
}
