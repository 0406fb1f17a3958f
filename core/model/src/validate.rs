//! Validation: what makes a record acceptable.
//!
//! Every document kind checks its whole state (after any merge) and returns every problem at
//! once, each naming the record, the field and the rule, so a person can fix them in one go and
//! the server can quarantine a change with a reason a supervisor understands.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dates::Date;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    /// Which record: `"customer"`, `"visit 7Hq…"`, `"leave 3Fd…"`.
    pub record: String,
    /// Which field, as a dotted path within the record.
    pub field: String,
    /// The rule, in plain words.
    pub rule: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.record, self.field, self.rule)
    }
}

/// A list of broken rules; empty means valid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Problems(pub Vec<ValidationError>);

impl Problems {
    /// No problems.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records a problem.
    pub fn push(&mut self, record: &str, field: &str, rule: impl Into<String>) {
        self.0.push(ValidationError {
            record: record.to_string(),
            field: field.to_string(),
            rule: rule.into(),
        });
    }

    /// `Ok(())` when empty.
    pub fn into_result(self) -> Result<(), Problems> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Requires a non-blank text of at most `max` characters.
    pub fn text(&mut self, record: &str, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(record, field, "is required");
        } else {
            self.max_len(record, field, value, max);
        }
    }

    /// Limits a text's length in characters.
    pub fn max_len(&mut self, record: &str, field: &str, value: &str, max: usize) {
        let n = value.chars().count();
        if n > max {
            self.push(record, field, format!("is {n} characters long, at most {max} allowed"));
        }
    }

    /// Requires a `YYYY-MM-DD` date; returns it when valid.
    pub fn date(&mut self, record: &str, field: &str, value: &str) -> Option<Date> {
        let d = Date::parse(value);
        if d.is_none() {
            self.push(record, field, format!("{value:?} is not a date (YYYY-MM-DD)"));
        }
        d
    }

    /// Requires a rating 1–5.
    pub fn rating(&mut self, record: &str, field: &str, value: i64) {
        if !(1..=5).contains(&value) {
            self.push(record, field, format!("must be 1–5, got {value}"));
        }
    }

    /// Requires a plausible time (after 2000-01-01, before 2200).
    pub fn time(&mut self, record: &str, field: &str, ms: i64) {
        if !(946_684_800_000..=7_258_118_400_000).contains(&ms) {
            self.push(record, field, format!("{ms} is not a plausible time (Unix milliseconds)"));
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Short form of a record id for messages (`visit 7Hq2…`).
pub fn rec(kind: &str, id: &str) -> String {
    let short: String = id.chars().take(6).collect();
    if short.len() < id.len() {
        format!("{kind} {short}…")
    } else {
        format!("{kind} {id}")
    }
}

/// Whether a phone number looks like one: digits with optional `+`, spaces and dashes, 5–20
/// digits.
pub fn plausible_phone(p: &str) -> bool {
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    (5..=20).contains(&digits)
        && p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
}
