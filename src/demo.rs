//! Demonstration accounts for exploring the service locally (`hub serve --demo`).

use crate::app_state::AppState;
use crate::auth::domain::{EmailAddress, Role};
use crate::auth::service;

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
    let mail_dir = state.settings.data_dir.join("mail");
    tracing::info!(
        accounts = ?ACCOUNTS.iter().map(|(e, _, _)| *e).collect::<Vec<_>>(),
        mail = %mail_dir.display(),
        "demo accounts ready: sign in with one of them; the sign-in email lands as an .eml file in the mail folder"
    );
    Ok(())
}
