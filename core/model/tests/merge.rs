//! Merge behaviour of customer files across phones, written as narrated scenarios, and
//! property tests: random concurrent edit sequences on 2–3 replicas converge and never break
//! an invariant.

use kefu_model::automerge::ActorId;
use kefu_model::enums::*;
use kefu_model::lifecycle::{ComplaintStep, VisitStep};
use kefu_model::records::customer::{CustomerFile, Profile};
use kefu_model::verbs::*;
use kefu_model::{Author, DocError, KefuDoc, Record};
use proptest::prelude::*;

const T0: i64 = 1_795_000_000_000; // 2026-11-18 19:06 in Beijing

fn author(user: &str) -> Author {
    Author { user: user.into(), device: format!("{user}-phone") }
}

fn actor(user: &str, at: i64) -> Actor {
    Actor { user: user.into(), at }
}

fn customer() -> CustomerFile {
    let profile = Profile {
        name: "王女士".into(),
        phones: vec!["138 0000 1111".into()],
        email: None,
        wechat: None,
        address: Some("上海市浦东新区".into()),
        district: Some("浦东".into()),
        source: SourceChannel::Tmall,
    };
    CustomerFile::new("team-a", profile, "sup", T0)
}

fn actor_id(n: u8) -> ActorId {
    ActorId::from([n; 16].as_slice())
}

fn fork(doc: &mut KefuDoc, n: u8) -> KefuDoc {
    let bytes = doc.save();
    KefuDoc::load(&bytes, actor_id(n)).unwrap_or_else(|e| panic!("load: {e}"))
}

fn upd(
    doc: &mut KefuDoc,
    who: &str,
    at: i64,
    f: impl FnOnce(&mut CustomerFile) -> Result<(), DocError>,
) -> Result<(), DocError> {
    doc.update(&author(who), at, f).map(|_| ())
}

#[test]
fn two_phones_edit_offline_then_converge_with_the_same_field_shown_as_a_conflict() {
    // Step 1: the supervisor creates the file; both phones have it.
    let mut server =
        KefuDoc::create(&customer(), actor_id(1), &author("sup"), T0).unwrap_or_else(|e| panic!("{e}"));
    let mut agent = fork(&mut server, 2);
    let mut field = fork(&mut server, 3);

    // Step 2: offline, the agent changes the district and the notes; the field worker changes
    // the notes too, and the address.
    upd(&mut agent, "li", T0 + 1000, |c| {
        c.profile.district = Some("浦东新区".into());
        c.classification.notes = Some("喜欢电话联系".into());
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    upd(&mut field, "zhang", T0 + 2000, |c| {
        c.classification.notes = Some("门禁密码 1234".into());
        c.profile.address = Some("上海市浦东新区世纪大道 100 号".into());
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));

    // Step 3: both reconnect; every replica merges both.
    agent.merge(&mut field).unwrap_or_else(|e| panic!("{e}"));
    field.merge(&mut agent).unwrap_or_else(|e| panic!("{e}"));
    server.merge(&mut agent).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(agent.to_json(), field.to_json());
    assert_eq!(agent.to_json(), server.to_json());
    let merged: CustomerFile = server.read().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(merged.profile.district.as_deref(), Some("浦东新区"));
    assert_eq!(merged.profile.address.as_deref(), Some("上海市浦东新区世纪大道 100 号"));

    // Step 4: the notes field shows both values and who wrote each.
    let conflicts = server.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!(c.path, vec!["classification", "notes"]);
    let mut who: Vec<String> =
        c.values.iter().filter_map(|v| v.author.as_ref().map(|a| a.user.clone())).collect();
    who.sort();
    assert_eq!(who, vec!["li", "zhang"]);
    let times: Vec<i64> = c.values.iter().map(|v| v.time).collect();
    assert!(times.contains(&((T0 + 1000) / 1000)) && times.contains(&((T0 + 2000) / 1000)));

    // Step 5: the supervisor picks the agent's value; that is an ordinary change that reaches
    // the phones, after which nobody sees a conflict.
    let li = c
        .values
        .iter()
        .find(|v| v.author.as_ref().is_some_and(|a| a.user == "li"))
        .map(|v| v.value_id.clone())
        .unwrap_or_default();
    server
        .resolve_conflict::<CustomerFile>(&c.path, &li, &author("sup"), T0 + 5000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(server.conflicts().is_empty());
    field.merge(&mut server).unwrap_or_else(|e| panic!("{e}"));
    let f: CustomerFile = field.read().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.classification.notes.as_deref(), Some("喜欢电话联系"));
    assert!(field.conflicts().is_empty());

    // Step 6: history names who changed what, and the file can be read as it was.
    let history = server.history(&[]);
    assert_eq!(history.len(), 4);
    let by_zhang = history
        .iter()
        .find(|h| h.author.as_ref().is_some_and(|a| a.user == "zhang"))
        .unwrap_or_else(|| panic!("no change by zhang"));
    assert!(by_zhang
        .fields
        .iter()
        .any(|f| f.path == ["profile", "address"] && f.old == Some("上海市浦东新区".into())));
    let first = server
        .read_at::<CustomerFile>(&[history[0].hash.parse().unwrap_or_else(|_| panic!())])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.classification.notes, None);
    assert_eq!(first.profile.address.as_deref(), Some("上海市浦东新区"));
}

#[test]
fn a_stale_on_site_never_undoes_completion() {
    let mut a =
        KefuDoc::create(&customer(), actor_id(1), &author("sup"), T0).unwrap_or_else(|e| panic!("{e}"));
    let nv = NewVisit {
        work_order: "WO-1".into(),
        reason: VisitReason::Repair,
        staff: "zhang".into(),
        window_start: T0,
        window_end: T0 + 3_600_000,
    };
    upd(&mut a, "sup", T0, |c| {
        c.dispatch_visit("v1".into(), &actor("sup", T0), &nv);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut b = fork(&mut a, 2);
    // The field phone arrives and completes; a second, stale device only marks arrival.
    upd(&mut a, "zhang", T0 + 10, |c| {
        c.advance_visit("v1", &actor("zhang", T0 + 10), VisitStep::OnSite, None)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let done = VisitCompletion {
        work_done: "更换水龙头".into(),
        parts: vec![("水龙头".into(), 1)],
        rating: Some(5),
        follow_up_on: None,
    };
    upd(&mut a, "zhang", T0 + 20, |c| c.complete_visit("v1", &actor("zhang", T0 + 20), &done))
        .unwrap_or_else(|e| panic!("{e}"));
    upd(&mut b, "zhang", T0 + 15, |c| {
        c.advance_visit("v1", &actor("zhang", T0 + 15), VisitStep::OnSite, None)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    a.merge(&mut b).unwrap_or_else(|e| panic!("{e}"));
    let c: CustomerFile = a.read().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.visits["v1"].status(), Some(VisitStep::Completed));
    assert!(c.problems().is_empty());
    // A backwards step is refused by the verb and nothing is written.
    let heads = a.heads();
    let e = upd(&mut a, "zhang", T0 + 30, |c| {
        c.advance_visit("v1", &actor("zhang", T0 + 30), VisitStep::EnRoute, None)
    });
    assert!(matches!(e, Err(DocError::IllegalStep(_))));
    assert_eq!(a.heads(), heads);
}

#[test]
fn invalid_edits_write_nothing_and_name_the_field() {
    let mut a =
        KefuDoc::create(&customer(), actor_id(1), &author("sup"), T0).unwrap_or_else(|e| panic!("{e}"));
    let heads = a.heads();
    let e = upd(&mut a, "li", T0, |c| {
        c.profile.name = "  ".into();
        c.profile.phones.push("call me".into());
        Ok(())
    });
    match e {
        Err(DocError::Invalid(p)) => {
            let fields: Vec<&str> = p.0.iter().map(|x| x.field.as_str()).collect();
            assert!(fields.contains(&"profile.name") && fields.contains(&"profile.phones[1]"), "{fields:?}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(a.heads(), heads);
}

#[test]
fn recorded_steps_and_records_cannot_be_deleted() {
    let mut a = KefuDoc::create(&seeded(), actor_id(1), &author("sup"), T0).unwrap_or_else(|e| panic!("{e}"));
    upd(&mut a, "zhang", T0 + 1, |c| c.advance_visit("v0", &actor("zhang", T0 + 1), VisitStep::OnSite, None))
        .unwrap_or_else(|e| panic!("{e}"));
    let heads = a.heads();
    // A client that edits the record directly (not through a verb) tries to move the visit
    // back by deleting its on-site step, and to drop a complaint.
    let e = upd(&mut a, "zhang", T0 + 2, |c| {
        c.visits.get_mut("v0").map(|v| v.steps.remove("on_site"));
        c.complaints.remove("c1");
        Ok(())
    });
    match e {
        Err(DocError::Invalid(p)) => {
            let fields: Vec<String> = p.0.iter().map(|x| format!("{} {}", x.record, x.field)).collect();
            assert!(fields.iter().any(|f| f.ends_with("steps.on_site")), "{fields:?}");
            assert!(fields.iter().any(|f| f == "customer complaints.c1"), "{fields:?}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(a.heads(), heads, "nothing written");
    // The same rule judges a state received from elsewhere.
    let before: CustomerFile = a.read().unwrap_or_else(|e| panic!("{e}"));
    let mut after = before.clone();
    after.created_by = "someone-else".into();
    assert!(kefu_model::records::validate_transition(&before, &after).is_err());
    assert!(kefu_model::records::validate_transition(&before, &before).is_ok());
}

// ---- property tests -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Visit(usize, VisitStep),
    Complaint(usize, ComplaintStep),
    Callback(usize, CallbackOutcome),
    Notes(u8),
    Sync(usize, usize),
}

fn op() -> impl Strategy<Value = (usize, Op)> {
    let visit = (0..2usize, prop::sample::select(VisitStep::ALL.to_vec())).prop_map(|(i, s)| Op::Visit(i, s));
    let complaint =
        (0..2usize, prop::sample::select(ComplaintStep::ALL.to_vec())).prop_map(|(i, s)| Op::Complaint(i, s));
    let callback = (0..2usize, prop::sample::select(CallbackOutcome::ALL.to_vec()))
        .prop_map(|(i, s)| Op::Callback(i, s));
    let notes = any::<u8>().prop_map(Op::Notes);
    let sync = (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Sync(a, b));
    (0..3usize, prop_oneof![visit, complaint, callback, notes, sync])
}

fn seeded() -> CustomerFile {
    let mut c = customer();
    let by = actor("sup", T0);
    for i in 0..2 {
        let nv = NewVisit {
            work_order: format!("WO-{i}"),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: T0,
            window_end: T0 + 1,
        };
        c.dispatch_visit(format!("v{i}"), &by, &nv);
        let nc = NewComplaint {
            channel: ContactChannel::Phone,
            content: "漏水".into(),
            category: ComplaintCategory::ProductQuality,
            severity: Severity::High,
            handler: "li".into(),
        };
        c.take_complaint(format!("c{i}"), &by, &nc);
        let nb = NewCallback {
            agent: "li".into(),
            date: "2026-11-20".into(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: None,
        };
        c.schedule_callback(format!("b{i}"), &by, &nb);
    }
    c
}

/// Ranks of every status in a record, to check nothing moved backwards.
fn ranks(c: &CustomerFile) -> Vec<(u32, u8)> {
    let mut out = Vec::new();
    for i in 0..2 {
        out.push((0, c.visits[&format!("v{i}")].status().map_or(0, |s| s.rank())));
        out.push(c.complaints[&format!("c{i}")].status().map_or((0, 0), |s| (s.round, s.step.rank())));
        out.push((0, c.callbacks[&format!("b{i}")].status().map_or(0, |s| s.rank())));
    }
    out
}

fn apply(doc: &mut KefuDoc, replica: usize, op: &Op, at: i64) {
    let user = ["zhang", "li", "sup"][replica];
    let by = actor(user, at);
    let _ = doc.update(&author(user), at, |c: &mut CustomerFile| match op {
        Op::Visit(i, VisitStep::Completed) => {
            let done = VisitCompletion {
                work_done: "修好了".into(),
                parts: vec![],
                rating: Some(4),
                follow_up_on: None,
            };
            c.complete_visit(&format!("v{i}"), &by, &done)
        }
        Op::Visit(i, s) => c.advance_visit(&format!("v{i}"), &by, *s, None),
        Op::Complaint(i, s) => c.complaint_step(&format!("c{i}"), &by, *s, Some("已处理".into())),
        Op::Callback(i, o) => {
            let r = CallbackResult {
                method: ContactChannel::Phone,
                outcome: *o,
                satisfaction: Some(5),
                evaluation: None,
                suggestions: None,
                issue: None,
                follow_up_on: None,
                note: None,
            };
            c.record_callback(&format!("b{i}"), format!("a{at}"), &by, &r)
        }
        Op::Notes(n) => {
            c.classification.notes = Some(format!("note {n}"));
            Ok(())
        }
        Op::Sync(..) => Ok(()),
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_concurrent_edits_converge_and_keep_invariants(ops in prop::collection::vec(op(), 1..40)) {
        let mut origin = KefuDoc::create(&seeded(), actor_id(9), &author("sup"), T0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut replicas: Vec<KefuDoc> = (0..3).map(|n| fork(&mut origin, n as u8 + 1)).collect();
        for (step, (r, op)) in ops.iter().enumerate() {
            let at = T0 + step as i64 * 1000;
            if let Op::Sync(a, b) = op {
                if a != b {
                    let before_a = ranks(&replicas[*a].read().map_err(|e| TestCaseError::fail(e.to_string()))?);
                    let before_b = ranks(&replicas[*b].read().map_err(|e| TestCaseError::fail(e.to_string()))?);
                    let record_a: CustomerFile = replicas[*a].read().map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let mut other = replicas[*b].clone();
                    replicas[*a].merge(&mut other).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let after: CustomerFile = replicas[*a].read().map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let checked = kefu_model::records::validate_transition(&record_a, &after);
                    prop_assert!(checked.is_ok(), "a merge broke a transition rule: {:?}", checked);
                    let after = ranks(&after);
                    for i in 0..after.len() {
                        prop_assert!(after[i] >= before_a[i] && after[i] >= before_b[i], "status moved backwards in a merge: {:?} vs {:?}/{:?}", after, before_a, before_b);
                    }
                }
            } else {
                apply(&mut replicas[*r], *r, op, at);
            }
            for rep in replicas.iter() {
                let c: CustomerFile = rep.read().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(c.problems().is_empty(), "invariant broken: {}", c.problems());
            }
        }
        // Everyone syncs with everyone: identical state, still valid.
        for a in 0..3 {
            for b in 0..3 {
                if a != b {
                    let mut other = replicas[b].clone();
                    replicas[a].merge(&mut other).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
        }
        let j0 = replicas[0].to_json();
        for rep in replicas.iter_mut().skip(1) {
            prop_assert_eq!(&rep.to_json(), &j0);
        }
        let mut heads: Vec<_> = replicas.iter_mut().map(|r| { let mut h = r.heads(); h.sort(); h }).collect();
        heads.dedup();
        prop_assert_eq!(heads.len(), 1);
        let c: CustomerFile = replicas[0].read().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(c.problems().is_empty(), "merged state invalid: {}", c.problems());
    }
}

#[test]
fn the_json_text_kept_of_a_version_reads_back_as_the_same_record_and_only_as_its_kind() {
    use kefu_model::document::{json_text_of, record_of_json, record_of_json_text};
    use kefu_model::records::roster::Roster;
    let mut doc =
        KefuDoc::create(&customer(), actor_id(1), &author("sup"), T0).unwrap_or_else(|e| panic!("{e}"));
    upd(&mut doc, "agent1", T0 + 1, |c| {
        c.profile.email = Some("wang@example.com".into());
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let text = json_text_of(doc.automerge());
    let from_text: CustomerFile =
        record_of_json_text(DocKind::Customer, &text).unwrap_or_else(|e| panic!("{e}"));
    let from_tree: CustomerFile = record_of_json(&doc.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_text, from_tree);
    assert_eq!(from_text.profile.email.as_deref(), Some("wang@example.com"));
    // Read as another kind, it is refused by kind, not half-read.
    match record_of_json_text::<Roster>(DocKind::Customer, &text) {
        Err(DocError::WrongKind { .. }) => {}
        other => panic!("a customer file read as a roster: {other:?}"),
    }
    // And a text that is not the record says where.
    match record_of_json_text::<CustomerFile>(DocKind::Customer, r#"{"kind":"customer","team":7}"#) {
        Err(DocError::Unreadable(why)) => assert!(why.contains("team"), "{why}"),
        other => panic!("a broken text read as {other:?}"),
    }
}
