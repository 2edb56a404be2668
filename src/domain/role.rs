//! Who a caller is, as far as permissions go.

use serde::{Deserialize, Serialize};

/// The role of an API token (issue 5): what it may see and do is listed per endpoint in
/// `http::access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Bound to one person: logs their responses, reads pages, their own statement and pay.
    Engineer,
    /// Bound to teams: those teams' people, pay and dashboards.
    Manager,
    /// All pay, exports, closing periods.
    Finance,
    /// People, teams, services, policies, tokens; not pay.
    Admin,
    /// May only deliver pages and shifts.
    Ingest,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Engineer, Role::Manager, Role::Finance, Role::Admin, Role::Ingest];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Engineer => "engineer",
            Role::Manager => "manager",
            Role::Finance => "finance",
            Role::Admin => "admin",
            Role::Ingest => "ingest",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// A caller with a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub token_name: String,
    pub role: Role,
    /// The person an engineer token is bound to.
    pub person: Option<String>,
    /// The teams a manager token is bound to.
    pub teams: Vec<String>,
}

impl Caller {
    /// How the audit log and the ledger name this caller.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_name)
    }
}

/// "an admin", "a finance": the role with its article, for messages.
pub fn with_article(role: Role) -> String {
    let name = role.as_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

#[cfg(test)]
mod article_tests {
    use super::*;

    #[test]
    fn a_role_takes_its_article() {
        assert_eq!(with_article(Role::Admin), "an admin");
        assert_eq!(with_article(Role::Engineer), "an engineer");
        assert_eq!(with_article(Role::Manager), "a manager");
        assert_eq!(with_article(Role::Finance), "a finance");
    }
}
