//! The learned schedule live: issue 25's stand-in against the emulator. Tasks are submitted one
//! every 0.5 s, each by its own thread that then polls it with `poll_until_done` and the default
//! options (learning on); task durations are log-normal (the emulator's `--processing-sigma`,
//! seeded). After 80 tasks of warm-up the next ones are measured: wait = from the moment the
//! task was done (its submission answered, plus the processing time the emulator drew for it) to
//! the answer that said so; cost = wait + 0.5 s x GETs. The baselines of the same run, on the
//! same durations: today's default and the best fixed schedule for the true distribution
//! (`learning.rs`).
//!
//!     cargo build --release -p ocrcloud-emulator
//!     cargo bench --bench poll_schedule_live -- [--measured N] [--emulator PATH]
//!
//! One distribution takes about (80 + N) x 0.5 s plus its longest task (N = 100: about two
//! minutes for the 30 s median).

#[allow(dead_code)]
mod learning;

use learning::{DISTRIBUTIONS, Outcome, WARM_UP};
use ocrcloud::auth::Auth;
use ocrcloud::call::Call;
use ocrcloud::client::Client;
use ocrcloud::operations::{Document, Operation};
use ocrcloud::poll::estimate::LogNormal;
use ocrcloud::poll::{PollOptions, poll_until_done};
use ocrcloud::wire::{DiscardSink, TaskStatus};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n";

struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start(binary: &PathBuf, median: f64, sigma: f64, seed: u64) -> Emulator {
        let mut child = Command::new(binary)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--pending-ms",
                "0",
                "--processing-ms",
            ])
            .arg(format!("{}", (median * 1000.0).round()))
            .arg("--processing-sigma")
            .arg(sigma.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().trim_start_matches("listening on ").to_string();
        Emulator { child, url }
    }

    /// The processing time (seconds) the emulator drew for task `id`.
    fn duration(&self, id: &str) -> f64 {
        let body = ureq::get(format!("{}/_emulator/tasks/{id}", self.url))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        let task: serde_json::Value = serde_json::from_str(&body).unwrap();
        (task["pendingMs"].as_f64().unwrap() + task["processingMs"].as_f64().unwrap()) / 1000.0
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One task: submitted at its turn, then polled; answers (id, seconds from the submission's
/// answer to the final answer, GETs).
fn task(client: &Client, turn: Instant) -> (String, f64, u32) {
    std::thread::sleep(turn.saturating_duration_since(Instant::now()));
    let op = Operation::RECOGNIZE_PDF;
    let call = Call::new(Some(Duration::from_secs(60)), None);
    let id = client
        .submit(op, Document::Bytes(PDF), None, &call)
        .unwrap();
    let submitted = Instant::now();
    let (mut done, mut gets) = (submitted, 0);
    let options = PollOptions::default();
    poll_until_done(
        client,
        op,
        &id,
        &options,
        &mut DiscardSink::default(),
        &mut |_, status, attempt| {
            gets = attempt;
            if status == TaskStatus::Completed {
                done = Instant::now();
            }
        },
    )
    .unwrap();
    (id, done.duration_since(submitted).as_secs_f64(), gets)
}

fn main() {
    let mut measured = 100;
    let mut emulator = std::env::var_os("OCRCLOUD_EMULATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("ocrcloud-emulator")
        });
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--measured" => {
                measured = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--measured N")
            }
            "--emulator" => emulator = args.next().expect("--emulator PATH").into(),
            "--bench" => {}
            other => panic!("unknown argument {other:?} (known: --measured N, --emulator PATH)"),
        }
    }
    println!(
        "Learned schedule, live against the emulator: one task every {} s, each polled by its own \
         thread with default options; {WARM_UP} tasks of warm-up, then {measured} measured; \
         baselines on the same durations",
        learning::SPACING_S
    );
    println!();
    println!(
        "| task durations | today: wait, GETs, cost | best schedule: wait, GETs, cost | \
         learned (live): wait, GETs, cost | today / best | learned / best |"
    );
    println!("|---|---|---|---|---|---|");
    for (k, &(median, sigma)) in DISTRIBUTIONS.iter().enumerate() {
        let server = Emulator::start(&emulator, median, sigma, learning::SEED + k as u64);
        let client = Client::new(
            Some(&server.url),
            Auth::credentials("demo", "demo-secret").unwrap(),
        )
        .unwrap();
        let start = Instant::now() + Duration::from_millis(200);
        let tasks: Vec<(String, f64, u32)> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..WARM_UP + measured)
                .map(|n| {
                    let turn = start + Duration::from_secs_f64(n as f64 * learning::SPACING_S);
                    let client = &client;
                    scope.spawn(move || task(client, turn))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let measured_tasks = &tasks[WARM_UP..];
        let durations: Vec<f64> = measured_tasks
            .iter()
            .map(|(id, _, _)| server.duration(id))
            .collect();
        let n = measured_tasks.len() as f64;
        let live = Outcome {
            wait: measured_tasks
                .iter()
                .zip(&durations)
                .map(|((_, answered, _), d)| (answered - d).max(0.0))
                .sum::<f64>()
                / n,
            requests: measured_tasks
                .iter()
                .map(|&(_, _, gets)| gets as f64)
                .sum::<f64>()
                / n,
        };
        let model = LogNormal {
            mu: median.ln(),
            sigma,
        };
        let today = learning::today(&durations);
        let best = learning::fixed(&learning::best_times(model), &durations);
        let figures = |o: &Outcome| format!("{:.2} s, {:.2}, {:.2}", o.wait, o.requests, o.cost());
        println!(
            "| median {median} s, sigma {sigma} | {} | {} | {} | {:.2}x | {:.2}x |",
            figures(&today),
            figures(&best),
            figures(&live),
            today.cost() / best.cost(),
            live.cost() / best.cost()
        );
    }
}
