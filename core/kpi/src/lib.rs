//! KPI arithmetic for the customer-service department (客服绩效考核): the per-person
//! measures, the composite score of 0–100, the grade band it earns and the team ranking.
//!
//! This crate is pure: every function is a function of its arguments. It does no I/O, reads
//! no clock and holds no state, so the phone (a person looking at their own month) and the
//! server (the supervisor's report, the monthly allowance) compute the same figures from the
//! same counts. The counts ([`PersonPeriodFacts`]) are collected from the records of
//! `kefu-model` by [`facts`] ([`collect_month`], [`collect_year`]), with the counting rules in
//! that module's docs.
//!
//! # Where the rules come from
//!
//! * Seed 001 §六 (客服绩效考核) lists the measures: customer satisfaction (客户满意度), response
//!   timeliness (响应及时率), resolution rate (问题解决率), knowledge (业务知识掌握程度) and
//!   complaint handling (客户投诉处理情况); reviews are monthly (bonus) and yearly (promotion,
//!   pay). Kefu holds no knowledge-test records, so knowledge is not a measure here; supervisor
//!   evaluation (上级评价) is not one either. The domain brief adds callback completion,
//!   attendance (seed 002 第三条) and the appearance check (seed 004 仪容仪表).
//! * Seed 004 HR016 (客服人员职能职等评定管理办法) gives the bands on a 0–100 score:
//!   `基本职能 ≤ 70`, `70 < 中级职能 < 90`, `90 ≤ 高级职能 ≤ 100`, with no allowance, ¥100 and
//!   ¥200 a month; and the rule 逐级晋升 — "all staff are promoted one level at a time, in
//!   principle never skipping a level" (see [`next_grade`]).
//!
//! The seeds give neither weights nor penalty points; [`Weights::default`] and
//! [`Penalties::default`] are starting values for the supervisor to change, not policy.
//!
//! # Measures (each 0–100, `None` when there is nothing to measure)
//!
//! | measure | formula | `None` when |
//! |---|---|---|
//! | satisfaction | (mean rating − 1) ÷ 4 × 100, ratings 1–5 | no ratings |
//! | response timeliness | on time ÷ responses × 100 | no responses |
//! | resolution | resolved ÷ handled × 100 | nothing handled |
//! | complaint handling | confirmed satisfied ÷ complaints × 100 − reopen penalty, ≥ 0 | no complaints handled |
//! | callback completion | mean of done ÷ scheduled × 100 and contacted-within-a-week ÷ new assignments × 100 (whichever exist) | neither exists |
//! | attendance | 100 − lateness, early-leave and absence penalties, within 0..=100 | no attendance record at all |
//! | appearance | passed ÷ checks × 100 | no checks |
//!
//! Satisfaction maps the 1–5 scale linearly onto 0–100 so that "all ones" is 0 and "all fives"
//! is 100; a mean of 4.2 is 80. Ratios of counts use the pooled counts of the period, not a
//! mean of daily or monthly ratios, so a month with 40 complaints weighs more than a month
//! with 2.
//!
//! A part larger than its whole (say more on-time responses than responses) is a bug in the
//! counting; the measures cap the part at the whole so they stay in 0..=100, and
//! [`PersonPeriodFacts::validate`] reports it.
//!
//! **Penalties are points per occurrence per month.** A period of several months (a year is
//! the sum of 12 monthly fact sheets, [`PersonPeriodFacts::months`] = 12) divides the
//! penalty points by the number of months. Without that, the yearly review that decides
//! promotion would be far harsher than the monthly ones: one late arrival a month costs 2
//! points each month but would cost 24 points in the year. With it, twelve identical months
//! give exactly the monthly figures, and a yearly attendance is the mean of the monthly ones
//! (when none hit the 0 floor). The same holds for the reopen penalty. Leave days (请假) are
//! approved absences and cost nothing; they are shown in the report only.
//!
//! Attendance is 100 for a person who was rostered and never late, early or absent: the
//! absence of lateness is a result, not missing data. It is `None` only when the facts carry
//! no attendance record at all (no rostered shift, no lateness, absence or leave) — otherwise
//! an empty fact sheet would score 100 on attendance alone and earn the senior band.
//!
//! # Composite score
//!
//! The score is the weighted mean of the measures that exist, with the weights renormalised
//! over those measures:
//!
//! ```text
//! score = Σ wᵢ·mᵢ ÷ Σ wᵢ   over measures i that are Some and have weight wᵢ > 0
//! ```
//!
//! A person who handled no complaints is neither punished (as if the measure were 0) nor
//! rewarded (as if it were 100): the measure simply does not take part, and the others count
//! for proportionally more. The weights therefore need not sum to 100, only be non-negative
//! and not all zero ([`Weights::validate`]). The score is `None` only when no measure with a
//! positive weight has data.
//!
//! The score is rounded to one decimal place, half away from zero (70.05 → 70.1), and that
//! rounded score is what the report shows and what the band, the promotion and the ranking
//! compare. Otherwise a person shown "70.0" could be ranked above another "70.0" or be put in
//! the intermediate band by a floating-point residue (a computed 70.000000000000014).
//!
//! # Grades
//!
//! [`Grade::for_score`]: score ≤ 70 basic (基本, ¥0); 70 < score < 90 intermediate (中级,
//! ¥100); score ≥ 90 senior (高级, ¥200). [`next_grade`] applies one review to a held grade:
//! up at most one band, down to the band earned. [`evaluate`] reports the band the score
//! earns; the grade a person *holds* comes from [`next_grade`] over their reviews.

use std::cmp::Ordering;
use std::fmt;
use std::iter::Sum;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

pub mod facts;

pub use facts::{collect_month, collect_year, CollectRules, Month, TeamRecords};

/// Raw counts for one staff member over one period (a month, or a year as the sum of months).
///
/// Every field defaults to zero, and a missing field deserialises as zero, so a fact sheet
/// written before a field existed still loads.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct PersonPeriodFacts {
    /// Number of months the facts cover: 1 for a monthly sheet, 12 for a year. Penalty points
    /// are per month, so they are divided by this; 0 is read as 1.
    pub months: u32,
    /// Sum of the satisfaction ratings (1–5) from callbacks and visit ratings concerning them.
    pub satisfaction_ratings_sum: u64,
    /// Number of those ratings.
    pub satisfaction_ratings_count: u64,
    /// Complaints and consultations answered, and visits made, that had a target time.
    pub responses_total: u64,
    /// Of those, answered within target or arriving inside the visit's window.
    pub responses_on_time: u64,
    /// Complaints and visits handled.
    pub handled: u64,
    /// Of those, resolved.
    pub resolved: u64,
    /// Complaints handled (seed 001 §六 "投诉处理量").
    pub complaints_handled: u64,
    /// Of those, confirmed satisfied by the customer.
    pub complaints_confirmed_satisfied: u64,
    /// Complaints reopened in the period ("until the customer is satisfied"). A reopened
    /// complaint is expected to count as handled again; with no complaint handled in the
    /// period there is no complaint measure and reopens alone do not create one.
    pub complaints_reopened: u64,
    /// Callbacks (回访) scheduled for them and due in the period.
    pub callbacks_scheduled: u64,
    /// Of those, done.
    pub callbacks_done: u64,
    /// Customers newly assigned to them.
    pub new_assignments: u64,
    /// Of those, contacted (and the contact recorded) within one week.
    pub new_assignments_contacted_within_week: u64,
    /// Shifts on their roster (排班) in the period; a record with shifts and no lateness is a
    /// perfect attendance of 100.
    pub shifts_rostered: u64,
    /// Late arrivals (迟到).
    pub late_count: u64,
    /// Total minutes late, for the report (the penalty is per arrival).
    pub late_minutes: u64,
    /// Early leaves (早退).
    pub early_leave_count: u64,
    /// Shifts absent without approved leave (旷工).
    pub absences: u64,
    /// Approved leave in **half days** (so 1.5 days is 3): counts add exactly, and leave is
    /// granted in half days. Not penalised. See [`PersonPeriodFacts::leave_days`].
    pub leave_half_days: u64,
    /// Appearance checks (仪容仪表) they were checked in.
    pub appearance_checks: u64,
    /// Of those, passed.
    pub appearance_passed: u64,
}

/// A count in [`PersonPeriodFacts`] that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    /// A subset count is larger than the count it is a subset of.
    #[error("{part} ({part_value}) exceeds {whole} ({whole_value})")]
    PartExceedsWhole {
        /// Field name of the subset count.
        part: &'static str,
        /// Its value.
        part_value: u64,
        /// Field name of the whole.
        whole: &'static str,
        /// Its value.
        whole_value: u64,
    },
    /// The ratings sum is outside `count..=5 × count`, impossible for ratings of 1–5.
    #[error("satisfaction ratings sum {sum} is impossible for {count} ratings of 1 to 5")]
    RatingsOutOfRange {
        /// `satisfaction_ratings_sum`.
        sum: u64,
        /// `satisfaction_ratings_count`.
        count: u64,
    },
}

impl PersonPeriodFacts {
    /// Adds another period's counts to these (a year is twelve months added up).
    /// Saturates instead of overflowing.
    pub fn add(&mut self, other: &Self) {
        fn a(x: &mut u64, y: u64) {
            *x = x.saturating_add(y);
        }
        self.months = self.months.saturating_add(other.months);
        a(&mut self.satisfaction_ratings_sum, other.satisfaction_ratings_sum);
        a(&mut self.satisfaction_ratings_count, other.satisfaction_ratings_count);
        a(&mut self.responses_total, other.responses_total);
        a(&mut self.responses_on_time, other.responses_on_time);
        a(&mut self.handled, other.handled);
        a(&mut self.resolved, other.resolved);
        a(&mut self.complaints_handled, other.complaints_handled);
        a(&mut self.complaints_confirmed_satisfied, other.complaints_confirmed_satisfied);
        a(&mut self.complaints_reopened, other.complaints_reopened);
        a(&mut self.callbacks_scheduled, other.callbacks_scheduled);
        a(&mut self.callbacks_done, other.callbacks_done);
        a(&mut self.new_assignments, other.new_assignments);
        a(&mut self.new_assignments_contacted_within_week, other.new_assignments_contacted_within_week);
        a(&mut self.shifts_rostered, other.shifts_rostered);
        a(&mut self.late_count, other.late_count);
        a(&mut self.late_minutes, other.late_minutes);
        a(&mut self.early_leave_count, other.early_leave_count);
        a(&mut self.absences, other.absences);
        a(&mut self.leave_half_days, other.leave_half_days);
        a(&mut self.appearance_checks, other.appearance_checks);
        a(&mut self.appearance_passed, other.appearance_passed);
    }

    /// Approved leave in days (half days ÷ 2).
    pub fn leave_days(&self) -> f64 {
        self.leave_half_days as f64 / 2.0
    }

    /// Mean satisfaction rating on the 1–5 scale, `None` without ratings.
    pub fn mean_satisfaction(&self) -> Option<f64> {
        (self.satisfaction_ratings_count > 0)
            .then(|| self.satisfaction_ratings_sum as f64 / self.satisfaction_ratings_count as f64)
    }

    /// Whether there is any attendance record: rostered shifts, lateness, early leave,
    /// absence or leave.
    pub fn has_attendance_record(&self) -> bool {
        self.shifts_rostered > 0
            || self.late_count > 0
            || self.late_minutes > 0
            || self.early_leave_count > 0
            || self.absences > 0
            || self.leave_half_days > 0
    }

    /// Checks that subset counts do not exceed their wholes and the ratings sum is possible.
    /// Returns the first problem found. [`evaluate`] works on inconsistent facts too (it caps
    /// parts at wholes), so this is for the code that collects the counts.
    pub fn validate(&self) -> Result<(), FactsError> {
        let pairs: [(&'static str, u64, &'static str, u64); 6] = [
            ("responses_on_time", self.responses_on_time, "responses_total", self.responses_total),
            ("resolved", self.resolved, "handled", self.handled),
            (
                "complaints_confirmed_satisfied",
                self.complaints_confirmed_satisfied,
                "complaints_handled",
                self.complaints_handled,
            ),
            ("callbacks_done", self.callbacks_done, "callbacks_scheduled", self.callbacks_scheduled),
            (
                "new_assignments_contacted_within_week",
                self.new_assignments_contacted_within_week,
                "new_assignments",
                self.new_assignments,
            ),
            ("appearance_passed", self.appearance_passed, "appearance_checks", self.appearance_checks),
        ];
        for (part, part_value, whole, whole_value) in pairs {
            if part_value > whole_value {
                return Err(FactsError::PartExceedsWhole { part, part_value, whole, whole_value });
            }
        }
        let (sum, count) = (self.satisfaction_ratings_sum, self.satisfaction_ratings_count);
        if sum < count || sum > count.saturating_mul(5) {
            return Err(FactsError::RatingsOutOfRange { sum, count });
        }
        Ok(())
    }
}

impl AddAssign<&PersonPeriodFacts> for PersonPeriodFacts {
    fn add_assign(&mut self, other: &PersonPeriodFacts) {
        self.add(other);
    }
}

impl AddAssign for PersonPeriodFacts {
    fn add_assign(&mut self, other: PersonPeriodFacts) {
        self.add(&other);
    }
}

impl<'a> Sum<&'a PersonPeriodFacts> for PersonPeriodFacts {
    fn sum<I: Iterator<Item = &'a PersonPeriodFacts>>(iter: I) -> Self {
        iter.fold(Self::default(), |mut acc, f| {
            acc.add(f);
            acc
        })
    }
}

impl Sum for PersonPeriodFacts {
    fn sum<I: Iterator<Item = PersonPeriodFacts>>(iter: I) -> Self {
        iter.fold(Self::default(), |mut acc, f| {
            acc.add(&f);
            acc
        })
    }
}

/// One of the measures that make up the composite score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Customer satisfaction (客户满意度).
    Satisfaction,
    /// Response timeliness (响应及时率).
    ResponseTimeliness,
    /// Resolution rate (问题解决率).
    Resolution,
    /// Complaint handling (投诉处理).
    ComplaintHandling,
    /// Callback completion (回访完成率), with new assignments contacted within a week.
    CallbackCompletion,
    /// Attendance (考勤).
    Attendance,
    /// Appearance pass rate (仪容仪表).
    Appearance,
}

impl Measure {
    /// Every measure, in report order.
    pub const ALL: [Measure; 7] = [
        Measure::Satisfaction,
        Measure::ResponseTimeliness,
        Measure::Resolution,
        Measure::ComplaintHandling,
        Measure::CallbackCompletion,
        Measure::Attendance,
        Measure::Appearance,
    ];

    /// Chinese label for reports.
    pub fn label_zh(self) -> &'static str {
        match self {
            Measure::Satisfaction => "客户满意度",
            Measure::ResponseTimeliness => "响应及时率",
            Measure::Resolution => "问题解决率",
            Measure::ComplaintHandling => "投诉处理",
            Measure::CallbackCompletion => "回访完成率",
            Measure::Attendance => "考勤",
            Measure::Appearance => "仪容仪表",
        }
    }

    /// English label for reports.
    pub fn label_en(self) -> &'static str {
        match self {
            Measure::Satisfaction => "customer satisfaction",
            Measure::ResponseTimeliness => "response timeliness",
            Measure::Resolution => "resolution rate",
            Measure::ComplaintHandling => "complaint handling",
            Measure::CallbackCompletion => "callback completion",
            Measure::Attendance => "attendance",
            Measure::Appearance => "appearance",
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_en())
    }
}

/// A configuration value that [`evaluate`] cannot use as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A weight is below zero.
    #[error("weight for {measure} is negative ({value})")]
    NegativeWeight {
        /// The measure.
        measure: Measure,
        /// The weight given.
        value: f64,
    },
    /// A weight is NaN or infinite.
    #[error("weight for {measure} is not a finite number")]
    NonFiniteWeight {
        /// The measure.
        measure: Measure,
    },
    /// Every weight is zero, so no measure would count.
    #[error("all weights are zero: no measure would count towards the score")]
    AllWeightsZero,
    /// A penalty is below zero (it would reward lateness).
    #[error("penalty `{name}` is negative ({value})")]
    NegativePenalty {
        /// Field name of the penalty.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A penalty is NaN or infinite.
    #[error("penalty `{name}` is not a finite number")]
    NonFinitePenalty {
        /// Field name of the penalty.
        name: &'static str,
    },
}

/// Relative weights of the measures in the composite score.
///
/// Only ratios matter: the score renormalises over the measures present, so the weights need
/// not sum to 100. Missing fields deserialise to their default value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct Weights {
    /// Customer satisfaction.
    pub satisfaction: f64,
    /// Response timeliness.
    pub response_timeliness: f64,
    /// Resolution rate.
    pub resolution: f64,
    /// Complaint handling.
    pub complaint_handling: f64,
    /// Callback completion.
    pub callback_completion: f64,
    /// Attendance.
    pub attendance: f64,
    /// Appearance.
    pub appearance: f64,
}

impl Default for Weights {
    /// 25 / 15 / 15 / 10 / 15 / 10 / 10, summing to 100. Satisfaction weighs most because the
    /// policy puts the customer first (seed 001 §一(三) 客户至上); the service measures share
    /// the rest and the conduct measures (attendance, appearance) count for a fifth.
    fn default() -> Self {
        Weights {
            satisfaction: 25.0,
            response_timeliness: 15.0,
            resolution: 15.0,
            complaint_handling: 10.0,
            callback_completion: 15.0,
            attendance: 10.0,
            appearance: 10.0,
        }
    }
}

impl Weights {
    /// The weight of one measure.
    pub fn get(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Satisfaction => self.satisfaction,
            Measure::ResponseTimeliness => self.response_timeliness,
            Measure::Resolution => self.resolution,
            Measure::ComplaintHandling => self.complaint_handling,
            Measure::CallbackCompletion => self.callback_completion,
            Measure::Attendance => self.attendance,
            Measure::Appearance => self.appearance,
        }
    }

    /// Checks every weight is finite and non-negative and at least one is positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for measure in Measure::ALL {
            let value = self.get(measure);
            if !value.is_finite() {
                return Err(ConfigError::NonFiniteWeight { measure });
            }
            if value < 0.0 {
                return Err(ConfigError::NegativeWeight { measure, value });
            }
        }
        if Measure::ALL.iter().all(|&m| self.get(m) == 0.0) {
            return Err(ConfigError::AllWeightsZero);
        }
        Ok(())
    }
}

/// Penalty points, each per occurrence per month (see the module docs).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct Penalties {
    /// Points off the complaint-handling measure per reopened complaint.
    pub complaint_reopened: f64,
    /// Points off attendance per late arrival.
    pub late_arrival: f64,
    /// Points off attendance per early leave.
    pub early_leave: f64,
    /// Points off attendance per absence (a shift missed without approved leave).
    pub absence: f64,
}

impl Default for Penalties {
    /// Reopen 10, late 2, early leave 2, absence 10: an unexcused absence costs as much as
    /// five late arrivals, and ten absences in a month take attendance to 0.
    fn default() -> Self {
        Penalties { complaint_reopened: 10.0, late_arrival: 2.0, early_leave: 2.0, absence: 10.0 }
    }
}

impl Penalties {
    /// Checks every penalty is finite and non-negative.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("complaint_reopened", self.complaint_reopened),
            ("late_arrival", self.late_arrival),
            ("early_leave", self.early_leave),
            ("absence", self.absence),
        ] {
            if !value.is_finite() {
                return Err(ConfigError::NonFinitePenalty { name });
            }
            if value < 0.0 {
                return Err(ConfigError::NegativePenalty { name, value });
            }
        }
        Ok(())
    }
}

/// A configured number as [`evaluate`] uses it: negative, NaN and infinite values count as 0,
/// so a bad configuration can never push a measure or the score outside 0..=100.
fn usable(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

/// `part ÷ whole × 100` with the part capped at the whole; `None` when the whole is 0.
fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part.min(whole) as f64 / whole as f64 * 100.0)
}

/// Penalty points for `count` occurrences over `months` months, per month.
fn per_month_points(count: u64, months: u32, points: f64) -> f64 {
    count as f64 / f64::from(months.max(1)) * usable(points)
}

/// The measures for one person and period, each in 0..=100 or `None` without data.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct Measures {
    /// (mean rating − 1) ÷ 4 × 100.
    pub satisfaction: Option<f64>,
    /// On time ÷ responses × 100.
    pub response_timeliness: Option<f64>,
    /// Resolved ÷ handled × 100.
    pub resolution: Option<f64>,
    /// Confirmed satisfied ÷ complaints handled × 100 − reopen penalty, at least 0.
    pub complaint_handling: Option<f64>,
    /// Mean of callbacks done ÷ scheduled and new assignments contacted within a week ÷ new
    /// assignments (those that exist), × 100.
    pub callback_completion: Option<f64>,
    /// 100 − lateness, early-leave and absence penalties, within 0..=100.
    pub attendance: Option<f64>,
    /// Passed ÷ checks × 100.
    pub appearance: Option<f64>,
}

impl Measures {
    /// Computes the measures from the counts (formulas in the module docs).
    pub fn from_facts(facts: &PersonPeriodFacts, penalties: &Penalties) -> Self {
        let f = facts;
        let satisfaction = f.mean_satisfaction().map(|mean| ((mean - 1.0) / 4.0 * 100.0).clamp(0.0, 100.0));
        let complaint_handling =
            percent(f.complaints_confirmed_satisfied, f.complaints_handled).map(|share| {
                let reopen = per_month_points(f.complaints_reopened, f.months, penalties.complaint_reopened);
                (share - reopen).max(0.0)
            });
        let callback_parts = [
            percent(f.callbacks_done, f.callbacks_scheduled),
            percent(f.new_assignments_contacted_within_week, f.new_assignments),
        ];
        let present: Vec<f64> = callback_parts.into_iter().flatten().collect();
        let callback_completion =
            (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64);
        let attendance = f.has_attendance_record().then(|| {
            let points = per_month_points(f.late_count, f.months, penalties.late_arrival)
                + per_month_points(f.early_leave_count, f.months, penalties.early_leave)
                + per_month_points(f.absences, f.months, penalties.absence);
            (100.0 - points).clamp(0.0, 100.0)
        });
        Measures {
            satisfaction,
            response_timeliness: percent(f.responses_on_time, f.responses_total),
            resolution: percent(f.resolved, f.handled),
            complaint_handling,
            callback_completion,
            attendance,
            appearance: percent(f.appearance_passed, f.appearance_checks),
        }
    }

    /// The value of one measure.
    pub fn get(&self, measure: Measure) -> Option<f64> {
        match measure {
            Measure::Satisfaction => self.satisfaction,
            Measure::ResponseTimeliness => self.response_timeliness,
            Measure::Resolution => self.resolution,
            Measure::ComplaintHandling => self.complaint_handling,
            Measure::CallbackCompletion => self.callback_completion,
            Measure::Attendance => self.attendance,
            Measure::Appearance => self.appearance,
        }
    }
}

/// Rounds a score to one decimal place, half away from zero (70.05 → 70.1, 89.95 → 90.0).
///
/// The value is first rounded to 1e-6 so that a weighted sum whose exact value is 70.05 but
/// whose floating-point result is 70.04999999999999 still rounds up: the score is a statement
/// about decimal numbers, and no real score differs from a half by less than a millionth.
pub fn round_score(score: f64) -> f64 {
    let tenths = score * 10.0;
    let snapped = (tenths * 1e5).round() / 1e5;
    snapped.round() / 10.0
}

/// The composite score: weighted mean of the measures present, renormalised over their
/// weights, rounded with [`round_score`]. `None` when no measure with a positive weight has
/// data. Unusable weights (negative, NaN, infinite) count as 0.
pub fn composite_score(measures: &Measures, weights: &Weights) -> Option<f64> {
    // Scale by the largest weight so that absurdly large weights cannot overflow.
    let max_weight = Measure::ALL.iter().map(|&m| usable(weights.get(m))).fold(0.0, f64::max);
    if max_weight <= 0.0 {
        return None;
    }
    let (mut weighted, mut total) = (0.0, 0.0);
    for m in Measure::ALL {
        let w = usable(weights.get(m)) / max_weight;
        match measures.get(m) {
            Some(value) if w > 0.0 => {
                weighted += w * value;
                total += w;
            }
            _ => {}
        }
    }
    (total > 0.0).then(|| round_score((weighted / total).clamp(0.0, 100.0)))
}

/// A grade band (职能等级, seed 004 HR016) with its monthly allowance (津贴).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 基本: score ≤ 70, no allowance.
    Basic,
    /// 中级: 70 < score < 90, ¥100.
    Intermediate,
    /// 高级: score ≥ 90, ¥200.
    Senior,
}

impl Grade {
    /// Every grade, lowest first.
    pub const ALL: [Grade; 3] = [Grade::Basic, Grade::Intermediate, Grade::Senior];

    /// The band a score earns: ≤ 70 basic, 70 < score < 90 intermediate, ≥ 90 senior.
    /// Pass the rounded score ([`round_score`]); NaN earns basic.
    pub fn for_score(score: f64) -> Grade {
        if score >= 90.0 {
            Grade::Senior
        } else if score > 70.0 {
            Grade::Intermediate
        } else {
            Grade::Basic
        }
    }

    /// Monthly allowance in yuan: 0, 100, 200.
    pub fn allowance_yuan(self) -> u32 {
        match self {
            Grade::Basic => 0,
            Grade::Intermediate => 100,
            Grade::Senior => 200,
        }
    }

    /// Chinese label: 基本, 中级, 高级.
    pub fn label_zh(self) -> &'static str {
        match self {
            Grade::Basic => "基本",
            Grade::Intermediate => "中级",
            Grade::Senior => "高级",
        }
    }

    /// English label: Basic, Intermediate, Senior.
    pub fn label_en(self) -> &'static str {
        match self {
            Grade::Basic => "Basic",
            Grade::Intermediate => "Intermediate",
            Grade::Senior => "Senior",
        }
    }

    /// The next band up; senior stays senior.
    pub fn one_up(self) -> Grade {
        match self {
            Grade::Basic => Grade::Intermediate,
            Grade::Intermediate | Grade::Senior => Grade::Senior,
        }
    }
}

/// The grade held after a review with `score`, starting from `current`.
///
/// Reading of 逐级晋升 ("promotion goes one band at a time", seed 004 HR016 第四条 3): a score
/// above the current band moves up **one** band, however high it is (basic with 95 becomes
/// intermediate, and senior needs a second review at ≥ 90). A score below the current band
/// moves down to the band the score earns, possibly two bands: the rule restrains promotion,
/// and an allowance should not be paid for a level of work no longer shown. A score inside
/// the current band keeps it. Pass the rounded score; a period with no score should keep the
/// current grade (the caller decides, this function needs a number).
pub fn next_grade(current: Grade, score: f64) -> Grade {
    let earned = Grade::for_score(score);
    match earned.cmp(&current) {
        Ordering::Greater => current.one_up(),
        Ordering::Equal | Ordering::Less => earned,
    }
}

/// Everything a KPI report shows for one person and period.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct KpiReport {
    /// The raw counts (complaints handled, reopens, late minutes, …).
    pub facts: PersonPeriodFacts,
    /// Mean satisfaction on the 1–5 scale.
    pub mean_satisfaction: Option<f64>,
    /// Callbacks done ÷ scheduled × 100, one half of the callback measure.
    pub callbacks_done_percent: Option<f64>,
    /// New assignments contacted within a week ÷ new assignments × 100, the other half.
    pub contacted_within_week_percent: Option<f64>,
    /// Approved leave in days.
    pub leave_days: f64,
    /// The measures, 0–100.
    pub measures: Measures,
    /// Composite score 0–100, rounded to one decimal; `None` without data.
    pub score: Option<f64>,
    /// The band the score earns (before the one-band-at-a-time rule of [`next_grade`]).
    pub grade: Option<Grade>,
    /// The allowance of that band, in yuan.
    pub allowance_yuan: Option<u32>,
}

/// Computes the report for one person and period.
///
/// Works on any input: inconsistent counts are capped, unusable weights and penalties count
/// as 0, and every measure and the score stay within 0..=100. Validate configuration with
/// [`Weights::validate`] and [`Penalties::validate`] when it is written, not here.
pub fn evaluate(facts: &PersonPeriodFacts, weights: &Weights, penalties: &Penalties) -> KpiReport {
    let measures = Measures::from_facts(facts, penalties);
    let score = composite_score(&measures, weights);
    let grade = score.map(Grade::for_score);
    KpiReport {
        facts: facts.clone(),
        mean_satisfaction: facts.mean_satisfaction(),
        callbacks_done_percent: percent(facts.callbacks_done, facts.callbacks_scheduled),
        contacted_within_week_percent: percent(
            facts.new_assignments_contacted_within_week,
            facts.new_assignments,
        ),
        leave_days: facts.leave_days(),
        measures,
        score,
        grade,
        allowance_yuan: grade.map(Grade::allowance_yuan),
    }
}

/// Sorts a team into ranking order and returns each row's place.
///
/// Order: highest (rounded) score first; equal scores by name ascending (`Ord` of the name
/// type: for `String` that is Unicode code point order, deterministic but not pinyin order);
/// persons with no score last, by name. Places are competition ranking ("1, 2, 2, 4"):
/// equal scores share a place. A person with no score has no place (`None`).
pub fn rank<N: Ord>(reports: &mut [(N, KpiReport)]) -> Vec<Option<usize>> {
    reports.sort_by(|(name_a, a), (name_b, b)| {
        let by_score = match (a.score, b.score) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_score.then_with(|| name_a.cmp(name_b))
    });
    let mut places = Vec::with_capacity(reports.len());
    let mut previous: Option<(f64, usize)> = None;
    for (index, (_, report)) in reports.iter().enumerate() {
        let place = report.score.map(|score| match previous {
            Some((prev, place)) if prev.total_cmp(&score).is_eq() => place,
            _ => index + 1,
        });
        if let (Some(score), Some(place)) = (report.score, place) {
            previous = Some((score, place));
        }
        places.push(place);
    }
    places
}

#[cfg(test)]
mod tests;
