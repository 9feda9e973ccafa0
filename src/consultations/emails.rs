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

/// An email as a subject and its two renderings.
fn message(
    to: &str,
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<OutgoingEmail, AppError> {
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject,
        text: text.render().map_err(AppError::internal)?,
        html: Some(html.render().map_err(AppError::internal)?),
        headers: Vec::new(),
    })
}

/// What a receipt says, rendered as text and as HTML.
struct Receipt<'a> {
    title: &'a str,
    closes: String,
    capacity: &'a str,
    organisation: Option<&'a str>,
    consent: &'a str,
    entries: Vec<Entry>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_receipt.txt")]
struct ReceiptText<'a> {
    m: &'a Receipt<'a>,
}

#[derive(Template)]
#[template(path = "email/consultation_receipt.html")]
struct ReceiptHtml<'a> {
    m: &'a Receipt<'a>,
}

pub fn receipt(
    to: &str,
    view: &ConsultationView,
    detail: &ResponseDetail,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let r = &detail.response;
    let m = Receipt {
        title: &view.consultation.title,
        closes: crate::uk_time::display(view.consultation.closes_at),
        capacity: Capacity::parse(&r.capacity).map_or("", Capacity::label),
        organisation: r.organisation_name.as_deref(),
        consent: Consent::parse(&r.consent).map_or("", Consent::label),
        entries: entries(view, detail),
        link,
    };
    let subject = format!("Your response to {}", m.title);
    message(to, subject, &ReceiptText { m: &m }, &ReceiptHtml { m: &m })
}

/// What the link to carry on says.
struct Resume<'a> {
    title: &'a str,
    closes: String,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_resume.txt")]
struct ResumeText<'a> {
    m: &'a Resume<'a>,
}

#[derive(Template)]
#[template(path = "email/consultation_resume.html")]
struct ResumeHtml<'a> {
    m: &'a Resume<'a>,
}

pub fn resume(
    to: &str,
    consultation: &consultations::Model,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let m = Resume {
        title: &consultation.title,
        closes: crate::uk_time::display(consultation.closes_at),
        link,
    };
    let subject = format!("Carry on with your response to {}", m.title);
    message(to, subject, &ResumeText { m: &m }, &ResumeHtml { m: &m })
}

/// What the outcome email says.
struct Published<'a> {
    title: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/consultation_outcome.txt")]
struct OutcomeText<'a> {
    m: &'a Published<'a>,
}

#[derive(Template)]
#[template(path = "email/consultation_outcome.html")]
struct OutcomeHtml<'a> {
    m: &'a Published<'a>,
}

pub fn outcome(
    to: &str,
    consultation: &consultations::Model,
    link: &str,
) -> Result<OutgoingEmail, AppError> {
    let m = Published {
        title: &consultation.title,
        link,
    };
    let subject = format!("You said, we did: the outcome of {}", m.title);
    message(to, subject, &OutcomeText { m: &m }, &OutcomeHtml { m: &m })
}
