//! The batch's progress on stderr: a bar and a status line on a terminal, one tab-separated
//! line per finished input otherwise, and a summary. The pieces that decide what is shown
//! (the rate over a window, the line for a width, the summary) are pure functions.

use crate::in_cli_words;
use crate::output::note;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use ocrcloud::batch::any::AnyBatch;
use ocrcloud::batch::{Item, State};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The rate counts the completions of this long before now.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// No rate before this much of the run has passed ...
const RATE_MIN_SPAN: Duration = Duration::from_secs(5);
/// ... nor with fewer completions in the window.
const RATE_MIN_COMPLETIONS: usize = 2;
/// The width assumed when the terminal does not tell its own.
const DEFAULT_WIDTH: usize = 80;

/// Completions per second over the last [`RATE_WINDOW`] of the run: inputs completed before
/// the run (skipped) and failures (often instant) do not count.
#[derive(Default)]
pub struct Rate {
    /// When each completion in the window happened, as time since the run started.
    completions: VecDeque<Duration>,
}

impl Rate {
    /// An input completed at `at` (time since the run started).
    pub fn record(&mut self, at: Duration) {
        self.completions.push_back(at);
    }

    /// The rate at `now` (time since the run started); `None` while there is too little data.
    pub fn per_second(&mut self, now: Duration) -> Option<f64> {
        let from = now.saturating_sub(RATE_WINDOW);
        while self.completions.front().is_some_and(|t| *t < from) {
            self.completions.pop_front();
        }
        let span = now - from;
        if span < RATE_MIN_SPAN || self.completions.len() < RATE_MIN_COMPLETIONS {
            return None;
        }
        Some(self.completions.len() as f64 / span.as_secs_f64())
    }
}

/// `seconds` as a person reads it: `45 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// How many inputs are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    /// Completed, in this run or before it.
    pub completed: usize,
    /// Completed before this run.
    pub skipped: usize,
    pub failed: usize,
    pub in_flight: usize,
}

impl Counts {
    /// Inputs neither completed nor failed.
    pub fn left(&self) -> usize {
        self.total - self.completed - self.failed
    }
}

/// The status line under the bar, the longest form that fits in `width` columns (one column
/// stays free, so that the terminal never wraps it).
pub fn status_line(counts: &Counts, rate: Option<f64>, width: usize) -> String {
    let Counts {
        completed,
        skipped,
        failed,
        in_flight,
        ..
    } = *counts;
    let (rate_text, eta) = match rate {
        Some(rate) => (
            format!("{rate:.1}/s"),
            format!("ETA {}", duration_text(counts.left() as f64 / rate)),
        ),
        None => ("rate estimating".to_string(), "ETA estimating".to_string()),
    };
    let eta = if counts.left() == 0 {
        String::new()
    } else {
        format!(", {eta}")
    };
    let forms = [
        format!(
            "done {completed} (skipped {skipped}), failed {failed}, in flight {in_flight}, \
             {rate_text}{eta}"
        ),
        format!("done {completed}, failed {failed}, in flight {in_flight}{eta}"),
        format!("{completed} ok, {failed} failed{eta}"),
        format!("{completed} ok, {failed} failed"),
    ];
    let room = width.saturating_sub(1);
    match forms.iter().find(|form| form.chars().count() <= room) {
        Some(form) => form.clone(),
        None => forms[forms.len() - 1].chars().take(room).collect(),
    }
}

/// The bar's template for `width` columns of terminal holding `total` inputs: the bar shrinks
/// so that `<bar> <pos>/<len> <msg>` fits.
pub fn bar_template(width: usize, total: usize) -> String {
    let digits = total.to_string().len();
    // " 12/61 " and the longest message, "interrupted".
    let rest = 2 * digits + 3 + "interrupted".len();
    let bar = width.saturating_sub(rest + 1).clamp(5, 40);
    format!("{{bar:{bar}}} {{pos}}/{{len}} {{msg}}")
}

/// The two lines that end a run: what happened, and where the results are.
pub fn summary(
    counts: &Counts,
    interrupted: bool,
    duplicates: u32,
    elapsed: Duration,
    output_dir: &Path,
) -> String {
    let how = if interrupted {
        format!("interrupted after {}", duration_text(elapsed.as_secs_f64()))
    } else {
        format!("finished in {}", duration_text(elapsed.as_secs_f64()))
    };
    let duplicates = match duplicates {
        0 => String::new(),
        n => format!("; {n} possible duplicate submissions"),
    };
    format!(
        "{how}: {} inputs: {} completed ({} before this run), {} failed, {} not \
         finished{duplicates}\nresults in {}",
        counts.total,
        counts.completed,
        counts.skipped,
        counts.failed,
        counts.left(),
        output_dir.display()
    )
}

/// The line for a finished input when stderr is not a terminal: fields separated by tabs,
/// `completed<TAB>INPUT<TAB>OUTPUT...` or `failed<TAB>INPUT<TAB>MESSAGE`; `None` for other
/// states.
pub fn finished_line(item: &Item, output_dir: &Path) -> Option<String> {
    let mut fields = vec![item.path.display().to_string()];
    let state = match item.state() {
        State::Completed => {
            fields.extend(
                item.row
                    .outputs
                    .iter()
                    .map(|o| output_dir.join(o).display().to_string()),
            );
            "completed"
        }
        State::Failed => {
            fields.push(one_line(&in_cli_words(
                item.row.message.as_deref().unwrap_or(""),
            )));
            "failed"
        }
        _ => return None,
    };
    fields.insert(0, state.to_string());
    Some(fields.join("\t"))
}

/// `text` with its line breaks and tabs as spaces, so that it stays one field of one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r', '\t'], " ")
}

/// The width of the terminal on stderr.
fn terminal_width() -> usize {
    console::Term::stderr()
        .size_checked()
        .map_or(DEFAULT_WIDTH, |(_, width)| usize::from(width))
}

/// The display of one run.
pub struct Display {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    started: Instant,
    states: RefCell<Vec<State>>,
    rate: RefCell<Rate>,
    /// Inputs that were completed before this run (a shared batch knows them only once its
    /// run registered its inputs).
    skipped: Cell<usize>,
    output_dir: PathBuf,
}

impl Display {
    pub fn start(batch: &AnyBatch) -> Display {
        let states: Vec<State> = batch.items().iter().map(Item::state).collect();
        let skipped = batch.items().iter().filter(|i| i.skipped).count();
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let bar = multi.add(ProgressBar::new(states.len() as u64));
            bar.set_style(
                ProgressStyle::with_template(&bar_template(terminal_width(), states.len()))
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("finished");
            let line = multi.add(ProgressBar::new_spinner());
            line.enable_steady_tick(Duration::from_millis(200));
            (multi, bar, line)
        });
        let display = Display {
            bars,
            started: Instant::now(),
            states: RefCell::new(states),
            rate: RefCell::default(),
            skipped: Cell::new(skipped),
            output_dir: batch.output_dir().to_path_buf(),
        };
        // Inputs that failed as they were added (unreadable, empty, ...) fail in this run too.
        for (index, item) in batch.items().iter().enumerate() {
            if item.state() == State::Failed {
                display.show(index, item);
            }
        }
        display.refresh();
        display
    }

    /// Input `index` changed its state to `item.state()`.
    pub fn show(&self, index: usize, item: &Item) {
        let was = std::mem::replace(&mut self.states.borrow_mut()[index], item.state());
        if item.state() == State::Completed && was != State::Completed {
            self.rate.borrow_mut().record(self.started.elapsed());
        }
        if let Some((multi, _, _)) = &self.bars {
            if item.state() == State::Failed {
                let _ = multi.println(format!(
                    "failed {}: {}",
                    item.path.display(),
                    in_cli_words(item.row.message.as_deref().unwrap_or(""))
                ));
            }
            self.refresh();
            return;
        }
        if let Some(line) = finished_line(item, &self.output_dir) {
            note(line.as_bytes());
        }
    }

    fn counts(&self) -> Counts {
        let states = self.states.borrow();
        let count = |wanted: &[State]| states.iter().filter(|s| wanted.contains(s)).count();
        Counts {
            total: states.len(),
            completed: count(&[State::Completed]),
            skipped: self.skipped.get(),
            failed: count(&[State::Failed]),
            in_flight: count(&[State::Submitting, State::Submitted]),
        }
    }

    fn refresh(&self) {
        let Some((_, bar, line)) = &self.bars else {
            return;
        };
        let counts = self.counts();
        let rate = self.rate.borrow_mut().per_second(self.started.elapsed());
        bar.set_position((counts.completed + counts.failed) as u64);
        // The spinner and a space come before the message.
        let width = terminal_width().saturating_sub(2);
        line.set_message(status_line(&counts, rate, width));
    }

    /// Ends the display with a summary line; an interrupted run's bar stays where it stopped.
    pub fn finish(&self, batch: &AnyBatch, interrupted: bool) {
        // What the journal holds now (a shared batch's other workers finished inputs too).
        *self.states.borrow_mut() = batch.items().iter().map(Item::state).collect();
        self.skipped
            .set(batch.items().iter().filter(|i| i.skipped).count());
        if let Some((_, bar, line)) = &self.bars {
            self.refresh();
            if interrupted {
                bar.abandon_with_message("interrupted");
            } else {
                bar.abandon();
            }
            line.abandon();
        }
        let duplicates: u32 = batch
            .items()
            .iter()
            .map(|i| i.row.possible_duplicates)
            .sum();
        let text = summary(
            &self.counts(),
            interrupted,
            duplicates,
            self.started.elapsed(),
            &self.output_dir,
        );
        note(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds)
    }

    #[test]
    fn the_rate_waits_for_data_then_counts_completions_over_a_window() {
        let mut rate = Rate::default();
        assert_eq!(rate.per_second(at(0.0)), None);
        // One instant completion and a long quiet: still no estimate, never 1000/s.
        rate.record(at(0.001));
        assert_eq!(rate.per_second(at(0.002)), None);
        assert_eq!(rate.per_second(at(30.0)), None);
        // Two completions but too early in the run.
        let mut early = Rate::default();
        early.record(at(0.1));
        early.record(at(0.2));
        assert_eq!(early.per_second(at(1.0)), None);
        assert_eq!(early.per_second(at(10.0)), Some(0.2));
        // A steady 2 per second.
        let mut steady = Rate::default();
        for i in 0..240 {
            steady.record(at(i as f64 * 0.5));
        }
        let r = steady.per_second(at(120.0)).unwrap();
        assert!((r - 2.0).abs() < 0.05, "{r}");
        // Then nothing finishes: the rate falls instead of freezing, and ends as no estimate.
        let later = steady.per_second(at(150.0)).unwrap();
        assert!(later < 1.1, "{later}");
        assert_eq!(steady.per_second(at(200.0)), None);
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration_text(0.2), "0 s");
        assert_eq!(duration_text(59.4), "59 s");
        assert_eq!(duration_text(185.0), "3 min 5 s");
        assert_eq!(duration_text(7800.0), "2 h 10 min");
    }

    fn counts() -> Counts {
        Counts {
            total: 61,
            completed: 12,
            skipped: 3,
            failed: 1,
            in_flight: 8,
        }
    }

    #[test]
    fn the_status_line_says_estimating_until_there_is_a_rate() {
        let line = status_line(&counts(), None, 120);
        assert_eq!(
            line,
            "done 12 (skipped 3), failed 1, in flight 8, rate estimating, ETA estimating"
        );
        let line = status_line(&counts(), Some(2.0), 120);
        assert_eq!(
            line,
            "done 12 (skipped 3), failed 1, in flight 8, 2.0/s, ETA 24 s"
        );
    }

    #[test]
    fn the_status_line_fits_every_width() {
        for width in 0..200 {
            for rate in [None, Some(0.01), Some(3.0)] {
                let line = status_line(&counts(), rate, width);
                assert!(
                    line.chars().count() < width.max(1),
                    "{width}: {line:?} ({} chars)",
                    line.chars().count()
                );
            }
        }
        assert_eq!(
            status_line(&counts(), Some(2.0), 50),
            "done 12, failed 1, in flight 8, ETA 24 s"
        );
        assert_eq!(
            status_line(&counts(), Some(2.0), 30),
            "12 ok, 1 failed, ETA 24 s"
        );
    }

    #[test]
    fn the_bar_fits_narrow_terminals() {
        for width in [20, 40, 60, 80, 120] {
            let template = bar_template(width, 61);
            let bar: usize = template[5..template.find('}').unwrap()].parse().unwrap();
            let longest = bar + " 61/61 interrupted".len();
            assert!(longest < width || bar == 5, "{width}: {template}");
            assert!(bar <= 40);
        }
    }

    #[test]
    fn the_summary_names_the_output_folder_and_an_interruption() {
        let done = summary(&counts(), false, 0, at(75.0), Path::new("out dir"));
        assert!(done.starts_with("finished in 1 min 15 s: 61 inputs: 12 completed (3 before this run), 1 failed, 48 not finished"), "{done}");
        assert!(done.ends_with("not finished\nresults in out dir"), "{done}");
        let stopped = summary(&counts(), true, 2, at(3.0), Path::new("out"));
        assert!(stopped.starts_with("interrupted after 3 s: "), "{stopped}");
        assert!(
            stopped.contains("48 not finished; 2 possible duplicate"),
            "{stopped}"
        );
    }
}
