//! What one client has learned of its tasks' durations, per operation, and when it submitted
//! its recent tasks. Shared by every poll of the client (single polls, `poll_many`, batches).

use super::estimate::{Interval, LogNormal, Sample, fit};
use super::plan::Plan;
use crate::operations::Operation;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Observations an operation needs before its schedule is learned.
pub(crate) const ENOUGH: usize = 20;
/// The widest spread a learned model may have: wider, and it is unsure.
pub(crate) const WIDEST_SIGMA: f64 = 2.0;
/// The largest standard error of the fitted median's logarithm a learned model may have.
pub(crate) const LARGEST_ERROR: f64 = 0.25;
/// Submission times kept, for the polls of tasks this client submitted.
pub(crate) const SUBMISSIONS: usize = 4096;
/// Plans kept per operation (one per request cost in use).
const PLANS: usize = 4;

/// The durations learned per operation, and recent submissions. Thread-safe; one lock, held
/// for a lookup, or for a fit when a task ends.
#[derive(Debug, Default)]
pub struct Durations {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    operations: Vec<Learned>,
    /// (task id, when its submission was answered), oldest first.
    submitted: VecDeque<(String, Instant)>,
    /// Plans built so far (each a dynamic program of 400 points).
    plans_built: usize,
}

#[derive(Debug)]
struct Learned {
    operation: String,
    sample: Sample,
    /// Observations added since the last fit.
    unfitted: usize,
    model: Option<LogNormal>,
    /// Plans for the model, by request cost (its bits), newest last.
    plans: Vec<(u64, Arc<Plan>)>,
    /// Counts the models fitted: a plan made for an earlier one is out of date.
    model_number: u64,
}

/// A plan a caller keeps, with the number of the model it was made for.
#[derive(Debug)]
pub struct KnownPlan {
    model: u64,
    plan: Arc<Plan>,
}

impl Durations {
    /// Records that a task was submitted now.
    pub fn submitted(&self, task_id: &str, at: Instant) {
        let mut inner = self.lock();
        if inner.submitted.len() == SUBMISSIONS {
            inner.submitted.pop_front();
        }
        inner.submitted.push_back((task_id.to_string(), at));
    }

    /// When this client submitted `task_id`, if it did recently.
    pub fn submitted_at(&self, task_id: &str) -> Option<Instant> {
        let inner = self.lock();
        let found = inner.submitted.iter().rev().find(|(id, _)| id == task_id);
        found.map(|&(_, at)| at)
    }

    /// Adds a finished task's duration interval (seconds) for `operation`.
    pub fn observe(&self, operation: &str, interval: Interval) {
        let mut inner = self.lock();
        let learned = inner.learned(operation);
        learned.sample.add(interval);
        learned.unfitted += 1;
        // Fit once there are enough, then again once the sample has grown (or changed) by an
        // eighth: a fit costs a few passes over it.
        let n = learned.sample.len();
        let due = learned.model.is_none() || learned.unfitted * 8 >= n;
        if n >= ENOUGH && due {
            learned.model = fit(&learned.sample);
            learned.unfitted = 0;
            learned.plans.clear();
            learned.model_number += 1;
        }
    }

    /// The learned model of `operation`, if it is sure enough to plan with.
    pub fn model(&self, operation: &str) -> Option<LogNormal> {
        let inner = self.lock();
        let learned = inner.operations.iter().find(|l| l.operation == operation)?;
        learned.sure()
    }

    /// The plan for `operation` with requests worth `cost` seconds no closer than `gap`
    /// seconds; `None` while the model is unsure. `known` is the caller's copy (a task's
    /// schedule keeps one, for one cost): while the model is the one it was made for, it is
    /// answered as is, so that a task builds at most one plan per model, however many costs
    /// other polls of the client use.
    pub fn plan(
        &self,
        operation: &str,
        cost: f64,
        gap: f64,
        known: &mut Option<KnownPlan>,
    ) -> Option<Arc<Plan>> {
        let mut inner = self.lock();
        let Inner {
            operations,
            plans_built,
            ..
        } = &mut *inner;
        let learned = operations.iter_mut().find(|l| l.operation == operation)?;
        let model = learned.sure()?;
        if let Some(known) = known.as_ref().filter(|k| k.model == learned.model_number) {
            return Some(Arc::clone(&known.plan));
        }
        let key = cost.to_bits();
        let plan = match learned.plans.iter().find(|(k, _)| *k == key) {
            Some((_, plan)) => Arc::clone(plan),
            None => {
                let plan = Arc::new(Plan::new(model, cost, gap));
                *plans_built += 1;
                if learned.plans.len() == PLANS {
                    learned.plans.remove(0);
                }
                learned.plans.push((key, Arc::clone(&plan)));
                plan
            }
        };
        *known = Some(KnownPlan {
            model: learned.model_number,
            plan: Arc::clone(&plan),
        });
        Some(plan)
    }

    /// How many plans the client has built: what the learned schedule costs in CPU.
    #[cfg(test)]
    pub(crate) fn plans_built(&self) -> usize {
        self.lock().plans_built
    }

    /// The observations held per operation, oldest first (what a batch journal stores).
    pub fn export(&self) -> Vec<(String, Vec<Interval>)> {
        let inner = self.lock();
        inner
            .operations
            .iter()
            .map(|l| (l.operation.clone(), l.sample.iter().copied().collect()))
            .collect()
    }

    /// Adds observations stored earlier (by [`Durations::export`]) before the newer ones,
    /// unless the client already holds as many for `operation` (it then knows at least as
    /// much, possibly these very ones: a journal opened twice by one client adds nothing).
    /// An operation this library does not know is ignored: memory stays bounded by the
    /// operations there are, whatever a journal holds.
    pub fn import(&self, operation: &str, intervals: &[Interval]) {
        let Ok(known) = Operation::named(operation) else {
            return;
        };
        // Stored under the name polls use (`named` ignores case).
        let operation = known.name();
        let mut inner = self.lock();
        let learned = inner.learned(operation);
        if learned.sample.len() >= intervals.len().min(super::estimate::WINDOW) {
            return;
        }
        let newer: Vec<Interval> = learned.sample.iter().copied().collect();
        learned.sample = Sample::default();
        for &interval in intervals.iter().chain(&newer) {
            learned.sample.add(interval);
        }
        learned.model = (learned.sample.len() >= ENOUGH)
            .then(|| fit(&learned.sample))
            .flatten();
        learned.unfitted = 0;
        learned.plans.clear();
        learned.model_number += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn learned(&mut self, operation: &str) -> &mut Learned {
        let at = match self
            .operations
            .iter()
            .position(|l| l.operation == operation)
        {
            Some(at) => at,
            None => {
                self.operations.push(Learned {
                    operation: operation.to_string(),
                    sample: Sample::default(),
                    unfitted: 0,
                    model: None,
                    plans: Vec::new(),
                    model_number: 0,
                });
                self.operations.len() - 1
            }
        };
        &mut self.operations[at]
    }
}

impl Learned {
    /// The model, when it rests on enough observations and is neither too wide nor too loose.
    fn sure(&self) -> Option<LogNormal> {
        let model = self.model?;
        let n = self.sample.len();
        let error = model.sigma / (n as f64).sqrt();
        (n >= ENOUGH && model.sigma <= WIDEST_SIGMA && error <= LARGEST_ERROR).then_some(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intervals(count: usize) -> Vec<Interval> {
        (0..count)
            .map(|k| Interval::new(3.0 + (k % 5) as f64 * 0.2, 4.0 + (k % 5) as f64 * 0.2).unwrap())
            .collect()
    }

    #[test]
    fn a_model_needs_enough_tasks_and_an_import_counts_once() {
        let durations = Durations::default();
        durations.import("RecognizePdf", &intervals(ENOUGH - 1));
        assert_eq!(durations.model("RecognizePdf"), None);
        assert!(
            durations
                .plan("RecognizePdf", 0.5, 0.2, &mut None)
                .is_none()
        );
        durations.observe("RecognizePdf", Interval::new(3.0, 4.0).unwrap());
        let model = durations
            .model("RecognizePdf")
            .expect("20 tasks make a model");
        assert!((3.0..4.5).contains(&model.median()), "{model:?}");
        assert_eq!(durations.model("RecognizeImage"), None);
        // The same journal again, or a smaller one: nothing is added twice.
        durations.import("RecognizePdf", &intervals(ENOUGH));
        assert_eq!(durations.export()[0].1.len(), ENOUGH);
        // A larger one goes before what the client saw itself.
        durations.import("RecognizePdf", &intervals(100));
        let exported = durations.export();
        assert_eq!(exported[0].1.len(), 100 + ENOUGH);
        assert_eq!(exported[0].1[..100], intervals(100)[..]);
    }

    #[test]
    fn plans_are_kept_per_cost_and_memory_stays_bounded() {
        let durations = Durations::default();
        durations.import("RecognizePdf", &intervals(40));
        let plan = durations.plan("RecognizePdf", 0.5, 0.2, &mut None).unwrap();
        assert!(Arc::ptr_eq(
            &plan,
            &durations.plan("RecognizePdf", 0.5, 0.2, &mut None).unwrap()
        ));
        for cost in [0.1, 0.2, 0.3, 0.4, 0.6] {
            durations
                .plan("RecognizePdf", cost, 0.2, &mut None)
                .unwrap();
        }
        assert!(durations.lock().operations[0].plans.len() <= PLANS);
        for k in 0..3 * super::super::estimate::WINDOW {
            durations.observe("RecognizePdf", Interval::new(1.0, 2.0).unwrap());
            durations.submitted(&format!("task-{k}"), Instant::now());
        }
        for k in 0..2 * SUBMISSIONS {
            durations.submitted(&format!("more-{k}"), Instant::now());
        }
        let inner = durations.lock();
        assert_eq!(
            inner.operations[0].sample.len(),
            super::super::estimate::WINDOW
        );
        assert_eq!(inner.submitted.len(), SUBMISSIONS);
        drop(inner);
        assert!(durations.submitted_at("task-0").is_none());
        assert!(
            durations
                .submitted_at(&format!("more-{}", 2 * SUBMISSIONS - 1))
                .is_some()
        );
    }

    #[test]
    fn a_journal_of_many_unknown_operations_does_not_grow_the_client() {
        // Each imported operation keeps a ring of 256 and is searched on every poll: a journal
        // with thousands of made-up operation names must not make the client hold them all.
        let durations = Durations::default();
        for k in 0..5000 {
            durations.import(&format!("Made-up-{k}"), &intervals(ENOUGH));
        }
        durations.import("RecognizePdf", &intervals(ENOUGH));
        let names: Vec<String> = durations
            .export()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            (names.len(), names.last()),
            (1, Some(&"RecognizePdf".to_string()))
        );
    }
}
