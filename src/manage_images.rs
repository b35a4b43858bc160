//! The binary's image commands (`pull`, `images`, `rmi`, `prune`): each calls the library in
//! `launcher::image`, prints what it returns, and picks the exit code. Part of main.rs, in a
//! file of its own for length.

use std::io::IsTerminal;
use std::path::PathBuf;

use launcher::image::pull::{self, PullOptions};
use launcher::image::{Digest, ImageError, ImageRecord, Platform, Reference, Store};

use super::cli::Format;
use super::{Context, Error, ExitCode, Pipeline, checked_plan, fail};

/// `--store`, else `$LAUNCHER_STORE_DIR`, else the default store.
pub fn store(flag: Option<PathBuf>) -> Store {
    let root = flag
        .or_else(|| std::env::var_os("LAUNCHER_STORE_DIR").map(PathBuf::from))
        .filter(|root| !root.as_os_str().is_empty());
    Store::new(root.unwrap_or_else(Store::default_root))
}

fn report(error: ImageError) -> ExitCode {
    fail(Error::Image(error), Context::CHECK)
}

fn usage(message: String, hint: &str) -> ExitCode {
    let error = Error::Usage {
        message,
        hint: hint.into(),
    };
    fail(error, Context::CHECK)
}

/// A reference from the command line: relative `oci:` and `docker-archive:` paths start at
/// the current folder.
fn parse_reference(text: &str) -> Result<Reference, ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Reference::parse(text, &cwd).map_err(|why| {
        usage(
            format!("{text:?} is not an image reference: {why}"),
            "write NAME[:TAG][@sha256:DIGEST] (e.g. alpine:3.20), oci:PATH[:TAG] or docker-archive:PATH",
        )
    })
}

pub fn pull(
    store: &Store,
    text: &str,
    platform: Option<&str>,
    insecure_registries: Vec<String>,
) -> ExitCode {
    let reference = match parse_reference(text) {
        Ok(reference) => reference,
        Err(code) => return code,
    };
    let platform = match platform.map(Platform::parse).transpose() {
        Ok(platform) => platform,
        Err(why) => return usage(why, "e.g. --platform linux/amd64"),
    };
    let options = PullOptions {
        platform,
        insecure_registries,
        progress: std::io::stderr().is_terminal(),
    };
    match pull::pull(store, &reference, &options) {
        Ok(pulled) => {
            for note in &pulled.notes {
                eprintln!("launcher: note: {note}");
            }
            println!("{} {}", pulled.key, pulled.record.manifest);
            ExitCode::SUCCESS
        }
        Err(error) => report(error),
    }
}

/// `1536` → `1.5 KiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

fn image_json(record: &ImageRecord, refs: &[String]) -> serde_json::Value {
    serde_json::json!({
        "refs": refs,
        "manifest": record.manifest,
        "config": record.config,
        "platform": record.platform.to_string(),
        "layers": record.layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>(),
        "size": record.size(),
        "created": record.created,
        "stored": record.stored,
    })
}

pub fn images(store: &Store, format: Format) -> ExitCode {
    let images = match store.images() {
        Ok(images) => images,
        Err(kind) => return report(ImageError::new(store.root().display(), kind)),
    };
    match format {
        Format::Json => {
            let list: Vec<_> = images
                .iter()
                .map(|(record, refs)| image_json(record, refs))
                .collect();
            println!("{:#}", serde_json::Value::Array(list));
        }
        Format::Text => {
            let mut rows = vec![[
                "REF".to_string(),
                "DIGEST".into(),
                "PLATFORM".into(),
                "LAYERS".into(),
                "SIZE".into(),
            ]];
            for (record, refs) in &images {
                let names = if refs.is_empty() {
                    vec!["<none>".to_string()]
                } else {
                    refs.clone()
                };
                for name in names {
                    rows.push([
                        name,
                        record.manifest.short().to_string(),
                        record.platform.to_string(),
                        record.layers.len().to_string(),
                        human(record.size()),
                    ]);
                }
            }
            let widths: Vec<usize> = (0..5)
                .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
                .collect();
            for row in rows {
                let line: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(cell, w)| format!("{cell:<w$}"))
                    .collect();
                println!("{}", line.join("  ").trim_end());
            }
        }
    }
    ExitCode::SUCCESS
}

pub fn rmi(store: &Store, references: &[String]) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for text in references {
        if text.starts_with("sha256:") {
            let digest = match Digest::parse(text) {
                Ok(digest) => digest,
                Err(why) => {
                    code = usage(
                        why,
                        "`launcher images --format json` shows the full digests",
                    );
                    continue;
                }
            };
            match store.remove_image(&digest) {
                Ok(keys) => {
                    for key in keys {
                        println!("untagged: {key}");
                    }
                    println!("deleted: {digest}");
                }
                Err(kind) => code = report(ImageError::new(&digest, kind)),
            }
            continue;
        }
        let reference = match parse_reference(text) {
            Ok(reference) => reference,
            Err(usage) => {
                code = usage;
                continue;
            }
        };
        match store.remove_ref(&reference.key()) {
            Ok(removed) => {
                println!("untagged: {}", removed.key);
                if let Some(digest) = removed.image {
                    println!("deleted: {digest}");
                }
            }
            Err(kind) => code = report(ImageError::new(reference.key(), kind)),
        }
    }
    code
}

/// The layers the containers of `state` run on (their records' plans): prune keeps them.
fn layers_in_use(state: &launcher::state::Store) -> Vec<Digest> {
    let names = state.names().unwrap_or_default();
    names
        .iter()
        .filter_map(|name| state.read(name).ok().flatten())
        .flat_map(|record| {
            record
                .plan
                .steps
                .into_iter()
                .filter_map(|step| match step.action {
                    launcher::plan::Action::OverlayRootfs(overlay) => Some(overlay.layers),
                    _ => None,
                })
                .flatten()
        })
        .filter_map(|folder| {
            let hex = folder.file_name()?.to_str()?.to_string();
            Digest::parse(&format!("sha256:{hex}")).ok()
        })
        .collect()
}

pub fn prune(store: &Store, state: &launcher::state::Store) -> ExitCode {
    match store.prune(&layers_in_use(state)) {
        Ok(pruned) => {
            println!(
                "removed {} images, {} layers, {} blobs: {}",
                pruned.images.len(),
                pruned.layers,
                pruned.blobs,
                human(pruned.bytes)
            );
            ExitCode::SUCCESS
        }
        Err(kind) => report(ImageError::new(store.root().display(), kind)),
    }
}

/// `launcher lock`: the file's image pinned in Container.lock (pulled when needed).
pub fn lock(file: &std::path::Path, pipeline: &Pipeline) -> ExitCode {
    let (plan, _) = match checked_plan(file, super::Overrides::default(), pipeline) {
        Ok(checked) => checked,
        Err(error) => return fail(error, Context::CHECK),
    };
    let Some(overlay) = plan.find(|a| match a {
        launcher::plan::Action::OverlayRootfs(overlay) => Some(overlay),
        _ => None,
    }) else {
        return usage(
            format!(
                "{} has no `image`: there is nothing to lock",
                file.display()
            ),
            "Container.lock pins the image of a file that runs one (`image = \"...\"`)",
        );
    };
    println!("{} {}", overlay.image, overlay.digest);
    ExitCode::SUCCESS
}
