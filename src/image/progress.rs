//! Pull progress on a terminal: one bar per layer with bytes, total and rate (indicatif).
//! Without a terminal (a pipe, CI, a log) nothing is drawn.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one pull; [`Progress::hidden`] draws nothing.
pub struct Progress {
    multi: Option<MultiProgress>,
}

/// One blob's bar (a no-op when hidden).
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Bars on stderr (the caller checks that stderr is a terminal).
    pub fn on_stderr() -> Progress {
        Progress {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn hidden() -> Progress {
        Progress { multi: None }
    }

    /// A bar for `total` bytes labelled `label` (a short digest).
    pub fn bar(&self, label: &str, total: u64) -> Bar {
        let Some(multi) = &self.multi else {
            return Bar { bar: None };
        };
        let bar = multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix:>12} {bar:30} {binary_bytes:>10}/{binary_total_bytes:<10} {binary_bytes_per_sec:>12} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_prefix(label.to_string());
        Bar { bar: Some(bar) }
    }

    /// A line above the bars (a note about a layer).
    pub fn println(&self, line: &str) {
        if let Some(multi) = &self.multi {
            let _ = multi.println(line);
        }
    }
}

impl Bar {
    pub fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn message(&self, text: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    pub fn done(&self, text: &'static str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(text);
        }
    }
}
