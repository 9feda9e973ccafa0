//! `/board/digest`: a board member's digest settings and a preview of their
//! next digest; `/digests/unsubscribe`: the one-click unsubscribe, which
//! needs no sign-in (its link is signed).

use askama::Template;
use chrono::Utc;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Response, handler};
use uuid::Uuid;

use super::schedule;
use super::settings::{self, DigestSettings, FIRST_HOUR, Frequency, LAST_HOUR, Section, WEEKDAYS};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::web::forms::{Choice, Errors, Fields, choices};
use crate::web::page::{PageContext, render_with_status, see_other};

#[derive(Template)]
#[template(path = "digests/settings.html")]
struct SettingsPage {
    page: PageContext,
    errors: Errors,
    frequencies: Vec<Choice>,
    weekdays: Vec<Choice>,
    hours: Vec<Choice>,
    sections: Vec<Choice>,
    notice: Option<&'static str>,
}

fn settings_page(
    caller: &Caller,
    state: &AppState,
    frequency: &str,
    weekday: &str,
    hour: &str,
    sections: &[String],
) -> SettingsPage {
    let days: Vec<(String, &str)> = WEEKDAYS
        .iter()
        .enumerate()
        .map(|(n, name)| ((n + 1).to_string(), *name))
        .collect();
    let hours: Vec<(String, String)> = (FIRST_HOUR..=LAST_HOUR)
        .map(|h| (h.to_string(), format!("{h}:00")))
        .collect();
    SettingsPage {
        page: PageContext::new(caller, &state.key),
        errors: Errors::default(),
        frequencies: choices(
            Frequency::ALL.iter().map(|f| (f.as_str(), f.label())),
            &[frequency],
        ),
        weekdays: choices(days.iter().map(|(v, l)| (v.as_str(), *l)), &[weekday]),
        hours: choices(hours.iter().map(|(v, l)| (v.as_str(), l.as_str())), &[hour]),
        sections: choices(
            Section::ALL.iter().map(|s| (s.as_str(), s.label())),
            sections,
        ),
        notice: None,
    }
}

fn page_of(caller: &Caller, state: &AppState, s: &DigestSettings) -> SettingsPage {
    let sections: Vec<String> = s.sections.iter().map(|x| x.as_str().to_owned()).collect();
    settings_page(
        caller,
        state,
        s.frequency.as_str(),
        &s.weekday.to_string(),
        &s.send_hour.to_string(),
        &sections,
    )
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Saved {
    saved: Option<String>,
}

#[handler]
pub async fn settings_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(saved): Query<Saved>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?;
    let current = settings::load(&state.db, user.id).await?;
    let mut page = page_of(&caller, &state, &current);
    page.notice = saved
        .saved
        .is_some()
        .then_some("Your digest settings have been saved.");
    render_with_status(&page, StatusCode::OK)
}

#[handler]
pub async fn settings_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let sections = fields.all("sections");
    match DigestSettings::check(
        fields.get("frequency"),
        fields.get("weekday"),
        fields.get("send_hour"),
        &sections,
    ) {
        Ok(chosen) => {
            settings::save(&state.db, user.id, &chosen, "digest.settings_changed").await?;
            Ok(see_other("/board/digest?saved=1"))
        }
        Err(AppError::Validation(errors)) => {
            let mut page = settings_page(
                &caller,
                &state,
                fields.get("frequency"),
                fields.get("weekday"),
                fields.get("send_hour"),
                &sections,
            );
            page.errors = errors.into();
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "digests/preview.html")]
struct PreviewPage {
    page: PageContext,
    subject: String,
    body_html: String,
    has_news: bool,
}

/// The digest the board member would get now, sending nothing.
#[handler]
pub async fn preview(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let (_, digest, rendered) = schedule::preview(&state, &user, Utc::now()).await?;
    render_with_status(
        &PreviewPage {
            page: PageContext::new(&caller, &state.key),
            subject: rendered.subject,
            body_html: crate::markdown::render(&rendered.markdown),
            has_news: digest.has_news(),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "digests/unsubscribe.html")]
struct UnsubscribePage {
    page: PageContext,
    user: String,
    token: String,
    done: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct UnsubscribeLink {
    user: String,
    token: String,
}

/// The board member the link was signed for, or a 404 that says nothing
/// about who exists.
fn signed_user(state: &AppState, user: &str, token: &str) -> Result<Uuid, AppError> {
    let id = Uuid::parse_str(user).map_err(|_| AppError::NotFound)?;
    if state
        .key
        .verify(super::UNSUBSCRIBE_PURPOSE, &id.to_string(), token)
    {
        Ok(id)
    } else {
        Err(AppError::NotFound)
    }
}

/// Link checkers in mail systems open links: opening it only asks.
#[handler]
pub async fn unsubscribe_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(link): Query<UnsubscribeLink>,
) -> Result<Response, AppError> {
    signed_user(&state, &link.user, &link.token)?;
    render_with_status(
        &UnsubscribePage {
            page: PageContext::new(&caller, &state.key),
            user: link.user,
            token: link.token,
            done: false,
        },
        StatusCode::OK,
    )
}

/// The button on the page, or a mail client's RFC 8058 one-click POST
/// (`List-Unsubscribe=One-Click` to the same address).
#[handler]
pub async fn unsubscribe(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(link): Query<UnsubscribeLink>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = if link.user.is_empty() {
        fields.get("user").to_owned()
    } else {
        link.user.clone()
    };
    let token = if link.token.is_empty() {
        fields.get("token").to_owned()
    } else {
        link.token.clone()
    };
    let id = signed_user(&state, &user, &token)?;
    settings::unsubscribe(&state.db, id).await?;
    render_with_status(
        &UnsubscribePage {
            page: PageContext::new(&caller, &state.key),
            user,
            token,
            done: true,
        },
        StatusCode::OK,
    )
}
