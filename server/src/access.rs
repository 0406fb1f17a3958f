//! Who may read, write and create which documents (`docs/access.md` is the same table in
//! words). A pure function of the signed-in principal and what the server knows about the
//! document from its projection, so the sync endpoint, the manifest and the supervisor API all
//! ask the same question the same way.

use kefu_model::enums::{DocKind, Role};

use crate::auth::Principal;

/// What the server knows about a document (from its projection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    /// Kind.
    pub kind: DocKind,
    /// Owning team.
    pub team: String,
    /// Customer files: the responsible agent.
    pub agent: Option<String>,
    /// Customer files: the responsible field staff.
    pub field_staff: Option<String>,
    /// Attendance: whose month it is.
    pub staff: Option<String>,
}

/// Access to one document. `None` is indistinguishable, to the client, from "does not exist".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No access.
    None,
    /// May read (sync down); changes sent are not applied.
    Read,
    /// May read and write.
    Write,
}

fn same_team(p: &Principal, doc: &DocMeta) -> bool {
    p.team.as_deref() == Some(doc.team.as_str())
}

/// The access `p` has to an existing document.
pub fn access(p: &Principal, doc: &DocMeta) -> Access {
    let me = Some(p.user_id.as_str());
    match p.role {
        Role::Admin => Access::None,
        Role::Supervisor if same_team(p, doc) => Access::Write,
        Role::Supervisor => Access::None,
        Role::Agent | Role::Field if !same_team(p, doc) => Access::None,
        Role::Agent | Role::Field => match doc.kind {
            DocKind::Customer => {
                let assigned = if p.role == Role::Agent {
                    doc.agent.as_deref() == me
                } else {
                    doc.field_staff.as_deref() == me
                };
                if assigned {
                    Access::Write
                } else {
                    Access::None
                }
            }
            DocKind::Attendance if doc.staff.as_deref() == me => Access::Write,
            DocKind::Roster | DocKind::AppearanceTemplate => Access::Read,
            DocKind::Attendance | DocKind::AppearanceCheck | DocKind::Campaign => Access::None,
        },
    }
}

/// Whether `p` may create a new document with this content.
pub fn may_create(p: &Principal, doc: &DocMeta) -> bool {
    let me = Some(p.user_id.as_str());
    match p.role {
        Role::Admin => false,
        Role::Supervisor => same_team(p, doc),
        // An agent takes new customers (by phone, from a shop); creating one makes it theirs
        // only when the file names them, so they keep access to what they created.
        Role::Agent => {
            same_team(p, doc)
                && match doc.kind {
                    DocKind::Customer => doc.agent.as_deref() == me,
                    DocKind::Attendance => doc.staff.as_deref() == me,
                    _ => false,
                }
        }
        Role::Field => same_team(p, doc) && doc.kind == DocKind::Attendance && doc.staff.as_deref() == me,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, role: Role, team: &str) -> Principal {
        Principal { user_id: user.into(), device_id: "d".into(), role, team: Some(team.into()) }
    }

    fn customer(team: &str, agent: Option<&str>, field: Option<&str>) -> DocMeta {
        DocMeta {
            kind: DocKind::Customer,
            team: team.into(),
            agent: agent.map(Into::into),
            field_staff: field.map(Into::into),
            staff: None,
        }
    }

    fn keyed(kind: DocKind, team: &str, staff: Option<&str>) -> DocMeta {
        DocMeta { kind, team: team.into(), agent: None, field_staff: None, staff: staff.map(Into::into) }
    }

    #[test]
    fn field_staff_see_their_assigned_customers_and_own_attendance() {
        let zhang = who("zhang", Role::Field, "A");
        assert_eq!(access(&zhang, &customer("A", Some("li"), Some("zhang"))), Access::Write);
        assert_eq!(
            access(&zhang, &customer("A", Some("zhang"), Some("wu"))),
            Access::None,
            "agent field is not theirs"
        );
        assert_eq!(access(&zhang, &customer("B", None, Some("zhang"))), Access::None, "another team");
        assert_eq!(access(&zhang, &keyed(DocKind::Attendance, "A", Some("zhang"))), Access::Write);
        assert_eq!(access(&zhang, &keyed(DocKind::Attendance, "A", Some("wu"))), Access::None);
        assert_eq!(access(&zhang, &keyed(DocKind::Roster, "A", None)), Access::Read);
        assert_eq!(access(&zhang, &keyed(DocKind::Roster, "B", None)), Access::None);
        assert_eq!(access(&zhang, &keyed(DocKind::Campaign, "A", None)), Access::None);
        assert!(may_create(&zhang, &keyed(DocKind::Attendance, "A", Some("zhang"))));
        assert!(!may_create(&zhang, &customer("A", None, Some("zhang"))));
    }

    #[test]
    fn agents_see_their_customers_and_may_create_their_own() {
        let li = who("li", Role::Agent, "A");
        assert_eq!(access(&li, &customer("A", Some("li"), None)), Access::Write);
        assert_eq!(access(&li, &customer("A", Some("wang"), Some("li"))), Access::None);
        assert!(may_create(&li, &customer("A", Some("li"), None)));
        assert!(!may_create(&li, &customer("A", Some("wang"), None)), "not on someone else's behalf");
        assert!(!may_create(&li, &customer("B", Some("li"), None)));
        assert!(!may_create(&li, &keyed(DocKind::Roster, "A", None)));
    }

    #[test]
    fn supervisors_see_their_team_and_admins_no_records() {
        let sup = who("sup", Role::Supervisor, "A");
        for kind in DocKind::ALL {
            assert_eq!(access(&sup, &keyed(*kind, "A", None)), Access::Write, "{kind}");
            assert_eq!(access(&sup, &keyed(*kind, "B", None)), Access::None, "{kind}");
            assert!(may_create(&sup, &keyed(*kind, "A", None)));
        }
        let admin =
            Principal { user_id: "root".into(), device_id: "d".into(), role: Role::Admin, team: None };
        assert_eq!(access(&admin, &customer("A", None, None)), Access::None);
        assert!(!may_create(&admin, &customer("A", None, None)));
        let no_team = Principal { team: None, ..who("x", Role::Supervisor, "A") };
        assert_eq!(access(&no_team, &customer("A", None, None)), Access::None);
    }
}
