//! Time to result under the library's default poll schedule, the anchors' schedules and other
//! settings of the library's: the simulation of `simulation.rs`, printed as a Markdown table.
//! `--tasks N` simulates N tasks instead of `simulation::TASKS`. Run with
//! `cargo bench --bench poll_schedule`.

mod simulation;

use simulation::{Figures, Schedule, anchors, candidates, default_schedule, durations, simulate};

fn main() {
    let mut tasks = simulation::TASKS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tasks" => {
                tasks = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--tasks takes a number of at least 1")
            }
            // `cargo bench` passes --bench to every bench target.
            "--bench" => {}
            other => panic!("unknown argument {other:?} (known: --tasks N)"),
        }
    }
    let durations = durations(tasks, simulation::SEED);
    let default = default_schedule();
    let ours = simulate(&default, &durations);
    println!(
        "Time to result: {tasks} simulated tasks, log-normal durations (median {} s, sigma {}, \
         clipped to {} s .. {} s, seed {}); wait = from completion to the request that sees it",
        simulation::MEDIAN_S,
        simulation::SIGMA,
        simulation::SHORTEST_S,
        simulation::LONGEST_S,
        simulation::SEED
    );
    println!();
    println!(
        "| schedule | first request | mean wait s | 95th percentile wait s | requests per task | \
         beats the default on both |"
    );
    println!("|---|---|---|---|---|---|");
    row(&default, &ours, "-");
    for schedule in anchors().iter().chain(&candidates()) {
        let figures = simulate(schedule, &durations);
        let beats = if figures.dominate(&ours) { "yes" } else { "no" };
        row(schedule, &figures, beats);
    }
}

fn row(schedule: &Schedule, figures: &Figures, beats: &str) {
    let first = if schedule.asks_at_once {
        "at once"
    } else {
        "after the first wait"
    };
    println!(
        "| {} | {first} | {:.2} | {:.2} | {:.2} | {beats} |",
        schedule.name, figures.mean_wait, figures.p95_wait, figures.requests
    );
}
