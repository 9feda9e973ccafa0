//! The run's figures: throughput, p50 and p99 latency and failures per kind
//! of request, and the ratios of the searching phase to the baseline.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::shared::percentile;
use crate::traffic::{Op, Sample};

pub struct Phase {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

pub struct Figures {
    pub count: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub failed: usize,
}

impl Phase {
    pub fn new(samples: Vec<Sample>, elapsed: Duration) -> Self {
        Self { samples, elapsed }
    }

    pub fn figures(&self, pick: impl Fn(Op) -> bool) -> Figures {
        let mut latencies: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| pick(s.op) && s.failed.is_none())
            .map(|s| s.latency)
            .collect();
        latencies.sort();
        let failed = self
            .samples
            .iter()
            .filter(|s| pick(s.op) && s.failed.is_some())
            .count();
        Figures {
            count: latencies.len(),
            per_second: latencies.len() as f64 / self.elapsed.as_secs_f64().max(0.001),
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            failed,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
}

fn row(label: &str, f: &Figures) {
    println!(
        "  {label:<22} {:>9} {:>9.0} {:>10} {:>10} {:>7}",
        f.count,
        f.per_second,
        ms(f.p50),
        ms(f.p99),
        f.failed
    );
}

fn is_submission(op: Op) -> bool {
    op != Op::Search
}

pub fn print(backend: &str, phases: &[(&str, Phase)]) {
    println!();
    println!(
        "{backend:<24} {:>9} {:>9} {:>10} {:>10} {:>7}",
        "answered", "per s", "p50", "p99", "failed"
    );
    for (name, phase) in phases {
        println!("{name} ({:.0} s)", phase.elapsed.as_secs_f64());
        row("submissions", &phase.figures(is_submission));
        for op in [Op::Idea, Op::Report, Op::Response] {
            row(&format!("  {}", op.label()), &phase.figures(|o| o == op));
        }
        if phase.samples.iter().any(|s| s.op == Op::Search) {
            row("searches", &phase.figures(|o| o == Op::Search));
        }
    }
    if let [(_, alone), (_, mixed)] = phases {
        let (a, m) = (alone.figures(is_submission), mixed.figures(is_submission));
        println!(
            "ratio, with searching / alone: submissions per s {:.2}x, p50 {:.2}x, p99 {:.2}x",
            m.per_second / a.per_second.max(0.001),
            m.p50.as_secs_f64() / a.p50.as_secs_f64().max(1e-9),
            m.p99.as_secs_f64() / a.p99.as_secs_f64().max(1e-9),
        );
    }
}

/// Failed requests by HTTP status (0: no answer, the connection refused or
/// cut), with when the first and last of each were sent.
pub fn failures_by_status(phase: &Phase) -> String {
    let mut by_status: BTreeMap<u16, (usize, Duration, Duration)> = BTreeMap::new();
    for s in &phase.samples {
        if let Some(status) = s.failed {
            let e = by_status.entry(status).or_insert((0, s.at, s.at));
            e.0 += 1;
            e.1 = e.1.min(s.at);
            e.2 = e.2.max(s.at);
        }
    }
    if by_status.is_empty() {
        return "failed requests: none".to_owned();
    }
    let parts: Vec<String> = by_status
        .into_iter()
        .map(|(status, (n, first, last))| {
            let what = if status == 0 {
                "no answer".to_owned()
            } else {
                format!("HTTP {status}")
            };
            format!(
                "{n} × {what} (sent between {:.1} s and {:.1} s)",
                first.as_secs_f64(),
                last.as_secs_f64()
            )
        })
        .collect();
    format!("failed requests: {}", parts.join("; "))
}
