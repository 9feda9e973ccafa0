use entity::{audit_events, users};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_person_completes_their_profile_and_an_ods_code_links_their_trust() {
    let app = spawn_app().await;
    app.sign_in("nurse@example.nhs.uk").await;
    let resp = app
        .post_form(
            "/profile",
            "/profile",
            &[
                ("display_name", "Nia Nurse"),
                ("respondent_type", "nhs_staff"),
                ("organisation", ""),
                ("ods_code", "rth"),
                ("job_title", "Ward manager"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let user = users::Entity::find()
        .filter(users::Column::Email.eq("nurse@example.nhs.uk"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("user");
    assert_eq!(user.display_name.as_deref(), Some("Nia Nurse"));
    assert_eq!(user.respondent_type.as_deref(), Some("nhs_staff"));
    assert_eq!(
        user.organisation_name.as_deref(),
        Some("Oxford University Hospitals NHS Foundation Trust")
    );
    assert!(user.organisation_id.is_some() && user.profile_completed_at.is_some());
    let audited = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("user.profile_updated"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("audit event");
    assert_eq!(audited.actor_user_id, Some(user.id));
    assert!(
        app.get_html("/profile?saved=1")
            .await
            .contains("Your profile has been saved")
    );
    app.stop().await;
}

#[tokio::test]
async fn an_incomplete_profile_gets_field_errors_and_keeps_the_rest() {
    let app = spawn_app().await;
    app.sign_in("hasty@example.nhs.uk").await;
    let long_title = "x".repeat(150);
    let resp = app
        .post_form(
            "/profile",
            "/profile",
            &[
                ("display_name", ""),
                ("respondent_type", "astronaut"),
                ("organisation", "Acme Health Ltd"),
                ("ods_code", "R-1"),
                ("job_title", &long_title),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.expect("body");
    for anchor in [
        "#display_name",
        "#respondent_type",
        "#ods_code",
        "#job_title",
    ] {
        assert!(
            html.contains(&format!("href=\"{anchor}\"")),
            "summary links to {anchor}"
        );
    }
    assert!(
        html.contains("value=\"Acme Health Ltd\""),
        "valid input is kept"
    );
    let user = users::Entity::find()
        .one(&app.db)
        .await
        .expect("q")
        .expect("user");
    assert!(user.profile_completed_at.is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_profile_page_needs_a_signed_in_person() {
    let app = spawn_app().await;
    let resp = app.get("/profile").await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("href=\"/sign-in\"")
    );
    app.stop().await;
}
