//! What part of the organisation a caller may see (issue 17). The rule that gives a caller
//! its reach is `http::access::reach`; this is the reach itself and the filters every
//! answer carrying people's data passes through, so a list, a report and a statement
//! apply one and the same scope.

use std::collections::BTreeSet;

/// Whose data a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Finance and admin: everyone, every team, and what no team owns.
    Everyone,
    /// A manager: the people of their teams. An engineer: themself, and no team.
    Within {
        /// Teams whose figures the caller sees.
        teams: BTreeSet<String>,
        /// People whose data the caller sees.
        people: BTreeSet<String>,
    },
}

impl Reach {
    /// A reach of some teams' people (a manager's).
    pub fn teams(teams: impl IntoIterator<Item = String>, people: impl IntoIterator<Item = String>) -> Reach {
        Reach::Within { teams: teams.into_iter().collect(), people: people.into_iter().collect() }
    }

    /// A reach of one person and no team (an engineer's); `None`: nobody.
    pub fn person(person: Option<String>) -> Reach {
        Reach::Within { teams: BTreeSet::new(), people: person.into_iter().collect() }
    }

    pub fn is_everyone(&self) -> bool {
        matches!(self, Reach::Everyone)
    }

    /// Whether the caller may see this person's data.
    pub fn sees_person(&self, person: &str) -> bool {
        match self {
            Reach::Everyone => true,
            Reach::Within { people, .. } => people.contains(person),
        }
    }

    /// Whether the caller may see a team's figures; `None` (what no team owns) only with
    /// [`Reach::Everyone`].
    pub fn sees_team(&self, team: Option<&str>) -> bool {
        match self {
            Reach::Everyone => true,
            Reach::Within { teams, .. } => team.is_some_and(|team| teams.contains(team)),
        }
    }

    /// The people in reach, `None` for everyone (what a query filters on).
    pub fn people(&self) -> Option<Vec<String>> {
        match self {
            Reach::Everyone => None,
            Reach::Within { people, .. } => Some(people.iter().cloned().collect()),
        }
    }

    /// The teams in reach, `None` for every team.
    pub fn team_list(&self) -> Option<Vec<String>> {
        match self {
            Reach::Everyone => None,
            Reach::Within { teams, .. } => Some(teams.iter().cloned().collect()),
        }
    }

    /// A person named in an answer: kept when in reach, else hidden.
    pub fn redact(&self, person: Option<String>) -> Option<String> {
        person.filter(|person| self.sees_person(person))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_sees_their_teams_people_and_an_engineer_only_themself() {
        let manager = Reach::teams(["payments".to_owned()], ["alice".to_owned(), "ben".to_owned()]);
        assert!(manager.sees_person("ben") && !manager.sees_person("kenji"));
        assert!(manager.sees_team(Some("payments")) && !manager.sees_team(Some("platform")));
        assert!(!manager.sees_team(None), "un-owned figures are not a team's");
        let engineer = Reach::person(Some("alice".to_owned()));
        assert!(engineer.sees_person("alice") && !engineer.sees_person("ben"));
        assert!(!engineer.sees_team(Some("payments")));
        assert_eq!(engineer.redact(Some("ben".to_owned())), None);
        assert_eq!(engineer.redact(Some("alice".to_owned())), Some("alice".to_owned()));
        assert!(Reach::Everyone.sees_team(None) && Reach::Everyone.sees_person("anyone"));
        assert!(!Reach::person(None).sees_person("alice"));
    }
}
