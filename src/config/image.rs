//! `image` and `entrypoint`: the root filesystem from an image, checked as written (the
//! reference's syntax, the keys that go with it). Pulling it and merging its config are the
//! image stage's (`image::resolve`), after validation. Part of the `validate` builder.

use toml::Spanned;

use super::file::{ContainerFile, ImageSpec, PullPolicy as FilePull, RootfsSpec};
use super::validate::Builder;
use crate::diagnostic::Problem;
use crate::plan::{At, ImageSource, Origin, PullPolicy, Root};

impl Builder<'_> {
    pub(super) fn image_root(
        &mut self,
        file: &ContainerFile,
        image: &Spanned<ImageSpec>,
    ) -> (Root, Origin) {
        // With an image, a `[rootfs]` table may only say `readonly`.
        if let Some(rootfs) = &file.rootfs {
            let only_readonly = matches!(
                rootfs.get_ref(),
                RootfsSpec::Table(t) if t.path.is_none() && t.host.is_none()
            );
            if !only_readonly {
                self.error(
                    Problem::error("plan::rootfs-and-image", "rootfs", rootfs.span())
                        .message("the file gives both `rootfs` and `image`")
                        .label("a root filesystem here, and an image too")
                        .help("keep one: `image` for an image, `rootfs` for a folder or the host's /; with an image, `[rootfs]` may only set `readonly`"),
                );
            }
        }
        let (reference, key, pull, platform, insecure) = match image.get_ref() {
            ImageSpec::Reference(text) => (
                Spanned::new(image.span(), text.clone()),
                "image",
                None,
                None,
                false,
            ),
            ImageSpec::Table(table) => (
                table.reference.clone(),
                "image.ref",
                table.pull.as_ref().map(|p| *p.get_ref()),
                table.platform.clone(),
                table.insecure.as_ref().is_some_and(|i| *i.get_ref()),
            ),
        };
        if let Err(why) = crate::image::Reference::parse(reference.get_ref(), self.base_dir) {
            self.error(
                Problem::error("plan::invalid-image", key, reference.span())
                    .message(format!("\"{}\" is not an image reference", reference.get_ref()))
                    .label(why)
                    .help("write NAME[:TAG][@sha256:DIGEST] (e.g. alpine:3.20), oci:PATH[:TAG] or docker-archive:PATH"),
            );
        }
        if let Some(platform) = &platform
            && let Err(why) = crate::image::Platform::parse(platform.get_ref())
        {
            self.error(
                Problem::error("plan::invalid-platform", "image.platform", platform.span())
                    .message(format!("\"{}\" is not a platform", platform.get_ref()))
                    .label(why)
                    .help("write os/arch[/variant], e.g. \"linux/arm64\" or \"linux/arm/v7\""),
            );
        }
        let source = ImageSource {
            reference: reference.get_ref().clone(),
            base_dir: self.base_dir.to_path_buf(),
            pull: match pull {
                None | Some(FilePull::Missing) => PullPolicy::Missing,
                Some(FilePull::Always) => PullPolicy::Always,
                Some(FilePull::Never) => PullPolicy::Never,
            },
            platform: platform.map(|p| p.into_inner()),
            insecure,
        };
        (Root::Image(source), self.origin(key, &reference))
    }

    /// `entrypoint`, which only an image has to replace.
    pub(super) fn entrypoint(&mut self, file: &ContainerFile) -> Option<At<Vec<String>>> {
        let entrypoint = file.entrypoint.as_ref()?;
        if file.image.is_none() {
            self.error(
                Problem::error(
                    "plan::entrypoint-without-image",
                    "entrypoint",
                    entrypoint.span(),
                )
                .message("`entrypoint` replaces an image's Entrypoint, and there is no `image`")
                .label("no image to take it from")
                .help("put the whole command in `command`"),
            );
            return None;
        }
        let args = entrypoint
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect();
        Some(At::new(args, self.origin("entrypoint", entrypoint)))
    }
}
