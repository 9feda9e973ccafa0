//! The pages that belong to no capability: home, accessibility, privacy,
//! problem type documentation, and the admins' failed email list.

use askama::Template;
use entity::email_outbox;
use poem::handler;
use poem::web::{Data, Html, Path};

use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::{AppError, PROBLEM_TYPES};
use crate::web::page::{PageContext, render};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageContext,
    needs_profile: bool,
}

#[handler]
pub async fn home(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Html<String>, AppError> {
    let needs_profile = caller
        .user
        .as_ref()
        .is_some_and(|u| u.profile_completed_at.is_none());
    render(&HomePage {
        page: PageContext::new(&caller, &state.key),
        needs_profile,
    })
}

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    page: PageContext,
}

#[handler]
pub async fn accessibility(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    render(&AccessibilityPage {
        page: PageContext::new(&caller, &state.key),
    })
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    page: PageContext,
}

#[handler]
pub async fn privacy(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    render(&PrivacyPage {
        page: PageContext::new(&caller, &state.key),
    })
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    page: PageContext,
    slug: &'static str,
    title: &'static str,
    description: &'static str,
}

/// Each problem `type` in the API resolves to a page that explains it.
#[handler]
pub async fn problem(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let (slug, title, description) = PROBLEM_TYPES
        .iter()
        .find(|(s, _, _)| *s == slug)
        .copied()
        .ok_or(AppError::NotFound)?;
    render(&ProblemPage {
        page: PageContext::new(&caller, &state.key),
        slug,
        title,
        description,
    })
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct FailedEmailsPage {
    page: PageContext,
    emails: Vec<email_outbox::Model>,
}

#[handler]
pub async fn failed_emails(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::ViewOperations)?;
    let emails = crate::email::worker::failed(&state.db).await?;
    render(&FailedEmailsPage {
        page: PageContext::new(&caller, &state.key),
        emails,
    })
}
