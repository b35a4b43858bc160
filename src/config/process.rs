//! The command and how it runs: `command`, `env`, `workdir`, `user`, into the exec, working
//! folder and user steps. A child of `validate`, sharing its builder.

use std::collections::BTreeMap;

use super::{Builder, DEFAULT_PATH, container_path_help};
use crate::config::file::ContainerFile;
use crate::config::values::container_path;
use crate::diagnostic::Problem;
use crate::plan::{Exec, Origin, UserIds};

impl Builder<'_> {
    pub(super) fn exec(&mut self, file: &ContainerFile, name: &str) -> (Exec, Origin) {
        let command = &file.command;
        if command.get_ref().is_empty() {
            self.error(
                Problem::error("plan::empty-command", "command", command.span())
                    .message("`command` is empty")
                    .label("nothing to run")
                    .help("give the program and its arguments, e.g. command = [\"/bin/sh\"]"),
            );
        }
        for (i, arg) in command.get_ref().iter().enumerate() {
            let key = format!("command[{}]", i + 1);
            if arg.get_ref().contains('\0') {
                self.error(
                    Problem::error("plan::nul-in-command", key.clone(), arg.span())
                        .message("a command argument holds a NUL byte")
                        .label("NUL byte")
                        .help("remove the \\u0000"),
                );
            } else if i == 0 && arg.get_ref().is_empty() {
                self.error(
                    Problem::error("plan::empty-command", key, arg.span())
                        .message("the program name is empty")
                        .label("empty")
                        .help("give a program, e.g. \"/bin/sh\" or \"sh\""),
                );
            }
        }
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("PATH".into(), DEFAULT_PATH.into());
        env.insert("HOME".into(), "/root".into());
        env.insert(
            "HOSTNAME".into(),
            file.hostname
                .as_ref()
                .map_or(name, |h| h.get_ref())
                .to_string(),
        );
        for (key, value) in &file.env {
            let k = key.get_ref();
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                self.error(
                    Problem::error("plan::invalid-env-name", format!("env.{k}"), key.span())
                        .message(format!("invalid environment variable name {k:?}"))
                        .label("empty, or holds '=' or NUL")
                        .help("names are non-empty and hold no '=' or NUL byte"),
                );
            }
            if value.get_ref().contains('\0') {
                self.error(
                    Problem::error("plan::invalid-env-value", format!("env.{k}"), value.span())
                        .message(format!("the value of {k} holds a NUL byte"))
                        .label("NUL byte")
                        .help("remove the \\u0000"),
                );
            }
            env.insert(k.clone(), value.get_ref().clone());
        }
        let exec = Exec {
            args: command
                .get_ref()
                .iter()
                .map(|a| a.get_ref().clone())
                .collect(),
            path: None,
            env: env.into_iter().collect(),
            init: file.init.unwrap_or(true),
        };
        (exec, self.origin("command", command))
    }

    pub(super) fn workdir(&mut self, file: &ContainerFile) -> (String, Origin) {
        match &file.workdir {
            Some(dir) => {
                let path = match container_path(dir.get_ref()) {
                    Ok(path) => path,
                    Err(why) => {
                        self.error(
                            Problem::error("plan::invalid-workdir", "workdir", dir.span())
                                .message("`workdir` must be an absolute path inside the container")
                                .label(why)
                                .help(container_path_help("workdir", dir.get_ref())),
                        );
                        "/".into()
                    }
                };
                (path, self.origin("workdir", dir))
            }
            None => ("/".into(), Origin::Default),
        }
    }

    pub(super) fn user(&mut self, file: &ContainerFile) -> (UserIds, Origin) {
        let Some(user) = &file.user else {
            let ids = UserIds {
                spec: "0:0".into(),
                uid: Some(0),
                gid: Some(0),
                groups: Vec::new(),
            };
            return (ids, Origin::Default);
        };
        let spec = user.get_ref().clone();
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        if u.is_empty() || g.is_some_and(str::is_empty) || g.is_some_and(|g| g.contains(':')) {
            self.error(
                Problem::error("plan::invalid-user", "user", user.span())
                    .message(format!("invalid user \"{spec}\""))
                    .label("expected uid, uid:gid, name or name:group")
                    .help("e.g. user = \"1000:1000\" or user = \"nobody\""),
            );
        }
        let uid = u.parse::<u32>().ok();
        // A numeric uid without a group runs with gid = uid's group from /etc/passwd if there
        // is one (preflight), else gid 0, as Docker does.
        let gid = match g {
            Some(g) => g.parse::<u32>().ok(),
            None => None,
        };
        let ids = UserIds {
            spec,
            uid,
            gid,
            groups: Vec::new(),
        };
        (ids, self.origin("user", user))
    }
}
