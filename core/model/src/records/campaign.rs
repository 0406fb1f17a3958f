//! Callback campaigns (回访计划): one document per campaign. The supervisor selects
//! customers by criteria, the system spreads them over agents by load, and each selected
//! customer file gets a scheduled callback naming this campaign.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_header, fixed, kept, Record};
use crate::enums::{CampaignStatus, DocKind};
use crate::lifecycle::StepMark;
use crate::validate::{rec, Problems};

/// A callback campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Always `campaign`.
    pub kind: DocKind,
    /// Schema version.
    pub schema_version: i64,
    /// The team.
    pub team: String,
    /// Name, e.g. "2026年11月 售后满意度回访".
    pub name: String,
    /// How customers were selected.
    pub criteria: Criteria,
    /// Date callbacks are due from, YYYY-MM-DD.
    pub starts_on: String,
    /// Date callbacks should be finished by, YYYY-MM-DD.
    pub ends_on: String,
    /// Creator.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// Set when the supervisor starts the campaign.
    #[serde(default)]
    pub started: Option<StepMark>,
    /// Set when the supervisor ends it.
    #[serde(default)]
    pub ended: Option<StepMark>,
    /// Selected customers, keyed by customer document id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub targets: BTreeMap<String, Target>,
}

/// Selection criteria, kept so the report can say how customers were chosen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Criteria {
    /// Plain-language description.
    pub description: String,
    /// Last completed visit or order at least this many days ago, and no callback since.
    #[serde(default)]
    pub min_days_since_service: Option<i64>,
    /// Visits completed within this many days.
    #[serde(default)]
    pub visits_completed_within_days: Option<i64>,
}

/// One selected customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The agent it was given to.
    pub agent: String,
    /// The callback id created in the customer file.
    pub callback: String,
    /// Due date, YYYY-MM-DD.
    pub scheduled_for: String,
}

impl Campaign {
    /// Derived status.
    pub fn status(&self) -> CampaignStatus {
        match (&self.started, &self.ended) {
            (_, Some(_)) => CampaignStatus::Ended,
            (Some(_), None) => CampaignStatus::Active,
            (None, None) => CampaignStatus::Draft,
        }
    }
}

impl Record for Campaign {
    const KIND: DocKind = DocKind::Campaign;

    fn transition_problems(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        fixed(&mut p, "campaign", "team", &before.team, &self.team);
        fixed(&mut p, "campaign", "created_at", &before.created_at, &self.created_at);
        kept(&mut p, "campaign", "targets", &before.targets, &self.targets);
        if before.started.is_some() {
            fixed(&mut p, "campaign", "started", &before.started, &self.started);
        }
        if before.ended.is_some() {
            fixed(&mut p, "campaign", "ended", &before.ended, &self.ended);
        }
        p
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        let c = "campaign";
        p.text(c, "team", &self.team, 64);
        p.text(c, "name", &self.name, 200);
        p.text(c, "criteria.description", &self.criteria.description, 1000);
        for (f, v) in [
            ("criteria.min_days_since_service", self.criteria.min_days_since_service),
            ("criteria.visits_completed_within_days", self.criteria.visits_completed_within_days),
        ] {
            if v.is_some_and(|d| !(0..=3650).contains(&d)) {
                p.push(c, f, "must be 0–3650 days");
            }
        }
        let s = p.date(c, "starts_on", &self.starts_on);
        let e = p.date(c, "ends_on", &self.ends_on);
        if let (Some(s), Some(e)) = (s, e) {
            if e < s {
                p.push(c, "ends_on", "is before starts_on");
            }
        }
        p.time(c, "created_at", self.created_at);
        p.text(c, "created_by", &self.created_by, 64);
        if self.ended.is_some() && self.started.is_none() {
            p.push(c, "ended", "a campaign ends only after it started");
        }
        for (id, t) in &self.targets {
            if id.parse::<crate::ids::DocumentId>().is_err() {
                p.push(
                    &rec("target", id),
                    "key",
                    "must be a customer document id (bare, no automerge: prefix)",
                );
            }
            p.text(&rec("target", id), "callback", &t.callback, 64);
            p.text(&rec("target", id), "agent", &t.agent, 64);
            p.date(&rec("target", id), "scheduled_for", &t.scheduled_for);
        }
        p
    }
}
