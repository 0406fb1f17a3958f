//! Worked examples with hand-computed figures, then properties.
//!
//! Unless a test says otherwise it uses the default weights (satisfaction 25, timeliness 15,
//! resolution 15, complaints 10, callbacks 15, attendance 10, appearance 10) and penalties
//! (reopen 10, late 2, early leave 2, absence 10).

use proptest::prelude::*;

use super::*;

fn approx(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("measure should be present");
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

fn eval(facts: &PersonPeriodFacts) -> KpiReport {
    evaluate(facts, &Weights::default(), &Penalties::default())
}

/// A full month with every measure present.
fn full_month() -> PersonPeriodFacts {
    PersonPeriodFacts {
        months: 1,
        satisfaction_ratings_sum: 42,
        satisfaction_ratings_count: 10,
        responses_total: 40,
        responses_on_time: 38,
        handled: 20,
        resolved: 18,
        complaints_handled: 5,
        complaints_confirmed_satisfied: 4,
        complaints_reopened: 1,
        callbacks_scheduled: 50,
        callbacks_done: 45,
        new_assignments: 10,
        new_assignments_contacted_within_week: 8,
        shifts_rostered: 22,
        late_count: 2,
        late_minutes: 35,
        early_leave_count: 1,
        absences: 0,
        leave_half_days: 3,
        appearance_checks: 20,
        appearance_passed: 19,
    }
}

/// Only satisfaction ratings, so the score is the satisfaction measure.
fn ratings_only(sum: u64, count: u64) -> PersonPeriodFacts {
    PersonPeriodFacts {
        months: 1,
        satisfaction_ratings_sum: sum,
        satisfaction_ratings_count: count,
        ..PersonPeriodFacts::default()
    }
}

#[test]
fn full_month_every_measure() {
    let report = eval(&full_month());
    let m = &report.measures;
    // satisfaction: mean 42 / 10 = 4.2; (4.2 − 1) / 4 × 100 = 80
    approx(m.satisfaction, 80.0);
    // timeliness: 38 / 40 = 95
    approx(m.response_timeliness, 95.0);
    // resolution: 18 / 20 = 90
    approx(m.resolution, 90.0);
    // complaints: 4 / 5 = 80, one reopen − 10 → 70
    approx(m.complaint_handling, 70.0);
    // callbacks: 45 / 50 = 90 and 8 / 10 = 80 within a week, mean 85
    approx(m.callback_completion, 85.0);
    // attendance: 100 − 2 late × 2 − 1 early × 2 = 94; 1.5 days of leave cost nothing
    approx(m.attendance, 94.0);
    // appearance: 19 / 20 = 95
    approx(m.appearance, 95.0);
    // score: (25·80 + 15·95 + 15·90 + 10·70 + 15·85 + 10·94 + 10·95) / 100
    //      = (2000 + 1425 + 1350 + 700 + 1275 + 940 + 950) / 100 = 8640 / 100 = 86.4
    assert_eq!(report.score, Some(86.4));
    assert_eq!(report.grade, Some(Grade::Intermediate));
    assert_eq!(report.allowance_yuan, Some(100));
    // raw figures for the report
    approx(report.mean_satisfaction, 4.2);
    approx(report.callbacks_done_percent, 90.0);
    approx(report.contacted_within_week_percent, 80.0);
    assert_eq!(report.leave_days, 1.5);
    assert_eq!(report.facts.late_minutes, 35);
    assert_eq!(report.facts, full_month());
    assert_eq!(full_month().validate(), Ok(()));
}

#[test]
fn no_complaints_renormalises_over_present_measures() {
    let facts = PersonPeriodFacts {
        complaints_handled: 0,
        complaints_confirmed_satisfied: 0,
        complaints_reopened: 0,
        ..full_month()
    };
    let report = eval(&facts);
    assert_eq!(report.measures.complaint_handling, None);
    // The other six as in the full month: 8640 − 10·70 = 7940 over weights 100 − 10 = 90:
    // 7940 / 90 = 88.222… → 88.2. Counting the missing measure as 0 would give 79.4 and as
    // 100 would give 89.4; neither is what the person did.
    assert_eq!(report.score, Some(88.2));
    assert_eq!(report.grade, Some(Grade::Intermediate));
}

#[test]
fn only_callback_half_present_uses_that_half() {
    // No new assignments: the callback measure is the done share alone, 45 / 50 = 90.
    let facts =
        PersonPeriodFacts { new_assignments: 0, new_assignments_contacted_within_week: 0, ..full_month() };
    let report = eval(&facts);
    approx(report.measures.callback_completion, 90.0);
    assert_eq!(report.contacted_within_week_percent, None);
    // 8640 − 15·85 + 15·90 = 8715 → 87.15 → 87.2 (half away from zero)
    assert_eq!(report.score, Some(87.2));
}

#[test]
fn empty_facts_have_no_score() {
    let report = eval(&PersonPeriodFacts::default());
    assert_eq!(report.measures, Measures::default());
    assert_eq!(report.score, None);
    assert_eq!(report.grade, None);
    assert_eq!(report.allowance_yuan, None);
}

#[test]
fn attendance_is_100_for_a_clean_roster_and_floors_at_0() {
    let clean = PersonPeriodFacts { months: 1, shifts_rostered: 22, ..Default::default() };
    let report = eval(&clean);
    approx(report.measures.attendance, 100.0);
    assert_eq!(report.score, Some(100.0));

    // Leave alone is an attendance record, and costs nothing.
    let on_leave = PersonPeriodFacts { months: 1, leave_half_days: 10, ..Default::default() };
    approx(eval(&on_leave).measures.attendance, 100.0);

    // 100 − 3·2 − 2·2 − 1·10 = 80
    let mixed = PersonPeriodFacts {
        months: 1,
        shifts_rostered: 22,
        late_count: 3,
        early_leave_count: 2,
        absences: 1,
        ..Default::default()
    };
    approx(eval(&mixed).measures.attendance, 80.0);

    // 12 absences: 100 − 120 → 0, not negative.
    let absent = PersonPeriodFacts { months: 1, shifts_rostered: 22, absences: 12, ..Default::default() };
    approx(eval(&absent).measures.attendance, 0.0);
}

#[test]
fn complaint_penalty_floors_at_0() {
    // 1 / 2 = 50, three reopens − 30 → 20; six reopens − 60 → 0, not −10.
    let mut facts = PersonPeriodFacts {
        months: 1,
        complaints_handled: 2,
        complaints_confirmed_satisfied: 1,
        complaints_reopened: 3,
        ..Default::default()
    };
    approx(eval(&facts).measures.complaint_handling, 20.0);
    facts.complaints_reopened = 6;
    approx(eval(&facts).measures.complaint_handling, 0.0);
}

#[test]
fn boundary_scores() {
    // Rounding: one decimal, half away from zero.
    assert_eq!(round_score(70.05), 70.1);
    assert_eq!(round_score(70.04), 70.0);
    assert_eq!(round_score(70.25), 70.3);
    assert_eq!(round_score(89.94), 89.9);
    assert_eq!(round_score(89.99), 90.0);
    assert_eq!(round_score(100.0), 100.0);

    // Bands on the score as given.
    assert_eq!(Grade::for_score(0.0), Grade::Basic);
    assert_eq!(Grade::for_score(70.0), Grade::Basic);
    assert_eq!(Grade::for_score(70.1), Grade::Intermediate);
    assert_eq!(Grade::for_score(70.5), Grade::Intermediate);
    assert_eq!(Grade::for_score(89.9), Grade::Intermediate);
    assert_eq!(Grade::for_score(89.99), Grade::Intermediate);
    assert_eq!(Grade::for_score(90.0), Grade::Senior);
    assert_eq!(Grade::for_score(100.0), Grade::Senior);
    assert_eq!(Grade::for_score(f64::NAN), Grade::Basic);

    // Through evaluate, where the band uses the rounded score. Satisfaction alone:
    // score = (sum / count − 1) / 4 × 100.
    let cases = [
        // mean 3.8 → 2.8 / 4 × 100 = 70.0 → basic (the float result may be 70.00000000000001;
        // rounding keeps it basic)
        (38, 10, 70.0, Grade::Basic),
        // mean 3.802 → 70.05 → 70.1 → intermediate
        (3802, 1000, 70.1, Grade::Intermediate),
        // mean 3.82 → 70.5 → intermediate
        (382, 100, 70.5, Grade::Intermediate),
        // mean 4.5996 → 89.99 → shown and compared as 90.0 → senior
        (45996, 10000, 90.0, Grade::Senior),
        // mean 4.5992 → 89.98 → 90.0 → senior
        (45992, 10000, 90.0, Grade::Senior),
        // mean 4.5960 → 89.90 → intermediate
        (4596, 1000, 89.9, Grade::Intermediate),
        // mean 4.6 → 90 → senior
        (46, 10, 90.0, Grade::Senior),
    ];
    for (sum, count, score, grade) in cases {
        let report = eval(&ratings_only(sum, count));
        assert_eq!(report.score, Some(score), "ratings {sum}/{count}");
        assert_eq!(report.grade, Some(grade), "ratings {sum}/{count}");
        assert_eq!(report.allowance_yuan, Some(grade.allowance_yuan()));
    }
}

#[test]
fn promotion_goes_one_band_at_a_time() {
    // Basic with 95 earns senior but moves to intermediate only.
    assert_eq!(next_grade(Grade::Basic, 95.0), Grade::Intermediate);
    // The next review at ≥ 90 reaches senior.
    assert_eq!(next_grade(Grade::Intermediate, 95.0), Grade::Senior);
    assert_eq!(next_grade(Grade::Basic, 70.1), Grade::Intermediate);
    // Within the band: stay.
    assert_eq!(next_grade(Grade::Basic, 70.0), Grade::Basic);
    assert_eq!(next_grade(Grade::Intermediate, 80.0), Grade::Intermediate);
    assert_eq!(next_grade(Grade::Senior, 90.0), Grade::Senior);
    assert_eq!(next_grade(Grade::Senior, 100.0), Grade::Senior);
    // Below the band: down to the band earned, even two bands.
    assert_eq!(next_grade(Grade::Senior, 89.9), Grade::Intermediate);
    assert_eq!(next_grade(Grade::Senior, 60.0), Grade::Basic);
    assert_eq!(next_grade(Grade::Intermediate, 70.0), Grade::Basic);
}

#[test]
fn year_is_sum_of_twelve_months() {
    // Months 1–6 as the full month (late 2, early 1: attendance 94); months 7–12 the same
    // but punctual (attendance 100).
    let punctual = PersonPeriodFacts { late_count: 0, late_minutes: 0, early_leave_count: 0, ..full_month() };
    let months: Vec<PersonPeriodFacts> =
        (0..12).map(|i| if i < 6 { full_month() } else { punctual.clone() }).collect();
    let year: PersonPeriodFacts = months.iter().sum();

    let mut by_add = PersonPeriodFacts::default();
    for month in &months {
        by_add += month;
    }
    assert_eq!(year, by_add);
    let mut by_method = PersonPeriodFacts::default();
    months.iter().for_each(|m| by_method.add(m));
    assert_eq!(year, by_method);

    assert_eq!(year.months, 12);
    assert_eq!(year.satisfaction_ratings_sum, 12 * 42);
    assert_eq!(year.satisfaction_ratings_count, 120);
    assert_eq!(year.complaints_reopened, 12);
    assert_eq!(year.late_count, 6 * 2);
    assert_eq!(year.late_minutes, 6 * 35);
    assert_eq!(year.early_leave_count, 6);
    assert_eq!(year.shifts_rostered, 12 * 22);
    assert_eq!(year.leave_half_days, 36);
    assert_eq!(year.validate(), Ok(()));

    let report = eval(&year);
    // Ratios pool to the monthly ones (e.g. 456 / 480 on time = 95).
    approx(report.measures.response_timeliness, 95.0);
    // Reopens: 12 over 12 months is 1 a month → 80 − 10 = 70, as in each month.
    approx(report.measures.complaint_handling, 70.0);
    // Attendance: 100 − (12 late / 12 months)·2 − (6 early / 12 months)·2 = 100 − 2 − 1 = 97,
    // the mean of six months at 94 and six at 100.
    approx(report.measures.attendance, 97.0);
    // Score: 8640 − 10·94 + 10·97 = 8670 → 86.7
    assert_eq!(report.score, Some(86.7));
    assert_eq!(report.leave_days, 18.0);
    assert_eq!(report.facts.late_minutes, 210);
}

#[test]
fn inconsistent_counts_are_capped_and_reported() {
    let facts = PersonPeriodFacts { responses_total: 10, responses_on_time: 12, ..full_month() };
    approx(eval(&facts).measures.response_timeliness, 100.0);
    assert_eq!(
        facts.validate(),
        Err(FactsError::PartExceedsWhole {
            part: "responses_on_time",
            part_value: 12,
            whole: "responses_total",
            whole_value: 10,
        })
    );
    let low = ratings_only(3, 4);
    assert_eq!(low.validate(), Err(FactsError::RatingsOutOfRange { sum: 3, count: 4 }));
    approx(eval(&low).measures.satisfaction, 0.0);
    let high = ratings_only(21, 4);
    assert_eq!(high.validate(), Err(FactsError::RatingsOutOfRange { sum: 21, count: 4 }));
    approx(eval(&high).measures.satisfaction, 100.0);
    assert!(ratings_only(5, 0).validate().is_err());
}

#[test]
fn weights_and_penalties_validate() {
    assert_eq!(Weights::default().validate(), Ok(()));
    let sum: f64 = Measure::ALL.iter().map(|&m| Weights::default().get(m)).sum();
    assert_eq!(sum, 100.0);
    assert_eq!(Penalties::default().validate(), Ok(()));

    let negative = Weights { resolution: -1.0, ..Weights::default() };
    assert_eq!(
        negative.validate(),
        Err(ConfigError::NegativeWeight { measure: Measure::Resolution, value: -1.0 })
    );
    let nan = Weights { appearance: f64::NAN, ..Weights::default() };
    assert_eq!(nan.validate(), Err(ConfigError::NonFiniteWeight { measure: Measure::Appearance }));
    let zero = Weights {
        satisfaction: 0.0,
        response_timeliness: 0.0,
        resolution: 0.0,
        complaint_handling: 0.0,
        callback_completion: 0.0,
        attendance: 0.0,
        appearance: 0.0,
    };
    assert_eq!(zero.validate(), Err(ConfigError::AllWeightsZero));
    assert_eq!(eval(&full_month()).score.map(|_| ()), Some(()));
    assert_eq!(evaluate(&full_month(), &zero, &Penalties::default()).score, None);

    let bad = Penalties { late_arrival: -2.0, ..Penalties::default() };
    assert_eq!(bad.validate(), Err(ConfigError::NegativePenalty { name: "late_arrival", value: -2.0 }));
    // evaluate treats the bad penalty as 0 rather than rewarding lateness.
    approx(evaluate(&full_month(), &Weights::default(), &bad).measures.attendance, 98.0);
    let inf = Penalties { absence: f64::INFINITY, ..Penalties::default() };
    assert_eq!(inf.validate(), Err(ConfigError::NonFinitePenalty { name: "absence" }));
    assert_eq!(
        ConfigError::NegativeWeight { measure: Measure::Resolution, value: -1.0 }.to_string(),
        "weight for resolution rate is negative (-1)"
    );
}

#[test]
fn weights_need_not_sum_to_100() {
    // Only ratios matter: doubling every weight changes nothing.
    let double = Weights {
        satisfaction: 50.0,
        response_timeliness: 30.0,
        resolution: 30.0,
        complaint_handling: 20.0,
        callback_completion: 30.0,
        attendance: 20.0,
        appearance: 20.0,
    };
    assert_eq!(evaluate(&full_month(), &double, &Penalties::default()).score, Some(86.4));
    // Satisfaction only: the score is the satisfaction measure, 80.
    let only = Weights {
        satisfaction: 1.0,
        response_timeliness: 0.0,
        resolution: 0.0,
        complaint_handling: 0.0,
        callback_completion: 0.0,
        attendance: 0.0,
        appearance: 0.0,
    };
    assert_eq!(evaluate(&full_month(), &only, &Penalties::default()).score, Some(80.0));
}

#[test]
fn grade_labels_and_allowances() {
    let rows: Vec<_> = Grade::ALL.iter().map(|g| (g.label_zh(), g.label_en(), g.allowance_yuan())).collect();
    assert_eq!(rows, [("基本", "Basic", 0), ("中级", "Intermediate", 100), ("高级", "Senior", 200)]);
    assert_eq!(Grade::Basic.one_up(), Grade::Intermediate);
    assert_eq!(Grade::Senior.one_up(), Grade::Senior);
    assert!(Grade::Basic < Grade::Intermediate && Grade::Intermediate < Grade::Senior);
}

#[test]
fn serde_names_and_defaults() {
    let json = serde_json::to_string(&Grade::ALL).expect("serialise");
    assert_eq!(json, r#"["basic","intermediate","senior"]"#);
    let measure = serde_json::to_string(&Measure::ResponseTimeliness).expect("serialise");
    assert_eq!(measure, r#""response_timeliness""#);

    // Missing fields take their defaults.
    let weights: Weights = serde_json::from_str(r#"{"satisfaction": 40}"#).expect("weights");
    assert_eq!(weights, Weights { satisfaction: 40.0, ..Weights::default() });
    let penalties: Penalties = serde_json::from_str("{}").expect("penalties");
    assert_eq!(penalties, Penalties::default());
    let facts: PersonPeriodFacts = serde_json::from_str(r#"{"months": 1, "late_count": 2}"#).expect("facts");
    assert_eq!(facts, PersonPeriodFacts { months: 1, late_count: 2, ..Default::default() });

    let report = eval(&full_month());
    let text = serde_json::to_string(&report).expect("serialise report");
    let back: KpiReport = serde_json::from_str(&text).expect("deserialise report");
    assert_eq!(back, report);
}

#[test]
fn team_ranking() {
    let with_score = |score: Option<f64>| KpiReport { score, ..KpiReport::default() };
    let mut team = vec![
        ("王芳".to_string(), with_score(Some(80.0))),
        ("李娜".to_string(), with_score(None)),
        ("张伟".to_string(), with_score(Some(91.5))),
        ("刘洋".to_string(), with_score(Some(80.0))),
        ("陈静".to_string(), with_score(Some(72.3))),
        ("赵磊".to_string(), with_score(None)),
    ];
    let places = rank(&mut team);
    let order: Vec<&str> = team.iter().map(|(name, _)| name.as_str()).collect();
    // Ties by name in code point order: 刘 U+5218 < 王 U+738B; 李 U+674E < 赵 U+8D75.
    assert_eq!(order, ["张伟", "刘洋", "王芳", "陈静", "李娜", "赵磊"]);
    assert_eq!(places, [Some(1), Some(2), Some(2), Some(4), None, None]);

    let mut empty: Vec<(String, KpiReport)> = Vec::new();
    assert!(rank(&mut empty).is_empty());
}

// ---------------------------------------------------------------------------------------
// Properties

fn arb_facts() -> impl Strategy<Value = PersonPeriodFacts> {
    // Counts independent of each other, so parts may exceed wholes: evaluate must cope.
    (
        (0u32..24, 0u64..5000, 0u64..1000, 0u64..500, 0u64..500, 0u64..500, 0u64..500),
        (0u64..200, 0u64..200, 0u64..50, 0u64..500, 0u64..500, 0u64..100, 0u64..100),
        (0u64..40, 0u64..40, 0u64..2000, 0u64..40, 0u64..40, 0u64..60, 0u64..60, 0u64..60),
    )
        .prop_map(|(a, b, c)| PersonPeriodFacts {
            months: a.0,
            satisfaction_ratings_sum: a.1,
            satisfaction_ratings_count: a.2,
            responses_total: a.3,
            responses_on_time: a.4,
            handled: a.5,
            resolved: a.6,
            complaints_handled: b.0,
            complaints_confirmed_satisfied: b.1,
            complaints_reopened: b.2,
            callbacks_scheduled: b.3,
            callbacks_done: b.4,
            new_assignments: b.5,
            new_assignments_contacted_within_week: b.6,
            shifts_rostered: c.0,
            late_count: c.1,
            late_minutes: c.2,
            early_leave_count: c.3,
            absences: c.4,
            leave_half_days: c.5,
            appearance_checks: c.6,
            appearance_passed: c.7,
        })
}

fn arb_weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..100.0,
        1 => Just(0.0),
        1 => -50.0..0.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(1e308),
    ]
}

fn arb_weights() -> impl Strategy<Value = Weights> {
    proptest::collection::vec(arb_weight(), 7).prop_map(|w| Weights {
        satisfaction: w[0],
        response_timeliness: w[1],
        resolution: w[2],
        complaint_handling: w[3],
        callback_completion: w[4],
        attendance: w[5],
        appearance: w[6],
    })
}

fn arb_penalties() -> impl Strategy<Value = Penalties> {
    let p = || prop_oneof![4 => 0.0..50.0, 1 => -10.0..0.0, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)];
    (p(), p(), p(), p()).prop_map(|(r, l, e, a)| Penalties {
        complaint_reopened: r,
        late_arrival: l,
        early_leave: e,
        absence: a,
    })
}

fn valid_penalties() -> impl Strategy<Value = Penalties> {
    (0.0..50.0, 0.0..50.0, 0.0..50.0, 0.0..50.0).prop_map(|(r, l, e, a)| Penalties {
        complaint_reopened: r,
        late_arrival: l,
        early_leave: e,
        absence: a,
    })
}

/// A count that can only help its measure, with the measure.
fn bump_good(facts: &mut PersonPeriodFacts, which: usize, by: u64) -> Measure {
    let (field, measure) = match which {
        0 => (&mut facts.satisfaction_ratings_sum, Measure::Satisfaction),
        1 => (&mut facts.responses_on_time, Measure::ResponseTimeliness),
        2 => (&mut facts.resolved, Measure::Resolution),
        3 => (&mut facts.complaints_confirmed_satisfied, Measure::ComplaintHandling),
        4 => (&mut facts.callbacks_done, Measure::CallbackCompletion),
        5 => (&mut facts.new_assignments_contacted_within_week, Measure::CallbackCompletion),
        _ => (&mut facts.appearance_passed, Measure::Appearance),
    };
    *field += by;
    measure
}

/// A count that can only hurt its measure, with the measure.
fn bump_bad(facts: &mut PersonPeriodFacts, which: usize, by: u64) -> Measure {
    let (field, measure) = match which {
        0 => (&mut facts.complaints_reopened, Measure::ComplaintHandling),
        1 => (&mut facts.late_count, Measure::Attendance),
        2 => (&mut facts.early_leave_count, Measure::Attendance),
        _ => (&mut facts.absences, Measure::Attendance),
    };
    *field += by;
    measure
}

proptest! {
    #[test]
    fn score_and_measures_within_0_to_100(
        facts in arb_facts(), weights in arb_weights(), penalties in arb_penalties()
    ) {
        let report = evaluate(&facts, &weights, &penalties);
        for m in Measure::ALL {
            if let Some(v) = report.measures.get(m) {
                prop_assert!((0.0..=100.0).contains(&v), "{m}: {v}");
            }
        }
        if let Some(score) = report.score {
            prop_assert!((0.0..=100.0).contains(&score), "score {score}");
            prop_assert_eq!(round_score(score), score);
            prop_assert_eq!(report.grade, Some(Grade::for_score(score)));
        } else {
            prop_assert_eq!(report.grade, None);
        }
    }

    #[test]
    fn score_present_iff_a_weighted_measure_has_data(
        facts in arb_facts(), penalties in valid_penalties()
    ) {
        let report = evaluate(&facts, &Weights::default(), &penalties);
        let any = Measure::ALL.iter().any(|&m| report.measures.get(m).is_some());
        prop_assert_eq!(report.score.is_some(), any);
    }

    #[test]
    fn more_of_a_good_count_never_lowers_its_measure(
        facts in arb_facts(), penalties in valid_penalties(), which in 0usize..7, by in 1u64..200
    ) {
        let before = Measures::from_facts(&facts, &penalties);
        let mut more = facts.clone();
        let measure = bump_good(&mut more, which, by);
        let after = Measures::from_facts(&more, &penalties);
        if let Some(b) = before.get(measure) {
            let a = after.get(measure);
            prop_assert!(a.is_some_and(|a| a >= b), "{measure}: {b} -> {a:?}");
        }
    }

    #[test]
    fn more_of_a_bad_count_never_raises_its_measure(
        facts in arb_facts(), penalties in valid_penalties(), which in 0usize..4, by in 1u64..20
    ) {
        let before = Measures::from_facts(&facts, &penalties);
        let mut more = facts.clone();
        let measure = bump_bad(&mut more, which, by);
        let after = Measures::from_facts(&more, &penalties);
        if let (Some(b), Some(a)) = (before.get(measure), after.get(measure)) {
            prop_assert!(a <= b, "{measure}: {b} -> {a}");
        }
    }

    #[test]
    fn grade_monotone_in_score(a in -10.0f64..110.0, b in -10.0f64..110.0) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(Grade::for_score(lo) <= Grade::for_score(hi));
        for current in Grade::ALL {
            prop_assert!(next_grade(current, lo) <= next_grade(current, hi));
            prop_assert!(next_grade(current, hi) <= current.one_up());
        }
    }

    #[test]
    fn twelve_equal_months_give_the_monthly_figures(
        facts in arb_facts(), weights in arb_weights(), penalties in valid_penalties()
    ) {
        let month = PersonPeriodFacts { months: 1, ..facts };
        let year: PersonPeriodFacts = std::iter::repeat_n(&month, 12).sum();
        prop_assert_eq!(year.months, 12);
        prop_assert_eq!(year.late_count, 12 * month.late_count);
        let m = evaluate(&month, &weights, &penalties);
        let y = evaluate(&year, &weights, &penalties);
        prop_assert_eq!(y.measures, m.measures);
        prop_assert_eq!(y.score, m.score);
    }

    #[test]
    fn rounding_is_close_and_idempotent(x in 0.0f64..=100.0) {
        let r = round_score(x);
        prop_assert!((r - x).abs() <= 0.05 + 1e-9, "{x} -> {r}");
        prop_assert_eq!(round_score(r), r);
    }

    #[test]
    fn ranking_is_ordered(scores in proptest::collection::vec(
        prop_oneof![4 => (0u32..=1000).prop_map(|t| Some(f64::from(t) / 10.0)), 1 => Just(None)],
        0..20,
    )) {
        let mut team: Vec<(String, KpiReport)> = scores
            .iter()
            .enumerate()
            .map(|(i, &score)| (format!("p{i:02}"), KpiReport { score, ..KpiReport::default() }))
            .collect();
        let places = rank(&mut team);
        prop_assert_eq!(places.len(), team.len());
        for (i, pair) in team.windows(2).enumerate() {
            let (na, a) = (&pair[0].0, pair[0].1.score);
            let (nb, b) = (&pair[1].0, pair[1].1.score);
            match (a, b) {
                (Some(x), Some(y)) => {
                    prop_assert!(x > y || (x == y && na < nb));
                    prop_assert_eq!(places[i + 1] == places[i], x == y);
                }
                (None, None) => prop_assert!(na < nb),
                (Some(_), None) => {}
                (None, Some(_)) => prop_assert!(false, "unscored before scored"),
            }
        }
        for (i, place) in places.iter().enumerate() {
            prop_assert_eq!(place.is_some(), team[i].1.score.is_some());
            if let Some(p) = place {
                prop_assert!(*p <= i + 1);
            }
        }
    }
}
