use entity::{audit_events, users};
use hub::auth::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::spawn_app;

async fn user(app: &crate::helpers::TestApp, email: &str) -> users::Model {
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .expect("q")
        .expect("user")
}

#[tokio::test]
async fn an_admin_makes_someone_a_board_member_and_the_change_is_audited() {
    let app = spawn_app().await;
    app.api_token_for("member@example.nhs.uk", Role::Contributor)
        .await;
    app.sign_in_as("admin@example.nhs.uk", Role::Admin).await;
    let page = app.get_html("/admin/users").await;
    assert!(page.contains("member@example.nhs.uk"));
    let member = user(&app, "member@example.nhs.uk").await;
    let resp = app
        .post_form(
            &format!("/admin/users/{}/role", member.id),
            "/admin/users",
            &[("role", "board")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(user(&app, "member@example.nhs.uk").await.role, "board");
    let event = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("user.role_changed"))
        .one(&app.db)
        .await
        .expect("q")
        .expect("event");
    let admin = user(&app, "admin@example.nhs.uk").await;
    assert_eq!(event.actor_user_id, Some(admin.id));
    assert_eq!(event.subject_id, Some(member.id));
    assert_eq!(
        event.before.as_ref().and_then(|b| b["role"].as_str()),
        Some("contributor")
    );
    assert_eq!(
        event.after.as_ref().and_then(|a| a["role"].as_str()),
        Some("board")
    );
    assert!(event.request_id.is_some());
    app.stop().await;
}

#[tokio::test]
async fn contributors_and_board_members_cannot_manage_users() {
    let app = spawn_app().await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    assert_eq!(app.get("/admin/users").await.status(), 403);
    assert_eq!(app.get("/admin/emails").await.status(), 403);
    let me = user(&app, "board@example.nhs.uk").await;
    let resp = app
        .post_form(
            &format!("/admin/users/{}/role", me.id),
            "/profile",
            &[("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(user(&app, "board@example.nhs.uk").await.role, "board");
    app.stop().await;
}

#[tokio::test]
async fn the_last_administrator_cannot_be_demoted() {
    let app = spawn_app().await;
    app.sign_in_as("only-admin@example.nhs.uk", Role::Admin)
        .await;
    let me = user(&app, "only-admin@example.nhs.uk").await;
    let resp = app
        .post_form(
            &format!("/admin/users/{}/role", me.id),
            "/admin/users",
            &[("role", "contributor")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("at least one administrator")
    );
    assert_eq!(user(&app, "only-admin@example.nhs.uk").await.role, "admin");
    let bad = app
        .post_form(
            &format!("/admin/users/{}/role", me.id),
            "/admin/users",
            &[("role", "emperor")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    app.stop().await;
}
