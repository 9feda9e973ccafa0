//! What every page template is given, and how pages and error pages render.

use askama::Template;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{IntoResponse, Response};

use crate::auth::caller::Caller;
use crate::auth::crypto::ServerKey;
use crate::auth::domain::Role;
use crate::auth::policy;
use crate::error::AppError;

/// Shared by the layout: who is signed in and the CSRF token for forms.
pub struct PageContext {
    pub signed_in: bool,
    pub user_name: String,
    pub is_admin: bool,
    /// Board members and admins: triage links in the header.
    pub is_board: bool,
    pub csrf_token: String,
    /// The inline script allowed by the Content-Security-Policy hash.
    pub body_script: &'static str,
}

impl PageContext {
    pub fn new(caller: &Caller, key: &ServerKey) -> Self {
        let user = caller.user.as_ref();
        Self {
            signed_in: user.is_some(),
            user_name: user
                .map(|u| u.display_name.clone().unwrap_or_else(|| u.email.clone()))
                .unwrap_or_default(),
            is_admin: user.is_some_and(|u| policy::role_of(u) == Role::Admin),
            is_board: policy::can_see_board_content(caller),
            csrf_token: caller.csrf_token(key),
            body_script: crate::web::headers::BODY_CLASS_SCRIPT,
        }
    }
}

/// The redirect after a successful POST.
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(poem::http::header::LOCATION, location)
        .finish()
}

/// A link to `path` with the given query parameters, leaving out empty ones
/// (filters and cursors carried from page to page).
pub fn link_with_query<'a>(
    path: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A file to save: its body, type and name.
pub fn download(body: impl Into<poem::Body>, content_type: &str, file_name: &str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(
            poem::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )
        .body(body)
}

pub fn render(template: &impl Template) -> Result<Html<String>, AppError> {
    template.render().map(Html).map_err(AppError::internal)
}

pub fn render_with_status(
    template: &impl Template,
    status: StatusCode,
) -> Result<Response, AppError> {
    Ok(render(template)?.with_status(status).into_response())
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub page: &'a PageContext,
    pub status: u16,
    pub heading: &'a str,
    pub message: String,
    pub sign_in: bool,
}

/// The HTML page for an error that reached the top of a request.
pub fn error_page(err: &AppError, page: &PageContext) -> Response {
    let status = err.status();
    let (heading, message) = match err {
        AppError::NotFound => (
            "Page not found",
            "If you typed the web address, check it is correct. If you pasted the web address, check you copied the entire address.".to_owned(),
        ),
        AppError::Unauthorized => ("You need to sign in", "Sign in to see this page.".to_owned()),
        AppError::Forbidden => ("You do not have permission to see this page", "If you think you should, contact an administrator of HealthTech Hub.".to_owned()),
        AppError::Internal(_) => ("Sorry, there is a problem with the service", "Try again later. Nothing you had already saved has been lost.".to_owned()),
        AppError::Unavailable => ("Sorry, the service is unavailable", "Try again in a few minutes. Nothing you had already saved has been lost.".to_owned()),
        other => (other.title(), other.to_string()),
    };
    let template = ErrorPage {
        page,
        status: status.as_u16(),
        heading,
        message,
        sign_in: matches!(err, AppError::Unauthorized),
    };
    match template.render() {
        Ok(body) => Html(body).with_status(status).into_response(),
        Err(render_err) => {
            tracing::error!(error = %render_err, "error page failed to render");
            (status, err.to_string()).into_response()
        }
    }
}
