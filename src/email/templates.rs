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
