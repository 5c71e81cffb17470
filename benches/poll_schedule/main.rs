//! Time to result under the library's default poll schedule, the anchors' schedules and other
//! settings of the library's: the simulation of `simulation.rs`, printed as a Markdown table.
//! `--tasks N` simulates N tasks instead of `simulation::TASKS`. Run with
//! `cargo bench --bench poll_schedule`.

mod learning;
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
    learned_table();
}

/// The table of issue 25: today's default, the best fixed schedule and the learned one.
fn learned_table() {
    println!();
    println!(
        "Learned schedule (issue 25): tasks submitted one every {} s, each polled by its own \
         thread with default options, {} tasks of warm-up then {} measured, log-normal durations \
         (seed {}); cost = wait after ready + {} s x requests; best = the dynamic program for the \
         true distribution",
        learning::SPACING_S,
        learning::WARM_UP,
        learning::MEASURED,
        learning::SEED,
        learning::COST
    );
    println!();
    println!(
        "| task durations | today: wait, GETs, cost | best schedule: wait, GETs, cost | \
         learned: wait, GETs, cost | today / best | learned / best |"
    );
    println!("|---|---|---|---|---|---|");
    let figures =
        |o: &learning::Outcome| format!("{:.2} s, {:.2}, {:.2}", o.wait, o.requests, o.cost());
    for row in learning::rows(learning::MEASURED) {
        println!(
            "| median {} s, sigma {} | {} | {} | {} | {:.2}x | {:.2}x |",
            row.median,
            row.sigma,
            figures(&row.today),
            figures(&row.best),
            figures(&row.learned),
            row.today.cost() / row.best.cost(),
            row.learned.cost() / row.best.cost()
        );
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
