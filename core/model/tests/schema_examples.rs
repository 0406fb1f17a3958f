//! Checks `docs/schema.md` against the code, so the document other-language clients follow
//! cannot drift from what the Rust side reads and validates.
//!
//! Conventions in the document that this file relies on:
//! - a complete example is a fenced ```json block whose preceding non-blank line is the marker
//!   `<!-- example: <kind> -->`;
//! - an enumeration table follows the marker `<!-- enum: <Name> -->`: first column the
//!   backticked stored value, second column the Chinese label;
//! - a field table has four columns (field, type, required/optional/missing allowed, meaning);
//!   when its type says `enum <Name>`, the meaning lists every value as `` `value` (label) ``;
//! - the tables after `<!-- invalid-variations -->` and `<!-- unreadable-variations -->` list
//!   one-value changes (JSON Pointer, new JSON value or `(delete)`) to the example of a kind.
//!
//! Each example is turned into an automerge document by `KefuDoc::from_json`, which writes
//! plain JSON the way a JavaScript client following the document does (scalar strings, whole
//! numbers as signed integers), then read as the Rust record of its kind.

use std::collections::BTreeMap;

use kefu_model::automerge::transaction::Transactable;
use kefu_model::automerge::{ActorId, ObjType, ROOT};
use kefu_model::enums::*;
use kefu_model::lifecycle::{CallbackStep, ComplaintStep, VisitStep};
use kefu_model::records::appearance::{AppearanceCheck, AppearanceTemplate};
use kefu_model::records::attendance::{AttendanceMonth, LeaveStatus, SwapStatus};
use kefu_model::records::campaign::Campaign;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::roster::Roster;
use kefu_model::{Author, DocError, DocumentId, KefuDoc, Problems, Record};
use serde_json::{json, Value};

/// Commit time for every test document: 2026-12-01 12:00 (UTC+08:00), after every example time.
const NOW: i64 = 1_796_097_600_000;

const CUSTOMER_ID: &str = "2Pa7Cd3NUg7em62joAxraCA5qoUj";
const CAMPAIGN_ID: &str = "fDRgPJ9CdFxiAsxfxiw3dQugsbM";
const VISIT: &str = "545SQ2GodGymHAJvL";
const CALLBACK: &str = "5dyykM8XTi8v1wSKE";
const COMPLAINT: &str = "4fQ8s2y2rJdxtDDbw";
const PERSONAL_LEAVE: &str = "2qYYcKWDJ4CB43Fo3";

fn schema_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema.md"))
        .expect("docs/schema.md can be read")
}

fn author() -> Author {
    Author { user: "agent-li".into(), device: "phone-li-01".into() }
}

/// Every complete example: (kind as written in the marker, JSON).
fn examples(doc: &str) -> Vec<(String, Value)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        let Some(kind) = line.strip_prefix("<!-- example:").and_then(|r| r.strip_suffix("-->")) else {
            continue;
        };
        let kind = kind.trim().to_string();
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        assert!(
            i < lines.len() && lines[i].trim() == "```json",
            "the example marker for {kind} must be followed by a ```json block"
        );
        i += 1;
        let mut body = String::new();
        while i < lines.len() && lines[i].trim() != "```" {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "the json block of the {kind} example is not closed");
        let value: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("the {kind} example is not valid JSON: {e}"));
        out.push((kind, value));
    }
    out
}

/// The one example of `kind`.
fn example(doc: &str, kind: &str) -> Value {
    let mut found: Vec<Value> =
        examples(doc).into_iter().filter(|(k, _)| k == kind).map(|(_, v)| v).collect();
    assert_eq!(found.len(), 1, "exactly one example of {kind}");
    found.remove(0)
}

fn build(json: &Value) -> KefuDoc {
    KefuDoc::from_json(json, ActorId::random(), &author(), NOW).expect("from_json builds a document")
}

fn read_as<R: Record>(json: &Value) -> Result<R, DocError> {
    build(json).read::<R>()
}

/// Reads `json` as the record type of `kind` and returns its problems.
fn problems_of(kind: &str, json: &Value) -> Result<Problems, DocError> {
    let kind: DocKind = kind.parse().unwrap_or_else(|e| panic!("{e}"));
    match kind {
        DocKind::Customer => read_as::<CustomerFile>(json).map(|r| r.problems()),
        DocKind::AppearanceTemplate => read_as::<AppearanceTemplate>(json).map(|r| r.problems()),
        DocKind::AppearanceCheck => read_as::<AppearanceCheck>(json).map(|r| r.problems()),
        DocKind::Attendance => read_as::<AttendanceMonth>(json).map(|r| r.problems()),
        DocKind::Roster => read_as::<Roster>(json).map(|r| r.problems()),
        DocKind::Campaign => read_as::<Campaign>(json).map(|r| r.problems()),
    }
}

/// The cells of a markdown table row, trimmed, without the outer pipes.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// The data rows of the table right after the line `marker` (header and separator skipped).
fn table_after(doc: &str, marker: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != marker);
    assert!(lines.next().is_some(), "docs/schema.md has no line {marker}");
    let rows: Vec<Vec<String>> = lines
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(cells)
        .collect();
    assert!(rows.len() > 2, "the table after {marker} has no data rows");
    rows.into_iter().skip(2).collect()
}

/// The texts between backticks in `cell`.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The `` `value` (label) `` pairs in `cell`.
fn labelled_values(cell: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = cell.split('`').collect();
    let mut out = Vec::new();
    // Odd parts are inside backticks; the part after one holds " (label)…" when labelled.
    for i in (1..parts.len()).step_by(2) {
        let after = parts.get(i + 1).copied().unwrap_or("");
        if let Some(rest) = after.strip_prefix(" (") {
            if let Some(end) = rest.find(')') {
                out.push((parts[i].to_string(), rest[..end].to_string()));
            }
        }
    }
    out
}

/// Every stored value and Chinese label of every enumeration, by Rust name.
fn code_enums() -> BTreeMap<&'static str, Vec<(String, String)>> {
    macro_rules! enums {
        ($($t:ident),* $(,)?) => {
            BTreeMap::from([$((
                stringify!($t),
                $t::ALL.iter().map(|v| (v.as_str().to_string(), v.label_zh().to_string())).collect::<Vec<_>>(),
            )),*])
        };
    }
    enums!(
        DocKind,
        Role,
        SourceChannel,
        IntentLevel,
        PurchaseStage,
        OrderStatus,
        ContactChannel,
        CallbackOutcome,
        VisitReason,
        Severity,
        ComplaintCategory,
        Shift,
        ClockKind,
        LeaveKind,
        Approver,
        Decision,
        CheckResult,
        CheckCategory,
        CampaignStatus,
        VisitStep,
        CallbackStep,
        ComplaintStep,
    )
}

/// A one-value change from a variation table.
#[derive(Debug)]
struct Variation {
    kind: String,
    pointer: String,
    value: Option<Value>,
    last: String,
}

fn variations(doc: &str, marker: &str) -> Vec<Variation> {
    table_after(doc, marker)
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 4, "variation rows have four cells: {row:?}");
            let pointer =
                backticked(&row[1]).into_iter().next().unwrap_or_else(|| panic!("no pointer in {row:?}"));
            let value = if row[2] == "(delete)" {
                None
            } else {
                let text = row[2].trim_matches('`');
                Some(serde_json::from_str(text).unwrap_or_else(|e| panic!("bad value in {row:?}: {e}")))
            };
            Variation { kind: row[0].clone(), pointer, value, last: row[3].trim_matches('`').to_string() }
        })
        .collect()
}

/// Sets (or with `None` removes) the value at a JSON Pointer. The parent must exist; a removed
/// key must exist.
fn apply(json: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, last) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
    let key = last.replace("~1", "/").replace("~0", "~");
    let target = json.pointer_mut(parent).unwrap_or_else(|| panic!("{parent} is not in the example"));
    match (target, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(key, v);
        }
        (Value::Object(map), None) => {
            assert!(map.remove(&key).is_some(), "{pointer} is not in the example");
        }
        (Value::Array(items), v) => {
            let i: usize = key.parse().unwrap_or_else(|_| panic!("{pointer}: not a list index"));
            assert!(i < items.len(), "{pointer} is not in the example");
            match v {
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
        }
        (other, _) => panic!("{parent} is not a map or list: {other}"),
    }
}

fn changed(json: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut out = json.clone();
    apply(&mut out, pointer, value);
    out
}

fn fields(p: &Problems) -> Vec<String> {
    p.0.iter().map(|e| e.field.clone()).collect()
}

#[test]
fn every_example_is_a_valid_record_of_its_kind() {
    let doc = schema_text();
    let all = examples(&doc);
    let mut kinds: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    kinds.sort_unstable();
    let mut expected: Vec<&str> = DocKind::ALL.iter().map(|k| k.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(kinds, expected, "one example per document kind");
    for (kind, json) in &all {
        assert_eq!(json["kind"], json!(kind), "the {kind} example's root kind");
        match problems_of(kind, json) {
            Ok(p) => assert!(p.is_empty(), "the {kind} example has problems: {p}"),
            Err(e) => panic!("the {kind} example cannot be read: {e}"),
        }
    }
}

#[test]
fn documented_invalid_variations_name_the_documented_field() {
    let doc = schema_text();
    let rows = variations(&doc, "<!-- invalid-variations -->");
    assert!(rows.len() >= 20, "the invalid-variations table is complete");
    let mut failures = Vec::new();
    for v in rows {
        let json = changed(&example(&doc, &v.kind), &v.pointer, v.value.clone());
        match problems_of(&v.kind, &json) {
            Ok(p) if fields(&p).contains(&v.last) => {}
            Ok(p) => failures
                .push(format!("{} {}: expected a problem on {}, got [{p}]", v.kind, v.pointer, v.last)),
            Err(e) => failures.push(format!(
                "{} {}: expected a problem on {}, but unreadable: {e}",
                v.kind, v.pointer, v.last
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn documented_unreadable_variations_cannot_be_read() {
    let doc = schema_text();
    let rows = variations(&doc, "<!-- unreadable-variations -->");
    assert!(rows.len() >= 10, "the unreadable-variations table is complete");
    for v in rows {
        let json = changed(&example(&doc, &v.kind), &v.pointer, v.value.clone());
        if let Ok(p) = problems_of(&v.kind, &json) {
            panic!(
                "{} {} ({}) should be unreadable, but reads with problems [{p}]",
                v.kind, v.pointer, v.last
            );
        }
    }
}

/// Whether the invalid-variations table has a row for `pointer` reporting `field`.
fn documented(doc: &str, kind: &str, pointer: &str, field: &str) -> bool {
    variations(doc, "<!-- invalid-variations -->")
        .iter()
        .any(|v| v.kind == kind && v.pointer == pointer && v.last == field)
}

#[test]
fn a_visit_rating_of_7_is_reported_on_rating() {
    let doc = schema_text();
    let pointer = format!("/visits/{VISIT}/rating");
    assert!(documented(&doc, "customer", &pointer, "rating"));
    let json = changed(&example(&doc, "customer"), &pointer, Some(json!(7)));
    let p = problems_of("customer", &json).expect("readable");
    assert_eq!(p.0.len(), 1, "{p}");
    assert_eq!((p.0[0].record.as_str(), p.0[0].field.as_str()), ("visit 545SQ2…", "rating"));
    assert!(p.0[0].rule.contains("1–5"), "{p}");
    for ok in [1, 5] {
        let json = changed(&example(&doc, "customer"), &pointer, Some(json!(ok)));
        assert!(problems_of("customer", &json).expect("readable").is_empty());
    }
}

#[test]
fn personal_leave_asked_on_the_same_day_is_reported_on_start_date() {
    let doc = schema_text();
    let pointer = format!("/leave/{PERSONAL_LEAVE}/requested_at");
    assert!(documented(&doc, "attendance", &pointer, "start_date"));
    // The leave is for 2026-11-25. Asked that morning at 08:00 (UTC+08:00): refused.
    let json = changed(&example(&doc, "attendance"), &pointer, Some(json!(1_795_564_800_000_i64)));
    let p = problems_of("attendance", &json).expect("readable");
    assert_eq!(p.0.len(), 1, "{p}");
    assert_eq!((p.0[0].record.as_str(), p.0[0].field.as_str()), ("leave 2qYYcK…", "start_date"));
    assert!(p.0[0].rule.contains("one day ahead"), "{p}");
    // Local dates count (UTC+08:00): 00:00 on the day is refused, 23:59 the day before accepted.
    let json = changed(&example(&doc, "attendance"), &pointer, Some(json!(1_795_536_000_000_i64)));
    assert_eq!(fields(&problems_of("attendance", &json).expect("readable")), ["start_date"]);
    let json = changed(&example(&doc, "attendance"), &pointer, Some(json!(1_795_535_940_000_i64)));
    assert!(problems_of("attendance", &json).expect("readable").is_empty());
}

#[test]
fn complaint_processing_in_round_1_without_reopening_is_reported_on_steps() {
    let doc = schema_text();
    let pointer = format!("/complaints/{COMPLAINT}/steps/1.reopened");
    assert!(documented(&doc, "customer", &pointer, "steps"));
    let json = changed(&example(&doc, "customer"), &pointer, None);
    let p = problems_of("customer", &json).expect("readable");
    assert!(!p.is_empty());
    assert!(p.0.iter().all(|e| e.record == "complaint 4fQ8s2…" && e.field == "steps"), "{p}");
    assert!(p.0.iter().any(|e| e.rule.contains("1.processing")), "{p}");
}

#[test]
fn enumeration_tables_match_the_code() {
    let doc = schema_text();
    let code = code_enums();
    for name in ["DocKind", "VisitStep", "CallbackOutcome", "LeaveKind", "Shift"] {
        assert!(code.contains_key(name));
    }
    for (name, values) in &code {
        let rows = table_after(&doc, &format!("<!-- enum: {name} -->"));
        let documented: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let v = backticked(&r[0]);
                assert_eq!(v.len(), 1, "{name}: one backticked value per row: {r:?}");
                (v[0].clone(), r[1].clone())
            })
            .collect();
        assert_eq!(&documented, values, "{name}: values, order and Chinese labels");
    }
    // No table for an enumeration the code does not have.
    for line in doc.lines() {
        if let Some(name) = line.trim().strip_prefix("<!-- enum:").and_then(|r| r.strip_suffix("-->")) {
            assert!(code.contains_key(name.trim()), "docs/schema.md documents an unknown enum {name}");
        }
    }
}

#[test]
fn enum_fields_list_exactly_the_values_of_their_enum() {
    let doc = schema_text();
    let code = code_enums();
    let mut seen = 0;
    for line in doc.lines().filter(|l| l.trim_start().starts_with('|')) {
        let c = cells(line);
        if c.len() != 4 || !matches!(c[2].as_str(), "required" | "optional" | "missing allowed") {
            continue;
        }
        let Some((_, rest)) = c[1].split_once("enum ") else { continue };
        let name: String = rest.chars().take_while(|ch| ch.is_ascii_alphanumeric()).collect();
        let values = code.get(name.as_str()).unwrap_or_else(|| panic!("{line}: unknown enum {name}"));
        let mut listed = labelled_values(&c[3]);
        listed.sort();
        let mut expected = values.clone();
        expected.sort();
        assert_eq!(listed, expected, "field {} lists the values of {name}", c[0]);
        seen += 1;
    }
    assert!(seen >= 25, "enum-typed field rows found: {seen}");
}

#[test]
fn derived_statuses_of_the_examples_are_as_documented() {
    let doc = schema_text();
    let customer: CustomerFile = read_as(&example(&doc, "customer")).expect("customer");
    assert_eq!(customer.visits[VISIT].status(), Some(VisitStep::Completed));
    assert_eq!(customer.callbacks[CALLBACK].status(), Some(CallbackStep::Done));
    let c = customer.complaints[COMPLAINT].status().expect("a complaint status");
    assert_eq!((c.round, c.step, c.is_open()), (1, ComplaintStep::Confirmed, false));

    let month: AttendanceMonth = read_as(&example(&doc, "attendance")).expect("attendance");
    for (id, leave) in &month.leave {
        assert_eq!(leave.status(), LeaveStatus::Approved, "leave {id}");
    }
    assert_eq!(
        month.leave["2n4jtwC8sHL4BynAS"].chain(),
        [Approver::Manager, Approver::Hr, Approver::GeneralManager]
    );
    assert!(month.leave["3ZJSyRb9YLoVVZoi6"].needs_certificate());
    for swap in month.swaps.values() {
        assert_eq!(swap.status(), SwapStatus::Approved);
    }
    let d16 = month.day("2026-11-16", kefu_model::dates::CHINA_UTC_OFFSET_MIN);
    assert_eq!((d16.shift, d16.late_minutes, d16.early_leave_minutes), (Some(Shift::Early), 0, 0));
    let d20 = month.day("2026-11-20", kefu_model::dates::CHINA_UTC_OFFSET_MIN);
    assert_eq!(
        (d20.shift, d20.late_minutes, d20.early_leave_minutes, d20.overtime_minutes),
        (Some(Shift::Late), 0, 0, 40)
    );
    assert!(d20.clock_out.is_some_and(|t| t > d20.clock_in.unwrap_or(i64::MAX)));

    let campaign: Campaign = read_as(&example(&doc, "campaign")).expect("campaign");
    assert_eq!(campaign.status(), CampaignStatus::Active);

    let template: AppearanceTemplate = read_as(&example(&doc, "appearance_template")).expect("template");
    assert_eq!(template.current().map(|v| v.version), Some(2));
    let sheet: AppearanceCheck = read_as(&example(&doc, "appearance_check")).expect("sheet");
    assert!(sheet.checks["agent-li"].passed());
    assert!(!sheet.checks["field-zhang"].passed());
    let copy = sheet.template.as_ref().expect("the example sheet has its template");
    assert_eq!(copy.items, template.versions["2"].items, "the sheet embeds a copy of version 2");
}

#[test]
fn the_examples_refer_to_each_other_by_valid_ids() {
    let doc = schema_text();
    let customer: CustomerFile = read_as(&example(&doc, "customer")).expect("customer");
    let campaign: Campaign = read_as(&example(&doc, "campaign")).expect("campaign");
    let sheet: AppearanceCheck = read_as(&example(&doc, "appearance_check")).expect("sheet");
    let target = &campaign.targets[CUSTOMER_ID];
    let callback = &customer.callbacks[&target.callback];
    assert_eq!(callback.campaign.as_deref(), Some(CAMPAIGN_ID));
    assert_eq!(callback.scheduled_for, target.scheduled_for);
    assert_eq!(callback.agent, target.agent);
    let template_id = sheet.template.as_ref().map(|t| t.template_id.as_str()).unwrap_or_default();
    for id in [CUSTOMER_ID, CAMPAIGN_ID, template_id] {
        assert!(id.parse::<DocumentId>().is_ok(), "{id} is a document id");
    }
    for key in campaign.targets.keys() {
        assert!(key.parse::<DocumentId>().is_ok(), "{key} is a document id");
    }
    // Every automerge: URL in the document parses.
    let mut urls = 0;
    for (i, _) in doc.match_indices("automerge:") {
        let id: String =
            doc[i + "automerge:".len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if id.is_empty() {
            continue; // "automerge:<id>" in prose
        }
        let url = format!("automerge:{id}");
        let parsed = DocumentId::parse_url_or_id(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(parsed.url(), url);
        urls += 1;
    }
    assert!(urls > 0);
}

#[test]
fn changes_carry_the_documented_message_and_time_in_seconds() {
    let doc = schema_text();
    let message = r#"{"device":"phone-li-01","user":"agent-li"}"#;
    assert!(doc.contains(message));
    assert_eq!(Author::from_message(Some(message)), Some(author()));
    assert_eq!(
        Author::from_message(Some(r#"{"user":"agent-li","device":"phone-li-01","app":"js"}"#)),
        Some(author()),
        "member order does not matter, other members are ignored"
    );
    let mut built = build(&example(&doc, "roster"));
    let history = built.history(&[]);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].author, Some(author()));
    assert_eq!(history[0].time, NOW / 1000);
}

#[test]
fn strings_written_as_text_objects_are_read() {
    // Current @automerge/automerge writes a plain JS string as a text object; the Rust side
    // reads it as the string (§1.3), for text fields, enum values and `kind` alike.
    let doc = schema_text();
    let roster = example(&doc, "roster");

    let mut team_as_text = build(&roster);
    let am = team_as_text.automerge();
    let text = am.put_object(ROOT, "team", ObjType::Text).expect("put text");
    am.splice_text(&text, 0, 0, "team-pudong").expect("splice");
    let read = team_as_text.read::<Roster>().expect("a text team is read");
    assert_eq!(read.team, "team-pudong");

    let mut kind_as_text = build(&roster);
    let am = kind_as_text.automerge();
    let text = am.put_object(ROOT, "kind", ObjType::Text).expect("put text");
    am.splice_text(&text, 0, 0, "roster").expect("splice");
    assert!(kind_as_text.kind().is_ok());
    assert!(kind_as_text.read::<Roster>().is_ok());
}

#[test]
fn null_where_missing_is_allowed_reads_as_empty() {
    let doc = schema_text();
    let mut c = example(&doc, "customer");
    c["orders"] = serde_json::Value::Null;
    c["profile"]["phones"] = serde_json::Value::Null;
    let file = build(&c).read::<CustomerFile>().expect("null collections are read as empty");
    assert!(file.orders.is_empty() && file.profile.phones.is_empty());
}

#[test]
fn absent_optional_and_missing_allowed_fields_read_as_empty() {
    let doc = schema_text();
    let mut customer = example(&doc, "customer");
    for key in ["orders", "contacts", "callbacks", "visits", "complaints"] {
        apply(&mut customer, &format!("/{key}"), None);
    }
    for pointer in ["/profile/phones", "/profile/email", "/classification/tags", "/classification/notes"] {
        apply(&mut customer, pointer, None);
    }
    let file: CustomerFile = read_as(&customer).expect("readable");
    assert!(file.problems().is_empty(), "{}", file.problems());
    assert!(file.visits.is_empty() && file.profile.phones.is_empty() && file.profile.email.is_none());

    let mut month = example(&doc, "attendance");
    apply(&mut month, &format!("/leave/{PERSONAL_LEAVE}/asked_in_person"), None);
    let m: AttendanceMonth = read_as(&month).expect("readable");
    assert!(!m.leave[PERSONAL_LEAVE].asked_in_person, "missing means false");
    assert_eq!(fields(&m.problems()), ["asked_in_person"]);

    // Keys the Rust types do not know are ignored.
    let mut roster = example(&doc, "roster");
    apply(&mut roster, "/x_client_note", Some(json!({ "by": "a newer client" })));
    assert!(problems_of("roster", &roster).expect("readable").is_empty());
}

#[test]
fn plausible_times_are_the_documented_inclusive_range() {
    let doc = schema_text();
    assert!(doc.contains("`946684800000..=7258118400000`"));
    let customer = example(&doc, "customer");
    for (t, ok) in [
        (946_684_800_000_i64, true),
        (7_258_118_400_000, true),
        (946_684_799_999, false),
        (7_258_118_400_001, false),
    ] {
        let json = changed(&customer, "/created_at", Some(json!(t)));
        let p = problems_of("customer", &json).expect("readable");
        assert_eq!(p.is_empty(), ok, "created_at {t}: {p}");
    }
}
