//! The emails respondents get: a receipt with a copy of their response, a
//! link to carry on with a draft, and word that the outcome is published.

use askama::Template;
use entity::consultations;

use super::authoring::ConsultationView;
use super::domain::{Capacity, Consent};
use super::responding::{ResponseDetail, readable};
use crate::email::OutgoingEmail;
use crate::error::AppError;

/// One question or section and what the respondent wrote.
pub struct Entry {
    pub heading: String,
    pub text: String,
}

/// The response as the respondent wrote it, in the order of the page.
pub fn entries(view: &ConsultationView, detail: &ResponseDetail) -> Vec<Entry> {
    let mut out = Vec::new();
    for question in &view.questions {
        if let Some(answer) = detail.answers.get(&question.model.id) {
            out.push(Entry {
                heading: format!("Question {}: {}", question.number(), question.model.prompt),
                text: readable(question.kind, &answer.value),
            });
        }
    }
    for comment in &detail.comments {
        out.push(Entry {
            heading: format!(
                "Comment on \"{}\" (version {})",
                comment.section_title, comment.version_number
            ),
            text: comment.body.clone(),
        });
    }
    out
}

#[derive(Template)]
#[template(path = "email/consultation_receipt.txt")]
struct ReceiptText<'a> {
    title: &'a str,
    closes: String,
    capacity: &'a str,
    organisation: Option<&'a str>,
    consent: &'a str,
    entries: &'a [Entry],
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_receipt.html")]
struct ReceiptHtml<'a> {
    title: &'a str,
    closes: String,
    capacity: &'a str,
    organisation: Option<&'a str>,
    consent: &'a str,
    entries: &'a [Entry],
    link: &'a str,
}

pub fn receipt(
    to: &str,
    view: &ConsultationView,
    detail: &ResponseDetail,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let entries = entries(view, detail);
    let r = &detail.response;
    let title = view.consultation.title.as_str();
    let closes = crate::uk_time::display(view.consultation.closes_at);
    let capacity = Capacity::parse(&r.capacity).map_or("", Capacity::label);
    let consent = Consent::parse(&r.consent).map_or("", Consent::label);
    let organisation = r.organisation_name.as_deref();
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: format!("Your response to {title}"),
        text: ReceiptText {
            title,
            closes: closes.clone(),
            capacity,
            organisation,
            consent,
            entries: &entries,
            link,
        }
        .render()
        .map_err(AppError::internal)?,
        html: Some(
            ReceiptHtml {
                title,
                closes,
                capacity,
                organisation,
                consent,
                entries: &entries,
                link,
            }
            .render()
            .map_err(AppError::internal)?,
        ),
        headers: Vec::new(),
    })
}

#[derive(Template)]
#[template(path = "email/consultation_resume.txt")]
struct ResumeText<'a> {
    title: &'a str,
    closes: String,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_resume.html")]
struct ResumeHtml<'a> {
    title: &'a str,
    closes: String,
    link: &'a str,
}

pub fn resume(
    to: &str,
    consultation: &consultations::Model,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let title = consultation.title.as_str();
    let closes = crate::uk_time::display(consultation.closes_at);
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: format!("Carry on with your response to {title}"),
        text: ResumeText {
            title,
            closes: closes.clone(),
            link,
        }
        .render()
        .map_err(AppError::internal)?,
        html: Some(
            ResumeHtml {
                title,
                closes,
                link,
            }
            .render()
            .map_err(AppError::internal)?,
        ),
        headers: Vec::new(),
    })
}

#[derive(Template)]
#[template(path = "email/consultation_outcome.txt")]
struct OutcomeText<'a> {
    title: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_outcome.html")]
struct OutcomeHtml<'a> {
    title: &'a str,
    link: &'a str,
}

pub fn outcome(
    to: &str,
    consultation: &consultations::Model,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let title = consultation.title.as_str();
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: format!("You said, we did: the outcome of {title}"),
        text: OutcomeText { title, link }
            .render()
            .map_err(AppError::internal)?,
        html: Some(
            OutcomeHtml { title, link }
                .render()
                .map_err(AppError::internal)?,
        ),
        headers: Vec::new(),
    })
}
