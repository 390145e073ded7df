//! What the Torture view knows of a campaign: the planned cut points, each result as it
//! arrives, counts, an ETA, the first reproducer, and how the campaign ended.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::app::App;
use super::fixture::Progress;
use super::log::LogKind;
use crate::chip::BootOutcome;
use crate::record::Outcome;
use crate::station::Event;
use crate::station::torture::{CutMode, Point};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointCell {
    pub outcome: BootOutcome,
    /// The point leaves the unit beyond a field update.
    pub bricks: bool,
    pub recovered: bool,
    pub operation: String,
}

/// How a campaign ended: its record's verdict, or why it stopped without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignEnd {
    pub outcome: Outcome,
    /// The record's failure, or why the campaign stopped.
    pub text: Option<String>,
    pub record: Option<String>,
    /// Some points come back only with the BOOT0 strap.
    pub needs_boot0: bool,
}

#[derive(Clone, Debug)]
pub struct Campaign {
    pub started_at: Instant,
    pub plan_operations: u64,
    pub flash_operations: u64,
    /// The points the campaign visits, in its order; empty until calibrated.
    pub points: Vec<Point>,
    order: HashMap<Point, usize>,
    pub results: BTreeMap<Point, PointCell>,
    /// The calibrating update's progress, before any point runs.
    pub progress: Option<Progress>,
    /// When the points of this session began (points resumed from a journal excluded).
    sweep_started: Option<Instant>,
    fresh_done: u64,
    pub end: Option<CampaignEnd>,
    pub ended_at: Option<Instant>,
}

/// How bad an outcome is, for a map cell that stands for several operations.
fn severity(cell: &PointCell) -> u8 {
    let base = match cell.outcome {
        BootOutcome::NewImage => 0,
        BootOutcome::OldImage => 1,
        BootOutcome::InBootloader => 2,
        BootOutcome::NeedsBoot0 => 3,
        BootOutcome::CorruptApp => 4,
        BootOutcome::Bricked => 5,
    };
    base + if cell.bricks { 10 } else { 0 }
}

impl Campaign {
    pub fn new(now: Instant) -> Self {
        Self {
            started_at: now,
            plan_operations: 0,
            flash_operations: 0,
            points: Vec::new(),
            order: HashMap::new(),
            results: BTreeMap::new(),
            progress: None,
            sweep_started: None,
            fresh_done: 0,
            end: None,
            ended_at: None,
        }
    }

    /// From the start to the end, or to `now` while it runs.
    pub fn elapsed(&self, now: Instant) -> Duration {
        self.ended_at
            .unwrap_or(now)
            .saturating_duration_since(self.started_at)
    }

    pub fn running(&self) -> bool {
        self.end.is_none()
    }

    pub fn total(&self) -> u64 {
        self.points.len() as u64
    }

    pub fn done(&self) -> u64 {
        self.results.len() as u64
    }

    /// The cut modes planned, in campaign order.
    pub fn modes(&self) -> Vec<CutMode> {
        let mut modes: Vec<CutMode> = Vec::new();
        for p in &self.points {
            if !modes.contains(&p.mode) {
                modes.push(p.mode);
            }
        }
        modes
    }

    /// One past the highest planned operation index of `mode`.
    pub fn columns(&self, mode: CutMode) -> u64 {
        self.points
            .iter()
            .filter(|p| p.mode == mode)
            .map(|p| p.index + 1)
            .max()
            .unwrap_or(0)
    }

    pub fn planned(&self, point: &Point) -> bool {
        self.order.contains_key(point)
    }

    /// The worst result among operations `range` of `mode`, whether any is planned, and
    /// whether any planned one is still to run.
    pub fn bucket(
        &self,
        mode: CutMode,
        range: std::ops::Range<u64>,
    ) -> (Option<&PointCell>, bool, bool) {
        let (mut worst, mut planned, mut pending) = (None::<&PointCell>, false, false);
        for index in range {
            let point = Point { mode, index };
            if !self.planned(&point) {
                continue;
            }
            planned = true;
            match self.results.get(&point) {
                Some(cell) if worst.is_none_or(|w| severity(cell) > severity(w)) => {
                    worst = Some(cell)
                }
                Some(_) => {}
                None => pending = true,
            }
        }
        (worst, planned, pending)
    }

    pub fn counts(&self) -> BTreeMap<BootOutcome, u64> {
        let mut counts = BTreeMap::new();
        for cell in self.results.values() {
            *counts.entry(cell.outcome).or_insert(0) += 1;
        }
        counts
    }

    pub fn bricking(&self) -> u64 {
        self.results.values().filter(|c| c.bricks).count() as u64
    }

    /// The first bricking point in campaign order: the one to reproduce.
    pub fn reproducer(&self) -> Option<(Point, &PointCell)> {
        self.results
            .iter()
            .filter(|(_, c)| c.bricks)
            .min_by_key(|(p, _)| self.order.get(p).copied().unwrap_or(usize::MAX))
            .map(|(p, c)| (*p, c))
    }

    /// Time left at the pace of this session's points so far.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let since = self.sweep_started?;
        if self.fresh_done == 0 || !self.running() {
            return None;
        }
        let per_point = now.saturating_duration_since(since) / self.fresh_done as u32;
        let left = self.total().saturating_sub(self.done());
        Some(per_point * left as u32)
    }

    fn plan(&mut self, plan_ops: u64, flash_ops: u64, points: &[Point], now: Instant) {
        self.plan_operations = plan_ops;
        self.flash_operations = flash_ops;
        self.points = points.to_vec();
        self.order = points.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        self.progress = None;
        self.sweep_started = Some(now);
    }
}

impl App {
    pub(super) fn torture_event(&mut self, event: &Event) {
        let now = self.now();
        match event {
            Event::TorturePlanned {
                fixture,
                plan_operations,
                flash_operations,
                points,
                ..
            } => {
                let campaign = self
                    .campaigns
                    .entry(fixture.clone())
                    .or_insert_with(|| Campaign::new(now));
                campaign.plan(*plan_operations, *flash_operations, points, now);
                self.log.push(
                    LogKind::Info,
                    format!(
                        "{fixture} torture: {} cut points over {plan_operations} plan and {flash_operations} flash operations",
                        points.len()
                    ),
                );
            }
            Event::TorturePoint {
                fixture,
                mode,
                index,
                operation,
                outcome,
                recovered,
                bricks,
                resumed,
                ..
            } => {
                let Some(campaign) = self.campaigns.get_mut(fixture) else {
                    return;
                };
                let point = Point {
                    mode: *mode,
                    index: *index,
                };
                let first_brick = *bricks && campaign.reproducer().is_none();
                campaign.results.insert(
                    point,
                    PointCell {
                        outcome: *outcome,
                        bricks: *bricks,
                        recovered: *recovered,
                        operation: operation.clone(),
                    },
                );
                if !resumed {
                    campaign.fresh_done += 1;
                }
                if first_brick {
                    self.log.push(
                        LogKind::Outcome(Outcome::Fail),
                        format!("{fixture} torture: reproducer {mode} at operation {index} ({operation}) → {outcome:?}"),
                    );
                }
            }
            Event::Progress {
                fixture,
                phase,
                done,
                total,
                step,
                ..
            } if step != "sweep" => {
                if let Some(campaign) = self.campaigns.get_mut(fixture) {
                    campaign.progress = Some(Progress {
                        phase: phase.clone(),
                        done: *done,
                        total: *total,
                    });
                }
            }
            _ => {}
        }
    }

    pub(super) fn campaign_ended(&mut self, fixture: &str, end: &CampaignEnd) {
        let now = self.now();
        let campaign = self
            .campaigns
            .entry(fixture.to_string())
            .or_insert_with(|| Campaign::new(now));
        campaign.end = Some(end.clone());
        campaign.ended_at = Some(now);
        campaign.progress = None;
        let text = end.text.as_deref().unwrap_or("every cut point comes back");
        self.log.push(
            LogKind::Outcome(end.outcome),
            format!("{fixture} torture {}: {text}", end.outcome),
        );
    }
}
