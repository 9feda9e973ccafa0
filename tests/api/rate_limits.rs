//! Submissions (ideas, reports, consultation responses) are limited per
//! account per hour; a refusal stores nothing and, on a page, keeps what was
//! typed.

use entity::{ideas, reports};
use hub::auth::domain::Role;
use reqwest::Method;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::consultations::{open_consultation, respondent, response_path, save, submit};
use crate::helpers::{Options, spawn_app_with};
use crate::ideas::idea_body;
use crate::reports::report_body;

#[tokio::test]
async fn an_account_over_its_hourly_submissions_is_refused_with_429_and_nothing_is_stored() {
    let app = spawn_app_with(Options {
        env: vec![("HUB_SUBMISSIONS_PER_HOUR".into(), "3".into())],
        ..Options::default()
    })
    .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let busy = respondent(&app, "busy@example.nhs.uk", "nhs_staff", "Busy Person").await;
    let other = app
        .api_token_for("other@example.nhs.uk", Role::Contributor)
        .await;

    // One limit across ideas, reports and responses.
    let headers = [("Idempotency-Key", "first-idea")];
    let first = app
        .api_send(
            Method::POST,
            "/api/v1/ideas",
            &busy,
            &headers,
            Some(&idea_body("First of three")),
        )
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let report = app
        .api_post("/api/v1/reports", &busy, &report_body("Pathology viewer"))
        .await;
    assert_eq!(report.status(), 201);
    let c = open_consultation(&app, &board, "api-access", &["nhs_staff"]).await;
    save(
        &app,
        &busy,
        &c,
        &crate::consultations::complete(&c, "Fine by me", "anonymous"),
    )
    .await;
    let submitted = submit(&app, &busy, &c, &[]).await;
    assert_eq!(submitted.status(), 200, "the third submission is allowed");

    let refused = app
        .api_post("/api/v1/ideas", &busy, &idea_body("Fourth in the hour"))
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3_600).contains(&wait), "retry after {wait}s");
    let problem: Value = refused.json().await.expect("json");
    assert!(
        problem["type"]
            .as_str()
            .expect("type")
            .ends_with("/problems/rate-limited"),
        "{problem}"
    );
    let report = app
        .api_post("/api/v1/reports", &busy, &report_body("Another system"))
        .await;
    assert_eq!(report.status(), 429);
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        1
    );
    assert_eq!(
        reports::Entity::find().count(&app.db).await.expect("count"),
        1
    );

    // A retry of an acknowledged request still gets its answer, and the
    // saved draft of a response is untouched by a refused submission.
    let retried = app
        .api_send(
            Method::POST,
            "/api/v1/ideas",
            &busy,
            &headers,
            Some(&idea_body("First of three")),
        )
        .await;
    assert_eq!(retried.status(), 201);
    let retried: Value = retried.json().await.expect("json");
    assert_eq!(retried["id"], first["id"]);
    let mine = app.api_json(&response_path(&c), &busy).await;
    assert_eq!(mine["status"], "submitted");

    // The limit is the account's own: others carry on.
    let theirs = app
        .api_post("/api/v1/ideas", &other, &idea_body("Someone else's idea"))
        .await;
    assert_eq!(theirs.status(), 201);
    app.stop().await;
}

#[tokio::test]
async fn on_the_pages_a_refused_idea_or_report_is_shown_again_with_an_error_and_the_words_kept() {
    let app = spawn_app_with(Options {
        env: vec![("HUB_SUBMISSIONS_PER_HOUR".into(), "1".into())],
        ..Options::default()
    })
    .await;
    app.sign_in_as("writer@example.nhs.uk", Role::Contributor)
        .await;
    let token = app
        .api_token_for("writer@example.nhs.uk", Role::Contributor)
        .await;
    let resp = app
        .api_post("/api/v1/ideas", &token, &idea_body("Used up the hour"))
        .await;
    assert_eq!(resp.status(), 201);

    let resp = app
        .post_form(
            "/ideas/new",
            "/ideas/new",
            &[
                ("title", "Shared rota app for porters"),
                ("description", "Porters swap shifts by text message today."),
                ("themes", "interoperability"),
                ("beneficiaries", "staff"),
                ("expected_impact", "Fewer missed shifts"),
                ("action", "submit"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 429);
    let html = resp.text().await.expect("html");
    assert!(html.contains("nhsuk-error-summary"), "error summary shown");
    assert!(html.contains("href=\"#submit\""), "the summary links to it");
    assert!(html.contains("you can send this again in"));
    assert!(html.contains("value=\"Shared rota app for porters\""));
    assert!(html.contains("Porters swap shifts by text message today."));
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        1
    );

    let resp = app
        .post_form(
            "/reports/new",
            "/reports/new",
            &[
                ("organisation", "Oxford"),
                ("system_name", "Theatre scheduling"),
                ("category", "usability"),
                ("severity", "medium"),
                ("patient_impact", "Lists start late"),
                ("staff_impact", "Hours of re-keying"),
                ("evidence", "Every Monday"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 429);
    let html = resp.text().await.expect("html");
    assert!(html.contains("href=\"#submit\""));
    assert!(html.contains("you can send this again in"));
    assert!(html.contains("value=\"Theatre scheduling\""));
    assert!(html.contains("Hours of re-keying"));
    assert_eq!(
        reports::Entity::find().count(&app.db).await.expect("count"),
        0
    );
    app.stop().await;
}
