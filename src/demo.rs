//! Demonstration accounts for exploring the service locally (`hub serve --demo`).

use crate::app_state::AppState;
use crate::auth::domain::{EmailAddress, Role};
use crate::auth::service;
use crate::ideas::domain::IdeaInput;
use crate::ideas::service::{self as ideas, StatusChange};
use crate::ideas::themes;
use crate::reports::domain::ReportInput;
use crate::reports::service as reports;

/// The demonstration content is seeded, not submitted by a person, so the
/// hourly submission limit does not apply to it.
const DEMO_HAS_NO_LIMIT: i32 = i32::MAX;

pub const ACCOUNTS: &[(&str, Role, &str)] = &[
    ("admin@example.nhs.uk", Role::Admin, "Alex Admin"),
    ("board@example.nhs.uk", Role::Board, "Bea Board"),
    ("nurse@example.nhs.uk", Role::Contributor, "Nia Nurse"),
    ("supplier@example.com", Role::Contributor, "Sam Supplier"),
];

pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    for (email, role, name) in ACCOUNTS {
        let email = EmailAddress::parse(email).map_err(|m| anyhow::anyhow!("{m}"))?;
        if service::find_user_by_email(&state.db, &email)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_none()
        {
            service::upsert_user(&state.db, &email, *role, Some((*name).to_owned()))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    content(state).await?;
    let mail_dir = state.settings.data_dir.join("mail");
    tracing::info!(
        accounts = ?ACCOUNTS.iter().map(|(e, _, _)| *e).collect::<Vec<_>>(),
        mail = %mail_dir.display(),
        "demo accounts ready: sign in with one of them; the sign-in email lands as an .eml file in the mail folder"
    );
    Ok(())
}

async fn user(state: &AppState, email: &str) -> anyhow::Result<entity::users::Model> {
    let email = EmailAddress::parse(email).map_err(|m| anyhow::anyhow!("{m}"))?;
    service::find_user_by_email(&state.db, &email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("demo account {email} missing"))
}

/// A few ideas, supports, comments, a confidential report and two
/// consultations, added once, so that every page has something to show.
async fn content(state: &AppState) -> anyhow::Result<()> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let fail = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    let nurse = user(state, "nurse@example.nhs.uk").await?;
    let supplier = user(state, "supplier@example.com").await?;
    let board = user(state, "board@example.nhs.uk").await?;
    crate::consultations::demo::seed(state, &board, &supplier, &nurse)
        .await
        .map_err(fail)?;
    if entity::ideas::Entity::find().count(&state.db).await? > 0 {
        return Ok(());
    }
    let active = themes::list(&state.db, true).await?;
    let ideas_to_add = [
        (
            &nurse,
            "One login for every clinical system on the ward",
            "Nurses sign in to **six different systems** on a shift, each with its own password and timeout.\n\n- Single sign-on with smartcards across the EPR, pathology and pharmacy systems\n- Tap to switch user on shared workstations",
            &["interoperability", "workforce-and-productivity"][..],
            &["staff", "patients"][..],
            "About 20 minutes a shift back for care on each ward.",
        ),
        (
            &nurse,
            "Discharge letters sent to GPs electronically the same day",
            "Discharge summaries are still printed and posted by some trusts. Send them as structured FHIR messages on discharge.",
            &["interoperability", "patient-access"][..],
            &["patients", "system"][..],
            "Fewer readmissions from missed medication changes.",
        ),
        (
            &supplier,
            "Publish a national test environment for GP Connect",
            "Suppliers wait months for test slots. A self-service sandbox with synthetic patients would speed up assured integrations.",
            &["interoperability", "procurement"][..],
            &["system"][..],
            "Integrations assured in weeks rather than months.",
        ),
    ];
    let mut created = Vec::new();
    for (author, title, description, theme_slugs, beneficiaries, impact) in ideas_to_add {
        let input = IdeaInput {
            title: title.to_owned(),
            description: description.to_owned(),
            themes: theme_slugs.iter().map(|s| (*s).to_owned()).collect(),
            beneficiaries: beneficiaries.iter().map(|s| (*s).to_owned()).collect(),
            expected_impact: impact.to_owned(),
        };
        let new = input
            .validate(&active)
            .map_err(|e| anyhow::anyhow!("demo idea invalid: {e:?}"))?;
        created.push(
            ideas::create(&state.db, author, new, &active, None, DEMO_HAS_NO_LIMIT)
                .await
                .map_err(fail)?
                .id(),
        );
    }
    ideas::support(&state.db, &supplier, created[0], true)
        .await
        .map_err(fail)?;
    ideas::support(&state.db, &board, created[0], false)
        .await
        .map_err(fail)?;
    ideas::support(&state.db, &nurse, created[2], true)
        .await
        .map_err(fail)?;
    ideas::add_comment(
        &state.db,
        &supplier,
        created[0],
        "Our product supports NHS smartcards already; happy to share how other trusts set it up.",
        None,
    )
    .await
    .map_err(fail)?;
    ideas::change_status(
        state,
        &board,
        created[0],
        &StatusChange {
            status: "under_review".to_owned(),
            note:
                "The board will look at this with the national identity team at its next meeting."
                    .to_owned(),
            duplicate_of: None,
            version: None,
        },
    )
    .await
    .map_err(fail)?;
    let report = ReportInput {
        organisation: "RTH".to_owned(),
        system_name: "Pathology results viewer".to_owned(),
        supplier_name: "Example Pathology Systems Ltd".to_owned(),
        category: "outage".to_owned(),
        severity: "high".to_owned(),
        patient_impact: "Results delayed by up to four hours during outages.".to_owned(),
        staff_impact: "Staff phone the lab for every result.".to_owned(),
        evidence:
            "The viewer has crashed **three times this month** during the morning ward round."
                .to_owned(),
        confidential: true,
        ..ReportInput::default()
    };
    let (checked, org) = reports::check(&state.db, &report)
        .await?
        .map_err(|(e, _)| anyhow::anyhow!("demo report invalid: {e:?}"))?;
    reports::create(&state.db, &nurse, checked, &org, None, DEMO_HAS_NO_LIMIT)
        .await
        .map_err(fail)?;
    Ok(())
}
