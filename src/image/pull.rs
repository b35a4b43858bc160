//! `pull`: a reference → an image in the store (manifest, config, layers unpacked, record,
//! ref), and `ensure`, the call `up` makes: the stored image when there is one (no source is
//! opened, no HTTP agent or TLS is made), else a pull, as the pull policy says.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::config::ConfigFile;
use super::error::{ErrorKind, ImageError};
use super::fetch::{ensure_blob, ensure_layer, store_bytes};
use super::manifest::{self, Manifest};
use super::platform::Platform;
use super::progress::Progress;
use super::reference::Reference;
use super::registry::Registry;
use super::source::{DockerArchive, OciLayout, Source};
use super::store::{ImageRecord, LayerRecord, Store};

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to pick from an index; default: this machine's.
    pub platform: Option<Platform>,
    /// Registries (`host` or `host:port`) to reach over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Draw progress bars on stderr (the caller checks that it is a terminal).
    pub progress: bool,
}

/// When `ensure` fetches: `pull = "missing" | "always" | "never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

/// What a pull stored.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The ref's key in the store.
    pub key: String,
    pub record: ImageRecord,
    /// Layers this pull unpacked (the others were in the store already).
    pub unpacked: usize,
    /// What could not be kept (rootless owners, device nodes, xattrs), one line each.
    pub notes: Vec<String>,
}

/// Opens the source of `reference` (a registry source makes no connection until asked).
pub fn open_source(
    reference: &Reference,
    insecure: &[String],
) -> Result<Box<dyn Source>, ErrorKind> {
    Ok(match reference {
        Reference::Registry(r) => Box::new(Registry::new(r.clone(), insecure)),
        Reference::OciLayout { path, tag } => Box::new(OciLayout::open(path, tag.as_deref())?),
        Reference::DockerArchive { path } => Box::new(DockerArchive::open(path)?),
    })
}

/// The stored image of `reference` per `policy`, pulling only when it must.
pub fn ensure(
    store: &Store,
    reference: &Reference,
    policy: PullPolicy,
    options: &PullOptions,
) -> Result<ImageRecord, ImageError> {
    let key = reference.key();
    if policy != PullPolicy::Always {
        let failed = |kind| ImageError::new(&key, kind);
        if let Some(record) = store.lookup(&key).map_err(failed)? {
            return Ok(record);
        }
        // A pinned digest (from Container.lock) names the image whatever ref pulled it.
        if let Reference::Registry(r) = reference
            && let Some(digest) = &r.digest
            && let Some(record) = store.record(digest).map_err(failed)?
            && store.is_whole(&record)
        {
            return Ok(record);
        }
    }
    if policy == PullPolicy::Never {
        return Err(ImageError::new(
            &key,
            ErrorKind::NotInStore {
                store: store.root().to_path_buf(),
            },
        ));
    }
    pull(store, reference, options).map(|pulled| pulled.record)
}

/// Pulls `reference` into `store`.
pub fn pull(
    store: &Store,
    reference: &Reference,
    options: &PullOptions,
) -> Result<Pulled, ImageError> {
    let key = reference.key();
    pull_inner(store, reference, &key, options).map_err(|kind| ImageError::new(&key, kind))
}

fn pull_inner(
    store: &Store,
    reference: &Reference,
    key: &str,
    options: &PullOptions,
) -> Result<Pulled, ErrorKind> {
    let whiteouts = store.ensure()?;
    // Shared: pulls run side by side; rmi and prune wait for them.
    let _shared = store.lock_store(true)?;
    let source = open_source(reference, &options.insecure_registries)?;
    let platform = options.platform.clone().unwrap_or_else(Platform::current);
    let fetched = source.manifest(&platform)?;
    let manifest: Manifest =
        serde_json::from_slice(&fetched.bytes).map_err(|e| ErrorKind::BadDocument {
            what: format!("manifest {}", fetched.digest),
            why: e.to_string(),
        })?;
    check_types(&manifest)?;
    let progress = match options.progress {
        true => Progress::on_stderr(),
        false => Progress::hidden(),
    };
    let no_bar = Progress::hidden().bar("", 0);
    ensure_blob(store, source.as_ref(), &manifest.config, "config", &no_bar)?;
    let config_path = store.blob_path(&manifest.config.digest);
    let config_bytes = std::fs::read(&config_path)
        .map_err(|e| super::error::io_kind("reading", &config_path, e))?;
    let config: ConfigFile =
        serde_json::from_slice(&config_bytes).map_err(|e| ErrorKind::BadDocument {
            what: format!("image config {}", manifest.config.digest),
            why: e.to_string(),
        })?;
    let image_platform = config.platform();
    if !config.os.is_empty() && !platform.matches(&image_platform) {
        return Err(ErrorKind::NoPlatform {
            wanted: platform.to_string(),
            offered: vec![image_platform.to_string()],
        });
    }
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(ErrorKind::BadDocument {
            what: format!("image config {}", manifest.config.digest),
            why: format!(
                "it lists {} diff_ids for {} layers",
                diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    // Layers side by side (downloads wait on the network, gzip on a CPU).
    let next = AtomicUsize::new(0);
    let unpacked = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, ErrorKind)>> = Mutex::new(Vec::new());
    let notes: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bars: Vec<_> = manifest
        .layers
        .iter()
        .map(|l| progress.bar(l.digest.short(), l.size))
        .collect();
    let workers = manifest.layers.len().clamp(1, 4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(layer) = manifest.layers.get(i) else {
                        break;
                    };
                    if failures.lock().is_ok_and(|f| !f.is_empty()) {
                        break;
                    }
                    match ensure_layer(
                        store,
                        source.as_ref(),
                        layer,
                        &diff_ids[i],
                        whiteouts,
                        &bars[i],
                    ) {
                        Ok(Some(layer_notes)) => {
                            unpacked.fetch_add(1, Ordering::Relaxed);
                            for line in layer_notes.lines() {
                                let line = format!("layer {}: {line}", layer.digest.short());
                                progress.println(&line);
                                if let Ok(mut notes) = notes.lock() {
                                    notes.push(line);
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(error) => {
                            if let Ok(mut failures) = failures.lock() {
                                failures.push((i, error));
                            }
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|(i, _)| *i);
    if let Some((_, error)) = failures.into_iter().next() {
        return Err(error);
    }
    store_bytes(store, &fetched.digest, &fetched.bytes)?;
    let stored = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let record = ImageRecord {
        manifest: fetched.digest.clone(),
        media_type: manifest
            .media_type
            .clone()
            .unwrap_or(fetched.media_type.clone()),
        config: manifest.config.digest.clone(),
        platform: image_platform,
        layers: manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(l, diff_id)| LayerRecord {
                digest: l.digest.clone(),
                diff_id: diff_id.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
            })
            .collect(),
        created: config.created.clone(),
        stored,
        whiteouts,
    };
    // The record only once every layer is in place; the ref only once the record is.
    store.write_record(&record)?;
    store.update_refs(|refs| refs.refs.insert(key.to_string(), record.manifest.clone()))?;
    Ok(Pulled {
        key: key.to_string(),
        record,
        unpacked: unpacked.into_inner(),
        notes: notes.into_inner().unwrap_or_default(),
    })
}

fn check_types(manifest: &Manifest) -> Result<(), ErrorKind> {
    if manifest.schema_version != 2 {
        return Err(ErrorKind::UnsupportedMediaType {
            media_type: format!("schemaVersion {}", manifest.schema_version),
            what: "the manifest (only schema version 2 is read)",
        });
    }
    if !manifest::is_config_type(&manifest.config.media_type) {
        return Err(ErrorKind::UnsupportedMediaType {
            media_type: manifest.config.media_type.clone(),
            what: "the config (not a container image: an artifact?)",
        });
    }
    if let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| !manifest::is_layer_type(&l.media_type))
    {
        return Err(ErrorKind::UnsupportedMediaType {
            media_type: layer.media_type.clone(),
            what: "a layer",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config_type: &str, layer_type: &str) -> Manifest {
        let text = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{config_type}","digest":"sha256:{0}","size":1}},
               "layers":[{{"mediaType":"{layer_type}","digest":"sha256:{0}","size":1}}]}}"#,
            "a".repeat(64)
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn artifacts_and_unknown_layers_are_named_as_unsupported() {
        assert!(
            check_types(&manifest(
                manifest::OCI_CONFIG,
                "application/vnd.oci.image.layer.v1.tar+zstd"
            ))
            .is_ok()
        );
        let helm = check_types(&manifest(
            "application/vnd.cncf.helm.config.v1+json",
            "application/tar",
        ))
        .unwrap_err();
        assert_eq!(
            helm.to_string(),
            "unsupported media type \"application/vnd.cncf.helm.config.v1+json\" for the config (not a container image: an artifact?)"
        );
        let layer =
            check_types(&manifest(manifest::DOCKER_CONFIG, "application/x-squashfs")).unwrap_err();
        assert!(
            layer
                .to_string()
                .contains("\"application/x-squashfs\" for a layer"),
            "{layer}"
        );
    }
}
