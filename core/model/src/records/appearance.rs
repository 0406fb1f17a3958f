//! The appearance check (仪容仪表): a versioned checklist template, and one sheet per team per
//! day on which the supervisor marks each staff member pass or fail per item, with a note and
//! optionally a photo (seed 004 "物业客服人员的仪容仪表培训").
//!
//! A sheet embeds a copy of the template version it used, so it stays readable and valid after
//! the template changes and without loading another document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_header, fixed, kept, AttachmentRef, Record};
use crate::enums::{CheckCategory, CheckResult, DocKind};
use crate::validate::{rec, Problems};

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateItem {
    /// Dress, bearing or grooming.
    pub category: CheckCategory,
    /// Chinese wording.
    pub label_zh: String,
    /// English wording.
    pub label_en: String,
    /// Display order.
    pub order: i64,
}

/// One version of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// Version number, 1, 2, ….
    pub version: i64,
    /// Items by stable code (e.g. `dress.badge`).
    pub items: BTreeMap<String, TemplateItem>,
    /// Who published it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
}

/// The checklist template document: every version ever published, keyed by version number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppearanceTemplate {
    /// Always `appearance_template`.
    pub kind: DocKind,
    /// Schema version.
    pub schema_version: i64,
    /// The team it belongs to.
    pub team: String,
    /// Versions keyed by their number as text (`"1"`, `"2"`).
    pub versions: BTreeMap<String, TemplateVersion>,
}

impl AppearanceTemplate {
    /// The newest version.
    pub fn current(&self) -> Option<&TemplateVersion> {
        self.versions.values().max_by_key(|v| v.version)
    }
}

/// The template of seed 004, version 1.
pub fn default_template_items() -> BTreeMap<String, TemplateItem> {
    use CheckCategory::*;
    let rows: [(&str, CheckCategory, &str, &str); 16] = [
        ("dress.uniform", Dress, "按规定穿着制服，制服整洁", "Uniform worn and clean"),
        ("dress.buttons", Dress, "纽扣扣好，不敞开外衣", "Buttons fastened, jacket not open"),
        ("dress.sleeves", Dress, "不卷袖子、裤腿", "Sleeves and trousers not rolled up"),
        ("dress.shoulder", Dress, "不披衣、不搭肩", "Nothing carried over the shoulder"),
        ("dress.collar", Dress, "领口、袖口不露个人衣物", "No personal clothing at collar or cuffs"),
        ("dress.pockets", Dress, "口袋不鼓胀", "Pockets not bulging"),
        ("dress.badge", Dress, "工牌端正佩戴于左胸", "Badge worn straight on the left chest"),
        (
            "dress.shoes",
            Dress,
            "鞋袜整洁，系好鞋带，不赤脚、无故不穿雨鞋",
            "Shoes and socks neat, laces tied, no bare feet or rain boots without cause",
        ),
        (
            "bearing.stance",
            Bearing,
            "站姿端正：两脚与肩同宽，目视前方，挺胸",
            "Stands upright: feet shoulder-width, eyes forward, chest up",
        ),
        ("bearing.rise", Bearing, "客户或上级到来时起立", "Stands when a customer or superior arrives"),
        ("bearing.no_leaning", Bearing, "不倚靠、不伸懒腰", "No leaning or stretching"),
        ("bearing.no_yawning", Bearing, "不打哈欠、不弯腰驼背", "No yawning or slouching"),
        ("grooming.clean", Grooming, "身体、面部、手部清洁", "Body, face and hands clean"),
        ("grooming.teeth", Grooming, "刷牙，口气清新", "Teeth brushed"),
        ("grooming.food", Grooming, "上班前不吃有异味的食物", "No strong-smelling food before work"),
        ("grooming.hair", Grooming, "头发整洁", "Hair neat"),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (code, cat, zh, en))| {
            (
                code.to_string(),
                TemplateItem {
                    category: *cat,
                    label_zh: zh.to_string(),
                    label_en: en.to_string(),
                    order: i as i64 + 1,
                },
            )
        })
        .collect()
}

impl Record for AppearanceTemplate {
    const KIND: DocKind = DocKind::AppearanceTemplate;

    fn transition_problems(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        fixed(&mut p, "template", "team", &before.team, &self.team);
        kept(&mut p, "template", "versions", &before.versions, &self.versions);
        for (k, v) in &before.versions {
            if let Some(now) = self.versions.get(k) {
                fixed(&mut p, &format!("template version {k}"), "items", &v.items, &now.items);
            }
        }
        p
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        p.text("template", "team", &self.team, 64);
        if self.versions.is_empty() {
            p.push("template", "versions", "needs at least one version");
        }
        for (key, v) in &self.versions {
            let r = format!("template version {key}");
            if key != &v.version.to_string() {
                p.push(&r, "version", "must equal its key");
            }
            check_items(&mut p, &r, &v.items);
            p.time(&r, "created_at", v.created_at);
            p.text(&r, "created_by", &v.created_by, 64);
        }
        p
    }
}

fn check_items(p: &mut Problems, r: &str, items: &BTreeMap<String, TemplateItem>) {
    if items.is_empty() {
        p.push(r, "items", "needs at least one item");
    }
    for (code, item) in items {
        p.text(r, &format!("items.{code}.label_zh"), &item.label_zh, 200);
        if !code.starts_with(&format!("{}.", item.category.as_str())) {
            p.push(r, &format!("items.{code}"), "code must start with its category and a dot");
        }
    }
}

/// The template version a sheet used (a copy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetTemplate {
    /// The template document id.
    pub template_id: String,
    /// Its version.
    pub version: i64,
    /// The items of that version.
    pub items: BTreeMap<String, TemplateItem>,
}

/// One item's result for one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Pass or fail.
    pub result: CheckResult,
    /// Note, e.g. what was wrong.
    #[serde(default)]
    pub note: Option<String>,
    /// Optional photo.
    #[serde(default)]
    pub photo: Option<AttachmentRef>,
}

/// One person's check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffCheck {
    /// Results by item code.
    pub items: BTreeMap<String, ItemResult>,
    /// Unix ms.
    pub checked_at: i64,
    /// Who checked.
    pub checked_by: String,
}

impl StaffCheck {
    /// Whether every item passed.
    pub fn passed(&self) -> bool {
        self.items.values().all(|i| i.result == CheckResult::Pass)
    }
}

/// The day's appearance sheet for a team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppearanceCheck {
    /// Always `appearance_check`.
    pub kind: DocKind,
    /// Schema version.
    pub schema_version: i64,
    /// The team.
    pub team: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// The template version used; set by the first check (absent in the keyed genesis change,
    /// see `KefuDoc::genesis`).
    #[serde(default)]
    pub template: Option<SheetTemplate>,
    /// Checks keyed by staff user id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub checks: BTreeMap<String, StaffCheck>,
}

impl AppearanceCheck {
    /// An empty sheet for a team and day (the keyed genesis content).
    pub fn new(team: &str, date: &str) -> Self {
        AppearanceCheck {
            kind: DocKind::AppearanceCheck,
            schema_version: super::SCHEMA_VERSION,
            team: team.to_string(),
            date: date.to_string(),
            template: None,
            checks: BTreeMap::new(),
        }
    }
}

impl Record for AppearanceCheck {
    const KIND: DocKind = DocKind::AppearanceCheck;

    fn transition_problems(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        let s = "appearance check";
        fixed(&mut p, s, "team", &before.team, &self.team);
        fixed(&mut p, s, "date", &before.date, &self.date);
        kept(&mut p, s, "checks", &before.checks, &self.checks);
        if before.template.is_some() {
            fixed(&mut p, s, "template", &before.template, &self.template);
        }
        p
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        let s = "appearance check";
        p.text(s, "team", &self.team, 64);
        p.date(s, "date", &self.date);
        let empty = BTreeMap::new();
        let items = match &self.template {
            Some(t) => {
                check_items(&mut p, s, &t.items);
                &t.items
            }
            None => {
                if !self.checks.is_empty() {
                    p.push(s, "template", "is required once anyone is checked");
                }
                &empty
            }
        };
        for (staff, check) in &self.checks {
            let r = rec("check of", staff);
            p.time(&r, "checked_at", check.checked_at);
            p.text(&r, "checked_by", &check.checked_by, 64);
            for (code, item) in &check.items {
                if !items.contains_key(code) {
                    p.push(&r, &format!("items.{code}"), "is not an item of the template version used");
                }
                if item.result == CheckResult::Fail
                    && item.note.as_deref().is_none_or(|n| n.trim().is_empty())
                {
                    p.push(
                        &r,
                        &format!("items.{code}.note"),
                        "a failed item needs a note saying what was wrong",
                    );
                }
                if let Some(photo) = &item.photo {
                    photo.check(&mut p, &r, &format!("items.{code}.photo"));
                }
            }
        }
        p
    }
}
