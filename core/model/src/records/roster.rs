//! The roster (排班表): one document per team per month, written by the supervisor and
//! read-only on phones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_header, fixed, Record};
use crate::dates::is_month;
use crate::enums::{DocKind, Shift};
use crate::validate::Problems;

/// A team's roster for a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// Always `roster`.
    pub kind: DocKind,
    /// Schema version.
    pub schema_version: i64,
    /// The team.
    pub team: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Shifts keyed `<date>/<staff user id>`. Flat keys (rather than a map per day) mean two
    /// supervisors editing the same day on two devices never create competing day maps.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub shifts: BTreeMap<String, Shift>,
}

impl Roster {
    /// An empty roster.
    pub fn new(team: &str, month: &str) -> Self {
        Roster {
            kind: DocKind::Roster,
            schema_version: super::SCHEMA_VERSION,
            team: team.to_string(),
            month: month.to_string(),
            shifts: BTreeMap::new(),
        }
    }

    /// The key of one person's shift on one date.
    pub fn key(date: &str, staff: &str) -> String {
        format!("{date}/{staff}")
    }

    /// A person's rostered shift on a date (`None` when the roster says nothing).
    pub fn shift(&self, date: &str, staff: &str) -> Option<Shift> {
        self.shifts.get(&Self::key(date, staff)).copied()
    }
}

impl Record for Roster {
    const KIND: DocKind = DocKind::Roster;

    fn transition_problems(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        fixed(&mut p, "roster", "team", &before.team, &self.team);
        fixed(&mut p, "roster", "month", &before.month, &self.month);
        p
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        p.text("roster", "team", &self.team, 64);
        if !is_month(&self.month) {
            p.push("roster", "month", format!("{:?} is not a month (YYYY-MM)", self.month));
        }
        for key in self.shifts.keys() {
            let r = format!("roster entry {key}");
            match key.split_once('/') {
                Some((date, staff)) if !staff.is_empty() => {
                    if p.date(&r, "date", date).is_some() && !date.starts_with(&self.month) {
                        p.push(&r, "date", "is not in this roster's month");
                    }
                }
                _ => p.push(&r, "key", "must be <YYYY-MM-DD>/<staff user id>"),
            }
        }
        p
    }
}
