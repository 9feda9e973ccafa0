use entity::api_tokens;
use hub::auth::domain::Role;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{csrf_token, spawn_app};

#[tokio::test]
async fn a_token_created_on_the_page_is_shown_once_and_works_until_revoked() {
    let app = spawn_app().await;
    app.sign_in("supplier@example.com").await;
    let resp = app
        .post_form(
            "/account/tokens",
            "/account/tokens",
            &[("name", "Incident system")],
        )
        .await;
    assert_eq!(resp.status(), 201);
    let html = resp.text().await.expect("body");
    let start = html.find("<code id=\"new-token\">").expect("token shown")
        + "<code id=\"new-token\">".len();
    let token = html[start..start + html[start..].find('<').expect("end")].to_owned();
    assert!(token.starts_with("hth_"));

    let me: Value = app
        .api_get("/api/v1/me", &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["email"], "supplier@example.com");

    let listing = app.get_html("/account/tokens").await;
    assert!(listing.contains("Incident system"));
    assert!(!listing.contains(&token), "the token is never shown again");

    let stored = api_tokens::Entity::find()
        .one(&app.db)
        .await
        .expect("q")
        .expect("row");
    assert_ne!(stored.token_hash, token);
    let revoke = app
        .post_form(
            &format!("/account/tokens/{}/revoke", stored.id),
            "/account/tokens",
            &[],
        )
        .await;
    assert_eq!(revoke.status(), 303);
    let after = app.api_get("/api/v1/me", &token).await;
    assert_eq!(after.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn the_api_creates_lists_and_revokes_tokens() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("integrator@example.com", Role::Contributor)
        .await;
    let created = app
        .api_post(
            "/api/v1/tokens",
            &token,
            &json!({ "name": "Nightly export" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let second = created["token"].as_str().expect("token").to_owned();

    let list: Value = app
        .api_get("/api/v1/tokens", &second)
        .await
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"Nightly export") && names.contains(&"tests"));
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .all(|t| t.get("token").is_none()),
        "listing never shows tokens"
    );

    let id = created["id"].as_str().expect("id");
    let revoked = app
        .api_delete(&format!("/api/v1/tokens/{id}"), &token)
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(app.api_get("/api/v1/me", &second).await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn nobody_can_revoke_another_persons_token() {
    let app = spawn_app().await;
    let mine = app.api_token_for("a@example.com", Role::Contributor).await;
    let theirs = app.api_token_for("b@example.com", Role::Admin).await;
    let list: Value = app
        .api_get("/api/v1/tokens", &theirs)
        .await
        .json()
        .await
        .expect("json");
    let their_id = list[0]["id"].as_str().expect("id").to_owned();
    let resp = app
        .api_delete(&format!("/api/v1/tokens/{their_id}"), &mine)
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(app.api_get("/api/v1/me", &theirs).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_token_name_gets_problem_json_with_a_field_error() {
    let app = spawn_app().await;
    let token = app.api_token_for("c@example.com", Role::Contributor).await;
    let resp = app
        .api_post("/api/v1/tokens", &token, &json!({ "name": "  " }))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/validation");
    assert_eq!(problem["errors"][0]["field"], "name");
    app.stop().await;
}

#[tokio::test]
async fn api_writes_with_a_session_cookie_need_the_csrf_header() {
    let app = spawn_app().await;
    app.sign_in("cookie@example.nhs.uk").await;
    let me = app.get("/api/v1/me").await;
    assert_eq!(me.status(), 200, "reads work with the session cookie");
    let without = app
        .client
        .post(app.url("/api/v1/tokens"))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .expect("POST");
    assert_eq!(without.status(), 403);
    let token = csrf_token(&app.get_html("/account/tokens").await).expect("csrf");
    let with = app
        .client
        .post(app.url("/api/v1/tokens"))
        .header("x-csrf-token", token)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .expect("POST");
    assert_eq!(with.status(), 201);
    app.stop().await;
}
