//! Closed sets of values (enumerations) stored as lowercase snake_case strings.
//!
//! They are strings in the document, not numbers, so a JavaScript client writes
//! `status: "on_site"` and a person reading a raw document understands it. An unknown string
//! makes the record unreadable, with an error naming the field and the allowed values.

use std::fmt;

/// Defines a string enumeration with its serde mapping (the document mapping), Chinese label
/// and the list of allowed values.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal / $zh:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every allowed value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string stored in documents.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The Chinese label shown in the UI.
            pub fn label_zh(&self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// The stored strings of every allowed value, for error messages and docs.
            pub fn allowed() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::enums::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::enums::UnknownValue {
                        kind: stringify!($name),
                        value: other.chars().take(40).collect(),
                        allowed: Self::allowed(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }


        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

/// A string that is not one of an enumeration's allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enumeration's name.
    pub kind: &'static str,
    /// What was found (cut to 40 characters).
    pub value: String,
    /// What is allowed.
    pub allowed: Vec<&'static str>,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a {}; allowed: {}", self.value, self.kind, self.allowed.join(", "))
    }
}

impl std::error::Error for UnknownValue {}

string_enum!(
    /// The kind of a top-level document, stored at its root as `kind`.
    DocKind {
        Customer = "customer" / "客户档案",
        AppearanceCheck = "appearance_check" / "仪容仪表检查",
        AppearanceTemplate = "appearance_template" / "仪容仪表检查模板",
        Attendance = "attendance" / "考勤",
        Roster = "roster" / "排班表",
        Campaign = "campaign" / "回访计划",
    }
);

string_enum!(
    /// A person's role in the department.
    Role {
        Field = "field" / "售后/上门服务",
        Agent = "agent" / "回访专员",
        Supervisor = "supervisor" / "客服主管",
        Admin = "admin" / "管理员",
    }
);

string_enum!(
    /// Where a customer came from.
    SourceChannel {
        Tmall = "tmall" / "天猫",
        Taobao = "taobao" / "淘宝",
        Jd = "jd" / "京东",
        Phone = "phone" / "电话",
        Website = "website" / "网站",
        WalkIn = "walk_in" / "到店",
        Referral = "referral" / "转介绍",
        Other = "other" / "其他",
    }
);

string_enum!(
    /// 意向程度: how likely the customer is to buy.
    IntentLevel {
        High = "high" / "高",
        Medium = "medium" / "中",
        Low = "low" / "低",
        Unknown = "unknown" / "未知",
    }
);

string_enum!(
    /// 购买阶段.
    PurchaseStage {
        Lead = "lead" / "潜在客户",
        Negotiating = "negotiating" / "洽谈中",
        Signed = "signed" / "已签约",
        InService = "in_service" / "服务中",
        AfterSale = "after_sale" / "售后",
        Dormant = "dormant" / "休眠",
    }
);

string_enum!(
    /// The state of an order or project.
    OrderStatus {
        Open = "open" / "进行中",
        Delivered = "delivered" / "已交付",
        Completed = "completed" / "已完成",
        Cancelled = "cancelled" / "已取消",
    }
);

string_enum!(
    /// How a consultation or callback reached the customer.
    ContactChannel {
        Phone = "phone" / "电话",
        Sms = "sms" / "短信",
        Email = "email" / "邮件",
        Wechat = "wechat" / "微信",
        Visit = "visit" / "上门",
        InStore = "in_store" / "到店",
        Online = "online" / "在线",
    }
);

string_enum!(
    /// What came of one callback attempt.
    CallbackOutcome {
        Satisfied = "satisfied" / "满意",
        IssueRaised = "issue_raised" / "提出问题",
        NoAnswer = "no_answer" / "无人接听",
        WrongNumber = "wrong_number" / "号码错误",
        Refused = "refused" / "拒绝回访",
        FollowUpNeeded = "follow_up_needed" / "需跟进",
    }
);

impl CallbackOutcome {
    /// Whether this outcome means the customer was reached.
    pub fn reached(&self) -> bool {
        matches!(
            self,
            CallbackOutcome::Satisfied
                | CallbackOutcome::IssueRaised
                | CallbackOutcome::Refused
                | CallbackOutcome::FollowUpNeeded
        )
    }
}

string_enum!(
    /// Why a field visit (售后上门) is made.
    VisitReason {
        QualityComplaint = "quality_complaint" / "质量投诉",
        Repair = "repair" / "维修",
        Installation = "installation" / "安装",
        Maintenance = "maintenance" / "保养",
    }
);

string_enum!(
    /// How serious a complaint is.
    Severity {
        Low = "low" / "一般",
        Medium = "medium" / "较重",
        High = "high" / "严重",
        Critical = "critical" / "紧急",
    }
);

string_enum!(
    /// What a complaint is about.
    ComplaintCategory {
        ProductQuality = "product_quality" / "产品质量",
        Service = "service" / "服务态度",
        Delivery = "delivery" / "交付延误",
        Installation = "installation" / "安装问题",
        Billing = "billing" / "费用问题",
        Other = "other" / "其他",
    }
);

string_enum!(
    /// A roster shift (排班).
    Shift {
        /// 早班 08:30–17:30.
        Early = "early" / "早班",
        /// 晚班 15:00–24:00 (runs on while a customer is still served).
        Late = "late" / "晚班",
        /// 休息.
        Rest = "rest" / "休息",
    }
);

impl Shift {
    /// Scheduled start and end in minutes after midnight, `None` for a rest day.
    pub fn hours(&self) -> Option<(i64, i64)> {
        match self {
            Shift::Early => Some((8 * 60 + 30, 17 * 60 + 30)),
            Shift::Late => Some((15 * 60, 24 * 60)),
            Shift::Rest => None,
        }
    }
}

string_enum!(
    /// Whether a clock event starts or ends a shift.
    ClockKind {
        In = "in" / "上班打卡",
        Out = "out" / "下班打卡",
    }
);

string_enum!(
    /// Kinds of leave (请假).
    LeaveKind {
        Personal = "personal" / "事假",
        Sick = "sick" / "病假",
        Annual = "annual" / "年假",
        Other = "other" / "其他",
    }
);

string_enum!(
    /// Who approves a step of a leave request or shift swap.
    Approver {
        Manager = "manager" / "主管",
        Hr = "hr" / "人事",
        GeneralManager = "general_manager" / "总经理",
    }
);

string_enum!(
    /// An approver's answer.
    Decision {
        Approve = "approve" / "批准",
        Reject = "reject" / "驳回",
    }
);

string_enum!(
    /// The result of one appearance-check item.
    CheckResult {
        Pass = "pass" / "合格",
        Fail = "fail" / "不合格",
    }
);

string_enum!(
    /// The three parts of the appearance checklist.
    CheckCategory {
        Dress = "dress" / "服饰着装",
        Bearing = "bearing" / "仪态",
        Grooming = "grooming" / "仪表",
    }
);

string_enum!(
    /// The state of a callback campaign.
    CampaignStatus {
        Draft = "draft" / "草稿",
        Active = "active" / "进行中",
        Ended = "ended" / "已结束",
    }
);
