//! The checks on what a respondent sends: each answer against its question,
//! their details, and what submission needs (shared with the import).

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use super::{ResponseDetail, ResponseInput, answer_field};
use crate::auth::domain::RespondentType;
use crate::consultations::authoring::{ConsultationView, Question};
use crate::consultations::domain::{
    ANSWER, COMMERCIAL_INTEREST, Capacity, Consent, ORGANISATION, PRODUCTS_AFFECTED, QuestionKind,
    SECTION_COMMENT,
};
use crate::error::{AppError, FieldError};

/// Comments by section anchor of the current version, checked: the
/// anchor, the heading as it reads now, and the text ("" removes it).
pub(super) fn check_comments(
    view: &ConsultationView,
    comments: &[(String, String)],
    errors: &mut Vec<FieldError>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (anchor, text) in comments {
        let field = format!("comments.{anchor}");
        let Some(section) = view.section(anchor) else {
            errors.push(FieldError::new(
                field,
                "There is no section with this anchor in the current version",
            ));
            continue;
        };
        let checked = crate::text::TextField {
            name: &field,
            ..SECTION_COMMENT
        }
        .check(text, errors);
        out.push((
            anchor.clone(),
            section.title.clone(),
            checked.unwrap_or_default(),
        ));
    }
    out
}

/// Checked answers ready to store, by question id ("" means no answer).
pub(super) fn check_answers(
    questions: &[Question],
    input: &ResponseInput,
    errors: &mut Vec<FieldError>,
) -> HashMap<Uuid, String> {
    let mut out = HashMap::new();
    for unknown in input
        .answers
        .keys()
        .filter(|id| !questions.iter().any(|q| q.model.id == **id))
    {
        errors.push(FieldError::new(
            answer_field(*unknown),
            "There is no such question in this consultation",
        ));
    }
    for question in questions {
        let field = answer_field(question.model.id);
        let given: Vec<&str> = input
            .answers
            .get(&question.model.id)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let value = match question.kind {
            QuestionKind::FreeText => {
                let text = given.join("\n");
                let field_def = crate::text::TextField {
                    name: &field,
                    ..ANSWER
                };
                field_def.check(&text, errors).unwrap_or_default()
            }
            QuestionKind::SingleChoice => match given.as_slice() {
                [] => String::new(),
                [one] if question.options.iter().any(|o| o == one) => (*one).to_owned(),
                _ => {
                    errors.push(FieldError::new(&field, "Choose one of the options"));
                    String::new()
                }
            },
            QuestionKind::MultiChoice => {
                if given
                    .iter()
                    .all(|g| question.options.iter().any(|o| o == g))
                {
                    // Kept in the order the question lists them.
                    let chosen: Vec<&String> = question
                        .options
                        .iter()
                        .filter(|o| given.contains(&o.as_str()))
                        .collect();
                    if chosen.is_empty() {
                        String::new()
                    } else {
                        json!(chosen).to_string()
                    }
                } else {
                    errors.push(FieldError::new(&field, "Choose from the options given"));
                    String::new()
                }
            }
            QuestionKind::AgreementScale => match given.as_slice() {
                [] => String::new(),
                [one] if matches!(*one, "1" | "2" | "3" | "4" | "5") => (*one).to_owned(),
                _ => {
                    errors.push(FieldError::new(&field, "Choose a point on the scale from 1 (strongly disagree) to 5 (strongly agree)"));
                    String::new()
                }
            },
        };
        out.insert(question.model.id, value);
    }
    out
}

/// The respondent's details, checked as far as a draft needs.
pub(super) struct About {
    pub(super) capacity: String,
    pub(super) organisation_name: Option<String>,
    pub(super) interests_declared: Option<bool>,
    pub(super) products_affected: String,
    pub(super) commercial_interest: String,
    pub(super) consent: String,
}

pub(super) fn check_about(input: &ResponseInput, errors: &mut Vec<FieldError>) -> About {
    let capacity = match input.capacity.trim() {
        "" => String::new(),
        raw => match Capacity::parse(raw) {
            Some(c) => c.as_str().to_owned(),
            None => {
                errors.push(FieldError::new(
                    "capacity",
                    "Choose whether you respond as an individual or for an organisation",
                ));
                String::new()
            }
        },
    };
    let organisation_name = if capacity == Capacity::Organisation.as_str() {
        let optional = crate::text::TextField {
            required: None,
            ..ORGANISATION
        };
        optional.check(&input.organisation_name, errors)
    } else {
        None
    };
    let consent = match input.consent.trim() {
        "" => String::new(),
        raw => match Consent::parse(raw) {
            Some(c) => c.as_str().to_owned(),
            None => {
                errors.push(FieldError::new(
                    "consent",
                    "Choose whether and how your response may be published",
                ));
                String::new()
            }
        },
    };
    let interests_declared = match input.interests.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let (products_affected, commercial_interest) = if interests_declared == Some(true) {
        let optional = |f: crate::text::TextField<'static>| crate::text::TextField {
            required: None,
            ..f
        };
        (
            optional(PRODUCTS_AFFECTED)
                .check(&input.products_affected, errors)
                .unwrap_or_default(),
            optional(COMMERCIAL_INTEREST)
                .check(&input.commercial_interest, errors)
                .unwrap_or_default(),
        )
    } else {
        (String::new(), String::new())
    };
    if !matches!(input.interests.trim(), "" | "yes" | "no") {
        errors.push(FieldError::new("interests", "Answer yes or no"));
    }
    About {
        capacity,
        organisation_name,
        interests_declared,
        products_affected,
        commercial_interest,
        consent,
    }
}

/// What submission needs, whether the response is stored or imported.
pub(super) struct Completeness<'a> {
    capacity: &'a str,
    organisation_name: Option<&'a str>,
    respondent_type: &'a str,
    interests_declared: Option<bool>,
    products_affected: &'a str,
    commercial_interest: &'a str,
    consent: &'a str,
    answered: &'a dyn Fn(Uuid) -> bool,
    any_answer: bool,
    any_comment: bool,
}

/// Every reason a response cannot be submitted yet.
fn missing(view: &ConsultationView, c: &Completeness<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if Capacity::parse(c.capacity).is_none() {
        errors.push(FieldError::new(
            "capacity",
            "Choose whether you respond as an individual or for an organisation",
        ));
    }
    if c.capacity == Capacity::Organisation.as_str() && c.organisation_name.is_none() {
        errors.push(FieldError::new(
            "organisation_name",
            ORGANISATION.required.unwrap_or_default(),
        ));
    }
    let supplier = c.respondent_type == RespondentType::Supplier.as_str();
    if supplier && c.interests_declared.is_none() {
        errors.push(FieldError::new(
            "interests",
            "Say whether this standard would affect your products or your commercial interests",
        ));
    }
    if supplier && c.interests_declared == Some(true) {
        if c.products_affected.is_empty() {
            errors.push(FieldError::new(
                "products_affected",
                PRODUCTS_AFFECTED.required.unwrap_or_default(),
            ));
        }
        if c.commercial_interest.is_empty() {
            errors.push(FieldError::new(
                "commercial_interest",
                COMMERCIAL_INTEREST.required.unwrap_or_default(),
            ));
        }
    }
    if Consent::parse(c.consent).is_none() {
        errors.push(FieldError::new(
            "consent",
            "Choose whether and how your response may be published",
        ));
    }
    for question in view.questions.iter().filter(|q| q.model.required) {
        if !(c.answered)(question.model.id) {
            errors.push(FieldError::new(
                answer_field(question.model.id),
                format!(
                    "Answer question {}: {}",
                    question.number(),
                    question.model.prompt
                ),
            ));
        }
    }
    if !c.any_answer && !c.any_comment {
        errors.push(FieldError::new(
            "answers",
            "Answer at least one question or comment on a section of the proposed standard",
        ));
    }
    errors
}

pub(super) fn check_complete(
    view: &ConsultationView,
    detail: &ResponseDetail,
) -> Result<(), AppError> {
    let r = &detail.response;
    let answered = |id: Uuid| detail.answers.contains_key(&id);
    let errors = missing(
        view,
        &Completeness {
            capacity: &r.capacity,
            organisation_name: r.organisation_name.as_deref(),
            respondent_type: &r.respondent_type,
            interests_declared: r.interests_declared,
            products_affected: &r.products_affected,
            commercial_interest: &r.commercial_interest,
            consent: &r.consent,
            answered: &answered,
            any_answer: !detail.answers.is_empty(),
            any_comment: !detail.comments.is_empty(),
        },
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// The checks an imported row gets: those of a saved draft and of submission.
pub(in crate::consultations) fn check_import(
    view: &ConsultationView,
    input: &ResponseInput,
    respondent_type: &str,
    any_comment: bool,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let about = check_about(input, &mut errors);
    let answers = check_answers(&view.questions, input, &mut errors);
    let answered = |id: Uuid| answers.get(&id).is_some_and(|v| !v.is_empty());
    errors.extend(missing(
        view,
        &Completeness {
            capacity: &about.capacity,
            organisation_name: about.organisation_name.as_deref(),
            respondent_type,
            interests_declared: about.interests_declared,
            products_affected: &about.products_affected,
            commercial_interest: &about.commercial_interest,
            consent: &about.consent,
            answered: &answered,
            any_answer: answers.values().any(|v| !v.is_empty()),
            any_comment,
        },
    ));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The answers of a checked input as stored.
pub(in crate::consultations) fn stored_answers(
    view: &ConsultationView,
    input: &ResponseInput,
) -> HashMap<Uuid, String> {
    check_answers(&view.questions, input, &mut Vec::new())
}
