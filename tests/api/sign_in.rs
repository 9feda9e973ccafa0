use chrono::Utc;
use entity::{login_tokens, sessions, users};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::helpers::{Options, csrf_token, sign_in_link, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_person_signs_in_with_an_emailed_link_and_is_asked_for_their_profile() {
    let app = spawn_app().await;
    let resp = app
        .post_form("/sign-in", "/sign-in", &[("email", "  Jo.Bloggs@NHS.net ")])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/sign-in/check-email");

    let email = app.wait_for_email("jo.bloggs@nhs.net", 1).await;
    assert!(email.contains("Subject: Your sign-in link for HealthTech Hub"));
    let link = sign_in_link(&email).expect("link");
    assert!(
        link.starts_with(&app.address),
        "the link points at this server: {link}"
    );

    let resp = app.follow_sign_in_link(&link).await;
    assert_eq!(resp.headers()["location"], "/profile");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("hub_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http has no Secure flag");

    let profile = app.get_html("/profile").await;
    assert!(profile.contains("Tell us about yourself"));
    let user = users::Entity::find()
        .filter(users::Column::Email.eq("jo.bloggs@nhs.net"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("account created");
    assert_eq!(user.role, "contributor");
    app.stop().await;
}

#[tokio::test]
async fn the_sign_in_reply_is_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    app.api_token_for("known@example.nhs.uk", hub::auth::domain::Role::Board)
        .await;
    let known = app
        .post_form("/sign-in", "/sign-in", &[("email", "known@example.nhs.uk")])
        .await;
    let unknown = app
        .post_form(
            "/sign-in",
            "/sign-in",
            &[("email", "unknown@example.nhs.uk")],
        )
        .await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.headers()["location"], unknown.headers()["location"]);
    let known_page = app.get_html("/sign-in/check-email").await;
    assert!(known_page.contains("If the address you gave can be used"));
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_email_gets_a_field_error_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let resp = app
        .post_form("/sign-in", "/sign-in", &[("email", "jo.bloggs-at-nhs")])
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.expect("body");
    assert!(html.contains("nhsuk-error-summary"));
    assert!(html.contains("href=\"#email\""));
    assert!(html.contains("Enter an email address in the correct format"));
    assert!(html.contains("value=\"jo.bloggs-at-nhs\""));
    assert!(html.contains("<title>Error: Sign in"));
    app.stop().await;
}

#[tokio::test]
async fn a_sign_in_link_works_only_once() {
    let app = spawn_app().await;
    app.sign_in("once@example.nhs.uk").await;
    let email = app.wait_for_email("once@example.nhs.uk", 1).await;
    let link = sign_in_link(&email).expect("link");
    let again = app.client.get(&link).send().await.expect("GET");
    assert_eq!(again.status(), 410);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("already been used")
    );
    app.stop().await;
}

#[tokio::test]
async fn two_concurrent_uses_of_one_link_start_exactly_one_session() {
    let app = spawn_app().await;
    app.post_form("/sign-in", "/sign-in", &[("email", "race@example.nhs.uk")])
        .await;
    let email = app.wait_for_email("race@example.nhs.uk", 1).await;
    let link = sign_in_link(&email).expect("link");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let attempt = || async {
        hub::auth::service::sign_in_with_link(&app.state, &token)
            .await
            .expect("no error")
            .is_ok()
    };
    let (a, b) = tokio::join!(attempt(), attempt());
    assert!(a ^ b, "exactly one use succeeds (got {a} and {b})");
    assert_eq!(
        sessions::Entity::find()
            .all(&app.db)
            .await
            .expect("query")
            .len(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn an_expired_link_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    app.post_form("/sign-in", "/sign-in", &[("email", "late@example.nhs.uk")])
        .await;
    let email = app.wait_for_email("late@example.nhs.uk", 1).await;
    let link = sign_in_link(&email).expect("link");
    login_tokens::Entity::update_many()
        .set(login_tokens::ActiveModel {
            expires_at: Set(Utc::now() - chrono::Duration::minutes(1)),
            ..Default::default()
        })
        .exec(&app.db)
        .await
        .expect("expire");
    let resp = app.client.get(&link).send().await.expect("GET");
    assert_eq!(resp.status(), 410);
    assert!(resp.text().await.expect("body").contains("expired"));
    let bogus = app.get("/sign-in/link?token=not-a-real-token").await;
    assert_eq!(bogus.status(), 410);
    app.stop().await;
}

#[tokio::test]
async fn links_and_sessions_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    app.sign_in("hash@example.nhs.uk").await;
    let email = app.wait_for_email("hash@example.nhs.uk", 1).await;
    let token = sign_in_link(&email)
        .expect("link")
        .split("token=")
        .nth(1)
        .expect("token")
        .to_owned();
    let stored = login_tokens::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("row");
    assert_ne!(stored.token_hash, token);
    assert_eq!(stored.token_hash, hub::auth::crypto::hash_token(&token));
    app.stop().await;
}

#[tokio::test]
async fn a_tampered_session_cookie_is_treated_as_signed_out_and_cleared() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/profile"))
        .header("cookie", "hub_session=forged-value")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 401);
    let cleared = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("hub_session=;")));
    assert!(cleared, "the bad cookie is cleared");
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("You need to sign in")
    );
    app.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let app = spawn_app().await;
    app.sign_in("leaving@example.nhs.uk").await;
    assert_eq!(app.get("/profile").await.status(), 200);
    let session = sessions::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("session");
    let resp = app.post_form("/sign-out", "/profile", &[]).await;
    assert_eq!(resp.status(), 303);
    assert!(
        sessions::Entity::find_by_id(session.id)
            .one(&app.db)
            .await
            .expect("query")
            .is_none()
    );
    assert_eq!(app.get("/profile").await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn signing_in_renews_the_session_and_voids_what_was_issued_before() {
    let app = spawn_app().await;
    // A form token issued before sign-in (bound to the anonymous cookie).
    let before = csrf_token(&app.get_html("/sign-in").await).expect("csrf");
    app.post_form("/sign-in", "/sign-in", &[("email", "renew@example.nhs.uk")])
        .await;
    let link = sign_in_link(&app.wait_for_email("renew@example.nhs.uk", 1).await).expect("link");
    let first = session_cookie(&app.follow_sign_in_link(&link).await);

    let stale = app
        .client
        .post(app.url("/profile"))
        .form(&[("display_name", "Mallory"), ("csrf_token", before.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(stale.status(), 403, "a token from before sign-in is void");

    // Signing in again in the same browser: a new token, the old one ended.
    // (The sign-in page sends a signed-in person on; the request is a form.)
    app.post_form("/sign-in", "/profile", &[("email", "renew@example.nhs.uk")])
        .await;
    let link = app.new_sign_in_link("renew@example.nhs.uk", 1).await;
    let second = session_cookie(&app.follow_sign_in_link(&link).await);
    assert_ne!(first, second);
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let profile_with = |cookie: String| {
        bare.get(app.url("/profile"))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(profile_with(second).await.expect("GET").status(), 200);
    assert_eq!(profile_with(first).await.expect("GET").status(), 401);
    assert_eq!(
        sessions::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        1
    );
    app.stop().await;
}

/// `hub_session=…` from a sign-in answer's Set-Cookie.
fn session_cookie(resp: &reqwest::Response) -> String {
    let set = resp.headers()["set-cookie"].to_str().expect("ascii");
    set.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn a_form_posted_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.sign_in("csrf@example.nhs.uk").await;
    let no_token = app
        .client
        .post(app.url("/profile"))
        .form(&[("display_name", "Mallory")])
        .send()
        .await
        .expect("POST");
    assert_eq!(no_token.status(), 403);
    let wrong = app
        .client
        .post(app.url("/profile"))
        .form(&[("display_name", "Mallory"), ("csrf_token", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status(), 403);
    assert!(
        wrong
            .text()
            .await
            .expect("body")
            .contains("The form has expired")
    );
    let user = users::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("user");
    assert_eq!(user.display_name, None);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_requests_are_rate_limited_per_address() {
    let app = spawn_app().await;
    let page = app.get_html("/sign-in").await;
    let token = csrf_token(&page).expect("csrf");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let resp = app
            .client
            .post(app.url("/sign-in"))
            .form(&[("email", "flood@example.nhs.uk"), ("csrf_token", &token)])
            .send()
            .await
            .expect("POST");
        statuses.push((
            resp.status().as_u16(),
            resp.headers().get("retry-after").is_some(),
        ));
    }
    assert_eq!(
        statuses.iter().filter(|(s, _)| *s == 303).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&(429, true)));
    assert!(
        !app.wait_for_email("flood@example.nhs.uk", 5)
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn session_cookies_are_secure_when_the_service_is_public_over_https() {
    let app = spawn_app_with(Options {
        env: vec![("HUB_PUBLIC_URL".into(), "https://hub.example.nhs.uk".into())],
        ..Options::default()
    })
    .await;
    let resp = app.get("/").await;
    let anon = resp.headers()["set-cookie"].to_str().expect("ascii");
    assert!(anon.contains("; Secure"));
    assert!(resp.headers().contains_key("strict-transport-security"));
    app.stop().await;
}
