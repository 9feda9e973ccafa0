//! Sign-in, profile, API tokens and user administration pages.

use askama::Template;
use entity::{api_tokens, users};
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Html, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::caller::{Caller, Credential, SESSION_IDLE};
use super::domain::{EmailAddress, RespondentType, Role};
use super::policy::{self, Permission};
use super::service::{self, LinkProblem, ProfileInput};
use crate::app_state::AppState;
use crate::error::AppError;
use crate::web::cookies;
use crate::web::forms::Errors;
use crate::web::page::{PageContext, render, render_with_status, see_other};

fn client_of(req: &Request) -> String {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage<'a> {
    page: PageContext,
    email: &'a str,
    errors: Errors,
    /// Where to go once signed in ("" for the home page).
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextParams {
    next: String,
}

/// A page of this site to return to after signing in: a path, never another
/// host (`//host`, `/\host`) or anything odd, so links cannot send people away.
pub fn safe_next(raw: &str) -> Option<String> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 300
        && !raw.contains('\\')
        && raw.chars().all(|c| c.is_ascii_graphic());
    ok.then(|| raw.to_owned())
}

#[handler]
pub async fn sign_in_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<NextParams>,
) -> Result<Response, AppError> {
    let next = safe_next(&params.next);
    if caller.user.is_some() {
        return Ok(see_other(next.as_deref().unwrap_or("/")));
    }
    Ok(render(&SignInPage {
        page: PageContext::new(&caller, &state.key),
        email: "",
        errors: Errors::default(),
        next: next.unwrap_or_default(),
    })?
    .into_response())
}

#[handler]
pub async fn sign_in_submit(
    req: &Request,
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(message) => {
            let mut errors = Errors::default();
            errors.add("email", message);
            let email: String = form.email.chars().take(320).collect();
            return render_with_status(
                &SignInPage {
                    page: PageContext::new(&caller, &state.key),
                    email: &email,
                    errors,
                    next: safe_next(&form.next).unwrap_or_default(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let next = safe_next(&form.next);
    service::request_sign_in(&state, &email, &client_of(req), next.as_deref()).await?;
    Ok(see_other("/sign-in/check-email"))
}

#[derive(Template)]
#[template(path = "auth/check_email.html")]
struct CheckEmailPage {
    page: PageContext,
    minutes: i64,
}

#[handler]
pub async fn check_email(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    render(&CheckEmailPage {
        page: PageContext::new(&caller, &state.key),
        minutes: service::LINK_LIFETIME.num_minutes(),
    })
}

#[derive(Template)]
#[template(path = "auth/link.html")]
struct LinkPage<'a> {
    page: PageContext,
    token: &'a str,
    problem: Option<&'static str>,
    next: String,
}

fn link_problem_text(problem: &LinkProblem) -> &'static str {
    match problem {
        LinkProblem::Expired => "This sign-in link has expired. Links work for 15 minutes.",
        LinkProblem::Used => "This sign-in link has already been used. Each link works once.",
        LinkProblem::Unknown => {
            "This sign-in link is not valid. Check you copied the whole link from the email."
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkParams {
    token: String,
    next: String,
}

/// Shows a button rather than signing in on GET: mail scanners that follow
/// links would otherwise use them up before the person clicks.
#[handler]
pub async fn link_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<LinkParams>,
) -> Result<Response, AppError> {
    let token = params.token.trim();
    let problem = if token.is_empty() || token.len() > 100 {
        Some(LinkProblem::Unknown)
    } else {
        service::check_link(&state.db, token).await?.err()
    };
    let status = if problem.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    render_with_status(
        &LinkPage {
            page: PageContext::new(&caller, &state.key),
            token,
            problem: problem.as_ref().map(link_problem_text),
            next: safe_next(&params.next).unwrap_or_default(),
        },
        status,
    )
}

#[handler]
pub async fn link_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Form(params): Form<LinkParams>,
) -> Result<Response, AppError> {
    let token = params.token.trim();
    let outcome = if token.is_empty() || token.len() > 100 {
        Err(LinkProblem::Unknown)
    } else {
        service::sign_in_with_link(&state, token).await?
    };
    match outcome {
        Ok(signed_in) => {
            // A fresh session token on every sign-in: any token planted
            // before sign-in is worthless afterwards, and the session this
            // browser held until now (perhaps another person's) ends.
            if let Credential::Session { session_id } = caller.credential {
                service::sign_out(&state.db, session_id).await?;
            }
            let cookie = cookies::set(
                cookies::SESSION,
                &signed_in.session_token,
                SESSION_IDLE.num_seconds(),
                state.settings.secure_cookies(),
            );
            let next = if signed_in.user.profile_completed_at.is_none() {
                "/profile".to_owned()
            } else {
                safe_next(&params.next).unwrap_or_else(|| "/".to_owned())
            };
            Ok(Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, next)
                .header(header::SET_COOKIE, cookie)
                .finish())
        }
        Err(problem) => render_with_status(
            &LinkPage {
                page: PageContext::new(&caller, &state.key),
                token: "",
                problem: Some(link_problem_text(&problem)),
                next: String::new(),
            },
            StatusCode::GONE,
        ),
    }
}

#[handler]
pub async fn sign_out(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Response, AppError> {
    if let Credential::Session { session_id } = caller.credential {
        service::sign_out(&state.db, session_id).await?;
    }
    Ok(Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, "/signed-out")
        .header(
            header::SET_COOKIE,
            cookies::clear(cookies::SESSION, state.settings.secure_cookies()),
        )
        .finish())
}

#[derive(Template)]
#[template(path = "auth/signed_out.html")]
struct SignedOutPage {
    page: PageContext,
}

#[handler]
pub async fn signed_out(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    render(&SignedOutPage {
        page: PageContext::new(&caller, &state.key),
    })
}

pub struct RespondentOption {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "auth/profile.html")]
struct ProfilePage {
    page: PageContext,
    first_time: bool,
    form: ProfileInput,
    respondent_types: Vec<RespondentOption>,
    errors: Errors,
    saved: bool,
}

fn profile_page(
    caller: &Caller,
    state: &AppState,
    user: &users::Model,
    form: ProfileInput,
    errors: Errors,
    saved: bool,
) -> ProfilePage {
    let respondent_types = RespondentType::ALL
        .iter()
        .map(|t| RespondentOption {
            value: t.as_str(),
            label: t.label(),
            checked: form.respondent_type == t.as_str(),
        })
        .collect();
    ProfilePage {
        page: PageContext::new(caller, &state.key),
        first_time: user.profile_completed_at.is_none(),
        form,
        respondent_types,
        errors,
        saved,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SavedParam {
    saved: Option<String>,
}

#[handler]
pub async fn profile_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(q): Query<SavedParam>,
) -> Result<Html<String>, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnAccount)?;
    let form = ProfileInput {
        display_name: user.display_name.clone().unwrap_or_default(),
        respondent_type: user.respondent_type.clone().unwrap_or_default(),
        organisation: user.organisation_name.clone().unwrap_or_default(),
        ods_code: String::new(),
        job_title: user.job_title.clone().unwrap_or_default(),
    };
    render(&profile_page(
        &caller,
        &state,
        user,
        form,
        Errors::default(),
        q.saved.is_some(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    display_name: String,
    respondent_type: String,
    organisation: String,
    ods_code: String,
    job_title: String,
}

#[handler]
pub async fn profile_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnAccount)?;
    let input = ProfileInput {
        display_name: form.display_name,
        respondent_type: form.respondent_type,
        organisation: form.organisation,
        ods_code: form.ods_code,
        job_title: form.job_title,
    };
    match service::update_profile(&state.db, user, &input).await {
        Ok(_) => Ok(see_other("/profile?saved=1")),
        Err(AppError::Validation(errors)) => render_with_status(
            &profile_page(&caller, &state, user, input, errors.into(), false),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "auth/tokens.html")]
struct TokensPage {
    page: PageContext,
    tokens: Vec<api_tokens::Model>,
    new_token: Option<String>,
    name: String,
    errors: Errors,
}

async fn tokens_page(
    state: &AppState,
    caller: &Caller,
    user: &users::Model,
    new_token: Option<String>,
    name: String,
    errors: Errors,
) -> Result<TokensPage, AppError> {
    Ok(TokensPage {
        page: PageContext::new(caller, &state.key),
        tokens: service::list_api_tokens(&state.db, user).await?,
        new_token,
        name,
        errors,
    })
}

#[handler]
pub async fn tokens_list(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnTokens)?;
    render(
        &tokens_page(
            &state,
            &caller,
            user,
            None,
            String::new(),
            Errors::default(),
        )
        .await?,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewTokenForm {
    name: String,
}

/// The new token is shown in the response to the POST itself, once; it is
/// never put in a URL or stored anywhere it could be read back.
#[handler]
pub async fn tokens_create(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Form(form): Form<NewTokenForm>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnTokens)?;
    match service::create_api_token(&state.db, user, &form.name).await {
        Ok(created) => Ok(render(
            &tokens_page(
                &state,
                &caller,
                user,
                Some(created.token),
                String::new(),
                Errors::default(),
            )
            .await?,
        )?
        .with_status(StatusCode::CREATED)
        .into_response()),
        Err(AppError::Validation(errors)) => {
            let name = form.name.chars().take(200).collect();
            render_with_status(
                &tokens_page(&state, &caller, user, None, name, errors.into()).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other),
    }
}

#[handler]
pub async fn tokens_revoke(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnTokens)?;
    service::revoke_api_token(&state.db, user, id).await?;
    Ok(see_other("/account/tokens"))
}

pub struct UserRow {
    pub user: users::Model,
    pub role_label: &'static str,
    pub roles: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    page: PageContext,
    rows: Vec<UserRow>,
    errors: Errors,
}

async fn users_page(
    state: &AppState,
    caller: &Caller,
    errors: Errors,
) -> Result<UsersPage, AppError> {
    let rows = service::list_users(&state.db)
        .await?
        .into_iter()
        .map(|user| {
            let current = policy::role_of(&user);
            UserRow {
                role_label: current.label(),
                roles: Role::ALL
                    .iter()
                    .map(|r| (r.as_str(), r.label(), *r == current))
                    .collect(),
                user,
            }
        })
        .collect();
    Ok(UsersPage {
        page: PageContext::new(caller, &state.key),
        rows,
        errors,
    })
}

#[handler]
pub async fn admin_users(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::ManageUsers)?;
    render(&users_page(&state, &caller, Errors::default()).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

#[handler]
pub async fn admin_change_role(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let admin = policy::require(&caller, Permission::ManageUsers)?;
    let Some(role) = Role::parse(&form.role) else {
        let mut errors = Errors::default();
        errors.add(
            "role",
            "Select a role: contributor, board member or administrator",
        );
        return render_with_status(
            &users_page(&state, &caller, errors).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match service::change_role(&state.db, admin, id, role).await {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(AppError::Validation(errors)) => render_with_status(
            &users_page(&state, &caller, errors.into()).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(
            safe_next("/consultations/api/response").as_deref(),
            Some("/consultations/api/response")
        );
        for hostile in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/a b",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(hostile), None, "{hostile}");
        }
    }
}
