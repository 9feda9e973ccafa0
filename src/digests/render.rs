//! A digest as an email: a Markdown document (everyone's text escaped),
//! rendered with pulldown-cmark to HTML styled inline for mail clients, and
//! to plain text; sent as multipart/alternative with one-click unsubscribe
//! headers (RFC 8058).

use askama::Template;

use super::content::Digest;
use super::settings::{DigestSettings, Frequency};
use crate::email::OutgoingEmail;
use crate::error::AppError;
use crate::markdown;
use crate::settings::Settings;

/// A line with its parts escaped for Markdown and its link made absolute.
struct LineView {
    title: String,
    link: String,
    detail: String,
}

struct PartView {
    heading: String,
    lines: Vec<LineView>,
    more: u64,
    more_link: String,
}

#[derive(Template)]
#[template(path = "email/digest.md")]
struct DigestMarkdown {
    covering: String,
    parts: Vec<PartView>,
    schedule: String,
    settings_link: String,
    unsubscribe_link: String,
}

/// A rendered digest.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub markdown: String,
    pub text: String,
    pub html: String,
}

/// "3 items need you · 12 new ideas": every part's count, decisions first.
pub fn subject(digest: &Digest) -> String {
    digest
        .parts
        .iter()
        .map(|p| p.summary())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn schedule(settings: &DigestSettings) -> String {
    match settings.frequency {
        Frequency::Weekly => format!(
            "every {} from {}:00",
            settings.weekday_name(),
            settings.send_hour
        ),
        _ => format!("every day from {}:00", settings.send_hour),
    }
}

/// The address of the one-click unsubscribe for `user`, signed so that it
/// needs no sign-in and cannot be made for anyone else.
pub fn unsubscribe_path(key: &crate::auth::crypto::ServerKey, user: uuid::Uuid) -> String {
    format!(
        "/digests/unsubscribe?user={user}&token={}",
        key.sign(super::UNSUBSCRIBE_PURPOSE, &user.to_string())
    )
}

pub fn render(
    settings: &Settings,
    key: &crate::auth::crypto::ServerKey,
    user: uuid::Uuid,
    chosen: &DigestSettings,
    digest: &Digest,
) -> Result<Rendered, AppError> {
    let absolute = |path: &str| settings.link(path);
    let parts = digest
        .parts
        .iter()
        .map(|p| PartView {
            heading: markdown::escape(&p.summary()),
            more: p.total.saturating_sub(p.lines.len() as u64),
            more_link: absolute(&p.more_link),
            lines: p
                .lines
                .iter()
                .map(|l| LineView {
                    title: markdown::escape(&l.title),
                    link: absolute(&l.link),
                    detail: markdown::escape(&l.detail),
                })
                .collect(),
        })
        .collect();
    let source = DigestMarkdown {
        covering: markdown::escape(&format!(
            "What needs you, and what is new since {}.",
            crate::uk_time::display(digest.since)
        )),
        parts,
        schedule: schedule(chosen),
        settings_link: absolute("/board/digest"),
        unsubscribe_link: absolute(&unsubscribe_path(key, user)),
    }
    .render()
    .map_err(AppError::internal)?;
    Ok(Rendered {
        subject: subject(digest),
        text: markdown::to_text(&source),
        html: styled(&markdown::render_document(&source)),
        markdown: source,
    })
}

/// Mail clients ignore style sheets: every element carries its style.
fn styled(body: &str) -> String {
    const LINK: &str = "color: #005eb8;";
    let body = body
        .replace("<h1>", "<h1 style=\"font-size: 24px; margin: 0 0 16px;\">")
        .replace(
            "<h2>",
            "<h2 style=\"font-size: 19px; margin: 24px 0 8px; border-bottom: 1px solid #d8dde0;\">",
        )
        .replace("<p>", "<p style=\"margin: 0 0 12px;\">")
        .replace(
            "<ul>",
            "<ul style=\"margin: 0 0 12px; padding-left: 20px;\">",
        )
        .replace("<li>", "<li style=\"margin-bottom: 6px;\">")
        .replace(
            "<hr>",
            "<hr style=\"border: 0; border-top: 1px solid #d8dde0; margin: 24px 0;\">",
        )
        .replace("<a ", &format!("<a style=\"{LINK}\" "));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head><meta charset=\"utf-8\"><title>Your HealthTech Hub digest</title></head>\n\
         <body style=\"font-family: Arial, sans-serif; color: #212b32; font-size: 16px; line-height: 1.5; max-width: 640px;\">\n{body}</body>\n</html>\n"
    )
}

/// The email: both parts and the RFC 8058 headers.
pub fn email(
    settings: &Settings,
    key: &crate::auth::crypto::ServerKey,
    to: &str,
    user: uuid::Uuid,
    rendered: &Rendered,
) -> OutgoingEmail {
    let unsubscribe = settings.link(&unsubscribe_path(key, user));
    OutgoingEmail {
        to: to.to_owned(),
        subject: rendered.subject.clone(),
        text: rendered.text.clone(),
        html: Some(rendered.html.clone()),
        headers: vec![
            ("List-Unsubscribe".to_owned(), format!("<{unsubscribe}>")),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
    }
}
