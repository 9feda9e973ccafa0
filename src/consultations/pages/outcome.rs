//! "You said, we did": the published outcome (a preview and the publish
//! form for the board before), and its Markdown, CSV and JSON downloads.

use askama::Template;
use poem::web::{Data, Html, Path};
use poem::{Response, handler};

use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::consultations::authoring::{self, ConsultationView};
use crate::consultations::outcome::{self, Outcome};
use crate::error::AppError;
use crate::web::chart::{self, Bar};
use crate::web::forms::{Errors, Fields, refusal};
use crate::web::page::{PageContext, download, render, render_with_status, see_other};

#[derive(Template)]
#[template(path = "consultations/outcome.html")]
struct OutcomePage {
    page: PageContext,
    view: ConsultationView,
    outcome: Outcome,
    summary_html: String,
    type_chart_svg: String,
    can_manage: bool,
    summary: String,
    errors: Errors,
}

fn outcome_page(
    caller: &Caller,
    state: &AppState,
    view: ConsultationView,
    outcome: Outcome,
    summary: String,
    errors: Errors,
) -> OutcomePage {
    OutcomePage {
        page: PageContext::new(caller, &state.key),
        summary_html: crate::markdown::render(&outcome.summary),
        type_chart_svg: chart::bars(
            "Responses by respondent type",
            &outcome
                .by_respondent_type
                .iter()
                .map(|t| Bar {
                    label: t.label.clone(),
                    value: t.count,
                })
                .collect::<Vec<_>>(),
        ),
        can_manage: policy::allows_caller(caller, Permission::ManageConsultations),
        view,
        outcome,
        summary,
        errors,
    }
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let (view, built) = outcome::for_caller(&state.db, &caller, &slug).await?;
    let summary = view.consultation.outcome_summary.clone();
    render(&outcome_page(
        &caller,
        &state,
        view,
        built,
        summary,
        Errors::default(),
    ))
}

#[handler]
pub async fn publish(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageConsultations)?.clone();
    let found = authoring::find_by_slug(&state.db, &slug).await?;
    let summary = fields.get("outcome_summary");
    match outcome::publish(&state, &user, &found, summary).await {
        Ok(_) => Ok(see_other(&format!("/consultations/{slug}/outcome"))),
        Err(err) => {
            let (errors, status) = refusal(err, "outcome_summary")?;
            let (view, built) = outcome::for_caller(&state.db, &caller, &slug).await?;
            render_with_status(
                &outcome_page(&caller, &state, view, built, summary.to_owned(), errors),
                status,
            )
        }
    }
}

#[handler]
pub async fn markdown(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (_, built) = outcome::for_caller(&state.db, &caller, &slug).await?;
    Ok(download(
        outcome::markdown(&built),
        "text/markdown; charset=utf-8",
        &format!("{slug}-outcome.md"),
    ))
}

#[handler]
pub async fn csv(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (_, built) = outcome::for_caller(&state.db, &caller, &slug).await?;
    Ok(download(
        outcome::csv(&built)?,
        "text/csv; charset=utf-8",
        &format!("{slug}-outcome.csv"),
    ))
}

#[handler]
pub async fn json(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (_, built) = outcome::for_caller(&state.db, &caller, &slug).await?;
    let body = serde_json::to_string_pretty(&built).map_err(AppError::internal)?;
    Ok(download(
        body,
        "application/json",
        &format!("{slug}-outcome.json"),
    ))
}
