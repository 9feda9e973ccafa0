//! Each email: a subject, a plain-text body and an HTML body, from templates
//! in `frontend/templates/email`.

use askama::Template;

use super::OutgoingEmail;
use crate::error::AppError;

#[derive(Template)]
#[template(path = "email/sign_in.txt")]
struct SignInText<'a> {
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "email/sign_in.html")]
struct SignInHtml<'a> {
    link: &'a str,
    minutes: i64,
}

pub fn sign_in(to: &str, link: &str, minutes: i64) -> Result<OutgoingEmail, AppError> {
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: "Your sign-in link for HealthTech Hub".to_owned(),
        text: SignInText { link, minutes }
            .render()
            .map_err(AppError::internal)?,
        html: Some(
            SignInHtml { link, minutes }
                .render()
                .map_err(AppError::internal)?,
        ),
        headers: Vec::new(),
    })
}

/// A public status update on an idea or a report.
pub struct StatusUpdate<'a> {
    pub subject: String,
    /// "idea" or "report"
    pub item: &'a str,
    pub title: &'a str,
    pub status: &'a str,
    pub note: &'a str,
    pub link: &'a str,
    /// Why this person receives it, and how to stop.
    pub why: &'a str,
}

#[derive(Template)]
#[template(path = "email/status_update.txt")]
struct StatusUpdateText<'a> {
    update: &'a StatusUpdate<'a>,
}

#[derive(Template)]
#[template(path = "email/status_update.html")]
struct StatusUpdateHtml<'a> {
    update: &'a StatusUpdate<'a>,
    note_html: String,
}

pub fn status_update(to: &str, update: &StatusUpdate<'_>) -> Result<OutgoingEmail, AppError> {
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: update.subject.clone(),
        text: StatusUpdateText { update }
            .render()
            .map_err(AppError::internal)?,
        html: Some(
            StatusUpdateHtml {
                update,
                note_html: crate::markdown::render(update.note),
            }
            .render()
            .map_err(AppError::internal)?,
        ),
        headers: Vec::new(),
    })
}
