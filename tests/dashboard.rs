//! The supervisor's JSON API and dashboard sessions against a real server (issue 4): every
//! route in the generated OpenAPI document is called as an anonymous caller, an agent, an
//! admin and a supervisor of another team, and none of them gets a record of team A; the
//! supervisor of team A gets them. Sessions: cookie flags, CSRF, sign-out.

#![allow(clippy::unwrap_used)]

use kefu_tests::{new_customer, password, phone, sync, with, Server};

/// `(status, body text)` of a request with an optional bearer token.
fn call(server: &Server, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut req = ureq::request(method, &format!("{}{path}", server.url));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let res = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    match res {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn token(server: &Server, user: &str) -> String {
    server.login(user)["token"].as_str().unwrap().to_string()
}

#[test]
fn every_api_route_keeps_team_a_records_from_everyone_but_team_a_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup_a", "supervisor", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    server.add_user("li", "agent", Some("A"));
    server.add_user("root", "admin", None);

    // Step 1: the agent's phone takes a customer in team A and syncs it.
    let li = phone(dir.path(), &server, "li");
    let secret_name = "欧阳秘密";
    let doc = with(&li, |c| c.create_customer(new_customer(secret_name, "13912345678"))).unwrap();
    sync(&li);
    let doc = doc.to_string();
    let hash: String = server
        .db()
        .query_row("SELECT change_hash FROM provenance WHERE doc_id = ?1 LIMIT 1", [&doc], |r| r.get(0))
        .unwrap();

    // Step 2: the OpenAPI document lists the routes (generated from the same registrations).
    let (status, spec) = call(&server, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    for expected in [
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/records/{id}/history",
        "/api/v1/summary",
        "/api/v1/attendance",
        "/api/v1/attendance/leave/decide",
        "/api/v1/kpi/{user_id}",
        "/api/v1/users",
        "/api/v1/backup",
    ] {
        assert!(routes.iter().any(|(_, p)| p == expected), "{expected} missing from the OpenAPI document");
    }

    let fill = |path: &str| {
        let mut out = String::new();
        for seg in path.split('/') {
            if !out.is_empty() || seg.is_empty() {
                out.push('/');
            }
            out.push_str(match seg {
                "{id}" | "{doc_id}" => &doc,
                "{hash}" => &hash,
                s if s.starts_with('{') => "1",
                s => s,
            });
        }
        out.replacen("//", "/", 1)
    };

    // Step 3: every route, as everyone who must not see team A's records.
    let outsiders = [
        ("anonymous", None),
        ("li", Some(token(&server, "li"))),
        ("root", Some(token(&server, "root"))),
        ("sup_b", Some(token(&server, "sup_b"))),
    ];
    for (method, path) in &routes {
        if path == "/api/v1/login" || path == "/api/v1/openapi.json" {
            continue;
        }
        let url = fill(path);
        let body = (method != "GET").then_some("{}");
        for (who, tok) in &outsiders {
            let (status, text) = call(&server, method, &url, tok.as_deref(), body);
            // The admin's backup is the whole database (team A's records included): theirs to take.
            if *who == "root" && method == "POST" && path == "/api/v1/backup" {
                assert_eq!(status, 200, "the admin's backup");
                continue;
            }
            let text: String = text.chars().take(2000).collect();
            assert!(status != 500, "{who} {method} {url}: 500 {text}");
            assert!(!text.contains(secret_name), "{who} {method} {url} leaked the customer: {status} {text}");
            if tok.is_none() {
                assert_eq!(status, 401, "anonymous {method} {url}: {text}");
            }
            if method != "GET" {
                assert!(status >= 400, "{who} {method} {url} was allowed: {status} {text}");
            }
        }
    }

    // Step 4: team A's supervisor gets the record through every read route.
    let sup = token(&server, "sup_a");
    let (s, list) = call(&server, "GET", "/api/v1/customers?q=欧阳", Some(&sup), None);
    assert_eq!(s, 200);
    assert!(list.contains(secret_name), "two-character fragment search: {list}");
    let (s, file) = call(&server, "GET", &format!("/api/v1/customers/{doc}"), Some(&sup), None);
    assert_eq!(s, 200);
    assert!(file.contains(secret_name));
    let (s, hist) = call(&server, "GET", &format!("/api/v1/records/{doc}/history"), Some(&sup), None);
    assert_eq!(s, 200);
    let hist: serde_json::Value = serde_json::from_str(&hist).unwrap();
    let li_id: String =
        server.db().query_row("SELECT id FROM users WHERE username = 'li'", [], |r| r.get(0)).unwrap();
    assert!(
        hist.as_array().unwrap().iter().any(|h| h["user"].as_str().is_some_and(|u| u.contains(&li_id))),
        "provenance names the agent: {hist}"
    );
    let (s, old) = call(&server, "GET", &format!("/api/v1/records/{doc}/at/{hash}"), Some(&sup), None);
    assert_eq!(s, 200, "{old}");
    let (s, bad) = call(&server, "GET", "/api/v1/customers?stage=nonsense", Some(&sup), None);
    assert_eq!(s, 400, "a bad filter is the caller's mistake: {bad}");
    // A query that does not parse is answered like any other mistake: JSON naming it.
    for (path, key) in
        [("/api/v1/customers", "stage"), ("/api/v1/visits", "month"), ("/api/v1/complaints", "month")]
    {
        let (s, bad) = call(&server, "GET", &format!("{path}?{key}=a&{key}=b"), Some(&sup), None);
        assert_eq!(s, 400, "{path}: {bad}");
        let v: serde_json::Value =
            serde_json::from_str(&bad).unwrap_or_else(|e| panic!("{path}: {e}: {bad}"));
        assert!(v["error"].as_str().is_some_and(|e| e.contains(key)), "{path}: {bad}");
    }
    let _ = password("li");
}

/// A dashboard session: what the cookie looks like, CSRF on forms and API, sign-out.
#[test]
fn dashboard_sessions_are_http_only_csrf_protected_and_end_at_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup_a", "supervisor", Some("A"));
    server.add_user("li", "agent", Some("A"));
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let post_form = |path: &str, form: &[(&str, &str)], cookie: Option<&str>| {
        let mut r = agent.post(&format!("{}{path}", server.url));
        if let Some(c) = cookie {
            r = r.set("Cookie", c);
        }
        match r.send_form(form) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        }
    };
    let get = |path: &str, cookie: &str| match agent
        .get(&format!("{}{path}", server.url))
        .set("Cookie", cookie)
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };

    // Pages need a session.
    let r = match agent.get(&format!("{}/customers", server.url)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.status(), 303);
    assert!(r.header("location").unwrap().starts_with("/login"));

    // An agent may not use the dashboard; a wrong password is a message, not an error page.
    let pw = password("li");
    let r = post_form("/login", &[("username", "li"), ("password", &pw)], None);
    assert_eq!(r.status(), 200);
    assert!(r.header("set-cookie").is_none());
    let r = post_form("/login", &[("username", "sup_a"), ("password", "wrong-password")], None);
    assert_eq!(r.status(), 200);
    assert!(r.into_string().unwrap().contains("role=\"alert\""));

    let pw = password("sup_a");
    let r = post_form("/login", &[("username", "sup_a"), ("password", &pw), ("next", "/customers")], None);
    assert_eq!(r.status(), 303);
    assert_eq!(r.header("location"), Some("/customers"));
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();

    let page = get("/customers", &cookie).into_string().unwrap();
    let csrf = page.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // The API accepts the cookie for reads; a change without the CSRF header is refused.
    let r = get("/api/v1/summary", &cookie);
    assert_eq!(r.status(), 200);
    let r = match agent.post(&format!("{}/api/v1/devices/x/revoke", server.url)).set("Cookie", &cookie).call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.status(), 403);

    // A form without the right token is refused; sign-out with it ends the session.
    let r = post_form("/logout", &[("_csrf", "forged")], Some(&cookie));
    assert_eq!(r.status(), 403);
    assert_eq!(get("/customers", &cookie).status(), 200, "a refused sign-out leaves the session");
    let r = post_form("/logout", &[("_csrf", &csrf)], Some(&cookie));
    assert_eq!(r.status(), 303);
    let r = get("/customers", &cookie);
    assert_eq!(r.status(), 303, "the session ended");
}

/// Team A's supervisor runs attendance and KPIs through the API; an admin manages accounts and
/// takes a backup.
#[test]
fn supervisor_walks_leave_and_kpis_and_admin_manages_users_through_the_api() {
    use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let sup_id = server.add_user("sup_a", "supervisor", Some("A"));
    let li = server.add_user("li", "agent", Some("A"));
    let root_id = server.add_user("root", "admin", None);
    let sup = token(&server, "sup_a");
    let json = |(status, text): (u16, String)| -> (u16, serde_json::Value) {
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {text}: {e}")))
    };
    let post = |path: &str, tok: &str, body: serde_json::Value| {
        json(call(&server, "POST", path, Some(tok), Some(&body.to_string())))
    };

    // The attendance grid lists the team's agent for every day of the month.
    let (s, grid) = server.get("/api/v1/attendance", &sup);
    assert_eq!(s, 200, "{grid}");
    let person = grid["people"].as_array().unwrap().iter().find(|p| p["staff"]["id"] == li.as_str());
    let days = grid["dates"].as_array().unwrap().len();
    assert!(days >= 28 && person.unwrap()["days"].as_array().unwrap().len() == days, "{grid}");
    let (s, e) = server.get("/api/v1/attendance?month=2026-13", &sup);
    assert_eq!(s, 400, "a bad month: {e}");

    // The roster: one early shift, read back per person and day.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let start = Date::of_time(now, CHINA_UTC_OFFSET_MIN).add_days(7);
    let end = start.add_days(2);
    let month = start.month_key();
    let (s, r) = post(
        "/api/v1/attendance/roster",
        &sup,
        serde_json::json!({"month": month, "changes": [{"date": start.to_string(), "staff": li, "shift": "early"}]}),
    );
    assert_eq!(s, 200, "{r}");
    let (s, roster) = server.get(&format!("/api/v1/attendance/roster?month={month}"), &sup);
    assert_eq!(s, 200, "{roster}");
    let row = roster["staff"].as_array().unwrap().iter().find(|p| p["staff"]["id"] == li.as_str()).unwrap();
    assert_eq!(row["shifts"][start.to_string()], "early", "{roster}");

    // A 3-day leave: manager → HR → general manager, in that order.
    let (s, created) = post(
        "/api/v1/attendance/leave",
        &sup,
        serde_json::json!({"staff": li, "kind": "annual", "start": start.to_string(), "end": end.to_string(),
            "reason": "回老家", "asked_in_person": true}),
    );
    assert_eq!(s, 200, "{created}");
    let (doc, leave) = (created["doc_id"].as_str().unwrap(), created["leave_id"].as_str().unwrap());
    let (s, pending) = server.get("/api/v1/attendance/leave", &sup);
    assert_eq!(s, 200);
    let row = pending.as_array().unwrap().iter().find(|r| r["leave_id"] == leave).unwrap();
    assert_eq!((row["days"].as_i64(), row["next_step"].as_str()), (Some(3), Some("manager")), "{row}");
    assert_eq!(row["chain"].as_array().unwrap().len(), 3);
    let decide = |step: &str| {
        post(
            "/api/v1/attendance/leave/decide",
            &sup,
            serde_json::json!({"doc_id": doc, "leave_id": leave, "step": step, "decision": "approve"}),
        )
    };
    let (s, e) = decide("hr");
    assert_eq!(s, 400, "HR before the manager: {e}");
    let (s, e) = decide("general_manager");
    assert_eq!(s, 400, "the general manager before the manager: {e}");
    for step in ["manager", "hr", "general_manager"] {
        let (s, m) = decide(step);
        assert_eq!(s, 200, "{step}: {m}");
        assert!(m["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (s, e) = decide("general_manager");
    assert_eq!(s, 400, "already decided: {e}");
    let (s, detail) = server.get(&format!("/api/v1/attendance/leave/{doc}/{leave}"), &sup);
    assert_eq!((s, detail["status"].as_str()), (200, Some("approved")), "{detail}");
    let (_, pending) = server.get("/api/v1/attendance/leave", &sup);
    assert!(!pending.as_array().unwrap().iter().any(|r| r["leave_id"] == leave));
    let (_, all) = server.get("/api/v1/attendance/leave?all=1", &sup);
    assert!(all.as_array().unwrap().iter().any(|r| r["leave_id"] == leave));
    let (s, e) = json(call(&server, "POST", "/api/v1/attendance/leave/decide", Some(&sup), Some("not json")));
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("expected JSON")), "{e}");
    let (s, e) =
        post("/api/v1/attendance/absent", &sup, serde_json::json!({"staff": li, "date": "2026-02-30"}));
    assert_eq!(s, 400, "not a date: {e}");

    // KPIs: the team's ranking, one person's year, the weights.
    let (s, team) = server.get("/api/v1/kpi", &sup);
    assert_eq!(s, 200, "{team}");
    assert!(team.as_array().unwrap().iter().any(|r| r["user_id"] == li.as_str()), "{team}");
    let year = start.year;
    let (s, person) = server.get(&format!("/api/v1/kpi/{li}?period={year}"), &sup);
    assert_eq!(s, 200, "{person}");
    assert_eq!(person["user_id"], li.as_str());
    assert_eq!(person["months"].as_array().unwrap().len(), 12);
    let (s, _) = server.get("/api/v1/kpi?period=last-week", &sup);
    assert_eq!(s, 400);
    let (s, _) = server.get("/api/v1/kpi/u-nobody", &sup);
    assert_eq!(s, 404);
    let (s, defaults) = server.get("/api/v1/kpi/weights", &sup);
    assert_eq!(s, 200);
    assert!(defaults["updated_by"].is_null());
    let mut weights = defaults["weights"].clone();
    let penalties = defaults["penalties"].clone();
    weights["satisfaction"] = serde_json::json!(-1.0);
    let put = |body: serde_json::Value| {
        json(call(&server, "PUT", "/api/v1/kpi/weights", Some(&sup), Some(&body.to_string())))
    };
    let (s, e) = put(serde_json::json!({"weights": weights, "penalties": penalties}));
    assert_eq!(s, 400, "a negative weight: {e}");
    let (s, e) = put(serde_json::json!({}));
    assert_eq!(s, 400, "nothing to set: {e}");
    weights["satisfaction"] = serde_json::json!(40.0);
    let (s, m) = put(serde_json::json!({"weights": weights, "penalties": penalties}));
    assert_eq!(s, 200, "{m}");
    let (_, saved) = server.get("/api/v1/kpi/weights", &sup);
    assert_eq!(saved["weights"]["satisfaction"], 40.0);
    assert_eq!(saved["updated_by"], sup_id.as_str());

    // Administration is the admin's.
    let root = token(&server, "root");
    assert_eq!(server.get("/api/v1/users", &sup).0, 403);
    let (s, users) = server.get("/api/v1/users", &root);
    assert_eq!(s, 200);
    assert!(users.as_array().unwrap().iter().any(|u| u["username"] == "sup_a"), "{users}");
    let new_user =
        serde_json::json!({"username": "wang", "role": "agent", "team": "A", "password": password("wang")});
    let (s, added) = post("/api/v1/users", &root, new_user.clone());
    assert_eq!(s, 200, "{added}");
    let wang = added["id"].as_str().unwrap().to_string();
    assert_eq!(post("/api/v1/users", &root, new_user).0, 400, "a second wang");
    assert_eq!(post("/api/v1/users", &sup, serde_json::json!({})).0, 403);
    assert!(server.login("wang")["token"].is_string(), "the new account signs in");
    let (s, e) = post(&format!("/api/v1/users/{root_id}/disable"), &root, serde_json::json!({}));
    assert_eq!(s, 400, "not one's own account: {e}");
    assert_eq!(post(&format!("/api/v1/users/{wang}/disable"), &root, serde_json::json!({})).0, 200);
    assert_eq!(post(&format!("/api/v1/users/{wang}/enable"), &root, serde_json::json!({})).0, 200);
    let (s, m) = post(
        &format!("/api/v1/users/{wang}/update"),
        &root,
        serde_json::json!({"role": "field", "team": "A"}),
    );
    assert_eq!(s, 200, "{m}");
    let (s, devices) = server.get("/api/v1/admin/devices?state=active", &root);
    assert_eq!(s, 200);
    assert!(devices.as_array().unwrap().iter().any(|d| d["user_id"] == wang.as_str()), "{devices}");
    assert_eq!(server.get("/api/v1/admin/devices?state=sideways", &root).0, 400);
    let res = ureq::post(&format!("{}/api/v1/backup", server.url))
        .set("Authorization", &format!("Bearer {root}"))
        .call()
        .unwrap();
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut res.into_reader(), &mut bytes).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"), "a SQLite file of {} bytes", bytes.len());
}

/// Team A's supervisor does the day's work through the API: the visit and complaint boards, a
/// conflict made by two phones settled, an agent's customer assigned to another agent, a small
/// callback campaign with its report, and the appearance sheet. Another team's supervisor gets
/// none of it.
#[test]
fn supervisor_assigns_plans_a_campaign_and_reads_boards_through_the_api() {
    use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
    use kefu_model::enums::{ComplaintCategory, ContactChannel, OrderStatus, Severity, VisitReason};
    use kefu_model::records::customer::{CustomerFile, Order};
    use kefu_model::verbs::{NewComplaint, NewVisit};

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup_a", "supervisor", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    let li = server.add_user("li", "agent", Some("A"));
    let wang = server.add_user("wang", "agent", Some("A"));
    let zhou = server.add_user("zhou", "field", Some("A"));
    let sup = token(&server, "sup_a");
    let other = token(&server, "sup_b");
    let json = |(status, text): (u16, String)| -> (u16, serde_json::Value) {
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {text}: {e}")))
    };
    let post = |path: &str, tok: &str, body: serde_json::Value| {
        json(call(&server, "POST", path, Some(tok), Some(&body.to_string())))
    };

    // The agent's phone takes a customer who bought a month ago, dispatches a repair visit and
    // takes a complaint; then syncs.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let today = Date::of_time(now, CHINA_UTC_OFFSET_MIN);
    let phone_li = phone(dir.path(), &server, "li");
    let doc = with(&phone_li, |c| {
        let doc = c.create_customer(new_customer("诸葛明", "13800001111")).unwrap();
        c.add_order(
            &doc,
            Order {
                number: "HT-2026-001".into(),
                item: "净水器".into(),
                amount_fen: 399_900,
                ordered_on: today.add_days(-40).to_string(),
                completed_on: Some(today.add_days(-30).to_string()),
                status: OrderStatus::Completed,
            },
        )
        .unwrap();
        c.dispatch_visit(
            &doc,
            &NewVisit {
                work_order: "WO-API-1".into(),
                reason: VisitReason::Repair,
                staff: zhou.clone(),
                window_start: now + 3_600_000,
                window_end: now + 7_200_000,
            },
        )
        .unwrap();
        c.take_complaint(
            &doc,
            &NewComplaint {
                channel: ContactChannel::Phone,
                content: "安装师傅迟到".into(),
                category: ComplaintCategory::Installation,
                severity: Severity::Medium,
                handler: li.clone(),
            },
        )
        .unwrap();
        doc
    });
    sync(&phone_li);
    let doc = doc.to_string();

    // The boards list the visit and the complaint; a bad filter is a 400; the agent and the
    // other team's supervisor do not get them.
    let (s, visits) = server.get("/api/v1/visits", &sup);
    assert_eq!(s, 200, "{visits}");
    let visit = visits.as_array().unwrap().iter().find(|v| v["doc_id"] == doc.as_str()).unwrap();
    assert_eq!(
        (visit["work_order"].as_str(), visit["staff"].as_str()),
        (Some("WO-API-1"), Some(zhou.as_str()))
    );
    assert_eq!(visit["status"], "dispatched");
    let (s, open) = server.get(&format!("/api/v1/visits?staff={zhou}&status=dispatched"), &sup);
    assert_eq!((s, open.as_array().map(Vec::len)), (200, Some(1)), "{open}");
    assert_eq!(server.get("/api/v1/visits?status=flying", &sup).0, 400);
    let (s, complaints) = server.get("/api/v1/complaints?status=unresolved", &sup);
    assert_eq!(s, 200, "{complaints}");
    let complaint = complaints.as_array().unwrap().iter().find(|c| c["doc_id"] == doc.as_str()).unwrap();
    assert_eq!(
        (complaint["handler"].as_str(), complaint["unresolved"].as_bool()),
        (Some(li.as_str()), Some(true))
    );
    assert_eq!(server.get("/api/v1/complaints?severity=apocalyptic", &sup).0, 400);
    let (s, theirs) = server.get("/api/v1/complaints", &other);
    assert_eq!((s, theirs.as_array().map(Vec::len)), (200, Some(0)), "{theirs}");
    assert_eq!(server.get("/api/v1/visits", &token(&server, "li")).0, 403);

    // Review: the agent's phone and the supervisor's change the address offline; the conflict
    // is listed with both values and settled by keeping the supervisor's.
    let phone_sup = phone(dir.path(), &server, "sup_a");
    sync(&phone_sup);
    let doc_id: kefu_model::DocumentId = doc.parse().unwrap();
    let sups_address = "上海市浦东新区张杨路 501 号（主管核实）";
    for (p, address) in [(&phone_li, "上海市浦东新区张杨路 502 号"), (&phone_sup, sups_address)] {
        with(p, |c| {
            let mut profile = c.read::<CustomerFile>(&doc_id).unwrap().profile;
            profile.address = Some(address.to_string());
            c.update_profile(&doc_id, profile).unwrap();
        });
    }
    sync(&phone_li);
    sync(&phone_sup);
    let (s, conflicts) = server.get("/api/v1/review/conflicts", &sup);
    assert_eq!(s, 200, "{conflicts}");
    let conflict = conflicts.as_array().unwrap().iter().find(|c| c["doc_id"] == doc.as_str()).unwrap();
    let values = conflict["values"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{conflict}");
    let keep = values.iter().find(|v| v["value"] == sups_address).unwrap();
    let resolve = serde_json::json!({"doc_id": doc, "path": conflict["path"], "value_id": keep["value_id"]});
    assert_eq!(post("/api/v1/review/conflicts/resolve", &other, resolve.clone()).0, 404, "another team's");
    let (s, m) = post("/api/v1/review/conflicts/resolve", &sup, resolve.clone());
    assert_eq!(s, 200, "{m}");
    assert_eq!(post("/api/v1/review/conflicts/resolve", &sup, resolve).0, 404, "already settled");
    assert_eq!(server.get("/api/v1/review/conflicts", &sup), (200, serde_json::json!([])));
    let (_, file) = server.get(&format!("/api/v1/customers/{doc}"), &sup);
    assert_eq!(file["record"]["profile"]["address"], sups_address, "{file}");

    // Assignment: the load lists both agents and the field staff; the customer goes to wang.
    let (s, load) = server.get("/api/v1/assign/load", &sup);
    assert_eq!(s, 200, "{load}");
    let of = |id: &str| load.as_array().unwrap().iter().find(|r| r["user_id"] == id).cloned().unwrap();
    assert_eq!(
        (of(&li)["customers"].as_i64(), of(&wang)["customers"].as_i64()),
        (Some(1), Some(0)),
        "{load}"
    );
    assert_eq!(of(&zhou)["open_visits"], 1, "{load}");
    let (s, e) = post("/api/v1/assign", &sup, serde_json::json!({"customers": [doc], "agent": zhou}));
    assert_eq!(s, 400, "a field staff member is no agent: {e}");
    let (s, e) = post("/api/v1/assign", &other, serde_json::json!({"customers": [doc], "agent": wang}));
    assert!(s == 400 || s == 404, "another team's supervisor: {s} {e}");
    let (s, m) = post("/api/v1/assign", &sup, serde_json::json!({"customers": [doc], "agent": wang}));
    assert_eq!(s, 200, "{m}");
    assert!(m["message"].as_str().is_some_and(|m| m.contains('1')), "{m}");
    let (s, list) = server.get("/api/v1/customers", &sup);
    assert_eq!(s, 200);
    let row = list.as_array().unwrap().iter().find(|r| r["doc_id"] == doc.as_str()).unwrap();
    assert_eq!(row["agent"], wang.as_str(), "{row}");

    // A small campaign: customers whose last service was a week or more ago, over two days.
    let campaign = serde_json::json!({
        "name": "API 回访", "rule": "since_service", "days": 7, "customers": [doc],
        "starts_on": today.add_days(1).to_string(), "ends_on": today.add_days(2).to_string(),
        "agents": [wang], "keep_own_agent": true,
    });
    let (s, preview) = post("/api/v1/campaigns/preview", &sup, campaign.clone());
    assert_eq!(s, 200, "{preview}");
    let planned = preview["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{preview}");
    assert_eq!(
        (planned[0]["doc_id"].as_str(), planned[0]["agent"].as_str()),
        (Some(doc.as_str()), Some(wang.as_str()))
    );
    assert_eq!(server.get("/api/v1/campaigns", &sup).1, serde_json::json!([]), "a preview changes nothing");
    let mut bad = campaign.clone();
    bad["starts_on"] = serde_json::json!(today.add_days(-3).to_string());
    assert_eq!(post("/api/v1/campaigns/preview", &sup, bad).0, 400, "a campaign starting in the past");
    let (s, e) = post("/api/v1/campaigns", &sup, serde_json::json!({"rule": "since_service"}));
    assert_eq!(s, 400, "{e}");
    let (s, created) = post("/api/v1/campaigns", &sup, campaign);
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["scheduled"], 1, "{created}");
    let id = created["campaign_id"].as_str().unwrap().to_string();
    let (s, campaigns) = server.get("/api/v1/campaigns", &sup);
    assert_eq!(s, 200);
    assert!(campaigns
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["doc_id"] == id.as_str() && c["status"] == "active"));
    let (s, report) = server.get(&format!("/api/v1/campaigns/{id}"), &sup);
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["info"]["name"], "API 回访");
    let callbacks = report["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 1, "{report}");
    assert_eq!(
        (callbacks[0]["customer_id"].as_str(), callbacks[0]["agent"].as_str()),
        (Some(doc.as_str()), Some(wang.as_str()))
    );
    assert_eq!(server.get(&format!("/api/v1/campaigns/{id}"), &other).0, 404, "another team's campaign");
    assert_eq!(post(&format!("/api/v1/campaigns/{id}/close"), &other, serde_json::json!({})).0, 404);

    // The appearance sheet of today lists the team's field staff and agents with the checklist;
    // one check recorded is read back.
    let (s, sheet) = server.get("/api/v1/appearance", &sup);
    assert_eq!(s, 200, "{sheet}");
    assert_eq!(sheet["date"], today.to_string());
    assert_eq!(sheet["exists"], false);
    let people = sheet["people"].as_array().unwrap();
    for who in [&li, &wang, &zhou] {
        assert!(people.iter().any(|p| p["staff"] == who.as_str() && p["checked"] == false), "{who}: {sheet}");
    }
    let code = people[0]["items"][0]["code"].as_str().unwrap().to_string();
    assert_eq!(server.get("/api/v1/appearance?date=2026-02-30", &sup).0, 400);
    let (s, m) = post(
        "/api/v1/appearance",
        &sup,
        serde_json::json!({"checks": [{"staff": zhou, "items": [{"code": code, "pass": false, "note": "工牌未佩戴"}]}]}),
    );
    assert_eq!(s, 200, "{m}");
    let (_, sheet) = server.get(&format!("/api/v1/appearance?date={today}"), &sup);
    let p = sheet["people"].as_array().unwrap().iter().find(|p| p["staff"] == zhou.as_str()).unwrap();
    assert_eq!((p["checked"].as_bool(), p["passed"].as_bool()), (Some(true), Some(false)), "{p}");
    let (s, rates) = server.get("/api/v1/appearance/rates", &sup);
    assert_eq!((s, rates["sheets"].as_i64()), (200, Some(1)), "{rates}");

    // No refused change waits for review.
    assert_eq!(server.get("/api/v1/review/rejected", &sup), (200, serde_json::json!([])));
}
