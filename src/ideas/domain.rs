//! Ideas: statuses and their workflow, who benefits, and the validated input.

use entity::themes;
use uuid::Uuid;

use crate::error::FieldError;
use crate::text::TextField;

pub const TITLE: TextField<'static> = TextField {
    name: "title",
    label: "Title",
    max_chars: 150,
    multiline: false,
    required: Some("Enter a title for your idea"),
};
pub const DESCRIPTION: TextField<'static> = TextField {
    name: "description",
    label: "Description",
    max_chars: 20_000,
    multiline: true,
    required: Some("Describe your idea"),
};
pub const EXPECTED_IMPACT: TextField<'static> = TextField {
    name: "expected_impact",
    label: "Expected impact",
    max_chars: 2_000,
    multiline: true,
    required: Some("Describe the impact you expect"),
};
pub const COMMENT: TextField<'static> = TextField {
    name: "body",
    label: "Comment",
    max_chars: 10_000,
    multiline: true,
    required: Some("Enter your comment"),
};
pub const STATUS_NOTE: TextField<'static> = TextField {
    name: "note",
    label: "Note",
    max_chars: 5_000,
    multiline: true,
    required: Some("Enter a note explaining the change: it is shown publicly"),
};
pub const HIDE_REASON: TextField<'static> = TextField {
    name: "reason",
    label: "Reason",
    max_chars: 1_000,
    multiline: true,
    required: Some("Enter the reason for hiding this comment"),
};

macro_rules! labelled_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($value:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(raw: &str) -> Option<Self> {
                match raw.trim() {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// The label of a stored value, or the value itself when it is
            /// not one of these (a value from an older release).
            pub fn label_of(raw: &str) -> &str {
                Self::parse(raw).map_or(raw, |value| value.label())
            }
        }
    };
}
pub(crate) use labelled_enum;

labelled_enum!(
    /// Where an idea is in the board's process.
    IdeaStatus {
        Submitted => ("submitted", "Submitted"),
        UnderReview => ("under_review", "Under review"),
        Shortlisted => ("shortlisted", "Shortlisted"),
        InProgress => ("in_progress", "In progress"),
        Implemented => ("implemented", "Implemented"),
        Declined => ("declined", "Declined"),
        Duplicate => ("duplicate", "Duplicate"),
    }
);

impl IdeaStatus {
    /// Where the board's decision has been made: nothing awaits action.
    pub const DECIDED: &'static [IdeaStatus] = &[
        IdeaStatus::Implemented,
        IdeaStatus::Declined,
        IdeaStatus::Duplicate,
    ];

    /// The statuses an idea may move to from this one.
    pub fn next(self) -> &'static [IdeaStatus] {
        use IdeaStatus::*;
        match self {
            Submitted => &[UnderReview, Shortlisted, Declined, Duplicate],
            UnderReview => &[Shortlisted, Declined, Duplicate],
            Shortlisted => &[InProgress, UnderReview, Declined],
            InProgress => &[Implemented, Shortlisted, Declined],
            Implemented => &[InProgress],
            Declined => &[UnderReview],
            Duplicate => &[UnderReview],
        }
    }

    /// The NHS tag colour for this status.
    pub fn tag_class(self) -> &'static str {
        use IdeaStatus::*;
        match self {
            Submitted => "nhsuk-tag--white",
            UnderReview => "nhsuk-tag--blue",
            Shortlisted => "nhsuk-tag--purple",
            InProgress => "nhsuk-tag--yellow",
            Implemented => "nhsuk-tag--green",
            Declined => "nhsuk-tag--red",
            Duplicate => "nhsuk-tag--grey",
        }
    }
}

labelled_enum!(
    /// Who an idea would benefit.
    Beneficiary {
        Patients => ("patients", "Patients"),
        Staff => ("staff", "Staff"),
        System => ("system", "The wider system"),
    }
);

labelled_enum!(
    /// How ideas lists are ordered.
    IdeaSort {
        Newest => ("newest", "Newest"),
        MostSupported => ("most_supported", "Most supported"),
        RecentlyUpdated => ("recently_updated", "Recently updated"),
    }
);

/// What someone typed into the idea form or sent to the API.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct IdeaInput {
    pub title: String,
    pub description: String,
    /// Theme slugs.
    pub themes: Vec<String>,
    pub beneficiaries: Vec<String>,
    pub expected_impact: String,
}

/// An idea that passed every rule.
#[derive(Debug, Clone)]
pub struct NewIdea {
    pub title: String,
    pub description: String,
    pub theme_ids: Vec<Uuid>,
    pub beneficiaries: Vec<Beneficiary>,
    pub expected_impact: String,
}

impl IdeaInput {
    /// Checks every field and reports every problem at once.
    pub fn validate(&self, active_themes: &[themes::Model]) -> Result<NewIdea, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = TITLE.check(&self.title, &mut errors);
        let description = DESCRIPTION.check(&self.description, &mut errors);

        let mut theme_ids = Vec::new();
        if self.themes.is_empty() {
            errors.push(FieldError::new("themes", "Select at least one theme"));
        } else if self.themes.len() > active_themes.len().max(1) {
            errors.push(FieldError::new("themes", "Select each theme only once"));
        } else {
            for slug in &self.themes {
                match active_themes.iter().find(|t| t.slug == slug.trim()) {
                    Some(theme) if !theme_ids.contains(&theme.id) => theme_ids.push(theme.id),
                    Some(_) => {}
                    None => {
                        errors.push(FieldError::new("themes", "Select themes from the list"));
                        break;
                    }
                }
            }
        }

        let mut beneficiaries = Vec::new();
        for raw in &self.beneficiaries {
            match Beneficiary::parse(raw) {
                Some(b) if !beneficiaries.contains(&b) => beneficiaries.push(b),
                Some(_) => {}
                None => {
                    errors.push(FieldError::new(
                        "beneficiaries",
                        "Select who benefits from the list",
                    ));
                    break;
                }
            }
        }
        if self.beneficiaries.is_empty() {
            errors.push(FieldError::new(
                "beneficiaries",
                "Select who would benefit: patients, staff or the wider system",
            ));
        }
        let expected_impact = EXPECTED_IMPACT.check(&self.expected_impact, &mut errors);

        match (title, description, expected_impact) {
            (Some(title), Some(description), Some(expected_impact)) if errors.is_empty() => {
                beneficiaries.sort_by_key(|b| Beneficiary::ALL.iter().position(|x| x == b));
                Ok(NewIdea {
                    title,
                    description,
                    theme_ids,
                    beneficiaries,
                    expected_impact,
                })
            }
            _ => Err(errors),
        }
    }
}

pub fn beneficiaries_to_column(list: &[Beneficiary]) -> String {
    list.iter()
        .map(|b| b.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn beneficiaries_from_column(column: &str) -> Vec<Beneficiary> {
    column.split(',').filter_map(Beneficiary::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn theme(slug: &str) -> themes::Model {
        themes::Model {
            id: Uuid::now_v7(),
            slug: slug.into(),
            name: slug.into(),
            active: true,
            position: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn input() -> IdeaInput {
        IdeaInput {
            title: "Shared care records".into(),
            description: "Let **every** trust read them.".into(),
            themes: vec!["interoperability".into()],
            beneficiaries: vec!["staff".into(), "patients".into()],
            expected_impact: "Fewer repeated tests".into(),
        }
    }

    #[test]
    fn a_complete_idea_is_accepted() {
        let themes = [theme("interoperability")];
        let idea = input().validate(&themes).expect("valid");
        assert_eq!(idea.theme_ids, vec![themes[0].id]);
        assert_eq!(
            idea.beneficiaries,
            vec![Beneficiary::Patients, Beneficiary::Staff]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let bad = IdeaInput {
            title: "x".repeat(151),
            description: String::new(),
            themes: vec!["nope".into()],
            beneficiaries: vec![],
            expected_impact: "NHS 943 476 5919".into(),
        };
        let errors = bad.validate(&[theme("interoperability")]).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "description",
                "themes",
                "beneficiaries",
                "expected_impact"
            ]
        );
    }

    #[test]
    fn the_workflow_never_returns_to_the_same_status() {
        for status in IdeaStatus::ALL {
            assert!(!status.next().contains(status), "{status:?}");
            assert_eq!(IdeaStatus::parse(status.as_str()), Some(*status));
        }
    }
}
