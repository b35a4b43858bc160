//! The command and how it runs: `command`, `env`, `workdir`, `user`, `terminal`, `init`, into
//! the spec's process. Part of the `validate` builder.

use std::collections::BTreeMap;

use super::file::{ContainerFile, Switch};
use super::validate::{Builder, DEFAULT_PATH, container_path_help};
use super::values::container_path;
use crate::diagnostic::Problem;
use crate::plan::{At, Id, Process, TerminalMode, UserSpec};

impl Builder<'_> {
    pub(super) fn process(&mut self, file: &ContainerFile, name: &str) -> Process {
        let (env, env_set) = self.env(file, name);
        let command = self.command(file);
        let terminal = match &file.terminal {
            Some(t) => At::new(
                match t.get_ref() {
                    Switch::Bool(true) => TerminalMode::On,
                    Switch::Bool(false) => TerminalMode::Off,
                    Switch::Auto(_) => TerminalMode::Auto,
                },
                self.origin("terminal", t),
            ),
            None => At::default_value(TerminalMode::Auto),
        };
        Process {
            command,
            entrypoint: self.entrypoint(file),
            env,
            env_set,
            workdir: self.workdir(file),
            user: self.user(file),
            terminal,
            init: file.init.unwrap_or(true),
        }
    }

    /// The command, as the file gives it.
    fn command(&mut self, file: &ContainerFile) -> At<Vec<String>> {
        let Some(command) = &file.command else {
            // An image's config gives the command; a folder needs one from the file.
            if file.image.is_none() {
                let first_line = self.first_line();
                self.error(
                    Problem::error("plan::no-command", "command", first_line)
                        .message("the file has no `command`, and no `image` to take one from")
                        .label("no `command` in the file")
                        .help("add `command = [\"/bin/sh\"]`: the program and its arguments"),
                );
            }
            return At::default_value(Vec::new());
        };
        // With an image and an entrypoint, the command is only the arguments: it may be empty.
        if command.get_ref().is_empty() && file.entrypoint.is_none() {
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
        let args = command
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect();
        At::new(args, self.origin("command", command))
    }

    /// The default environment with the file's `env` over it, and the names the file set.
    fn env(&mut self, file: &ContainerFile, name: &str) -> (Vec<(String, String)>, Vec<String>) {
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
        let set = file.env.keys().map(|k| k.get_ref().clone()).collect();
        (env.into_iter().collect(), set)
    }

    fn workdir(&mut self, file: &ContainerFile) -> At<String> {
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
                At::new(path, self.origin("workdir", dir))
            }
            None => At::default_value("/".into()),
        }
    }

    fn user(&mut self, file: &ContainerFile) -> At<UserSpec> {
        let Some(user) = &file.user else {
            let spec = UserSpec {
                text: "0:0".into(),
                user: Id::Number(0),
                group: Some(Id::Number(0)),
            };
            return At::default_value(spec);
        };
        let spec = UserSpec::parse(user.get_ref()).unwrap_or_else(|why| {
            self.error(
                Problem::error("plan::invalid-user", "user", user.span())
                    .message(format!("invalid user \"{}\"", user.get_ref()))
                    .label(why)
                    .help("e.g. user = \"1000:1000\" or user = \"nobody\""),
            );
            UserSpec {
                text: user.get_ref().clone(),
                user: Id::Number(0),
                group: None,
            }
        });
        At::new(spec, self.origin("user", user))
    }
}
