//! Task durations learned from polls: interval-censored observations, and a log-normal fitted to
//! them by maximum likelihood.
//!
//! A poll never sees a task finish; it sees it unfinished at one request and finished at a later
//! one. Each finished task therefore gives an interval (`lo`, `hi`] that holds its duration. The
//! fit maximises the likelihood of those intervals (not of their midpoints, which would be
//! biased by the schedule that made them) with the EM algorithm for a censored normal in the
//! logarithm of the duration.

/// The most observations kept per operation: the newest replace the oldest, so memory stays
/// bounded and the fit follows a service whose speed changes.
pub(crate) const WINDOW: usize = 256;

/// The narrowest spread the fit answers: tasks of exactly equal length would give 0, and a
/// schedule planned for that would miss every task that takes a little longer.
pub(crate) const SHORTEST_SIGMA: f64 = 0.05;

/// A task's duration, in seconds, known to be after `lo` and at or before `hi`. `lo` is 0 when no
/// request saw the task unfinished; `hi` is infinite when none saw it finished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// The interval, if it makes sense: `0 <= lo < hi`, `hi` above 0 and not a NaN.
    pub fn new(lo: f64, hi: f64) -> Option<Interval> {
        (lo >= 0.0 && hi > lo && hi > 0.0).then_some(Interval { lo, hi })
    }
}

/// The newest `WINDOW` (256) observations of one operation, in a ring allocated once.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    observations: Vec<Interval>,
    /// Where the next observation goes once the ring is full.
    next: usize,
}

impl Sample {
    /// Adds an observation, replacing the oldest when the ring is full.
    pub fn add(&mut self, interval: Interval) {
        if self.observations.len() < WINDOW {
            if self.observations.capacity() == 0 {
                self.observations.reserve_exact(WINDOW);
            }
            self.observations.push(interval);
        } else {
            self.observations[self.next] = interval;
            self.next = (self.next + 1) % WINDOW;
        }
    }

    /// How many observations the sample holds (at most `WINDOW`).
    pub fn len(&self) -> usize {
        self.observations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.observations.is_empty()
    }

    /// The observations, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Interval> {
        let (newer, older) = self.observations.split_at(self.next);
        older.iter().chain(newer)
    }
}

/// A log-normal distribution: the logarithm of the duration (seconds) is normal with mean `mu`
/// and standard deviation `sigma`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormal {
    pub mu: f64,
    pub sigma: f64,
}

impl LogNormal {
    /// The median, in seconds.
    pub fn median(&self) -> f64 {
        self.mu.exp()
    }

    /// The probability that a task is done by `t` seconds.
    pub fn cdf(&self, t: f64) -> f64 {
        if t <= 0.0 {
            0.0
        } else {
            normal_cdf((t.ln() - self.mu) / self.sigma)
        }
    }

    /// The mean of the duration over tasks done by `t`, times their share:
    /// the integral of `x f(x)` from 0 to `t`.
    pub fn partial_mean(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let z = (t.ln() - self.mu - self.sigma * self.sigma) / self.sigma;
        (self.mu + self.sigma * self.sigma / 2.0).exp() * normal_cdf(z)
    }

    /// The duration by which a share `p` (0 < p < 1) of tasks is done.
    pub fn quantile(&self, p: f64) -> f64 {
        (self.mu + self.sigma * normal_quantile(p)).exp()
    }
}

/// The log-normal of greatest likelihood for `sample`'s intervals, with its spread at least
/// `SHORTEST_SIGMA` and at least what the intervals cannot resolve (see [`resolution`]);
/// `None` for an empty sample or one without a finite interval.
pub fn fit(sample: &Sample) -> Option<LogNormal> {
    let floor = resolution(sample).max(SHORTEST_SIGMA);
    // Start from the logarithms of the intervals' middles.
    let (mut sum, mut squares, mut n) = (0.0, 0.0, 0.0);
    for interval in sample.iter() {
        let middle = if interval.hi.is_finite() {
            if interval.lo > 0.0 {
                (interval.lo * interval.hi).sqrt()
            } else {
                interval.hi / 2.0
            }
        } else {
            interval.lo * 2.0
        };
        sum += middle.ln();
        squares += middle.ln() * middle.ln();
        n += 1.0;
    }
    if n == 0.0 || !sum.is_finite() {
        return None;
    }
    let mut mu: f64 = sum / n;
    let mut sigma = (squares / n - mu * mu).max(0.0).sqrt().max(0.25).max(floor);
    for _ in 0..500 {
        let (mut first, mut second) = (0.0, 0.0);
        for interval in sample.iter() {
            let (m1, m2) = censored_moments(interval, mu, sigma);
            first += m1;
            second += m2;
        }
        let new_mu = first / n;
        let new_sigma = (second / n - new_mu * new_mu).max(0.0).sqrt().max(floor);
        let moved = (new_mu - mu).abs().max((new_sigma - sigma).abs());
        mu = new_mu;
        sigma = new_sigma;
        if !(mu.is_finite() && sigma.is_finite()) {
            return None;
        }
        if moved < 1e-7 {
            break;
        }
    }
    Some(LogNormal { mu, sigma })
}

/// The spread (in the logarithm) that the intervals cannot tell from none: the root mean
/// square of their widths in the logarithm over the square root of 12 (the spread of a value
/// anywhere in such an interval), an open lower end counted as a tenth of the upper one.
///
/// Without it, intervals that all say the same thing ("done within 3 s", what a fixed schedule
/// sees of tasks shorter than its first wait) have a likelihood as high for every spread down to
/// none, and the fit would put all tasks at one point; with it the plan spreads its requests
/// over the interval, and their answers narrow the next intervals.
pub fn resolution(sample: &Sample) -> f64 {
    let (mut sum, mut n) = (0.0, 0.0);
    for interval in sample.iter().filter(|i| i.hi.is_finite()) {
        let width = (interval.hi / interval.lo.max(interval.hi / 10.0)).ln();
        sum += width * width;
        n += 1.0;
    }
    if n == 0.0 {
        0.0
    } else {
        (sum / n / 12.0).sqrt()
    }
}

/// The first two moments of a normal(`mu`, `sigma`) log-duration within the interval's logarithm
/// (the E step of the EM algorithm).
fn censored_moments(interval: &Interval, mu: f64, sigma: f64) -> (f64, f64) {
    let a = if interval.lo > 0.0 {
        (interval.lo.ln() - mu) / sigma
    } else {
        f64::NEG_INFINITY
    };
    let b = if interval.hi.is_finite() {
        (interval.hi.ln() - mu) / sigma
    } else {
        f64::INFINITY
    };
    let mass = normal_cdf(b) - normal_cdf(a);
    if mass < 1e-12 {
        // Far in a tail of the current fit: take the nearest end as the point.
        let x = if b < 0.0 || a == f64::NEG_INFINITY {
            b
        } else {
            a
        };
        let x = mu + sigma * x;
        return (x, x * x);
    }
    let (pa, pb) = (normal_pdf(a), normal_pdf(b));
    let apa = if a.is_finite() { a * pa } else { 0.0 };
    let bpb = if b.is_finite() { b * pb } else { 0.0 };
    let shift = (pa - pb) / mass;
    let mean = mu + sigma * shift;
    let variance = (sigma * sigma * (1.0 + (apa - bpb) / mass - shift * shift)).max(0.0);
    (mean, variance + mean * mean)
}

fn normal_pdf(z: f64) -> f64 {
    if z.is_finite() {
        (-0.5 * z * z).exp() / (std::f64::consts::TAU).sqrt()
    } else {
        0.0
    }
}

/// The standard normal distribution function (through `erfc`).
pub fn normal_cdf(z: f64) -> f64 {
    if z == f64::INFINITY {
        1.0
    } else if z == f64::NEG_INFINITY {
        0.0
    } else {
        0.5 * erfc(-z / std::f64::consts::SQRT_2)
    }
}

/// The complementary error function, to a relative error below 1.2e-7 everywhere (the
/// Chebyshev fit of Numerical Recipes' `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * (-z * z + poly).exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

/// The standard normal quantile (Acklam's approximation, refined by one Newton step).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let a = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    let b = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    let c = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    let d = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    };
    let error = normal_cdf(x) - p;
    x - error / normal_pdf(x).max(1e-300)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `count` log-normal durations from a seeded SplitMix64 stream (Box-Muller).
    pub(crate) fn durations(count: usize, seed: u64, model: LogNormal) -> Vec<f64> {
        let mut state = seed;
        let mut uniform = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
        };
        (0..count)
            .map(|_| {
                let normal =
                    (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
                (model.mu + model.sigma * normal).exp()
            })
            .collect()
    }

    /// The interval that requests at `times` (from 0, ascending, the last one past every task)
    /// would give a task of this duration.
    fn censor(duration: f64, times: &[f64]) -> Interval {
        let after = times.partition_point(|&t| t < duration);
        let lo = if after == 0 { 0.0 } else { times[after - 1] };
        Interval::new(lo, times[after]).unwrap()
    }

    #[test]
    fn the_normal_functions_are_accurate() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_543),
            (-1.96, 0.024_997_895_148_220),
            (3.0, 0.998_650_101_968_370),
            (-5.0, 2.866_515_718_791_9e-7),
        ] {
            let error = (normal_cdf(z) - p).abs() / p.min(1.0 - p).max(p * 1e-3);
            assert!(error < 1e-6, "cdf({z}) = {} not {p}", normal_cdf(z));
        }
        for p in [1e-4, 0.01, 0.3, 0.5, 0.9, 0.9999] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-9 * p.max(1e-3));
        }
        let model = LogNormal {
            mu: 1.0,
            sigma: 0.7,
        };
        // The partial mean up to infinity is the mean, exp(mu + sigma^2 / 2).
        let mean = (1.0f64 + 0.245).exp();
        assert!((model.partial_mean(1e9) - mean).abs() < 1e-9);
        assert!((model.cdf(model.median()) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn recovers_known_parameters_from_censored_samples() {
        let schedules: [Vec<f64>; 3] = [
            // Today's default from the first request: 0, 3, 7.5, then every 5 s.
            [0.0, 3.0, 7.5]
                .into_iter()
                .chain((1..200).map(|k| 7.5 + 5.0 * k as f64))
                .collect(),
            // Every second.
            (0..1000).map(f64::from).collect(),
            // Growing waits: 1 s x 1.5.
            (0..40).map(|k| 1.5f64.powi(k) - 1.0).collect(),
        ];
        for (seed, truth) in [
            LogNormal {
                mu: 4f64.ln(),
                sigma: 0.5,
            },
            LogNormal {
                mu: 12f64.ln(),
                sigma: 0.8,
            },
            LogNormal {
                mu: 30f64.ln(),
                sigma: 0.6,
            },
        ]
        .into_iter()
        .enumerate()
        {
            for times in &schedules {
                let mut sample = Sample::default();
                for d in durations(WINDOW, seed as u64 + 7, truth) {
                    sample.add(censor(d, times));
                }
                let fitted = fit(&sample).unwrap();
                let tolerance = 3.5 * truth.sigma / (WINDOW as f64).sqrt() + 0.03;
                assert!(
                    (fitted.mu - truth.mu).abs() < tolerance
                        && (fitted.sigma - truth.sigma).abs() < tolerance,
                    "{fitted:?} is not {truth:?} (censored at {:?}...)",
                    &times[..4]
                );
            }
        }
    }

    #[test]
    fn memory_stays_bounded_and_the_newest_are_kept() {
        let mut sample = Sample::default();
        for k in 1..=10_000 {
            sample.add(Interval::new(0.0, k as f64).unwrap());
            assert!(sample.observations.capacity() <= WINDOW);
        }
        assert_eq!(sample.len(), WINDOW);
        let kept: Vec<f64> = sample.iter().map(|i| i.hi).collect();
        let newest: Vec<f64> = (10_001 - WINDOW..=10_000).map(|k| k as f64).collect();
        assert_eq!(kept, newest);
    }

    #[test]
    fn equal_durations_fit_the_narrowest_spread_and_nonsense_is_refused() {
        let mut sample = Sample::default();
        assert_eq!(fit(&sample), None);
        for _ in 0..50 {
            sample.add(Interval::new(0.9, 1.1).unwrap());
        }
        let fitted = fit(&sample).unwrap();
        assert!((fitted.median() - 1.0).abs() < 0.05, "{fitted:?}");
        assert!(fitted.sigma >= SHORTEST_SIGMA);
        for (lo, hi) in [
            (1.0, 1.0),
            (-1.0, 2.0),
            (2.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, 0.0),
        ] {
            assert_eq!(Interval::new(lo, hi), None, "({lo}, {hi})");
        }
    }
}
