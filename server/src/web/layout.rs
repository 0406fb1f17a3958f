//! The page frame: navigation, language switch, sign-out, flash messages, styles.

use axum::response::{Html, IntoResponse, Response};
use kefu_model::enums::Role;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{Ctx, Lang};

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1f2933;background:#f4f6f8}
header{background:#17324d;color:#fff;display:flex;align-items:center;gap:1rem;padding:.5rem 1rem;flex-wrap:wrap}
header a{color:#dbe7f3;text-decoration:none}
header a.on,header a:hover{color:#fff;text-decoration:underline}
header .brand{font-weight:700;font-size:1.1rem;color:#fff;margin-right:.5rem}
header nav{display:flex;gap:.8rem;flex-wrap:wrap;flex:1}
header .me{display:flex;gap:.6rem;align-items:center}
header form{margin:0}
header button{background:none;border:1px solid #dbe7f3;color:#dbe7f3;border-radius:4px;cursor:pointer}
main{padding:1rem 1.5rem;max-width:1400px}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;background:#fff;width:100%;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#e9eef3;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.warn td{background:#fff6e0}
.flash{padding:.5rem .8rem;border-radius:4px;margin:.5rem 0}
.flash.ok{background:#e3f9e5;border:1px solid #57ae5b}
.flash.err{background:#ffe3e3;border:1px solid #d64545}
form.inline{display:inline}
form.bar{display:flex;gap:.5rem;flex-wrap:wrap;align-items:end;background:#fff;padding:.6rem;border:1px solid #d9e2ec;border-radius:4px}
form.bar label,form.stack label{display:flex;flex-direction:column;font-size:.85rem;color:#52606d}
form.stack{display:grid;gap:.5rem;max-width:36rem;background:#fff;padding:.8rem;border:1px solid #d9e2ec;border-radius:4px}
input,select,textarea,button{font:inherit;padding:.25rem .4rem}
button{cursor:pointer}
button.primary{background:#2680c2;color:#fff;border:1px solid #186faf;border-radius:4px}
.muted{color:#7b8794}
.tag{display:inline-block;padding:0 .4rem;border-radius:3px;background:#e9eef3;margin-right:.2rem}
.tag.bad{background:#ffe3e3}
.tag.good{background:#e3f9e5}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.8rem}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:.8rem}
a.card{color:inherit;text-decoration:none}
a.card:hover{border-color:#2680c2}
a.card .n{color:#186faf}
.card .n{font-size:1.8rem;font-weight:700}
.exports{margin:.3rem 0;font-size:.9rem}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.thumbs{display:flex;flex-wrap:wrap;gap:.8rem;margin:.4rem 0}
figure.evidence,figure.signature{margin:0;font-size:.85rem}
.thumb{display:flex;align-items:center;justify-content:center;width:160px;height:120px;background:#fff;border:1px solid #d9e2ec;border-radius:4px;overflow:hidden;text-align:center}
.thumb img{max-width:160px;max-height:120px}
.thumb.pending{background:#fffbea;border-style:dashed;color:#8d6e00;flex-direction:column}
.thumb.file{flex-direction:column;text-decoration:none}
.thumb.mini{width:48px;height:36px}
.thumb.mini img{max-width:48px;max-height:36px}
figure.signature img{max-width:360px;max-height:180px;background:#fff;border:1px solid #d9e2ec;border-radius:4px}
pre{white-space:pre-wrap;background:#fff;border:1px solid #d9e2ec;padding:.5rem}
"#;

/// One navigation entry: path, Chinese, English.
type NavItem = (&'static str, &'static str, &'static str);

const SUPERVISOR_NAV: &[NavItem] = &[
    ("/", "概览", "Overview"),
    ("/customers", "客户", "Customers"),
    ("/review", "审核", "Review"),
    ("/assign", "分配", "Assignment"),
    ("/campaigns", "回访计划", "Campaigns"),
    ("/visits", "上门", "Visits"),
    ("/complaints", "投诉", "Complaints"),
    ("/appearance", "仪容仪表", "Appearance"),
    ("/attendance", "考勤", "Attendance"),
    ("/kpi", "绩效", "KPIs"),
];

const ADMIN_NAV: &[NavItem] = &[
    ("/", "概览", "Overview"),
    ("/admin/users", "用户", "Users"),
    ("/admin/devices", "设备", "Devices"),
    ("/admin/backup", "备份", "Backup"),
];

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.t("客服后台", "Kefu dashboard")) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// A full page for a signed-in person.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Response {
    let nav = if ctx.p.role == Role::Admin { ADMIN_NAV } else { SUPERVISOR_NAV };
    let path = ctx.here.split('?').next().unwrap_or("/");
    let other = match ctx.lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let switch = serde_urlencoded::to_string([("back", ctx.here.as_str())]).unwrap_or_default();
    let markup = html! {
        (DOCTYPE)
        html lang=(ctx.lang.t("zh-CN", "en")) {
            (head(ctx.lang, title))
            body {
                header {
                    span.brand { (ctx.t("客服 Kefu", "Kefu 客服")) }
                    nav {
                        @for (href, zh, en) in nav {
                            @let on = if *href == "/" { path == "/" } else { path.starts_with(href) };
                            a.on[on] href=(href) { (ctx.t(zh, en)) }
                        }
                    }
                    div.me {
                        span { (ctx.name) @if let Some(t) = &ctx.p.team { " · " (t) } }
                        a href={ "/lang/" (other.0) "?" (switch) } { (other.1) }
                        form method="post" action="/logout" {
                            input type="hidden" name="_csrf" value=(ctx.csrf);
                            button type="submit" { (ctx.t("退出", "Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(m) = &ctx.flash.ok { div.flash.ok role="status" { (m) } }
                    @if let Some(m) = &ctx.flash.err { div.flash.err role="alert" { (m) } }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page without navigation (sign-in, errors before sign-in).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.t("zh-CN", "en")) {
            (head(lang, title))
            body {
                header { span.brand { (lang.t("客服 Kefu", "Kefu 客服")) } }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden fields every form carries: the CSRF token and where to go back to.
pub fn form_fields(ctx: &Ctx) -> Markup {
    html! {
        input type="hidden" name="_csrf" value=(ctx.csrf);
        input type="hidden" name="_back" value=(ctx.here);
    }
}
