//! Ideas: submitting, the patient-data guard, limits, idempotency, supports,
//! comments, statuses and lists, through the API and the pages.

use entity::{audit_events, change_log, ideas};
use hub::auth::domain::Role;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, hidden_value, spawn_app};

pub fn idea_body(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Let every trust **read** shared care records.",
        "themes": ["interoperability"],
        "beneficiaries": ["patients", "staff"],
        "expected_impact": "Fewer repeated tests"
    })
}

pub async fn create_idea(app: &TestApp, token: &str, body: &Value) -> Value {
    let resp = app.api_post("/api/v1/ideas", token, body).await;
    assert_eq!(resp.status(), 201, "idea created");
    resp.json().await.expect("json")
}

fn field_errors(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_idea_is_submitted_and_shown_with_sanitized_markdown_author_and_history() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let mut body = idea_body("Shared care records for every ward");
    body["description"] = json!("**Bold** <script>alert('x')</script> [link](javascript:alert(1))");
    let idea = create_idea(&app, &token, &body).await;
    assert_eq!(idea["status"], "submitted");
    assert_eq!(idea["support_count"], 0);
    assert_eq!(idea["themes"][0]["slug"], "interoperability");
    assert_eq!(idea["history"].as_array().map(Vec::len), Some(1));
    let html = idea["description_html"].as_str().expect("html");
    assert!(html.contains("<strong>Bold</strong>"));
    assert!(
        !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );

    let id = idea["id"].as_str().expect("id");
    let page = app.get_html(&format!("/ideas/{id}")).await;
    assert!(page.contains("Shared care records for every ward"));
    assert!(page.contains("<strong>Bold</strong>"));
    assert!(
        !page.contains("alert('x')"),
        "the script never reaches the page"
    );
    assert!(page.contains("Submitted"));

    // The write left its audit event and change-log row.
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    let audits = audit_events::Entity::find()
        .filter(audit_events::Column::SubjectId.eq(id))
        .filter(audit_events::Column::Action.eq("idea.submitted"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(audits, 1);
    let changes = change_log::Entity::find()
        .filter(change_log::Column::EntityId.eq(id))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(changes, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_new_idea_is_answered_exactly_as_it_reads_back() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let mut body = idea_body("Answered as stored");
    // Chosen out of the board's order, which the answer must still show.
    body["themes"] = json!(["procurement", "interoperability", "cyber-security"]);
    body["beneficiaries"] = json!(["system", "patients"]);
    let created = create_idea(&app, &token, &body).await;
    let slugs: Vec<&str> = created["themes"]
        .as_array()
        .expect("themes")
        .iter()
        .filter_map(|t| t["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["interoperability", "cyber-security", "procurement"]);
    let id = created["id"].as_str().expect("id");
    let read = app.api_json(&format!("/api/v1/ideas/{id}"), &token).await;
    assert_eq!(created, read);
    app.stop().await;
}

#[tokio::test]
async fn an_empty_idea_is_refused_with_an_error_for_every_field() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = app.api_post("/api/v1/ideas", &token, &json!({})).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/validation");
    assert_eq!(
        field_errors(&problem),
        [
            "title",
            "description",
            "themes",
            "beneficiaries",
            "expected_impact"
        ]
    );
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn titles_and_descriptions_have_limits_and_unknown_themes_are_refused() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let mut at_limit = idea_body(&"t".repeat(150));
    at_limit["description"] = json!("d".repeat(20_000));
    create_idea(&app, &token, &at_limit).await;

    let mut over = idea_body(&"t".repeat(151));
    over["description"] = json!("d".repeat(20_001));
    over["themes"] = json!(["no-such-theme"]);
    let resp = app.api_post("/api/v1/ideas", &token, &over).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(field_errors(&problem), ["title", "description", "themes"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("150 characters")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_valid_nhs_number_in_any_field_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    for (field, value) in [
        ("title", "Patient 943 476 5919 waited"),
        ("description", "Seen for 943-476-5919 twice"),
        ("expected_impact", "NHS number 9434765919"),
    ] {
        let mut body = idea_body("A fine title");
        body[field] = json!(value);
        let resp = app.api_post("/api/v1/ideas", &token, &body).await;
        assert_eq!(resp.status(), 422, "{field}");
        let problem: Value = resp.json().await.expect("json");
        assert_eq!(field_errors(&problem), [field]);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("NHS number")
        );
    }
    // Ten digits with a wrong check digit is not an NHS number.
    let mut body = idea_body("Ward phone extension");
    body["description"] = json!("Call 943 476 5918 for the ward");
    create_idea(&app, &token, &body).await;

    let idea = create_idea(&app, &token, &idea_body("Something to comment on")).await;
    let id = idea["id"].as_str().expect("id");
    let resp = app
        .api_post(
            &format!("/api/v1/ideas/{id}/comments"),
            &token,
            &json!({ "body": "my NHS no is 4010232137" }),
        )
        .await;
    assert_eq!(resp.status(), 422);
    app.stop().await;
}

#[tokio::test]
async fn the_page_form_refuses_an_nhs_number_and_keeps_everything_else() {
    let app = spawn_app().await;
    app.sign_in_as("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = app
        .post_form(
            "/ideas/new",
            "/ideas/new",
            &[
                ("title", "Faster discharge letters"),
                ("description", "Patient 943 476 5919 waited a week"),
                ("themes", "interoperability"),
                ("themes", "patient-access"),
                ("beneficiaries", "patients"),
                ("expected_impact", "Fewer readmissions"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.expect("body");
    assert!(html.contains("There is a problem"));
    assert!(html.contains("href=\"#description\""));
    assert!(html.contains("Description contains what looks like an NHS number"));
    assert!(
        html.contains("value=\"Faster discharge letters\""),
        "the title is kept"
    );
    assert!(
        html.contains("Patient 943 476 5919 waited a week"),
        "the text is kept to be corrected"
    );
    assert!(
        html.contains("value=\"patient-access\" checked"),
        "ticked themes stay ticked"
    );
    assert!(html.contains("Fewer readmissions"));
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_creates_one_idea() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let body = idea_body("Retried over a flaky connection");
    let headers = [("Idempotency-Key", "retry-0001")];
    let (first, second) = tokio::join!(
        app.api_send(Method::POST, "/api/v1/ideas", &token, &headers, Some(&body)),
        app.api_send(Method::POST, "/api/v1/ideas", &token, &headers, Some(&body)),
    );
    assert_eq!(first.status(), 201);
    assert_eq!(second.status(), 201);
    let first: Value = first.json().await.expect("json");
    let second: Value = second.json().await.expect("json");
    assert_eq!(first["id"], second["id"]);
    let third = app
        .api_send(Method::POST, "/api/v1/ideas", &token, &headers, Some(&body))
        .await;
    let third: Value = third.json().await.expect("json");
    assert_eq!(third["id"], first["id"]);
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        1
    );

    let other = app
        .api_send(
            Method::POST,
            "/api/v1/ideas",
            &token,
            &headers,
            Some(&idea_body("A different idea")),
        )
        .await;
    assert_eq!(other.status(), 409, "the key was used for another request");
    // Another person's identical key is theirs alone.
    let token2 = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let theirs = app
        .api_send(
            Method::POST,
            "/api/v1/ideas",
            &token2,
            &headers,
            Some(&body),
        )
        .await;
    assert_eq!(theirs.status(), 201);
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn a_person_supports_an_idea_once_and_can_withdraw() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let fan = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Supported idea")).await;
    let path = format!("/api/v1/ideas/{}/support", idea["id"].as_str().expect("id"));
    for _ in 0..3 {
        let resp = app
            .api_send(
                Method::PUT,
                &path,
                &fan,
                &[],
                Some(&json!({ "notify": true })),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let state: Value = resp.json().await.expect("json");
        assert_eq!(
            state["support_count"], 1,
            "supporting again changes nothing"
        );
    }
    let own = app
        .api_send(Method::PUT, &path, &author, &[], Some(&json!({})))
        .await;
    assert_eq!(own.status(), 409, "authors cannot support their own idea");
    let withdrawn: Value = app
        .api_send(Method::DELETE, &path, &fan, &[], None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(withdrawn["support_count"], 0);
    let again: Value = app
        .api_send(Method::DELETE, &path, &fan, &[], None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        again["support_count"], 0,
        "withdrawing twice never goes below zero"
    );
    let anonymous = app
        .client
        .put(app.url(&path))
        .json(&json!({}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn status_changes_follow_the_workflow_and_email_the_author_and_opted_in_supporters() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let keen = app
        .api_token_for("keen@example.nhs.uk", Role::Contributor)
        .await;
    let quiet = app
        .api_token_for("quiet@example.nhs.uk", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let idea = create_idea(&app, &author, &idea_body("Status workflow idea")).await;
    let id = idea["id"].as_str().expect("id").to_owned();
    let support = format!("/api/v1/ideas/{id}/support");
    app.api_send(
        Method::PUT,
        &support,
        &keen,
        &[],
        Some(&json!({ "notify": true })),
    )
    .await;
    app.api_send(
        Method::PUT,
        &support,
        &quiet,
        &[],
        Some(&json!({ "notify": false })),
    )
    .await;
    let status = format!("/api/v1/ideas/{id}/status");

    let denied = app
        .api_post(
            &status,
            &author,
            &json!({ "status": "shortlisted", "note": "mine" }),
        )
        .await;
    assert_eq!(denied.status(), 403, "contributors cannot change statuses");
    let illegal = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "implemented", "note": "skip ahead" }),
        )
        .await;
    assert_eq!(illegal.status(), 422);
    let problem: Value = illegal.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "status");
    let no_note = app
        .api_post(&status, &board, &json!({ "status": "under_review" }))
        .await;
    assert_eq!(no_note.status(), 422);

    let changed = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "shortlisted", "note": "Shortlisted for the **spring** round", "version": 1 }),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed["status"], "shortlisted");
    assert_eq!(changed["version"], 2);
    assert_eq!(
        changed["history"][1]["note"],
        "Shortlisted for the **spring** round"
    );

    let to_author = app.wait_for_email("nurse@example.nhs.uk", 1).await;
    assert!(to_author.contains("Your idea is now shortlisted"));
    assert!(to_author.contains("Status workflow idea"));
    let to_keen = app.wait_for_email("keen@example.nhs.uk", 1).await;
    assert!(to_keen.contains("An idea you support is now shortlisted"));
    assert!(
        app.emails_to("quiet@example.nhs.uk").is_empty(),
        "not opted in, not emailed"
    );
    assert!(
        app.emails_to("board@example.nhs.uk").is_empty(),
        "the actor is not emailed"
    );

    let stale = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "in_progress", "note": "Based on an old view", "version": 1 }),
        )
        .await;
    assert_eq!(
        stale.status(),
        409,
        "a change based on a stale version is refused"
    );
    let page = app.get_html(&format!("/ideas/{id}")).await;
    assert!(page.contains("Shortlisted for the <strong>spring</strong> round"));
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_links_to_its_original() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let original = create_idea(&app, &author, &idea_body("The original idea")).await;
    let copy = create_idea(&app, &author, &idea_body("The same idea again")).await;
    let status = format!("/api/v1/ideas/{}/status", copy["id"].as_str().expect("id"));
    let missing = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "duplicate", "note": "Same as another" }),
        )
        .await;
    assert_eq!(missing.status(), 422);
    let problem: Value = missing.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "duplicate_of");
    let original_id = original["id"].as_str().expect("id");
    let link = format!("{}/ideas/{original_id}", app.address);
    let done: Value = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "duplicate", "note": "Same as another", "duplicate_of": link }),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(done["duplicate_of"], original_id);
    let page = app
        .get_html(&format!("/ideas/{}", copy["id"].as_str().expect("id")))
        .await;
    assert!(page.contains(&format!("href=\"/ideas/{original_id}\">The original idea")));
    app.stop().await;
}

#[tokio::test]
async fn comments_are_edited_by_their_author_for_fifteen_minutes_and_hidden_by_the_board_with_a_reason()
 {
    let app = spawn_app().await;
    let author = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let other = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let idea = create_idea(&app, &author, &idea_body("An idea to discuss")).await;
    let idea_id = idea["id"].as_str().expect("id").to_owned();
    let comment: Value = app
        .api_post(
            &format!("/api/v1/ideas/{idea_id}/comments"),
            &other,
            &json!({ "body": "Rude words here" }),
        )
        .await
        .json()
        .await
        .expect("json");
    let comment_id = comment["id"].as_str().expect("id").to_owned();
    assert_eq!(comment["editable"], true);

    let path = format!("/api/v1/comments/{comment_id}");
    let not_theirs = app
        .api_send(
            Method::PATCH,
            &path,
            &author,
            &[],
            Some(&json!({ "body": "hijack" })),
        )
        .await;
    assert_eq!(not_theirs.status(), 403);
    let edited: Value = app
        .api_send(
            Method::PATCH,
            &path,
            &other,
            &[],
            Some(&json!({ "body": "Kinder words" })),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(edited["body"], "Kinder words");
    assert!(edited["edited_at"].is_string());

    // Sixteen minutes later the window has closed.
    let old = chrono::Utc::now() - chrono::Duration::minutes(16);
    entity::comments::Entity::update_many()
        .col_expr(
            entity::comments::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(old),
        )
        .exec(&app.db)
        .await
        .expect("age the comment");
    let late = app
        .api_send(
            Method::PATCH,
            &path,
            &other,
            &[],
            Some(&json!({ "body": "Too late" })),
        )
        .await;
    assert_eq!(late.status(), 409);

    let denied = app
        .api_post(
            &format!("{path}/hide"),
            &author,
            &json!({ "reason": "I dislike it" }),
        )
        .await;
    assert_eq!(denied.status(), 403);
    let no_reason = app
        .api_post(&format!("{path}/hide"), &board, &json!({}))
        .await;
    assert_eq!(no_reason.status(), 422);
    let hidden = app
        .api_post(
            &format!("{path}/hide"),
            &board,
            &json!({ "reason": "Off topic" }),
        )
        .await;
    assert_eq!(hidden.status(), 200);

    let public: Value = app
        .get(&format!("/api/v1/ideas/{idea_id}/comments"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(public[0]["hidden"], true);
    assert_eq!(public[0]["hidden_reason"], "Off topic");
    assert!(
        public[0]["body"].is_null(),
        "the hidden text is not shown to the public"
    );
    let page = app.get_html(&format!("/ideas/{idea_id}")).await;
    assert!(page.contains("hidden by the board: Off topic"));
    assert!(!page.contains("Kinder words"));
    let for_board: Value = app
        .api_get(&format!("/api/v1/ideas/{idea_id}/comments"), &board)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(for_board[0]["body"], "Kinder words");
    app.stop().await;
}

#[tokio::test]
async fn ideas_are_filtered_sorted_and_paged_with_stable_cursors() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let fan = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let mut body = idea_body(&format!("Idea number {n}"));
        if n % 2 == 0 {
            body["themes"] = json!(["cyber-security"]);
        }
        ids.push(
            create_idea(&app, &author, &body).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    app.api_send(
        Method::PUT,
        &format!("/api/v1/ideas/{}/support", ids[3]),
        &fan,
        &[],
        Some(&json!({})),
    )
    .await;

    let cyber: Value = app
        .get("/api/v1/ideas?theme=cyber-security")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(cyber["items"].as_array().map(Vec::len), Some(4));
    let top: Value = app
        .get("/api/v1/ideas?sort=most_supported&limit=1")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(top["items"][0]["id"], ids[3].as_str());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/ideas?limit=3&cursor={c}"),
            None => "/api/v1/ideas?limit=3".to_owned(),
        };
        let page: Value = app.get(&path).await.json().await.expect("json");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, every idea once");

    let bad = app.get("/api/v1/ideas?cursor=garbage!").await;
    assert_eq!(bad.status(), 422);
    let bad_status = app.get("/api/v1/ideas?status=nonsense").await;
    assert_eq!(bad_status.status(), 422);
    let too_many = app.get("/api/v1/ideas?limit=1000").await;
    assert_eq!(too_many.status(), 422);

    let page = app
        .get_html("/ideas?theme=cyber-security&sort=newest")
        .await;
    assert!(page.contains("Idea number 6") && !page.contains("Idea number 5"));
    app.stop().await;
}

#[tokio::test]
async fn the_form_previews_shows_possible_duplicates_and_submits_once() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("other@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(
        &app,
        &author,
        &idea_body("Electronic prescribing in mental health trusts"),
    )
    .await;
    app.sign_in_as("nurse@example.nhs.uk", Role::Contributor)
        .await;
    app.indexed().await;

    let similar: Value = app
        .get("/api/v1/ideas/similar?title=Electronic%20prescribing%20for%20community%20mental%20health")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        similar[0]["title"],
        "Electronic prescribing in mental health trusts"
    );

    let fields = [
        (
            "title",
            "Electronic prescribing for community mental health",
        ),
        (
            "description",
            "Paper charts are still used in *community* teams.",
        ),
        ("themes", "clinical-safety"),
        ("beneficiaries", "patients"),
        ("expected_impact", "Fewer medication errors"),
    ];
    let mut preview_fields = fields.to_vec();
    preview_fields.push(("action", "preview"));
    let preview = app
        .post_form("/ideas/new", "/ideas/new", &preview_fields)
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("body");
    assert!(html.contains("Check your idea"));
    assert!(
        html.contains("<em>community</em>"),
        "the preview renders Markdown"
    );
    assert!(html.contains("Similar ideas already exist"));
    assert!(html.contains("Electronic prescribing in mental health trusts"));
    let key = hidden_value(&html, "submission_key").expect("submission key");
    let csrf = hidden_value(&html, "csrf_token").expect("csrf");

    let mut submit: Vec<(&str, &str)> = fields.to_vec();
    submit.extend([
        ("action", "submit"),
        ("submission_key", key.as_str()),
        ("csrf_token", csrf.as_str()),
    ]);
    let first = app
        .client
        .post(app.url("/ideas/new"))
        .form(&submit)
        .send()
        .await
        .expect("POST");
    assert_eq!(first.status(), 303);
    let location = first.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(location.starts_with("/ideas/") && location.ends_with("?submitted=1"));
    // A double click sends the same form again: still one idea.
    let second = app
        .client
        .post(app.url("/ideas/new"))
        .form(&submit)
        .send()
        .await
        .expect("POST");
    assert_eq!(
        second.headers()["location"].to_str().expect("ascii"),
        location
    );
    assert_eq!(
        ideas::Entity::find().count(&app.db).await.expect("count"),
        2
    );
    let page = app.get_html(&location).await;
    assert!(page.contains("Your idea has been submitted"));
    app.stop().await;
}

#[tokio::test]
async fn signed_out_people_read_ideas_but_must_sign_in_to_submit() {
    let app = spawn_app().await;
    let list = app.get("/ideas").await;
    assert_eq!(list.status(), 200);
    let form = app.get("/ideas/new").await;
    assert_eq!(form.status(), 401);
    assert!(form.text().await.expect("body").contains("/sign-in"));
    let api = app
        .client
        .post(app.url("/api/v1/ideas"))
        .json(&idea_body("x"))
        .send()
        .await
        .expect("POST");
    assert_eq!(api.status(), 401);
    let unknown = app.get(&format!("/ideas/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_board_manages_themes_and_retired_themes_cannot_be_chosen() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let themes: Value = app.get("/api/v1/themes").await.json().await.expect("json");
    assert_eq!(
        themes.as_array().map(Vec::len),
        Some(7),
        "the starting themes"
    );

    let denied = app
        .api_post("/api/v1/themes", &nurse, &json!({ "name": "Estates" }))
        .await;
    assert_eq!(denied.status(), 403);
    let created: Value = app
        .api_post(
            "/api/v1/themes",
            &board,
            &json!({ "name": "Estates and facilities" }),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(created["slug"], "estates-and-facilities");
    let duplicate = app
        .api_post(
            "/api/v1/themes",
            &board,
            &json!({ "name": "Estates and Facilities" }),
        )
        .await;
    assert_eq!(duplicate.status(), 422);

    let path = format!("/api/v1/themes/{}", created["id"].as_str().expect("id"));
    let retired = app
        .api_send(
            Method::PATCH,
            &path,
            &board,
            &[],
            Some(&json!({ "active": false })),
        )
        .await;
    assert_eq!(retired.status(), 200);
    let mut body = idea_body("Better estates");
    body["themes"] = json!(["estates-and-facilities"]);
    let refused = app.api_post("/api/v1/ideas", &nurse, &body).await;
    assert_eq!(refused.status(), 422);
    app.stop().await;
}
