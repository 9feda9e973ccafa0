//! Consultations: who they are for, where they are in their life, the kinds
//! of question, consent, dispositions, and the validated input.

use chrono::{DateTime, Utc};
use entity::consultations;

use crate::error::FieldError;
use crate::ideas::domain::labelled_enum;
use crate::text::TextField;

labelled_enum!(
    /// Who a consultation asks.
    AudienceGroup {
        Everyone => ("everyone", "Everyone"),
        NhsStaff => ("nhs_staff", "NHS staff"),
        Supplier => ("supplier", "Suppliers"),
        Expert => ("expert", "Technology experts"),
    }
);

/// The groups a consultation asks: everyone, or some of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<AudienceGroup>);

impl Audience {
    pub fn parse(raw: &[String]) -> Result<Self, &'static str> {
        let mut groups = Vec::new();
        for value in raw {
            let group = AudienceGroup::parse(value).ok_or("Choose who the consultation is for")?;
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        if groups.is_empty() {
            return Err("Choose who the consultation is for");
        }
        if groups.contains(&AudienceGroup::Everyone) {
            groups = vec![AudienceGroup::Everyone];
        }
        Ok(Self(groups))
    }

    pub fn from_column(raw: &str) -> Self {
        let groups: Vec<String> = raw.split(',').map(str::to_owned).collect();
        Self::parse(&groups).unwrap_or(Self(vec![AudienceGroup::Everyone]))
    }

    pub fn to_column(&self) -> String {
        self.values().join(",")
    }

    pub fn values(&self) -> Vec<&'static str> {
        self.0.iter().map(|g| g.as_str()).collect()
    }

    /// "NHS staff and suppliers".
    pub fn label(&self) -> String {
        let labels: Vec<&str> = self.0.iter().map(|g| g.label()).collect();
        match labels.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{} and {}", rest.join(", "), last.to_lowercase()),
        }
    }

    /// Whether someone of this respondent type may respond.
    pub fn admits(&self, respondent_type: Option<&str>) -> bool {
        self.0.iter().any(|g| match g {
            AudienceGroup::Everyone => true,
            group => respondent_type == Some(group.as_str()),
        })
    }
}

labelled_enum!(
    /// Where a consultation is in its life.
    Phase {
        Draft => ("draft", "Draft"),
        Upcoming => ("upcoming", "Opens soon"),
        Open => ("open", "Open"),
        Closed => ("closed", "Closed"),
        OutcomePublished => ("outcome_published", "Outcome published"),
    }
);

impl Phase {
    pub fn of(consultation: &consultations::Model, now: DateTime<Utc>) -> Phase {
        match consultation.status.as_str() {
            "draft" => Phase::Draft,
            "outcome_published" => Phase::OutcomePublished,
            _ if now < consultation.opens_at => Phase::Upcoming,
            _ if now < consultation.closes_at => Phase::Open,
            _ => Phase::Closed,
        }
    }

    pub fn tag_class(self) -> &'static str {
        match self {
            Phase::Draft => "nhsuk-tag--grey",
            Phase::Upcoming => "nhsuk-tag--blue",
            Phase::Open => "nhsuk-tag--green",
            Phase::Closed => "nhsuk-tag--yellow",
            Phase::OutcomePublished => "nhsuk-tag--purple",
        }
    }

    /// Whether anyone but the board may see it.
    pub fn is_public(self) -> bool {
        self != Phase::Draft
    }
}

labelled_enum!(
    /// The kinds of question a consultation asks.
    QuestionKind {
        FreeText => ("free_text", "Free text"),
        SingleChoice => ("single_choice", "Single choice"),
        MultiChoice => ("multi_choice", "Multiple choice"),
        AgreementScale => ("agreement_scale", "Agreement scale (5 points)"),
    }
);

impl QuestionKind {
    pub fn has_options(self) -> bool {
        matches!(self, QuestionKind::SingleChoice | QuestionKind::MultiChoice)
    }
}

/// The five points of the agreement scale, stored as 1 to 5.
pub const AGREEMENT: [&str; 5] = [
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
];

labelled_enum!(
    /// What a respondent allows the board to publish.
    Consent {
        Named => ("named", "Publish my response with my name"),
        Anonymous => ("anonymous", "Publish my response without my name"),
        Private => ("private", "Do not publish my response"),
    }
);

impl Consent {
    pub fn publishable(self) -> bool {
        self != Consent::Private
    }
}

labelled_enum!(
    /// Whom a response speaks for.
    Capacity {
        Individual => ("individual", "As an individual"),
        Organisation => ("organisation", "On behalf of an organisation"),
    }
);

labelled_enum!(
    /// The HL7 ballot dispositions the board records on every section comment.
    Disposition {
        Accepted => ("accepted", "Accepted"),
        AcceptedWithModification => ("accepted_with_modification", "Accepted with modification"),
        Deferred => ("deferred", "Deferred"),
        NotAccepted => ("not_accepted", "Not accepted"),
        NotRelated => ("not_related", "Not related"),
        PreviouslyConsidered => ("previously_considered", "Previously considered"),
        Noted => ("noted", "Noted"),
    }
);

labelled_enum!(
    /// Whether a response has been sent.
    ResponseStatus {
        Draft => ("draft", "Draft"),
        Submitted => ("submitted", "Submitted"),
    }
);

pub const TITLE: TextField<'static> = TextField {
    name: "title",
    label: "Title",
    max_chars: 200,
    multiline: false,
    required: Some("Enter a title for the consultation"),
};
pub const SUMMARY: TextField<'static> = TextField {
    name: "summary",
    label: "Summary",
    max_chars: 2_000,
    multiline: true,
    required: Some("Enter a summary of what is proposed"),
};
/// The request body limit is 256 KiB; a document must fit in one form.
pub const DOCUMENT: TextField<'static> = TextField {
    name: "document",
    label: "Proposed standard",
    max_chars: 100_000,
    multiline: true,
    required: Some("Enter the proposed standard in Markdown"),
};
pub const CHANGE_SUMMARY: TextField<'static> = TextField {
    name: "change_summary",
    label: "Summary of changes",
    max_chars: 5_000,
    multiline: true,
    required: Some("Say what changed in this version"),
};
pub const PROMPT: TextField<'static> = TextField {
    name: "prompt",
    label: "Question",
    max_chars: 500,
    multiline: false,
    required: Some("Enter the question"),
};
pub const HELP_TEXT: TextField<'static> = TextField {
    name: "help_text",
    label: "Help text",
    max_chars: 1_000,
    multiline: true,
    required: None,
};
pub const ANSWER: TextField<'static> = TextField {
    name: "answer",
    label: "Answer",
    max_chars: 20_000,
    multiline: true,
    required: None,
};
pub const SECTION_COMMENT: TextField<'static> = TextField {
    name: "comment",
    label: "Comment",
    max_chars: 20_000,
    multiline: true,
    required: None,
};
pub const ORGANISATION: TextField<'static> = TextField {
    name: "organisation_name",
    label: "Organisation",
    max_chars: 200,
    multiline: false,
    required: Some("Enter the name of the organisation you respond for"),
};
pub const PRODUCTS_AFFECTED: TextField<'static> = TextField {
    name: "products_affected",
    label: "Products affected",
    max_chars: 2_000,
    multiline: true,
    required: Some("Name the products or services this standard would affect"),
};
pub const COMMERCIAL_INTEREST: TextField<'static> = TextField {
    name: "commercial_interest",
    label: "Commercial interest",
    max_chars: 2_000,
    multiline: true,
    required: Some("Describe your commercial interest in this standard"),
};
pub const RATIONALE: TextField<'static> = TextField {
    name: "rationale",
    label: "Rationale",
    max_chars: 5_000,
    multiline: true,
    required: Some("Explain the decision: it is published in the outcome"),
};
pub const REDACTION_REASON: TextField<'static> = TextField {
    name: "reason",
    label: "Reason",
    max_chars: 1_000,
    multiline: true,
    required: Some("Record why the response is redacted"),
};
pub const OUTCOME_SUMMARY: TextField<'static> = TextField {
    name: "outcome_summary",
    label: "Outcome summary",
    max_chars: 20_000,
    multiline: true,
    required: Some("Summarise what the board decided and why"),
};

pub const MAX_QUESTIONS: usize = 50;
pub const MAX_OPTIONS: usize = 20;
const MAX_OPTION_CHARS: usize = 200;

/// The details of a consultation as typed or sent.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConsultationInput {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub audience: Vec<String>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub document: String,
}

/// Checked details.
#[derive(Debug, Clone)]
pub struct ConsultationDetails {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub audience: Audience,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub document: String,
}

/// A slug: lower-case letters, digits and single hyphens.
pub fn check_slug(raw: &str) -> Result<String, &'static str> {
    let slug = raw.trim().to_lowercase();
    if slug.is_empty() {
        return Err("Enter a short name for the web address, for example api-access-standard");
    }
    let valid = slug.len() <= 80
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if slug == "new" {
        Err("That short name is taken by the site itself. Choose another")
    } else if valid {
        Ok(slug)
    } else {
        Err("The short name must be up to 80 lower-case letters, digits and single hyphens")
    }
}

impl ConsultationInput {
    /// Every problem at once; `time_errors` are problems found while reading
    /// typed dates, reported beside the others.
    pub fn validate(
        &self,
        time_errors: Vec<FieldError>,
    ) -> Result<ConsultationDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let slug = check_slug(&self.slug)
            .map_err(|m| errors.push(FieldError::new("slug", m)))
            .ok();
        let title = TITLE.check(&self.title, &mut errors);
        let summary = SUMMARY.check(&self.summary, &mut errors);
        let audience = Audience::parse(&self.audience)
            .map_err(|m| errors.push(FieldError::new("audience", m)))
            .ok();
        let document = DOCUMENT.check(&self.document, &mut errors);
        if let Some(doc) = &document
            && crate::markdown::sections(doc).is_empty()
        {
            errors.push(FieldError::new(
                "document",
                "The proposed standard needs at least one section: start a line with # and a heading",
            ));
        }
        let has_time_errors = !time_errors.is_empty();
        errors.extend(time_errors);
        if !has_time_errors {
            if self.opens_at.is_none() {
                errors.push(FieldError::new(
                    "opens_at",
                    "Enter when the consultation opens",
                ));
            }
            if self.closes_at.is_none() {
                errors.push(FieldError::new(
                    "closes_at",
                    "Enter when the consultation closes",
                ));
            }
        }
        if let (Some(opens), Some(closes)) = (self.opens_at, self.closes_at)
            && closes <= opens
        {
            errors.push(FieldError::new(
                "closes_at",
                "The closing time must be after the opening time",
            ));
        }
        match (
            slug,
            title,
            summary,
            audience,
            document,
            self.opens_at,
            self.closes_at,
        ) {
            (
                Some(slug),
                Some(title),
                Some(summary),
                Some(audience),
                Some(document),
                Some(opens_at),
                Some(closes_at),
            ) if errors.is_empty() => Ok(ConsultationDetails {
                slug,
                title,
                summary,
                audience,
                opens_at,
                closes_at,
                document,
            }),
            _ => Err(errors),
        }
    }
}

/// A question as typed or sent.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct QuestionInput {
    pub kind: String,
    pub prompt: String,
    pub help_text: String,
    pub required: bool,
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct QuestionDetails {
    pub kind: QuestionKind,
    pub prompt: String,
    pub help_text: String,
    pub required: bool,
    pub options: Vec<String>,
}

impl QuestionInput {
    pub fn validate(&self) -> Result<QuestionDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = QuestionKind::parse(&self.kind);
        if kind.is_none() {
            errors.push(FieldError::new("kind", "Choose the kind of question"));
        }
        let prompt = PROMPT.check(&self.prompt, &mut errors);
        let help_text = HELP_TEXT
            .check(&self.help_text, &mut errors)
            .unwrap_or_default();
        let mut options: Vec<String> = Vec::new();
        for option in self
            .options
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            if option.chars().count() > MAX_OPTION_CHARS || option.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "options",
                    format!("Each option must be one line of up to {MAX_OPTION_CHARS} characters"),
                ));
                break;
            }
            if !options.iter().any(|o| o == option) {
                options.push(option.to_owned());
            }
        }
        if let Some(kind) = kind {
            if kind.has_options() && options.len() < 2 {
                errors.push(FieldError::new(
                    "options",
                    "Give at least 2 options, one per line",
                ));
            } else if options.len() > MAX_OPTIONS {
                errors.push(FieldError::new(
                    "options",
                    format!("Give at most {MAX_OPTIONS} options"),
                ));
            }
            if !kind.has_options() {
                options.clear();
            }
        }
        match (kind, prompt) {
            (Some(kind), Some(prompt)) if errors.is_empty() => Ok(QuestionDetails {
                kind,
                prompt,
                help_text,
                required: self.required,
                options,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_admit_their_groups_and_everyone_admits_all() {
        let suppliers = Audience::parse(&["supplier".into(), "expert".into()]).unwrap();
        assert!(suppliers.admits(Some("supplier")));
        assert!(suppliers.admits(Some("expert")));
        assert!(!suppliers.admits(Some("nhs_staff")));
        assert!(!suppliers.admits(None));
        assert_eq!(suppliers.label(), "Suppliers and technology experts");
        let everyone = Audience::parse(&["supplier".into(), "everyone".into()]).unwrap();
        assert_eq!(everyone.to_column(), "everyone");
        assert!(everyone.admits(None));
        assert!(Audience::parse(&[]).is_err());
        assert!(Audience::parse(&["martians".into()]).is_err());
    }

    #[test]
    fn slugs_are_short_lower_case_and_hyphenated() {
        assert_eq!(check_slug(" API-Access "), Ok("api-access".into()));
        assert!(check_slug("api access").is_err());
        assert!(check_slug("-api").is_err());
        assert!(check_slug("a--b").is_err());
        assert!(check_slug(&"a".repeat(81)).is_err());
    }

    #[test]
    fn questions_need_a_kind_a_prompt_and_options_for_choices() {
        let q = QuestionInput {
            kind: "single_choice".into(),
            prompt: "Which?".into(),
            options: vec!["A".into(), " ".into(), "A".into()],
            ..Default::default()
        };
        let errors = q.validate().unwrap_err();
        assert_eq!(errors[0].field, "options");
        let q = QuestionInput {
            kind: "agreement_scale".into(),
            prompt: "Agree?".into(),
            options: vec!["ignored".into()],
            ..Default::default()
        };
        assert!(q.validate().unwrap().options.is_empty());
        let errors = QuestionInput::default().validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "prompt"]);
    }

    #[test]
    fn closing_must_follow_opening() {
        let input = ConsultationInput {
            slug: "x".into(),
            title: "T".into(),
            summary: "S".into(),
            audience: vec!["everyone".into()],
            opens_at: Some("2026-12-02T00:00:00Z".parse().unwrap()),
            closes_at: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            document: "# One\n\nText".into(),
        };
        let errors = input.validate(Vec::new()).unwrap_err();
        assert_eq!(errors[0].field, "closes_at");
    }
}
