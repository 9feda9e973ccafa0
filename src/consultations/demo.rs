//! Demonstration consultations for `hub serve --demo`: one open for
//! responses, one closed with its "you said, we did" published.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use entity::users;

use super::analysis;
use super::authoring;
use super::domain::{ConsultationInput, QuestionInput};
use super::outcome;
use super::responding::{self, ResponseInput};
use crate::app_state::AppState;
use crate::error::AppError;

const API_STANDARD: &str = "# Scope

This standard applies to every system that exposes patient or staff data to another system over an API, in NHS trusts and in the products suppliers sell to them.

# Authentication

APIs must accept OAuth 2.0 access tokens issued by the national identity service. Shared secrets and basic authentication are not allowed.

## Token lifetimes

Access tokens must expire after **5 minutes**. Refresh tokens must expire after 12 hours and be bound to the device.

# Permissions

Each API must publish the scopes it needs. A system asks only for the scopes its users need, and a trust can see every scope granted.

# Audit

Every call that reads or changes patient data is logged with the user, the system and the purpose, and kept for 8 years.
";

const SHARING_STANDARD: &str = "# Purpose

Patients can see who has looked at their record and why.

# Access logs for patients

Trusts must show patients, in the NHS App, every access to their record in the last 2 years.

# Exceptions

Accesses for safeguarding investigations are shown only after the investigation closes.
";

fn input(
    slug: &str,
    title: &str,
    summary: &str,
    document: &str,
    closes_in: Duration,
) -> ConsultationInput {
    ConsultationInput {
        slug: slug.to_owned(),
        title: title.to_owned(),
        summary: summary.to_owned(),
        audience: vec!["everyone".to_owned()],
        opens_at: Some(Utc::now() - Duration::days(7)),
        closes_at: Some(Utc::now() + closes_in),
        document: document.to_owned(),
    }
}

fn question(kind: &str, prompt: &str, required: bool, options: &[&str]) -> QuestionInput {
    QuestionInput {
        kind: kind.to_owned(),
        prompt: prompt.to_owned(),
        help_text: String::new(),
        required,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    }
}

fn invalid(what: &str) -> impl Fn(Vec<crate::error::FieldError>) -> AppError + '_ {
    move |errors| AppError::internal(anyhow::anyhow!("demo {what} invalid: {errors:?}"))
}

/// Responds as `user`, who is treated as `respondent_type` for the demo.
async fn respond(
    state: &AppState,
    view: &authoring::ConsultationView,
    user: &users::Model,
    respondent_type: &str,
    answers: &[&str],
    comments: &[(&str, &str)],
    consent: &str,
) -> Result<(), AppError> {
    let mut user = user.clone();
    user.respondent_type = Some(respondent_type.to_owned());
    let input = ResponseInput {
        capacity: if respondent_type == "supplier" {
            "organisation"
        } else {
            "individual"
        }
        .to_owned(),
        organisation_name: "Example Health Software Ltd".to_owned(),
        interests: if respondent_type == "supplier" {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
        products_affected: "Example EPR".to_owned(),
        commercial_interest: "We sell an electronic patient record that exposes these APIs."
            .to_owned(),
        consent: consent.to_owned(),
        answers: view
            .questions
            .iter()
            .zip(answers)
            .map(|(q, a)| (q.model.id, vec![(*a).to_owned()]))
            .collect::<HashMap<_, _>>(),
    };
    let comments: Vec<(String, String)> = comments
        .iter()
        .map(|(anchor, text)| ((*anchor).to_owned(), (*text).to_owned()))
        .collect();
    responding::save(state, &user, view, &input, &comments).await?;
    responding::submit(state, &user, view, None).await?;
    Ok(())
}

/// Adds the demonstration consultations once.
pub async fn seed(
    state: &AppState,
    board: &users::Model,
    supplier: &users::Model,
    nurse: &users::Model,
) -> Result<(), AppError> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    if entity::consultations::Entity::find()
        .count(&state.db)
        .await?
        > 0
    {
        return Ok(());
    }
    let api = authoring::create(
        &state.db,
        board,
        input(
            "api-access-standard",
            "API access and permissions standard",
            "How systems that share patient and staff data authenticate, what they may ask for, and what they must log.",
            API_STANDARD,
            Duration::days(30),
        )
        .validate(Vec::new())
        .map_err(invalid("consultation"))?,
    )
    .await?;
    for q in [
        question(
            "agreement_scale",
            "Do you agree that access tokens should expire after 5 minutes?",
            true,
            &[],
        ),
        question(
            "single_choice",
            "How long would it take your organisation to comply?",
            false,
            &["Under 6 months", "6 to 12 months", "Over 12 months"],
        ),
        question(
            "free_text",
            "What else should the standard say?",
            false,
            &[],
        ),
    ] {
        authoring::add_question(
            &state.db,
            board,
            api.id,
            q.validate().map_err(invalid("question"))?,
        )
        .await?;
    }
    let api = authoring::publish(&state.db, board, api.id, None).await?;
    let view = authoring::view(&state.db, api, None).await?;
    respond(
        state,
        &view,
        supplier,
        "supplier",
        &["2", "6 to 12 months", "Allow a transition period for systems certified under the old rules."],
        &[("token-lifetimes", "Five minutes is too short for clinical workflows: staff would be signed out during ward rounds. We suggest 15 minutes with refresh.")],
        "named",
    )
    .await?;

    let sharing = authoring::create(
        &state.db,
        board,
        input(
            "patient-access-logs",
            "Showing patients who accessed their record",
            "Patients should be able to see every access to their record, with a few exceptions.",
            SHARING_STANDARD,
            Duration::days(1),
        )
        .validate(Vec::new())
        .map_err(invalid("consultation"))?,
    )
    .await?;
    authoring::add_question(
        &state.db,
        board,
        sharing.id,
        question(
            "agreement_scale",
            "Do you agree patients should see every access to their record?",
            true,
            &[],
        )
        .validate()
        .map_err(invalid("question"))?,
    )
    .await?;
    let sharing = authoring::publish(&state.db, board, sharing.id, None).await?;
    let view = authoring::view(&state.db, sharing.clone(), None).await?;
    respond(state, &view, nurse, "nhs_staff", &["5"], &[("exceptions", "Safeguarding accesses must stay hidden while an investigation is open, or staff and children could be put at risk.")], "anonymous").await?;
    respond(state, &view, supplier, "supplier", &["4"], &[("access-logs-for-patients", "Two years of logs is achievable, but the format of the log should be a national standard.")], "named").await?;
    // Close it, decide every comment and publish the outcome.
    let mut details = ConsultationInput {
        closes_at: Some(Utc::now() - Duration::minutes(1)),
        opens_at: Some(sharing.opens_at),
        ..input(
            &sharing.slug,
            &sharing.title,
            &sharing.summary,
            SHARING_STANDARD,
            Duration::zero(),
        )
    };
    details.audience = vec!["everyone".to_owned()];
    let closed = authoring::update(
        &state.db,
        board,
        sharing.id,
        details
            .validate(Vec::new())
            .map_err(invalid("consultation"))?,
        None,
    )
    .await?;
    let view = authoring::view(&state.db, closed.clone(), None).await?;
    for row in analysis::submitted(&state.db, &view).await? {
        for comment in &row.detail.comments {
            let (code, why) = if comment.anchor == "exceptions" {
                (
                    "accepted",
                    "The standard now says safeguarding accesses are shown only after the investigation closes.",
                )
            } else {
                (
                    "accepted_with_modification",
                    "A national log format will be published with the standard; trusts get 12 months to adopt it.",
                )
            };
            analysis::decide(&state.db, board, &closed, comment.id, code, why).await?;
        }
    }
    outcome::publish(state, board, &closed, "The board will adopt the standard with two changes: a national log format, and safeguarding accesses hidden until investigations close.").await?;
    Ok(())
}
