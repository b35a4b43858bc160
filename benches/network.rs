//! The network library's side of benches/network.sh, run inside a namespace that plays the
//! host (see that script). Subcommands:
//!
//! - `cycles STATE PID N`: N attach+release cycles of the container PID on network "bench";
//!   prints the median, 90th percentile and mean in microseconds.
//! - `attach STATE PID NETWORK`: attaches, prints `ADDRESS GATEWAY`, releases at EOF on stdin.
//! - `pasta PID`: starts pasta for PID, prints `ready`, releases at EOF on stdin.
//! - `prune STATE`: removes every network of STATE.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use launcher::network::{self, AttachRequest, Netns, NetworkSpec, PastaRequest};

fn request<'a>(state: &'a Path, netns: &'a Netns, network: &str) -> AttachRequest<'a> {
    AttachRequest {
        state_root: state,
        network: NetworkSpec::named(network),
        container: "bench",
        hostname: "bench",
        netns,
        address: None,
        ports: Vec::new(),
        etc: None,
    }
}

fn fail(what: &str, error: network::NetworkError) -> ! {
    eprintln!("network bench: {what}: {error}\n  hint: {}", error.hint());
    std::process::exit(1)
}

fn wait_for_eof() {
    let mut line = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut line)
        .is_ok_and(|n| n > 0)
    {
        line.clear();
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["cycles", state, pid, count] => {
            let netns =
                Netns::of_pid(pid.parse().expect("a pid")).unwrap_or_else(|e| fail("netns", e));
            let count: usize = count.parse().expect("a count");
            let state = Path::new(state);
            // The first attach makes the bridge and its rules: not part of a container's start.
            network::attach(request(state, &netns, "bench"))
                .and_then(|a| a.release())
                .unwrap_or_else(|e| fail("warm-up", e));
            let mut times: Vec<Duration> = Vec::with_capacity(count);
            let mut attaches: Vec<Duration> = Vec::with_capacity(count);
            for _ in 0..count {
                let start = Instant::now();
                let attachment = network::attach(request(state, &netns, "bench"))
                    .unwrap_or_else(|e| fail("attach", e));
                attaches.push(start.elapsed());
                attachment.release().unwrap_or_else(|e| fail("release", e));
                times.push(start.elapsed());
            }
            times.sort();
            attaches.sort();
            let micros = |d: Duration| d.as_secs_f64() * 1e6;
            let mean = times.iter().map(|d| micros(*d)).sum::<f64>() / count as f64;
            println!(
                "median_us={:.0} p90_us={:.0} mean_us={:.0} attach_median_us={:.0}",
                micros(times[count / 2]),
                micros(times[count * 9 / 10]),
                mean,
                micros(attaches[count / 2])
            );
        }
        ["attach", state, pid, name] => {
            let netns =
                Netns::of_pid(pid.parse().expect("a pid")).unwrap_or_else(|e| fail("netns", e));
            let attachment = network::attach(request(Path::new(state), &netns, name))
                .unwrap_or_else(|e| fail("attach", e));
            println!("{} {}", attachment.address(), attachment.gateway());
            let _ = std::io::stdout().flush();
            wait_for_eof();
            attachment.release().unwrap_or_else(|e| fail("release", e));
        }
        ["pasta", pid] => {
            let netns =
                Netns::of_pid(pid.parse().expect("a pid")).unwrap_or_else(|e| fail("netns", e));
            let pasta = network::pasta::start(&netns, &PastaRequest::default())
                .unwrap_or_else(|e| fail("pasta", e));
            println!("ready");
            let _ = std::io::stdout().flush();
            wait_for_eof();
            pasta.release().unwrap_or_else(|e| fail("release", e));
        }
        ["prune", state] => {
            network::prune(Path::new(state), |_| false).unwrap_or_else(|e| fail("prune", e));
        }
        _ => {
            eprintln!(
                "usage: network cycles STATE PID N | attach STATE PID NETWORK | pasta PID | prune STATE (run by benches/network.sh)"
            );
            std::process::exit(2);
        }
    }
}
