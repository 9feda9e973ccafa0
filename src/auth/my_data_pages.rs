//! `/account/data` (download everything held about you) and
//! `/account/delete` (delete your account, after a confirmation).

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Response, handler};

use super::caller::Caller;
use super::policy::{self, Permission};
use crate::app_state::AppState;
use crate::error::AppError;
use crate::web::cookies;
use crate::web::forms::{Errors, Fields};
use crate::web::page::{PageContext, download, render_with_status};

#[handler]
pub async fn data(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnAccount)?;
    let exported = super::my_data::export(&state.db, user).await?;
    let body = serde_json::to_string_pretty(&exported).map_err(AppError::internal)?;
    Ok(download(
        body,
        "application/json",
        "healthtech-hub-my-data.json",
    ))
}

#[derive(Template)]
#[template(path = "auth/delete_account.html")]
struct DeletePage {
    page: PageContext,
    errors: Errors,
}

#[handler]
pub async fn delete_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::ManageOwnAccount)?;
    render_with_status(
        &DeletePage {
            page: PageContext::new(&caller, &state.key),
            errors: Errors::default(),
        },
        StatusCode::OK,
    )
}

#[handler]
pub async fn delete(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageOwnAccount)?.clone();
    let outcome = if fields.get("confirm") == "yes" {
        super::my_data::delete_account(&state.db, &user).await
    } else {
        Err(AppError::Validation(vec![crate::error::FieldError::new(
            "confirm",
            "Tick the box to confirm that you want to delete your account",
        )]))
    };
    match outcome {
        Ok(()) => Ok(Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, "/account/deleted")
            .header(
                header::SET_COOKIE,
                cookies::clear(cookies::SESSION, state.settings.secure_cookies()),
            )
            .finish()),
        Err(AppError::Validation(errors)) => render_with_status(
            &DeletePage {
                page: PageContext::new(&caller, &state.key),
                errors: errors.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "auth/account_deleted.html")]
struct DeletedPage {
    page: PageContext,
}

#[handler]
pub async fn deleted(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Response, AppError> {
    render_with_status(
        &DeletedPage {
            page: PageContext::new(&caller, &state.key),
        },
        StatusCode::OK,
    )
}
