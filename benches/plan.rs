//! Load + plan (and preflight) of a Container.toml with 1,000 mounts, in process: the
//! micro-benchmark of issue 6. `cargo bench --bench plan` prints the median and the spread.

use std::time::{Duration, Instant};

use launcher::config;
use launcher::diagnostic::SourceFile;
use launcher::plan::Plan;
use launcher::preflight::{self, Host};

fn many_mounts(count: usize) -> String {
    let mut text =
        String::from("name = \"many\"\ncommand = [\"/bin/true\"]\n\n[rootfs]\nhost = true\n");
    for i in 0..count {
        text.push_str(&format!(
            "\n[[mount]]\ntype = \"tmpfs\"\ntarget = \"/tmp/m{i}\"\nsize = \"1MiB\"\n"
        ));
    }
    text
}

fn median(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    )
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration, Duration) {
    for _ in 0..3 {
        f();
    }
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let text = many_mounts(1000);
    let base = std::env::temp_dir();
    let runs = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let load_plan = time(runs, || {
        let loaded = config::parse(SourceFile::new("many/Container.toml", text.as_str()))
            .expect("the file does not load");
        let spec = config::spec(&loaded, &base).expect("the file does not validate");
        assert_eq!(spec.mounts.len(), 1000);
    });
    let with_preflight = time(runs, || {
        let loaded = config::parse(SourceFile::new("many/Container.toml", text.as_str()))
            .expect("the file does not load");
        let spec = config::spec(&loaded, &base).expect("the file does not validate");
        let facts = preflight::check(&spec, &Host::current()).expect("preflight failed");
        let plan = Plan::build(spec, facts);
        assert_eq!(
            plan.steps
                .iter()
                .filter(|s| matches!(s.action, launcher::plan::Action::Mount(_)))
                .count(),
            1003,
            "1,000 mounts, /proc, /tmp and /run"
        );
    });
    println!(
        "Container.toml with 1,000 mounts ({} bytes), {runs} runs:",
        text.len()
    );
    for (what, (min, med, max)) in [
        ("load + validate", load_plan),
        ("+ preflight + plan", with_preflight),
    ] {
        println!(
            "  {what:<24} median {:>8.3} ms   (min {:.3}, max {:.3})",
            ms(med),
            ms(min),
            ms(max)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
