//! The overview: what needs the supervisor's attention today, or the admin's summary.

use axum::extract::State;
use axum::response::Response;
use kefu_model::enums::Role;
use maud::html;
use rusqlite::Connection;
use serde::Serialize;

use super::{blocking, layout, Ctx, PageError};
use crate::auth::now_ms;
use crate::error::ServerError;
use crate::http::AppState;

/// What needs attention in a team.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct TeamSummary {
    /// Customer files.
    pub customers: i64,
    /// Assigned more than 7 days ago and never contacted.
    pub overdue_first_contacts: i64,
    /// Records with fields in conflict.
    pub conflicts: i64,
    /// Refused changes waiting for a decision.
    pub rejected: i64,
    /// Visits not yet completed whose window has ended.
    pub overdue_visits: i64,
    /// Complaints not yet confirmed satisfied.
    pub open_complaints: i64,
    /// Callbacks due today or earlier and not done.
    pub due_callbacks: i64,
}

/// Counts what needs attention in `team` (all indexed queries on the projection).
pub fn team_summary(conn: &Connection, team: &str, now: i64) -> Result<TeamSummary, ServerError> {
    let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<i64, ServerError> {
        Ok(conn.query_row(sql, p, |r| r.get(0))?)
    };
    let today = super::today().to_string();
    Ok(TeamSummary {
        customers: one("SELECT count(*) FROM idx_customers WHERE team = ?1", &[&team])?,
        overdue_first_contacts: one(
            "SELECT count(*) FROM idx_customers WHERE team = ?1 AND agent IS NOT NULL AND assigned_at < ?2 AND first_contact_at IS NULL",
            &[&team, &(now - 7 * 86_400_000)],
        )?,
        conflicts: one("SELECT count(*) FROM documents WHERE team = ?1 AND conflicts > 0", &[&team])?,
        rejected: one(
            // A refused new record has no stored document: it belongs to its sender's team.
            "SELECT count(*) FROM quarantine q LEFT JOIN documents d ON d.doc_id = q.doc_id \
             LEFT JOIN users u ON u.id = q.user_id WHERE q.status = 'open' AND coalesce(d.team, u.team) = ?1",
            &[&team],
        )?,
        overdue_visits: one(
            "SELECT count(*) FROM idx_visits v JOIN idx_customers c ON c.doc_id = v.doc_id WHERE c.team = ?1 \
             AND v.status IN ('dispatched', 'en_route', 'on_site') AND v.window_end < ?2",
            &[&team, &now],
        )?,
        open_complaints: one(
            "SELECT count(*) FROM idx_complaints k JOIN idx_customers c ON c.doc_id = k.doc_id WHERE c.team = ?1 \
             AND k.status NOT IN ('confirmed')",
            &[&team],
        )?,
        due_callbacks: one(
            "SELECT count(*) FROM idx_callbacks b JOIN idx_customers c ON c.doc_id = b.doc_id WHERE c.team = ?1 \
             AND b.status IN ('scheduled', 'attempting') AND b.scheduled_for <= ?2",
            &[&team, &today],
        )?,
    })
}

/// `GET /`.
pub async fn overview(State(state): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    if ctx.p.role == Role::Admin {
        let db = state.db.clone();
        let (users, devices, docs) = blocking(ctx.lang, move || {
            let c = db.lock();
            let n = |sql: &str| -> Result<i64, ServerError> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
            Ok((
                n("SELECT count(*) FROM users WHERE disabled_at IS NULL")?,
                n("SELECT count(*) FROM devices WHERE revoked_at IS NULL")?,
                n("SELECT count(*) FROM documents")?,
            ))
        })
        .await?;
        let body = html! {
            div.cards {
                a.card href="/admin/users" { div.n { (users) } (ctx.t("在用账号", "active users")) }
                a.card href="/admin/devices" { div.n { (devices) } (ctx.t("在用设备", "active devices")) }
                div.card { div.n { (docs) } (ctx.t("记录文档", "record documents")) }
                a.card href="/admin/backup" { div.n { "⤓" } (ctx.t("下载备份", "download a backup")) }
            }
        };
        return Ok(layout::page(&ctx, ctx.t("管理", "Administration"), body));
    }
    let team = ctx.team()?;
    let db = state.db.clone();
    let t = team.clone();
    let s = blocking(ctx.lang, move || team_summary(&db.lock(), &t, now_ms())).await?;
    let card = |n: i64, href: &str, zh: &str, en: &str| {
        html! { a.card href=(href) { div.n { (n) } (ctx.t(zh, en)) } }
    };
    let body = html! {
        p.muted { (ctx.t("本组：", "Team: ")) (team) }
        div.cards {
            (card(s.conflicts, "/review", "待处理冲突", "conflicts to settle"))
            (card(s.rejected, "/review", "被拒绝的修改", "rejected changes"))
            (card(s.overdue_first_contacts, "/customers?overdue=1", "超过一周未首次联系", "not contacted within a week"))
            (card(s.due_callbacks, "/campaigns", "到期回访", "callbacks due"))
            (card(s.overdue_visits, "/visits", "逾期上门", "overdue visits"))
            (card(s.open_complaints, "/complaints", "未结投诉", "open complaints"))
            (card(s.customers, "/customers", "客户档案", "customer files"))
        }
    };
    Ok(layout::page(&ctx, ctx.t("今日概览", "Today"), body))
}
