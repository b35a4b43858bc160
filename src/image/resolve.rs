//! The image stage of the pipeline, between validation and preflight: a spec whose root is an
//! image gets the image (from the store, pulled when the pull policy says so, pinned by
//! Container.lock), its layers as the root, and its config merged in as docker merges it. The
//! image config is a second front end: each value it gives carries the origin
//! `image config: FIELD`, and replaces only what the file did not set.

use std::path::{Path, PathBuf};

use super::lockfile::{LockFile, LockStatus};
use super::pull::{self, PullOptions, PullPolicy as Policy};
use super::{ImageError, ImageRecord, Platform, Reference, Store, WhiteoutForm};
use crate::diagnostic::Problem;
use crate::plan::{At, ImageSource, Layers, Origin, PullPolicy, Root, Signal, Spec, UserSpec};

/// How Container.lock is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockUse {
    /// Follow it when it pins the image; change nothing (`plan`, `check`).
    Read,
    /// Follow it, and add the image when it has none (the first `up`).
    Write,
    /// It must pin the image (`check --locked`): missing or stale is an error.
    Require,
    /// Resolve the reference anew and write what it resolves to (`launcher lock --update`).
    Update,
}

/// Where the stage looks and what it may do.
pub struct Stage<'a> {
    pub store: &'a Store,
    /// The Container.toml the spec came from (Container.lock is next to it).
    pub file: &'a Path,
    pub lock: LockUse,
    /// Draw pull progress (the caller checks stderr is a terminal).
    pub progress: bool,
}

/// What the stage did that the user should hear of: notes of the pull (what could not be
/// kept rootless), the lock file written.
pub type Notes = Vec<String>;

/// The folder of a container's writable layer, in the store's filesystem (the overlay needs
/// `upper` and `work` on one filesystem).
pub fn writable_layer(store: &Store, name: &str) -> PathBuf {
    store.root().join("containers").join(name)
}

/// Resolves the image of `spec`, if it has one.
pub fn resolve(spec: &mut Spec, stage: &Stage) -> Result<Notes, Vec<Problem>> {
    let Root::Image(source) = &spec.root.value else {
        return Ok(Vec::new());
    };
    let source = source.clone();
    let origin = spec.root.origin.clone();
    let fail = |code: &'static str, message: String, label: String, help: String| {
        vec![at(&origin, code).message(message).label(label).help(help)]
    };
    let mut reference = Reference::parse(&source.reference, &source.base_dir).map_err(|why| {
        fail(
            "image::invalid-reference",
            format!("\"{}\" is not an image reference", source.reference),
            why,
            "write NAME[:TAG][@sha256:DIGEST], oci:PATH[:TAG] or docker-archive:PATH".into(),
        )
    })?;
    let platform = match &source.platform {
        Some(text) => Platform::parse(text).map_err(|why| {
            fail(
                "image::invalid-platform",
                format!("\"{text}\" is not a platform"),
                why,
                "write os/arch[/variant]".into(),
            )
        })?,
        None => Platform::current(),
    };
    let lock_path = LockFile::path_for(stage.file);
    let mut lock = LockFile::read(&lock_path).map_err(|e| {
        fail(
            "image::lock",
            e.to_string(),
            "Container.lock".into(),
            e.hint().into(),
        )
    })?;
    let locked = match (&lock, stage.lock) {
        (_, LockUse::Update) => None,
        (Some(lock), _) => match lock.status(&source.reference, &platform) {
            LockStatus::Locked(digest) => Some(digest),
            LockStatus::Missing if stage.lock == LockUse::Require => {
                return Err(fail(
                    "image::not-locked",
                    format!("Container.lock does not pin {}", source.reference),
                    "not in Container.lock".into(),
                    "run `launcher lock` and commit Container.lock".into(),
                ));
            }
            LockStatus::Stale { why } if stage.lock == LockUse::Require => {
                return Err(fail(
                    "image::lock-stale",
                    format!("Container.lock is stale for {}", source.reference),
                    why,
                    "run `launcher lock --update` and commit Container.lock".into(),
                ));
            }
            LockStatus::Missing | LockStatus::Stale { .. } => None,
        },
        (None, LockUse::Require) => {
            return Err(fail(
                "image::no-lock",
                format!("there is no {}", lock_path.display()),
                "no Container.lock next to the file".into(),
                "run `launcher lock` and commit Container.lock".into(),
            ));
        }
        (None, _) => None,
    };
    // A locked registry image is fetched by its digest: the tag may have moved since.
    if let (Some(digest), Reference::Registry(r)) = (&locked, &mut reference) {
        r.digest = Some(digest.clone());
    }
    let policy = match (stage.lock, source.pull) {
        (LockUse::Update, _) | (_, PullPolicy::Always) => Policy::Always,
        (_, PullPolicy::Missing) => Policy::Missing,
        (_, PullPolicy::Never) => Policy::Never,
    };
    let options = PullOptions {
        platform: source.platform.as_ref().map(|_| platform.clone()),
        insecure_registries: match (&reference, source.insecure) {
            (Reference::Registry(r), true) => vec![r.registry.clone()],
            _ => Vec::new(),
        },
        progress: stage.progress,
    };
    let record = pull::ensure(stage.store, &reference, policy, &options)
        .map_err(|error| vec![image_problem(&origin, &error)])?;
    if let Some(digest) = &locked
        && *digest != record.manifest
    {
        return Err(fail(
            "image::not-the-locked-one",
            format!(
                "{} is {}, not the image Container.lock pins",
                source.reference, record.manifest
            ),
            format!("locked: {digest}"),
            "the source has another image now: `launcher lock --update` takes it".into(),
        ));
    }
    let mut notes = Vec::new();
    if matches!(stage.lock, LockUse::Write | LockUse::Update) && locked.is_none() {
        let lock = lock.get_or_insert_with(LockFile::new);
        lock.set(&source.reference, record.manifest.clone(), &platform);
        lock.retain(&[source.reference.as_str()]);
        lock.write(&lock_path).map_err(|e| {
            fail(
                "image::lock",
                e.to_string(),
                "Container.lock".into(),
                e.hint().into(),
            )
        })?;
        notes.push(format!(
            "{} pins {} to {}",
            lock_path.display(),
            source.reference,
            record.manifest
        ));
    }
    let config = stage.store.config(&record).map_err(|kind| {
        vec![image_problem(
            &origin,
            &ImageError::new(&source.reference, kind),
        )]
    })?;
    let run = config.config.unwrap_or_default();
    let mut layers = layers(spec, stage.store, &source, &record);
    if layers.writable.is_none() && layers.layers.len() == 1 {
        // An overlay without a writable layer needs two layers below it: an empty one of the
        // store's goes under an image of one layer.
        let empty = empty_layer(stage.store).map_err(|why| {
            fail(
                "image::store",
                format!("cannot make the store's empty layer: {why}"),
                "this image's read-only root needs it".into(),
                format!(
                    "check that {} is writable by this user",
                    stage.store.root().display()
                ),
            )
        })?;
        layers.layers.insert(0, empty);
    }
    spec.root.value = Root::Layers(layers);
    merge(spec, &run, &origin)?;
    Ok(notes)
}

/// `<store>/empty`: a layer with nothing in it, made on first use.
fn empty_layer(store: &Store) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let path = store.root().join("empty");
    match std::fs::DirBuilder::new().mode(0o755).create(&path) {
        Ok(()) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(path),
        Err(e) => Err(format!("mkdir {}: {e}", path.display())),
    }
}

fn layers(spec: &Spec, store: &Store, source: &ImageSource, record: &ImageRecord) -> Layers {
    Layers {
        image: source.reference.clone(),
        digest: record.manifest.to_string(),
        layers: store.layer_paths(record),
        writable: spec
            .readonly_root
            .is_none()
            .then(|| writable_layer(store, &spec.name)),
        userxattr: record.whiteouts == WhiteoutForm::UserXattr,
    }
}

/// Docker's merge: the file's `entrypoint` replaces the image's (and then its Cmd is not
/// used); the file's `command` replaces its Cmd; each `env` variable of the file wins over the
/// image's; `workdir`, `user` and the stop signal come from the image when the file does not
/// set them.
fn merge(
    spec: &mut Spec,
    run: &super::config::RunConfig,
    root: &Origin,
) -> Result<(), Vec<Problem>> {
    let from = |field: &str| Origin::Image {
        field: field.to_string(),
    };
    let process = &mut spec.process;
    let file_command = process.command.origin != Origin::Default;
    let (entrypoint, entry_origin) = match process.entrypoint.take() {
        Some(ep) => (ep.value, Some(ep.origin)),
        None => (run.entrypoint.clone().unwrap_or_default(), None),
    };
    let (args, origin) = match (file_command, entry_origin) {
        (true, _) => (
            process.command.value.clone(),
            process.command.origin.clone(),
        ),
        (false, Some(origin)) => (Vec::new(), origin),
        (false, None) => {
            let cmd = run.cmd.clone().unwrap_or_default();
            let field = if cmd.is_empty() { "Entrypoint" } else { "Cmd" };
            (cmd, from(field))
        }
    };
    let mut command = entrypoint;
    command.extend(args);
    if command.is_empty() {
        return Err(vec![
            at(root, "image::no-command")
                .message("the image has no Entrypoint or Cmd, and the file no `command`")
                .label("nothing to run")
                .help("add `command = [...]` to the file"),
        ]);
    }
    process.command = At::new(command, origin);
    for (name, value) in run.env_pairs() {
        if process.env_set.contains(&name) {
            continue;
        }
        process.env.retain(|(k, _)| *k != name);
        process.env.push((name, value));
    }
    process.env.sort();
    if process.workdir.origin == Origin::Default
        && let Some(dir) = run.working_dir()
    {
        process.workdir = At::new(dir.to_string(), from("WorkingDir"));
    }
    if process.user.origin == Origin::Default
        && let Some(user) = run.user()
    {
        let parsed = UserSpec::parse(user).map_err(|why| {
            vec![
                at(root, "image::invalid-user")
                    .message(format!("the image's User \"{user}\" is not a user"))
                    .label(why)
                    .help("set `user = ...` in the file to replace it"),
            ]
        })?;
        process.user = At::new(parsed, from("User"));
    }
    if spec.stop.origin == Origin::Default
        && let Some(signal) = run.stop_signal()
    {
        spec.stop.signal = Signal::parse(signal).map_err(|why| {
            vec![
                at(root, "image::invalid-stop-signal")
                    .message(format!(
                        "the image's StopSignal \"{signal}\" is not a signal"
                    ))
                    .label(why)
                    .help("set `[stop] signal = ...` in the file to replace it"),
            ]
        })?;
        spec.stop.origin = from("StopSignal");
    }
    Ok(())
}

/// A problem at the image's line, for an image that could not be had.
fn image_problem(origin: &Origin, error: &ImageError) -> Problem {
    at(origin, "image::unavailable")
        .message(error.to_string())
        .label("this image")
        .help(error.hint())
}

fn at(origin: &Origin, code: &'static str) -> Problem {
    match origin {
        Origin::File { key, span, .. } => Problem::error(code, key.clone(), span.clone()),
        _ => Problem::error(code, "image", 0..0),
    }
}
