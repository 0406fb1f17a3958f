//! The appearance check (仪容仪表): the day's sheet filled on the page, monthly pass rates per
//! person and per item, and the checklist template with its versions.
//!
//! A team's sheet for a day is one keyed document (`appearance_check/<team>/<date>`, started
//! by `KefuDoc::genesis` so a phone creating it offline makes the same document); it is created
//! when the supervisor first saves results for that day. The first check on a sheet copies the
//! template version in use into it, so a sheet always says which version it used and later
//! template changes do not touch it. The template is one document per team holding every
//! version ever published; saving the editor publishes a new version (items of earlier versions
//! are never changed). A team without a template document uses the built-in checklist of seed
//! 004 (`template_id` "builtin", version 1), as the phones do.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use kefu_model::automerge::ActorId;
use kefu_model::dates::{is_month, Date};
use kefu_model::enums::{CheckCategory, CheckResult, DocKind, Shift};
use kefu_model::records::appearance::{
    default_template_items, AppearanceCheck, AppearanceTemplate, ItemResult, SheetTemplate, TemplateItem,
    TemplateVersion,
};
use kefu_model::records::roster::Roster;
use kefu_model::records::SCHEMA_VERSION;
use kefu_model::verbs::Actor;
use kefu_model::{DocumentId, KefuDoc};
use maud::{html, Markup};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::boards::supervisor_team;
use super::customers::{name_of, people};
use super::form::FormData;
use super::layout::{form_fields, page};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, today, Ctx, Lang, PageError, Posted};
use crate::accept;
use crate::auth::{now_ms, Principal};
use crate::edit;
use crate::error::ServerError;
use crate::http::AppState;

/// Appearance pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/appearance", get(sheet_page).post(sheet_form))
        .route("/appearance/rates", get(rates_page))
        .route("/appearance/template", get(template_page).post(template_form))
}

/// The template id a sheet records when the team has no template document.
pub const BUILTIN_TEMPLATE: &str = "builtin";

/// Longest note on an item.
const MAX_NOTE: usize = 500;

// ---- template ----------------------------------------------------------------------------------

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateItemRow {
    /// Stable code, `<category>.<name>` (e.g. `dress.badge`); kept when the item is renamed.
    pub code: String,
    /// dress (服饰着装), bearing (仪态) or grooming (仪表).
    pub category: String,
    /// Chinese wording.
    pub label_zh: String,
    /// English wording.
    pub label_en: String,
    /// Display order within the checklist.
    pub order: i64,
}

/// One published version of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateVersionRow {
    /// Version number, 1, 2, ….
    pub version: i64,
    /// Who published it (user id; empty for the built-in checklist).
    pub created_by: String,
    /// When, Unix ms (0 for the built-in checklist).
    pub created_at: i64,
    /// Its items, by category then order.
    pub items: Vec<TemplateItemRow>,
}

/// A team's checklist template and its versions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TemplateInfo {
    /// The template document id; absent while the team uses the built-in checklist.
    pub template_id: Option<String>,
    /// The current (newest) version number.
    pub current_version: i64,
    /// Every version, newest first.
    pub versions: Vec<TemplateVersionRow>,
}

fn category_rank(c: CheckCategory) -> usize {
    CheckCategory::ALL.iter().position(|x| *x == c).unwrap_or(usize::MAX)
}

/// Items in display order: by category (dress, bearing, grooming), then order, then code.
pub fn sorted_items(items: &BTreeMap<String, TemplateItem>) -> Vec<(&String, &TemplateItem)> {
    let mut v: Vec<(&String, &TemplateItem)> = items.iter().collect();
    v.sort_by(|a, b| {
        (category_rank(a.1.category), a.1.order, a.0).cmp(&(category_rank(b.1.category), b.1.order, b.0))
    });
    v
}

fn item_rows(items: &BTreeMap<String, TemplateItem>) -> Vec<TemplateItemRow> {
    sorted_items(items)
        .into_iter()
        .map(|(code, i)| TemplateItemRow {
            code: code.clone(),
            category: i.category.as_str().to_string(),
            label_zh: i.label_zh.clone(),
            label_en: i.label_en.clone(),
            order: i.order,
        })
        .collect()
}

/// The team's template document, if it has one (the first by id if two were ever created).
fn load_template(conn: &Connection, team: &str) -> Result<Option<(String, AppearanceTemplate)>, ServerError> {
    let id: Option<String> = conn
        .query_row(
            "SELECT doc_id FROM idx_keyed WHERE kind = ?1 AND team = ?2 ORDER BY doc_id LIMIT 1",
            [DocKind::AppearanceTemplate.as_str(), team],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    let Some(stored) = accept::load(conn, &id)? else { return Ok(None) };
    let t: AppearanceTemplate = KefuDoc::from_automerge(stored.doc)
        .read()
        .map_err(|e| ServerError::Internal(format!("template {id}: {e}")))?;
    Ok(Some((id, t)))
}

/// The template version a new sheet of `team` uses: the current version of the team's
/// template, or the built-in checklist.
pub fn current_sheet_template(conn: &Connection, team: &str) -> Result<SheetTemplate, ServerError> {
    if let Some((id, t)) = load_template(conn, team)? {
        if let Some(v) = t.current() {
            return Ok(SheetTemplate { template_id: id, version: v.version, items: v.items.clone() });
        }
    }
    Ok(SheetTemplate { template_id: BUILTIN_TEMPLATE.into(), version: 1, items: default_template_items() })
}

/// The team's template with every version (`GET /appearance/template`).
pub fn template_info(conn: &Connection, team: &str) -> Result<TemplateInfo, ServerError> {
    match load_template(conn, team)? {
        Some((id, t)) => {
            let mut versions: Vec<TemplateVersionRow> = t
                .versions
                .values()
                .map(|v| TemplateVersionRow {
                    version: v.version,
                    created_by: v.created_by.clone(),
                    created_at: v.created_at,
                    items: item_rows(&v.items),
                })
                .collect();
            versions.sort_by_key(|v| std::cmp::Reverse(v.version));
            let current_version = versions.first().map_or(0, |v| v.version);
            Ok(TemplateInfo { template_id: Some(id), current_version, versions })
        }
        None => Ok(TemplateInfo {
            template_id: None,
            current_version: 1,
            versions: vec![TemplateVersionRow {
                version: 1,
                created_by: String::new(),
                created_at: 0,
                items: item_rows(&default_template_items()),
            }],
        }),
    }
}

/// One item of a template being saved.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct TemplateItemInput {
    /// The item's code when it already exists (kept, so results stay comparable); absent for a
    /// new item, whose code is made from its category and English wording.
    #[serde(default)]
    pub code: Option<String>,
    /// dress, bearing or grooming.
    pub category: String,
    /// Chinese wording (required).
    pub label_zh: String,
    /// English wording (the Chinese is used when empty).
    #[serde(default)]
    pub label_en: Option<String>,
    /// Display order (the position in the list when absent).
    #[serde(default)]
    pub order: Option<i64>,
}

/// A checklist to publish as the team's next template version.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct TemplateInput {
    /// Every item of the new version (items left out are removed from it).
    pub items: Vec<TemplateItemInput>,
    /// The version the edit started from; when given and no longer current (someone
    /// published meanwhile), nothing is saved.
    #[serde(default)]
    pub base_version: Option<i64>,
}

fn slug(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
        if s.len() >= 24 {
            break;
        }
    }
    s.trim_end_matches('_').to_string()
}

/// Builds the items of a new version from `input`. `used` holds every code of every earlier
/// version, so a new item never takes the code of a removed one.
pub fn build_items(
    input: &TemplateInput,
    used: &BTreeSet<String>,
) -> Result<BTreeMap<String, TemplateItem>, ServerError> {
    let bad = |m: String| ServerError::BadRequest(m);
    if input.items.is_empty() {
        return Err(bad("模板至少需要一项 / the checklist needs at least one item".into()));
    }
    if input.items.len() > 200 {
        return Err(bad("模板最多 200 项 / at most 200 items".into()));
    }
    let mut taken: BTreeSet<String> = used.clone();
    let mut out = BTreeMap::new();
    for (i, it) in input.items.iter().enumerate() {
        let n = i + 1;
        let category: CheckCategory = it.category.parse().map_err(|_| {
            bad(format!(
                "第 {n} 项：类别 {:?} 无效 / item {n}: unknown category {:?}",
                it.category, it.category
            ))
        })?;
        let zh = it.label_zh.trim();
        if zh.is_empty() {
            return Err(bad(format!(
                "第 {n} 项：中文内容不能为空 / item {n}: the Chinese wording is required"
            )));
        }
        let en = it.label_en.as_deref().map(str::trim).filter(|e| !e.is_empty()).unwrap_or(zh);
        if zh.chars().count() > 200 || en.chars().count() > 200 {
            return Err(bad(format!("第 {n} 项：内容最多 200 字 / item {n}: at most 200 characters")));
        }
        let prefix = format!("{}.", category.as_str());
        let kept =
            it.code.as_deref().map(str::trim).filter(|c| c.starts_with(&prefix) && c.len() > prefix.len());
        let code = match kept {
            Some(c) => c.to_string(),
            None => {
                let base = slug(en);
                let base = if base.is_empty() { "item".to_string() } else { base };
                let mut code = format!("{prefix}{base}");
                let mut k = 2;
                while taken.contains(&code) || out.contains_key(&code) {
                    code = format!("{prefix}{base}_{k}");
                    k += 1;
                }
                code
            }
        };
        taken.insert(code.clone());
        let item = TemplateItem {
            category,
            label_zh: zh.to_string(),
            label_en: en.to_string(),
            order: it.order.unwrap_or(n as i64),
        };
        if out.insert(code.clone(), item).is_some() {
            return Err(bad(format!("检查项 {code} 重复 / item {code} appears twice")));
        }
    }
    Ok(out)
}

/// Publishes `input` as the next version of the team's template (creating the template
/// document, as version 1, when the team has none). Nothing is written when the items equal
/// the current version.
pub fn save_template(st: &AppState, p: &Principal, input: &TemplateInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let conn = st.db.lock();
    let existing = load_template(&conn, &team)?;
    let used: BTreeSet<String> = match &existing {
        Some((_, t)) => t.versions.values().flat_map(|v| v.items.keys().cloned()).collect(),
        None => default_template_items().into_keys().collect(),
    };
    let items = build_items(input, &used)?;
    let current = existing.as_ref().map_or(Some(1), |(_, t)| t.current().map(|v| v.version));
    if let Some(base) = input.base_version.filter(|b| Some(*b) != current) {
        let now = current.unwrap_or(0);
        return Err(ServerError::BadRequest(format!(
            "模板已被修改（第 {base} 版 → 第 {now} 版），请刷新后重新编辑 / the checklist changed meanwhile \
             (version {base} → {now}): reload and edit again"
        )));
    }
    let now = now_ms();
    let (doc_id, version) = match existing {
        Some((id, t)) => {
            if t.current().is_some_and(|v| v.items == items) {
                return Ok("模板没有变化 / the checklist is unchanged".into());
            }
            let who = p.user_id.clone();
            let (v, changed) = edit::edit_locked::<AppearanceTemplate, _>(&conn, p, &id, move |t| {
                let v = t.versions.values().map(|v| v.version).max().unwrap_or(0) + 1;
                t.versions.insert(
                    v.to_string(),
                    TemplateVersion { version: v, items, created_by: who, created_at: now },
                );
                Ok(v)
            })?;
            drop(conn);
            if let Some(team) = changed {
                edit::notify(st, &id, &team);
            }
            (id, v)
        }
        None => {
            let t = AppearanceTemplate {
                kind: DocKind::AppearanceTemplate,
                schema_version: SCHEMA_VERSION,
                team: team.clone(),
                versions: BTreeMap::from([(
                    "1".to_string(),
                    TemplateVersion { version: 1, items, created_by: p.user_id.clone(), created_at: now },
                )]),
            };
            let mut doc =
                KefuDoc::create(&t, edit::fresh_actor()?, &edit::author(p), now).map_err(edit::doc_error)?;
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
            let id = DocumentId::from_bytes(bytes).to_string();
            let team = edit::store(&conn, p, &id, None, doc.automerge())?;
            drop(conn);
            edit::notify(st, &id, &team);
            (id, 1)
        }
    };
    tracing::info!(doc_id, version, "appearance template published");
    Ok(format!("已发布模板第 {version} 版 / published checklist version {version}"))
}

// ---- the day's sheet ---------------------------------------------------------------------------

/// One item of one person on a sheet.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SheetItem {
    /// Item code.
    pub code: String,
    /// dress, bearing or grooming.
    pub category: String,
    /// Chinese wording.
    pub label_zh: String,
    /// English wording.
    pub label_en: String,
    /// `pass` or `fail`; absent when the person was not checked.
    pub result: Option<String>,
    /// Note (what was wrong).
    pub note: Option<String>,
    /// A photo of the item, taken on the phone.
    pub photo: Option<super::evidence::Evidence>,
}

/// One staff member on a sheet.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SheetPerson {
    /// User id.
    pub staff: String,
    /// Display name.
    pub name: String,
    /// field or agent (empty for someone checked who has since left the team).
    pub role: String,
    /// Rostered shift that day (early, late, rest), when the roster says.
    pub shift: Option<String>,
    /// Checked on this sheet.
    pub checked: bool,
    /// When, Unix ms.
    pub checked_at: Option<i64>,
    /// Who checked (user id).
    pub checked_by: Option<String>,
    /// Every item passed (absent when not checked).
    pub passed: Option<bool>,
    /// The items of the sheet's template version, in display order.
    pub items: Vec<SheetItem>,
}

/// A team's appearance sheet for a day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DaySheet {
    /// YYYY-MM-DD.
    pub date: String,
    /// The sheet's document id (derived from team and date; it exists once saved).
    pub doc_id: String,
    /// Whether the document exists yet.
    pub exists: bool,
    /// The template document id the sheet uses (or will use), `builtin` for the seed 004 list.
    pub template_id: String,
    /// The template version it uses (or will use).
    pub template_version: i64,
    /// The sheet already records its template version (it is fixed from the first check).
    pub template_fixed: bool,
    /// The team's field staff and agents, and anyone else checked on the sheet.
    pub people: Vec<SheetPerson>,
}

/// The key of a team's sheet for a date.
pub fn sheet_key(team: &str, date: &str) -> String {
    format!("appearance_check/{team}/{date}")
}

/// The document id of a team's sheet for a date (derived from the key).
pub fn sheet_id(team: &str, date: &str) -> Result<String, ServerError> {
    let (id, _) =
        KefuDoc::genesis(&sheet_key(team, date), &AppearanceCheck::new(team, date), ActorId::random())
            .map_err(edit::doc_error)?;
    Ok(id.to_string())
}

fn load_sheet(conn: &Connection, doc_id: &str) -> Result<Option<AppearanceCheck>, ServerError> {
    let Some(stored) = accept::load(conn, doc_id)? else { return Ok(None) };
    KefuDoc::from_automerge(stored.doc)
        .read()
        .map(Some)
        .map_err(|e| ServerError::Internal(format!("appearance sheet {doc_id}: {e}")))
}

/// Creates the team's sheet for `date` (its keyed genesis) unless it exists; returns its id
/// and whether it was created now. Call with the connection held through the edit that follows.
pub fn ensure_sheet(
    conn: &Connection,
    p: &Principal,
    team: &str,
    date: &str,
) -> Result<(String, bool), ServerError> {
    let (id, mut doc) =
        KefuDoc::genesis(&sheet_key(team, date), &AppearanceCheck::new(team, date), edit::fresh_actor()?)
            .map_err(edit::doc_error)?;
    let id = id.to_string();
    if accept::load(conn, &id)?.is_some() {
        return Ok((id, false));
    }
    edit::store(conn, p, &id, None, doc.automerge())?;
    Ok((id, true))
}

/// A team's checked staff: field staff and agents who are not disabled: (id, name, role).
fn team_staff(conn: &Connection, team: &str) -> Result<Vec<(String, String, String)>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT id, display_name, role FROM users WHERE team = ?1 AND role IN ('field', 'agent') \
         AND disabled_at IS NULL ORDER BY role, display_name",
    )?;
    let rows = s.query_map([team], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn roster_for(conn: &Connection, team: &str, month: &str) -> Result<Option<Roster>, ServerError> {
    let id: Option<String> = conn
        .query_row(
            "SELECT doc_id FROM idx_keyed WHERE kind = 'roster' AND team = ?1 AND key = ?2 ORDER BY doc_id LIMIT 1",
            [team, month],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    let Some(stored) = accept::load(conn, &id)? else { return Ok(None) };
    Ok(KefuDoc::from_automerge(stored.doc).read().ok())
}

fn parse_date(date: &str) -> Result<Date, ServerError> {
    Date::parse(date).ok_or_else(|| {
        ServerError::BadRequest(format!(
            "日期 {date:?} 无效，应为 YYYY-MM-DD / {date:?} is not a date (YYYY-MM-DD)"
        ))
    })
}

/// The team's sheet for `date` as it stands, with the template it uses or will use.
pub fn day_sheet(conn: &Connection, team: &str, date: &str) -> Result<DaySheet, ServerError> {
    parse_date(date)?;
    let doc_id = sheet_id(team, date)?;
    let sheet = load_sheet(conn, &doc_id)?;
    let (template, fixed) = match sheet.as_ref().and_then(|s| s.template.clone()) {
        Some(t) => (t, true),
        None => (current_sheet_template(conn, team)?, false),
    };
    let roster = roster_for(conn, team, &date[..7])?;
    let names = people(conn, team)?;
    let mut who: Vec<(String, String, String)> = team_staff(conn, team)?;
    if let Some(s) = &sheet {
        for staff in s.checks.keys() {
            if !who.iter().any(|(id, _, _)| id == staff) {
                who.push((staff.clone(), name_of(&names, staff), String::new()));
            }
        }
    }
    let order = sorted_items(&template.items);
    let hashes: Vec<String> = sheet
        .iter()
        .flat_map(|s| s.checks.values())
        .flat_map(|c| c.items.values())
        .filter_map(|i| i.photo.as_ref().map(|p| p.sha256.clone()))
        .collect();
    let held = super::evidence::uploaded(conn, hashes.iter().map(String::as_str))?;
    let people = who
        .into_iter()
        .map(|(staff, name, role)| {
            let check = sheet.as_ref().and_then(|s| s.checks.get(&staff));
            let items = order
                .iter()
                .map(|(code, item)| {
                    let r = check.and_then(|c| c.items.get(*code));
                    SheetItem {
                        code: (*code).clone(),
                        category: item.category.as_str().to_string(),
                        label_zh: item.label_zh.clone(),
                        label_en: item.label_en.clone(),
                        result: r.map(|r| r.result.as_str().to_string()),
                        note: r.and_then(|r| r.note.clone()),
                        photo: r
                            .and_then(|r| r.photo.as_ref())
                            .map(|p| super::evidence::Evidence::of(p, &held)),
                    }
                })
                .collect();
            SheetPerson {
                shift: roster.as_ref().and_then(|r| r.shift(date, &staff)).map(|s| s.as_str().to_string()),
                checked: check.is_some(),
                checked_at: check.map(|c| c.checked_at),
                checked_by: check.map(|c| c.checked_by.clone()),
                passed: check.map(|c| c.passed()),
                staff,
                name,
                role,
                items,
            }
        })
        .collect();
    Ok(DaySheet {
        date: date.to_string(),
        doc_id,
        exists: sheet.is_some(),
        template_id: template.template_id,
        template_version: template.version,
        template_fixed: fixed,
        people,
    })
}

/// One item's result being recorded.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct ItemInput {
    /// Item code of the sheet's template version.
    pub code: String,
    /// Passed (`true`) or failed.
    pub pass: bool,
    /// Note; required when the item failed.
    #[serde(default)]
    pub note: Option<String>,
}

/// One person's check being recorded.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct PersonInput {
    /// Staff user id (a field staff member or agent of the team).
    pub staff: String,
    /// Results; items not listed passed.
    #[serde(default)]
    pub items: Vec<ItemInput>,
}

/// Results to record on a team's sheet.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct SheetInput {
    /// YYYY-MM-DD; today when absent. Not in the future.
    #[serde(default)]
    pub date: Option<String>,
    /// The people checked.
    pub checks: Vec<PersonInput>,
}

/// Records the checks of `input` on the team's sheet as the supervisor (the `record` verb, one
/// change for everyone), creating the day's sheet if missing. A person whose results equal
/// what the sheet already holds is left as recorded.
pub fn record_sheet(st: &AppState, p: &Principal, input: &SheetInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let bad = ServerError::BadRequest;
    let date = input.date.clone().unwrap_or_else(|| today().to_string());
    let d = parse_date(&date)?;
    if d > today() {
        return Err(bad(format!("不能检查未来的日期 {date} / {date} is in the future")));
    }
    if input.checks.is_empty() {
        return Err(bad("没有选择要检查的人员 / nobody was selected to record".into()));
    }
    let conn = st.db.lock();
    let staff = team_staff(&conn, &team)?;
    let name = |id: &str| staff.iter().find(|(s, _, _)| s == id).map(|(_, n, _)| n.clone());
    let doc_id = sheet_id(&team, &date)?;
    let existing = load_sheet(&conn, &doc_id)?;
    let template = match existing.as_ref().and_then(|s| s.template.clone()) {
        Some(t) => t,
        None => current_sheet_template(&conn, &team)?,
    };
    let mut changes: Vec<(String, BTreeMap<String, ItemResult>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for person in &input.checks {
        let Some(who) = name(&person.staff) else {
            return Err(bad(format!(
                "{} 不是本组的售后人员或客服专员 / {} is not field staff or an agent of this team",
                person.staff, person.staff
            )));
        };
        if !seen.insert(person.staff.clone()) {
            return Err(bad(format!("{who} 重复 / {who} appears twice")));
        }
        let mut results: BTreeMap<String, ItemResult> = template
            .items
            .keys()
            .map(|c| (c.clone(), ItemResult { result: CheckResult::Pass, note: None, photo: None }))
            .collect();
        for it in &person.items {
            let Some(item) = template.items.get(&it.code) else {
                return Err(bad(format!(
                    "{who}：检查项 {} 不在模板第 {} 版中 / {who}: item {} is not in checklist version {}",
                    it.code, template.version, it.code, template.version
                )));
            };
            let note = it.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
            if note.as_deref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
                return Err(bad(format!(
                    "{who}：{} 的备注最多 {MAX_NOTE} 字 / note too long",
                    item.label_zh
                )));
            }
            if !it.pass && note.is_none() {
                return Err(bad(format!(
                    "{who}：“{}”不合格，请写明问题 / {who}: “{}” failed, say what was wrong in the note",
                    item.label_zh, item.label_en
                )));
            }
            let result = if it.pass { CheckResult::Pass } else { CheckResult::Fail };
            results.insert(it.code.clone(), ItemResult { result, note, photo: None });
        }
        let same = existing.as_ref().and_then(|s| s.checks.get(&person.staff)).is_some_and(|c| {
            c.items.len() == results.len()
                && c.items
                    .iter()
                    .all(|(k, r)| results.get(k).is_some_and(|n| n.result == r.result && n.note == r.note))
        });
        if !same {
            changes.push((person.staff.clone(), results));
        }
    }
    let (doc_id, created) = ensure_sheet(&conn, p, &team, &date)?;
    let n = changes.len();
    let mut notify = created.then(|| team.clone());
    if n > 0 {
        let by = Actor { user: p.user_id.clone(), at: now_ms() };
        let (_, changed) = edit::edit_locked::<AppearanceCheck, _>(&conn, p, &doc_id, move |s| {
            for (staff, results) in changes {
                s.record(&by, &staff, &template, results)?;
            }
            Ok(())
        })?;
        notify = notify.or(changed);
    }
    drop(conn);
    if let Some(team) = notify {
        edit::notify(st, &doc_id, &team);
    }
    if n == 0 {
        return Ok(format!("{date} 没有变化 / nothing changed on {date}"));
    }
    Ok(format!("已记录 {date} {n} 人的检查结果 / recorded {n} people's checks for {date}"))
}

/// Reads the sheet form: `staff` lists the people shown; `present:<id>` ticks a person;
/// `fail:<id>:<code>` marks an item failed; `note:<id>:<code>` is its note.
pub fn sheet_input_from_form(form: &FormData) -> SheetInput {
    let mut checks = Vec::new();
    for staff in form.all("staff") {
        if !form.checked(&format!("present:{staff}")) {
            continue;
        }
        let fail = format!("fail:{staff}:");
        let note = format!("note:{staff}:");
        let mut codes: BTreeSet<&str> = BTreeSet::new();
        for (k, v) in &form.0 {
            if let Some(code) = k.strip_prefix(&fail) {
                codes.insert(code);
            } else if let Some(code) = k.strip_prefix(&note).filter(|_| !v.trim().is_empty()) {
                codes.insert(code);
            }
        }
        let items = codes
            .into_iter()
            .map(|code| ItemInput {
                code: code.to_string(),
                pass: !form.checked(&format!("{fail}{code}")),
                note: form.get(&format!("{note}{code}")).map(str::to_string),
            })
            .collect();
        checks.push(PersonInput { staff: staff.to_string(), items });
    }
    SheetInput { date: form.get("date").map(str::to_string), checks }
}

// ---- pass rates --------------------------------------------------------------------------------

/// A person's pass rates over a month.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PersonRate {
    /// User id.
    pub staff: String,
    /// Display name.
    pub name: String,
    /// Days checked.
    pub checks: i64,
    /// Days on which every item passed.
    pub checks_passed: i64,
    /// `checks_passed ÷ checks` in percent, one decimal (the KPI's appearance pass rate).
    pub check_pass_rate: Option<f64>,
    /// Items checked (over all days).
    pub items_checked: i64,
    /// Items failed.
    pub items_failed: i64,
    /// Items passed ÷ items checked, in percent, one decimal.
    pub item_pass_rate: Option<f64>,
}

/// An item's pass rate over a month.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemRate {
    /// Item code.
    pub code: String,
    /// dress, bearing or grooming.
    pub category: String,
    /// Chinese wording (of the newest version that has it).
    pub label_zh: String,
    /// English wording.
    pub label_en: String,
    /// Times checked.
    pub checked: i64,
    /// Times failed.
    pub failed: i64,
    /// Passed ÷ checked, in percent, one decimal.
    pub pass_rate: Option<f64>,
}

/// Pass rates of a team over a month.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PassRates {
    /// YYYY-MM.
    pub month: String,
    /// Sheets (days) in the month.
    pub sheets: i64,
    /// Per person, by name.
    pub people: Vec<PersonRate>,
    /// Per item, in checklist order.
    pub items: Vec<ItemRate>,
}

/// `part ÷ whole` in percent rounded to one decimal; `None` when `whole` is 0.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

/// Per-person and per-item counts over `sheets` (names and labels filled in by the caller for
/// people; item labels from the newest sheet that has the item).
pub fn rates_of(sheets: &[AppearanceCheck]) -> (Vec<PersonRate>, Vec<ItemRate>) {
    let mut people: BTreeMap<String, PersonRate> = BTreeMap::new();
    let mut items: BTreeMap<String, ItemRate> = BTreeMap::new();
    let mut order: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    let mut sorted: Vec<&AppearanceCheck> = sheets.iter().collect();
    sorted.sort_by(|a, b| a.date.cmp(&b.date));
    for sheet in sorted {
        let labels = sheet.template.as_ref().map(|t| &t.items);
        for (staff, check) in &sheet.checks {
            let p = people.entry(staff.clone()).or_insert_with(|| PersonRate {
                staff: staff.clone(),
                name: staff.clone(),
                checks: 0,
                checks_passed: 0,
                check_pass_rate: None,
                items_checked: 0,
                items_failed: 0,
                item_pass_rate: None,
            });
            p.checks += 1;
            if check.passed() {
                p.checks_passed += 1;
            }
            for (code, r) in &check.items {
                let failed = i64::from(r.result == CheckResult::Fail);
                p.items_checked += 1;
                p.items_failed += failed;
                let it = items.entry(code.clone()).or_insert_with(|| ItemRate {
                    code: code.clone(),
                    category: code.split('.').next().unwrap_or("").to_string(),
                    label_zh: code.clone(),
                    label_en: code.clone(),
                    checked: 0,
                    failed: 0,
                    pass_rate: None,
                });
                it.checked += 1;
                it.failed += failed;
                if let Some(t) = labels.and_then(|l| l.get(code)) {
                    it.category = t.category.as_str().to_string();
                    it.label_zh = t.label_zh.clone();
                    it.label_en = t.label_en.clone();
                    order.insert(code.clone(), (category_rank(t.category), t.order));
                }
            }
        }
    }
    let people = people
        .into_values()
        .map(|mut p| {
            p.check_pass_rate = percent(p.checks_passed, p.checks);
            p.item_pass_rate = percent(p.items_checked - p.items_failed, p.items_checked);
            p
        })
        .collect();
    let mut items: Vec<ItemRate> = items
        .into_values()
        .map(|mut i| {
            i.pass_rate = percent(i.checked - i.failed, i.checked);
            i
        })
        .collect();
    items.sort_by_key(|i| (order.get(&i.code).copied().unwrap_or((usize::MAX, 0)), i.code.clone()));
    (people, items)
}

/// The team's pass rates over `month` (YYYY-MM), from its sheets dated in that month.
pub fn pass_rates(conn: &Connection, team: &str, month: &str) -> Result<PassRates, ServerError> {
    if !is_month(month) {
        return Err(ServerError::BadRequest(format!(
            "月份 {month:?} 无效，应为 YYYY-MM / month {month:?} is not YYYY-MM"
        )));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id FROM idx_checks WHERE team = ?1 AND substr(date, 1, 7) = ?2 ORDER BY date",
    )?;
    let ids: Vec<String> = stmt.query_map([team, month], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut sheets = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(s) = load_sheet(conn, id)? {
            sheets.push(s);
        }
    }
    let (mut people_rates, items) = rates_of(&sheets);
    let names = people(conn, team)?;
    for p in &mut people_rates {
        p.name = name_of(&names, &p.staff);
    }
    people_rates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(PassRates { month: month.to_string(), sheets: sheets.len() as i64, people: people_rates, items })
}

// ---- pages -------------------------------------------------------------------------------------

fn cat_label(lang: Lang, code: &str) -> String {
    code.parse::<CheckCategory>().map_or_else(|_| code.to_string(), |c| label(lang, c.label_zh(), c.as_str()))
}

fn item_label<'a>(lang: Lang, zh: &'a str, en: &'a str) -> &'a str {
    lang.t(zh, en)
}

fn shift_label(lang: Lang, s: &str) -> String {
    s.parse::<Shift>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

/// Query of the sheet page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct SheetQuery {
    /// YYYY-MM-DD (today when absent).
    pub date: Option<String>,
    /// `csv` or `xlsx` to download the day's results.
    pub format: Option<String>,
}

async fn sheet_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<SheetQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let date = q.date.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| today().to_string());
    let db = state.db.clone();
    let d = date.clone();
    let (sheet, names) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((day_sheet(&conn, &team, &d)?, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let mut t = Table::new(
        "appearance-sheet",
        ctx.t("仪容仪表检查", "Appearance check"),
        &[
            ctx.t("日期", "Date"),
            ctx.t("姓名", "Name"),
            ctx.t("类别", "Category"),
            ctx.t("检查项", "Item"),
            ctx.t("结果", "Result"),
            ctx.t("备注", "Note"),
            ctx.t("检查时间", "Checked at"),
        ],
    );
    for person in sheet.people.iter().filter(|p| p.checked) {
        for it in &person.items {
            let fail = it.result.as_deref() == Some("fail");
            t.push_warn(
                vec![
                    sheet.date.clone().into(),
                    person.name.clone().into(),
                    cat_label(lang, &it.category).into(),
                    item_label(lang, &it.label_zh, &it.label_en).into(),
                    it.result
                        .as_deref()
                        .and_then(|r| r.parse::<CheckResult>().ok())
                        .map(|r| label(lang, r.label_zh(), r.as_str()))
                        .into(),
                    it.note.clone().into(),
                    person.checked_at.map(fmt_time).into(),
                ],
                fail,
            );
        }
    }
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let future = Date::parse(&sheet.date).is_some_and(|d| d > today());
    let template_note = if sheet.template_id == BUILTIN_TEMPLATE {
        ctx.t("内置模板（培训资料）", "built-in checklist (training material)")
    } else {
        ""
    };
    let items = sheet.people.first().map(|p| p.items.clone()).unwrap_or_default();
    let checked = sheet.people.iter().filter(|p| p.checked).count();
    let passed = sheet.people.iter().filter(|p| p.passed == Some(true)).count();
    let photos: Vec<(super::evidence::Evidence, String)> = sheet
        .people
        .iter()
        .flat_map(|p| {
            p.items.iter().filter_map(move |it| {
                it.photo
                    .clone()
                    .map(|ph| (ph, format!("{} · {}", p.name, item_label(lang, &it.label_zh, &it.label_en))))
            })
        })
        .collect();
    let body = html! {
        form.bar method="get" action="/appearance" {
            label { (ctx.t("日期", "Date")) input type="date" name="date" value=(sheet.date); }
            button type="submit" { (ctx.t("查看", "Show")) }
            a href="/appearance/rates" { (ctx.t("月度合格率", "Monthly pass rates")) }
            a href="/appearance/template" { (ctx.t("检查模板", "Checklist template")) }
        }
        p {
            (ctx.t("模板版本：", "Checklist version: ")) b { "v" (sheet.template_version) } " " (template_note)
            @if sheet.template_fixed { span.muted { (ctx.t("（本表已固定使用此版本）", " (this sheet is fixed to it)")) } }
            @else { span.muted { (ctx.t("（首次保存时记入本表）", " (recorded on the sheet when first saved)")) } }
            " · " (ctx.t("已检查 ", "checked ")) (checked) " · " (ctx.t("全部合格 ", "all passed ")) (passed)
        }
        @if future { div.flash.err { (ctx.t("这是未来的日期，不能记录", "This date is in the future and cannot be recorded")) } }
        p.muted { (ctx.t("勾选参加检查的人员；不合格的项目打勾并写明问题，其余视为合格。休息的人员默认不勾选。",
            "Tick the people checked; tick each failed item and say what was wrong, everything else passes. People on a rest day start unticked.")) }
        form method="post" action="/appearance" {
            (form_fields(&ctx))
            input type="hidden" name="date" value=(sheet.date);
            table {
                thead {
                    tr {
                        th { (ctx.t("类别", "Category")) }
                        th { (ctx.t("检查项", "Item")) }
                        @for p in &sheet.people {
                            th {
                                input type="hidden" name="staff" value=(p.staff);
                                label {
                                    input type="checkbox" name={ "present:" (p.staff) } value="1"
                                        checked[p.checked || (!p.role.is_empty() && p.shift.as_deref() != Some("rest"))];
                                    " " b { (p.name) }
                                }
                                br;
                                span.muted {
                                    (label(lang, role_zh(&p.role), &p.role))
                                    @if let Some(s) = &p.shift { " · " (shift_label(lang, s)) }
                                }
                                br;
                                @match (p.checked_at, p.passed) {
                                    (Some(at), Some(ok)) => {
                                        span.tag.good[ok].bad[!ok] { (if ok { ctx.t("合格", "passed") } else { ctx.t("有不合格", "failed items") }) }
                                        span.muted { (fmt_time(at)) " " (p.checked_by.as_deref().map(|b| name_of(&names, b)).unwrap_or_default()) }
                                    }
                                    _ => span.muted { (ctx.t("未检查", "not checked")) },
                                }
                            }
                        }
                    }
                }
                tbody {
                    @for (i, it) in items.iter().enumerate() {
                        tr {
                            td { (cat_label(lang, &it.category)) }
                            td { (item_label(lang, &it.label_zh, &it.label_en)) }
                            @for p in &sheet.people {
                                @let cur = p.items.get(i);
                                @let failed = cur.and_then(|c| c.result.as_deref()) == Some("fail");
                                td {
                                    label { input type="checkbox" name={ "fail:" (p.staff) ":" (it.code) } value="1" checked[failed];
                                        (ctx.t("不合格", "fail")) }
                                    " "
                                    input name={ "note:" (p.staff) ":" (it.code) } size="10"
                                        value=(cur.and_then(|c| c.note.clone()).unwrap_or_default())
                                        placeholder=(ctx.t("备注", "note"));
                                    @if let Some(ph) = cur.and_then(|c| c.photo.as_ref()) {
                                        " "
                                        @if ph.uploaded {
                                            a.thumb.mini href={ "/api/v1/attachments/" (ph.sha256) } target="_blank" {
                                                img src={ "/api/v1/attachments/" (ph.sha256) "/thumbnail" } alt=(ctx.t("检查照片", "check photo")) loading="lazy";
                                            }
                                        } @else { span.tag { "📷 " (ctx.t("待上传", "uploading")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if sheet.people.is_empty() { p.muted { (ctx.t("本组没有售后人员或客服专员", "The team has no field staff or agents")) } }
            @else if !future { button.primary type="submit" { (ctx.t("保存检查结果", "Save the results")) } }
        }
        @if !photos.is_empty() {
            h2 { (ctx.t("检查照片", "Photos of the check")) " (" (photos.len()) ")" }
            (super::evidence::gallery(&ctx, &photos))
        }
        h2 { (ctx.t("当日结果", "Results of the day")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        details {
            summary { (ctx.t("逐项结果（与导出相同）", "Every item (as exported)")) }
            (t.html(ctx.t("当日还没有检查记录", "Nobody checked yet on this day")))
        }
    };
    Ok(page(&ctx, ctx.t("仪容仪表检查", "Appearance check"), body))
}

fn role_zh(role: &str) -> &'static str {
    match role {
        "field" => "售后人员",
        "agent" => "客服专员",
        _ => "已离组",
    }
}

async fn sheet_form(State(state): State<AppState>, posted: Posted) -> Response {
    let input = sheet_input_from_form(&posted.form);
    let p = posted.ctx.p.clone();
    let result = tokio::task::spawn_blocking(move || record_sheet(&state, &p, &input))
        .await
        .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    after_action(posted.ctx.lang, &posted.back, result)
}

/// Query of the pass-rate page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RatesQuery {
    /// YYYY-MM (this month when absent).
    pub month: Option<String>,
    /// `people` (default) or `items`: which table to export.
    pub table: Option<String>,
    /// `csv` or `xlsx`.
    pub format: Option<String>,
}

fn month_step(month: &str, delta: i32) -> Option<String> {
    let y: i32 = month.get(0..4)?.parse().ok()?;
    let m: i32 = month.get(5..7)?.parse().ok()?;
    let n = y * 12 + (m - 1) + delta;
    let s = format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1);
    is_month(&s).then_some(s)
}

async fn rates_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<RatesQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let month = q.month.clone().filter(|m| !m.trim().is_empty()).unwrap_or_else(|| today().month_key());
    let db = state.db.clone();
    let m = month.clone();
    let rates = blocking(ctx.lang, move || pass_rates(&db.lock(), &team, &m))
        .await
        .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let pct = |r: Option<f64>| r.map_or(Cell::Empty, Cell::Num);
    let low = |r: Option<f64>| r.is_some_and(|r| r < 90.0);
    let mut tp = Table::new(
        "appearance-people",
        ctx.t("人员合格率", "Pass rate by person"),
        &[
            ctx.t("姓名", "Name"),
            ctx.t("检查天数", "Days checked"),
            ctx.t("全部合格天数", "Days all passed"),
            ctx.t("合格率 %", "Pass rate %"),
            ctx.t("检查项次", "Items checked"),
            ctx.t("不合格项次", "Items failed"),
            ctx.t("单项合格率 %", "Item pass rate %"),
        ],
    );
    for p in &rates.people {
        tp.push_warn(
            vec![
                p.name.clone().into(),
                Cell::Int(p.checks),
                Cell::Int(p.checks_passed),
                pct(p.check_pass_rate),
                Cell::Int(p.items_checked),
                Cell::Int(p.items_failed),
                pct(p.item_pass_rate),
            ],
            low(p.check_pass_rate),
        );
    }
    let mut ti = Table::new(
        "appearance-items",
        ctx.t("检查项合格率", "Pass rate by item"),
        &[
            ctx.t("类别", "Category"),
            ctx.t("检查项", "Item"),
            ctx.t("检查次数", "Times checked"),
            ctx.t("不合格次数", "Times failed"),
            ctx.t("合格率 %", "Pass rate %"),
        ],
    );
    for i in &rates.items {
        ti.push_warn(
            vec![
                cat_label(lang, &i.category).into(),
                item_label(lang, &i.label_zh, &i.label_en).into(),
                Cell::Int(i.checked),
                Cell::Int(i.failed),
                pct(i.pass_rate),
            ],
            i.failed > 0,
        );
    }
    if let Some(fmt) = q.format.as_deref() {
        let t = if q.table.as_deref() == Some("items") { &ti } else { &tp };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let base = format!("/appearance/rates?month={month}");
    let body = html! {
        form.bar method="get" action="/appearance/rates" {
            @if let Some(prev) = month_step(&month, -1) { a href={ "/appearance/rates?month=" (prev) } { "← " (prev) } }
            label { (ctx.t("月份", "Month")) input type="month" name="month" value=(month) placeholder="YYYY-MM"; }
            button type="submit" { (ctx.t("查看", "Show")) }
            @if let Some(next) = month_step(&month, 1) { a href={ "/appearance/rates?month=" (next) } { (next) " →" } }
            a href="/appearance" { (ctx.t("今日检查", "Today's check")) }
        }
        p.muted { (ctx.t("本月检查表：", "Sheets this month: ")) (rates.sheets)
            (ctx.t("。合格率 = 全部项目合格的天数 ÷ 检查天数（绩效考核使用此值）；单项合格率按每一项计。",
                ". Pass rate = days on which every item passed ÷ days checked (used in the KPIs); the item pass rate counts each item.")) }
        h2 { (ctx.t("按人员", "By person")) }
        (export_links(&format!("{base}&table=people"), ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (tp.html(ctx.t("本月没有检查记录", "No checks this month")))
        h2 { (ctx.t("按检查项", "By item")) }
        (export_links(&format!("{base}&table=items"), ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (ti.html(ctx.t("本月没有检查记录", "No checks this month")))
    };
    Ok(page(&ctx, ctx.t("仪容仪表合格率", "Appearance pass rates"), body))
}

/// Query of the template page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TemplateQuery {
    /// Show this earlier version (read-only).
    pub version: Option<String>,
}

/// Empty rows offered for new items.
const NEW_ROWS: usize = 3;

async fn template_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<TemplateQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let t = team.clone();
    let (info, names) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((template_info(&conn, &t)?, people(&conn, &t)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let wanted = match q.version.as_deref().filter(|v| !v.is_empty()) {
        None => info.current_version,
        Some(v) => {
            v.parse::<i64>().ok().filter(|v| info.versions.iter().any(|x| x.version == *v)).ok_or_else(
                || {
                    ctx.error(ServerError::NotFound(
                        ctx.t("没有这个模板版本", "There is no such checklist version").to_string(),
                    ))
                },
            )?
        }
    };
    let shown = info.versions.iter().find(|v| v.version == wanted);
    let editing = wanted == info.current_version;
    let items = shown.map(|v| v.items.clone()).unwrap_or_default();
    let mut versions = Table::new(
        "appearance-template-versions",
        ctx.t("模板版本", "Checklist versions"),
        &[
            ctx.t("版本", "Version"),
            ctx.t("发布人", "Published by"),
            ctx.t("发布时间", "Published"),
            ctx.t("项数", "Items"),
        ],
    );
    for v in &info.versions {
        versions.push(vec![
            Cell::Link(format!("v{}", v.version), format!("/appearance/template?version={}", v.version)),
            if v.created_by.is_empty() {
                ctx.t("内置（培训资料）", "built-in (training material)").into()
            } else {
                name_of(&names, &v.created_by).into()
            },
            (v.created_at > 0).then(|| fmt_time(v.created_at)).into(),
            Cell::Int(v.items.len() as i64),
        ]);
    }
    let rows = items.len() + NEW_ROWS;
    let body = html! {
        p { a href="/appearance" { (ctx.t("← 今日检查", "← Today's check")) } }
        @if editing {
            p.muted { (ctx.t("修改后保存为新版本：已用旧版本的检查表不受影响。改名保留项目编号，合格率可跨版本比较；删除请勾选“删除”；新增项目填在下方空行。",
                "Saving publishes a new version; sheets that used an earlier one keep it. Renaming keeps the item's code, so pass rates stay comparable across versions; tick “remove” to drop an item; add new items in the empty rows.")) }
            form method="post" action="/appearance/template" {
                (form_fields(&ctx))
                input type="hidden" name="rows" value=(rows);
                input type="hidden" name="base_version" value=(info.current_version);
                table {
                    thead { tr {
                        th { (ctx.t("编号", "Code")) } th { (ctx.t("类别", "Category")) } th { (ctx.t("中文", "Chinese")) }
                        th { (ctx.t("英文", "English")) } th { (ctx.t("顺序", "Order")) } th { (ctx.t("删除", "Remove")) }
                    } }
                    tbody {
                        @for i in 0..rows {
                            @let it = items.get(i);
                            tr {
                                td.muted {
                                    @if let Some(it) = it { (it.code) input type="hidden" name={ "code" (i) } value=(it.code); }
                                    @else { (ctx.t("新项目", "new")) }
                                }
                                td { select name={ "category" (i) } {
                                    @for c in CheckCategory::ALL {
                                        option value=(c.as_str()) selected[it.is_some_and(|x| x.category == c.as_str())] { (label(lang, c.label_zh(), c.as_str())) }
                                    } } }
                                td { input name={ "zh" (i) } size="36" value=(it.map(|x| x.label_zh.clone()).unwrap_or_default()); }
                                td { input name={ "en" (i) } size="36" value=(it.map(|x| x.label_en.clone()).unwrap_or_default()); }
                                td { input name={ "order" (i) } size="3" value=(it.map(|x| x.order.to_string()).unwrap_or_default()); }
                                td { @if it.is_some() { input type="checkbox" name={ "remove" (i) } value="1"; } }
                            }
                        }
                    }
                }
                button.primary type="submit" { (ctx.t("保存为新版本", "Save as a new version")) " v" (info.current_version + i64::from(info.template_id.is_some())) }
            }
        } @else {
            div.flash.ok { (ctx.t("这是较早的版本 ", "This is an earlier version ")) "v" (wanted) " · "
                a href="/appearance/template" { (ctx.t("返回当前版本", "back to the current version")) } }
            (template_view(&ctx, &items))
        }
        h2 { (ctx.t("所有版本", "All versions")) }
        (versions.html(""))
    };
    Ok(page(&ctx, &format!("{} v{wanted}", ctx.t("仪容仪表检查模板", "Appearance checklist")), body))
}

fn template_view(ctx: &Ctx, items: &[TemplateItemRow]) -> Markup {
    html! {
        @for c in CheckCategory::ALL {
            h2 { (label(ctx.lang, c.label_zh(), c.as_str())) }
            ul { @for it in items.iter().filter(|i| i.category == c.as_str()) {
                li { (item_label(ctx.lang, &it.label_zh, &it.label_en)) " " span.muted { "(" (it.code) ")" } }
            } }
        }
    }
}

/// Reads the template editor's form (`rows` rows of `code<i>`, `category<i>`, `zh<i>`, `en<i>`,
/// `order<i>`, `remove<i>`; rows without Chinese wording and without a code are empty).
pub fn template_input_from_form(form: &FormData) -> Result<TemplateInput, ServerError> {
    let rows: usize = form.parsed("rows", "rows")?;
    let mut items = Vec::new();
    for i in 0..rows.min(500) {
        let code = form.get(&format!("code{i}"));
        let zh = form.get(&format!("zh{i}"));
        let en = form.get(&format!("en{i}"));
        if form.checked(&format!("remove{i}")) || (code.is_none() && zh.is_none() && en.is_none()) {
            continue;
        }
        items.push(TemplateItemInput {
            code: code.map(str::to_string),
            category: form.get(&format!("category{i}")).unwrap_or_default().to_string(),
            label_zh: zh.unwrap_or_default().to_string(),
            label_en: en.map(str::to_string),
            order: form.optional(&format!("order{i}"), &format!("顺序 order ({})", i + 1))?,
        });
    }
    Ok(TemplateInput { items, base_version: form.optional("base_version", "base_version")? })
}

async fn template_form(State(state): State<AppState>, posted: Posted) -> Response {
    let p = posted.ctx.p.clone();
    let result = match template_input_from_form(&posted.form) {
        Ok(input) => tokio::task::spawn_blocking(move || save_template(&state, &p, &input))
            .await
            .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string()))),
        Err(e) => Err(e),
    };
    after_action(posted.ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::enums::Role;
    use kefu_model::records::appearance::StaffCheck;

    fn check(results: &[(&str, bool)]) -> StaffCheck {
        StaffCheck {
            items: results
                .iter()
                .map(|(code, ok)| {
                    let result = if *ok { CheckResult::Pass } else { CheckResult::Fail };
                    (code.to_string(), ItemResult { result, note: (!ok).then(|| "x".into()), photo: None })
                })
                .collect(),
            checked_at: 1,
            checked_by: "sup".into(),
        }
    }

    fn sheet(date: &str, checks: &[(&str, StaffCheck)]) -> AppearanceCheck {
        let mut s = AppearanceCheck::new("A", date);
        s.template =
            Some(SheetTemplate { template_id: "t".into(), version: 1, items: default_template_items() });
        s.checks = checks.iter().map(|(k, c)| (k.to_string(), c.clone())).collect();
        s
    }

    #[test]
    fn percentages_round_to_one_decimal_and_skip_no_data() {
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(3, 3), Some(100.0));
        assert_eq!(percent(0, 4), Some(0.0));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn pass_rates_per_person_and_per_item() {
        let sheets = [
            sheet(
                "2026-11-01",
                &[
                    ("zhang", check(&[("dress.badge", false), ("grooming.teeth", true)])),
                    ("li", check(&[("dress.badge", true), ("grooming.teeth", true)])),
                ],
            ),
            sheet("2026-11-02", &[("zhang", check(&[("dress.badge", true), ("grooming.teeth", true)]))]),
            sheet("2026-11-03", &[("zhang", check(&[("dress.badge", false), ("grooming.teeth", false)]))]),
        ];
        let (people, items) = rates_of(&sheets);
        let zhang = people.iter().find(|p| p.staff == "zhang").unwrap_or_else(|| panic!("zhang"));
        assert_eq!((zhang.checks, zhang.checks_passed), (3, 1));
        assert_eq!(zhang.check_pass_rate, Some(33.3));
        assert_eq!((zhang.items_checked, zhang.items_failed), (6, 3));
        assert_eq!(zhang.item_pass_rate, Some(50.0));
        let li = people.iter().find(|p| p.staff == "li").unwrap_or_else(|| panic!("li"));
        assert_eq!((li.checks, li.check_pass_rate), (1, Some(100.0)));
        // Items in checklist order (dress before grooming), labelled from the template.
        let codes: Vec<&str> = items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["dress.badge", "grooming.teeth"]);
        assert_eq!((items[0].checked, items[0].failed, items[0].pass_rate), (4, 2, Some(50.0)));
        assert_eq!((items[1].checked, items[1].failed, items[1].pass_rate), (4, 1, Some(75.0)));
        assert_eq!(items[0].label_zh, "工牌端正佩戴于左胸");
        assert_eq!(items[0].category, "dress");
    }

    #[test]
    fn new_items_get_codes_that_were_never_used() {
        let used: BTreeSet<String> = ["dress.hat".to_string()].into();
        let input = TemplateInput {
            base_version: None,
            items: vec![
                TemplateItemInput {
                    code: Some("dress.badge".into()),
                    category: "dress".into(),
                    label_zh: "工牌".into(),
                    label_en: None,
                    order: Some(1),
                },
                TemplateItemInput {
                    code: None,
                    category: "dress".into(),
                    label_zh: "帽子".into(),
                    label_en: Some("Hat".into()),
                    order: None,
                },
                // Moved to another category: a new code in that category.
                TemplateItemInput {
                    code: Some("dress.shoes".into()),
                    category: "grooming".into(),
                    label_zh: "鞋".into(),
                    label_en: Some("Shoes!".into()),
                    order: None,
                },
            ],
        };
        let items = build_items(&input, &used).unwrap_or_else(|e| panic!("{e}"));
        let codes: Vec<&String> = items.keys().collect();
        assert_eq!(codes, ["dress.badge", "dress.hat_2", "grooming.shoes"]);
        assert_eq!(items["dress.badge"].label_en, "工牌");
        let bad = TemplateInput {
            base_version: None,
            items: vec![TemplateItemInput {
                code: None,
                category: "hair".into(),
                label_zh: "x".into(),
                label_en: None,
                order: None,
            }],
        };
        assert!(matches!(build_items(&bad, &used), Err(ServerError::BadRequest(_))));
        assert!(matches!(
            build_items(&TemplateInput { base_version: None, items: vec![] }, &used),
            Err(ServerError::BadRequest(_))
        ));
    }

    #[test]
    fn the_sheet_form_is_read_per_person() {
        let form = FormData::parse(
            "staff=u-1&staff=u-2&present%3Au-1=1&fail%3Au-1%3Adress.badge=1&note%3Au-1%3Adress.badge=%E6%97%A0&\
             note%3Au-1%3Agrooming.teeth=+&note%3Au-2%3Adress.badge=x&date=2026-11-01"
                .as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let input = sheet_input_from_form(&form);
        assert_eq!(input.date.as_deref(), Some("2026-11-01"));
        assert_eq!(input.checks.len(), 1, "u-2 was not ticked");
        assert_eq!(
            input.checks[0].items,
            vec![ItemInput { code: "dress.badge".into(), pass: false, note: Some("无".into()) }]
        );
    }

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, AppState::new(db, crate::sync::Limits::default()))
    }

    #[test]
    fn the_days_sheet_is_created_and_results_recorded() {
        let (_d, st) = state();
        {
            let conn = st.db.lock();
            conn.execute_batch(
                "INSERT INTO users (id, username, display_name, role, team, password_hash, created_at) VALUES
                   ('u-sup', 'sup', '周敏', 'supervisor', 'A', 'x', 0),
                   ('u-f1', 'f1', '张伟', 'field', 'A', 'x', 0),
                   ('u-a1', 'a1', '李娜', 'agent', 'A', 'x', 0),
                   ('u-b', 'b', '别组', 'field', 'B', 'x', 0);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let sup = Principal {
            user_id: "u-sup".into(),
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        let date = today().to_string();
        let before = day_sheet(&st.db.lock(), "A", &date).unwrap_or_else(|e| panic!("{e}"));
        assert!(!before.exists && !before.template_fixed);
        assert_eq!(before.template_id, BUILTIN_TEMPLATE);
        assert_eq!(before.people.len(), 2, "field staff and agents of the team only");

        // A failed item without a note is refused with a message, and nothing is created.
        let no_note = SheetInput {
            date: None,
            checks: vec![PersonInput {
                staff: "u-f1".into(),
                items: vec![ItemInput { code: "dress.badge".into(), pass: false, note: None }],
            }],
        };
        assert!(matches!(record_sheet(&st, &sup, &no_note), Err(ServerError::BadRequest(_))));
        assert!(!day_sheet(&st.db.lock(), "A", &date).unwrap_or_else(|e| panic!("{e}")).exists);
        // Someone of another team cannot be checked.
        let other =
            SheetInput { date: None, checks: vec![PersonInput { staff: "u-b".into(), items: vec![] }] };
        assert!(matches!(record_sheet(&st, &sup, &other), Err(ServerError::BadRequest(_))));
        // A future day cannot be recorded.
        let future = SheetInput { date: Some(today().add_days(1).to_string()), ..no_note.clone() };
        assert!(matches!(record_sheet(&st, &sup, &future), Err(ServerError::BadRequest(_))));

        let ok = SheetInput {
            date: None,
            checks: vec![
                PersonInput {
                    staff: "u-f1".into(),
                    items: vec![ItemInput {
                        code: "dress.badge".into(),
                        pass: false,
                        note: Some("工牌未佩戴".into()),
                    }],
                },
                PersonInput { staff: "u-a1".into(), items: vec![] },
            ],
        };
        let msg = record_sheet(&st, &sup, &ok).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains('2'), "{msg}");
        let after = day_sheet(&st.db.lock(), "A", &date).unwrap_or_else(|e| panic!("{e}"));
        assert!(after.exists && after.template_fixed);
        assert_eq!(after.doc_id, sheet_id("A", &date).unwrap_or_else(|e| panic!("{e}")));
        let f1 = after.people.iter().find(|p| p.staff == "u-f1").unwrap_or_else(|| panic!("f1"));
        assert_eq!(f1.passed, Some(false));
        assert_eq!(f1.checked_by.as_deref(), Some("u-sup"));
        let badge = f1.items.iter().find(|i| i.code == "dress.badge").unwrap_or_else(|| panic!("badge"));
        assert_eq!((badge.result.as_deref(), badge.note.as_deref()), (Some("fail"), Some("工牌未佩戴")));
        let a1 = after.people.iter().find(|p| p.staff == "u-a1").unwrap_or_else(|| panic!("a1"));
        assert_eq!(a1.passed, Some(true));
        // The projection counts the sheet; provenance names the supervisor.
        let (checked, passed): (i64, i64) = st
            .db
            .lock()
            .query_row("SELECT checked, passed FROM idx_checks WHERE doc_id = ?1", [&after.doc_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((checked, passed), (2, 1));
        // Saving the same again changes nothing.
        let again = record_sheet(&st, &sup, &ok).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.contains("nothing changed"), "{again}");
        // The month's pass rates see it.
        let rates = pass_rates(&st.db.lock(), "A", &today().month_key()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rates.sheets, 1);
        let f1 = rates.people.iter().find(|p| p.staff == "u-f1").unwrap_or_else(|| panic!("f1"));
        assert_eq!((f1.name.as_str(), f1.check_pass_rate), ("张伟", Some(0.0)));
        assert!(matches!(pass_rates(&st.db.lock(), "A", "2026-13"), Err(ServerError::BadRequest(_))));
    }

    #[test]
    fn template_versions_are_published_and_sheets_keep_theirs() {
        let (_d, st) = state();
        st.db
            .lock()
            .execute_batch(
                "INSERT INTO users (id, username, display_name, role, team, password_hash, created_at) VALUES
                   ('u-sup', 'sup', '周敏', 'supervisor', 'A', 'x', 0), ('u-f1', 'f1', '张伟', 'field', 'A', 'x', 0);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let sup = Principal {
            user_id: "u-sup".into(),
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        let item = |code: Option<&str>, cat: &str, zh: &str| TemplateItemInput {
            code: code.map(Into::into),
            category: cat.into(),
            label_zh: zh.into(),
            label_en: None,
            order: None,
        };
        let v1 = TemplateInput {
            base_version: None,
            items: vec![item(Some("dress.badge"), "dress", "工牌"), item(None, "grooming", "头发整洁")],
        };
        let msg = save_template(&st, &sup, &v1).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("version 1"), "{msg}");
        // The sheet recorded now uses version 1.
        let rec =
            SheetInput { date: None, checks: vec![PersonInput { staff: "u-f1".into(), items: vec![] }] };
        record_sheet(&st, &sup, &rec).unwrap_or_else(|e| panic!("{e}"));
        // The new item got a code from its wording (no ASCII here, so `item`).
        let info = template_info(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        let codes: Vec<&str> = info.versions[0].items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["dress.badge", "grooming.item"]);
        // Sent again with its codes, unchanged: no new version. Renamed and one removed: version 2.
        let same = TemplateInput {
            base_version: None,
            items: vec![
                item(Some("dress.badge"), "dress", "工牌"),
                item(Some("grooming.item"), "grooming", "头发整洁"),
            ],
        };
        assert!(save_template(&st, &sup, &same).unwrap_or_else(|e| panic!("{e}")).contains("unchanged"));
        let v2 = TemplateInput {
            base_version: None,
            items: vec![item(Some("dress.badge"), "dress", "工牌端正")],
        };
        assert!(save_template(&st, &sup, &v2).unwrap_or_else(|e| panic!("{e}")).contains("version 2"));
        let info = template_info(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.current_version, 2);
        assert_eq!(info.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(info.versions[0].items.len(), 1);
        assert_eq!(info.versions[1].items.len(), 2);
        let sheet = day_sheet(&st.db.lock(), "A", &today().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sheet.template_version, 1, "the sheet keeps the version it used");
        assert_eq!(sheet.template_id, info.template_id.unwrap_or_default());
        assert_eq!(current_sheet_template(&st.db.lock(), "A").map(|t| t.version).ok(), Some(2));
        // An edit started from version 1 is refused now that version 2 is current.
        let stale = TemplateInput { base_version: Some(1), ..v2.clone() };
        assert!(matches!(save_template(&st, &sup, &stale), Err(ServerError::BadRequest(_))));
        // An agent cannot publish.
        let agent = Principal { role: Role::Agent, ..sup };
        assert!(matches!(save_template(&st, &agent, &v2), Err(ServerError::Forbidden(_))));
    }
}
