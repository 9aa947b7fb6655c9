//! The OCSF event classes the mappings write: ids, names, and the attributes a valid object
//! of each must hold. Data only; never reads an event.

/// An OCSF event class: its ids, names, and the attributes a valid object must hold.
pub(crate) struct Class {
    pub uid: u64,
    pub name: &'static str,
    pub category_uid: u64,
    pub category_name: &'static str,
    pub required: &'static [&'static str],
    /// Attributes of which the class needs at least one (none when empty).
    pub any_of: &'static [&'static str],
}

pub(crate) const PROCESS_ACTIVITY: Class = Class {
    uid: 1007,
    name: "Process Activity",
    category_uid: 1,
    category_name: "System Activity",
    required: &["actor", "device", "process"],
    any_of: &[],
};
pub(crate) const DETECTION_FINDING: Class = Class {
    uid: 2004,
    name: "Detection Finding",
    category_uid: 2,
    category_name: "Findings",
    required: &["finding_info"],
    any_of: &[],
};
pub(crate) const ACCOUNT_CHANGE: Class = Class {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    category_name: "Identity & Access Management",
    required: &["user"],
    any_of: &[],
};
pub(crate) const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    category_name: "Identity & Access Management",
    required: &["user"],
    // What the user authenticated to.
    any_of: &["service", "dst_endpoint"],
};
pub(crate) const API_ACTIVITY: Class = Class {
    uid: 6003,
    name: "API Activity",
    category_uid: 6,
    category_name: "Application Activity",
    required: &["actor", "api", "src_endpoint"],
    any_of: &[],
};

/// An activity of a class: its `activity_id` and `activity_name`.
pub(crate) type Activity = (u64, &'static str);
