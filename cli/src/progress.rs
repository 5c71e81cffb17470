//! A poll's progress on stderr: a spinner on a terminal, a plain line per answer otherwise.

use indicatif::ProgressBar;
use ocrcloud::wire::TaskStatus;
use std::io::IsTerminal;
use std::time::Duration;

/// Shows each answer of one poll; the spinner disappears when this is dropped.
pub struct Progress {
    spinner: Option<ProgressBar>,
}

impl Progress {
    /// Starts showing the poll of `task_id` (a spinner only if stderr is a terminal).
    pub fn start(task_id: &str) -> Progress {
        let spinner = std::io::stderr().is_terminal().then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_message(format!("task {task_id}: waiting for the first answer"));
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        Progress { spinner }
    }

    /// Shows the answer to request number `attempt` (from 1).
    pub fn show(&self, task_id: &str, status: TaskStatus, attempt: u32) {
        match &self.spinner {
            Some(spinner) => {
                spinner.set_message(format!("task {task_id}: {status:?} (attempt {attempt})"))
            }
            None => crate::output::note(format!("attempt {attempt}: {status:?}").as_bytes()),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}
