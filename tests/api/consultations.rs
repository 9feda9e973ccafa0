//! Consultations: drafts the board alone sees, who may respond, drafts and
//! submission, section comments across versions, closing, the patient-data
//! guard and idempotency, dispositions, the outcome (consent and redaction),
//! campaigns, import, export and themes, through the API.

use chrono::{Duration, SecondsFormat, Utc};
use entity::{email_outbox, users};
use hub::auth::domain::Role;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const TITLE: &str = "Token standard";

const DOCUMENT: &str = "# Scope\n\nThis standard covers API access to clinical systems.\n\n# Token lifetimes\n\nAccess tokens last five minutes.\n\n## Refresh tokens\n\nRefresh tokens last eight hours and rotate on use.";

pub(crate) const DOCUMENT_V2: &str = "# Scope\n\nThis standard covers API access to clinical and administrative systems.\n\n# Token lifetimes\n\nAccess tokens last ten minutes.\n\n## Refresh tokens\n\nRefresh tokens last twelve hours and rotate on use.";

/// A consultation made through the API, with its question ids.
pub(crate) struct Consultation {
    pub(crate) slug: String,
    audience: Vec<&'static str>,
    opens_at: String,
    free_text: String,
    single_choice: String,
    agreement: String,
    multi_choice: String,
}

/// An RFC 3339 time `offset` from now, in whole seconds (so that it reads
/// back exactly on every database).
pub(crate) fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn consultation_body(
    slug: &str,
    audience: &[&'static str],
    opens_at: &str,
    closes_at: &str,
) -> Value {
    json!({
        "slug": slug,
        "title": TITLE,
        "summary": "How long API access tokens should last.",
        "audience": audience,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "document": DOCUMENT
    })
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

/// Checks the status and that the body is problem+json, and returns it.
async fn problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(
        resp.headers()["content-type"].to_str().expect("ascii"),
        "application/problem+json"
    );
    resp.json().await.expect("json")
}

/// Creates a draft (board) with four questions: free text (required),
/// single choice, agreement scale and multiple choice.
async fn create_draft(
    app: &TestApp,
    board: &str,
    slug: &str,
    audience: &[&'static str],
) -> Consultation {
    let opens_at = at(Duration::hours(-1));
    let body = consultation_body(slug, audience, &opens_at, &at(Duration::days(1)));
    let resp = app.api_post("/api/v1/consultations", board, &body).await;
    assert_eq!(resp.status(), 201, "consultation created");
    let mut ids = Vec::new();
    for question in [
        json!({ "kind": "free_text", "prompt": "What do you think of the token lifetimes?", "required": true }),
        json!({ "kind": "single_choice", "prompt": "Do you support the standard?", "options": ["Yes", "No", "Not sure"] }),
        json!({ "kind": "agreement_scale", "prompt": "Five minutes is long enough for an access token" }),
        json!({ "kind": "multi_choice", "prompt": "Which of your products are affected?", "options": ["Web", "Mobile", "Desktop"] }),
    ] {
        let resp = app
            .api_post(
                &format!("/api/v1/consultations/{slug}/questions"),
                board,
                &question,
            )
            .await;
        assert_eq!(resp.status(), 201, "{question}");
        let created: Value = resp.json().await.expect("json");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let [free_text, single_choice, agreement, multi_choice]: [String; 4] =
        ids.try_into().expect("four questions");
    Consultation {
        slug: slug.to_owned(),
        audience: audience.to_vec(),
        opens_at,
        free_text,
        single_choice,
        agreement,
        multi_choice,
    }
}

/// Creates and publishes a consultation that is open now and closes tomorrow.
pub(crate) async fn open_consultation(
    app: &TestApp,
    board: &str,
    slug: &str,
    audience: &[&'static str],
) -> Consultation {
    let consultation = create_draft(app, board, slug, audience).await;
    let resp = app
        .api_post(
            &format!("/api/v1/consultations/{slug}/publish"),
            board,
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200, "published");
    let published: Value = resp.json().await.expect("json");
    assert_eq!(published["phase"], "open");
    consultation
}

/// Closes the consultation a minute ago, changing nothing else.
pub(crate) async fn close(app: &TestApp, board: &str, c: &Consultation) {
    let body = consultation_body(
        &c.slug,
        &c.audience,
        &c.opens_at,
        &at(Duration::minutes(-1)),
    );
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/v1/consultations/{}", c.slug),
            board,
            &[],
            Some(&body),
        )
        .await;
    let status = resp.status();
    let updated: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "closed: {updated}");
    assert_eq!(updated["phase"], "closed");
}

/// A contributor with a respondent type and a name, and their API token.
pub(crate) async fn respondent(
    app: &TestApp,
    address: &str,
    respondent_type: &str,
    name: &str,
) -> String {
    let token = app.api_token_for(address, Role::Contributor).await;
    users::Entity::update_many()
        .col_expr(
            users::Column::RespondentType,
            Expr::value(respondent_type.to_owned()),
        )
        .col_expr(users::Column::DisplayName, Expr::value(name.to_owned()))
        .filter(users::Column::Email.eq(address))
        .exec(&app.db)
        .await
        .expect("set the respondent type");
    token
}

/// Answers to every question, with `text` for the free-text one.
fn answers(c: &Consultation, text: &str) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(c.free_text.clone(), json!([text]));
    map.insert(c.single_choice.clone(), json!(["Yes"]));
    map.insert(c.agreement.clone(), json!(["4"]));
    map.insert(c.multi_choice.clone(), json!(["Web", "Mobile"]));
    Value::Object(map)
}

/// A complete response as an individual.
pub(crate) fn complete(c: &Consultation, text: &str, consent: &str) -> Value {
    json!({
        "capacity": "individual",
        "interests": "no",
        "consent": consent,
        "answers": answers(c, text)
    })
}

pub(crate) fn response_path(c: &Consultation) -> String {
    format!("/api/v1/consultations/{}/response", c.slug)
}

/// PUTs the caller's response and returns it (asserting success).
pub(crate) async fn save(app: &TestApp, token: &str, c: &Consultation, body: &Value) -> Value {
    let resp = app
        .api_send(Method::PUT, &response_path(c), token, &[], Some(body))
        .await;
    let status = resp.status();
    let saved: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "saved: {saved}");
    saved
}

pub(crate) async fn submit(
    app: &TestApp,
    token: &str,
    c: &Consultation,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    app.api_send(
        Method::POST,
        &format!("{}/submit", response_path(c)),
        token,
        headers,
        None,
    )
    .await
}

pub(crate) async fn comment_on(
    app: &TestApp,
    token: &str,
    c: &Consultation,
    anchor: &str,
    text: &str,
) -> reqwest::Response {
    app.api_send(
        Method::PUT,
        &format!("{}/comments/{anchor}", response_path(c)),
        token,
        &[],
        Some(&json!({ "comment": text })),
    )
    .await
}

/// Saves a complete response, optionally comments on the scope, submits it,
/// and returns the submitted response.
pub(crate) async fn respond(
    app: &TestApp,
    token: &str,
    c: &Consultation,
    text: &str,
    consent: &str,
    scope_comment: Option<&str>,
) -> Value {
    save(app, token, c, &complete(c, text, consent)).await;
    if let Some(comment) = scope_comment {
        let resp = comment_on(app, token, c, "scope", comment).await;
        assert_eq!(resp.status(), 200, "commented");
    }
    let resp = submit(app, token, c, &[]).await;
    let status = resp.status();
    let submitted: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "submitted: {submitted}");
    assert_eq!(submitted["status"], "submitted");
    submitted
}

/// Receipts queued for `address`.
async fn receipts_queued(app: &TestApp, address: &str) -> u64 {
    email_outbox::Entity::find()
        .filter(email_outbox::Column::ToAddress.eq(address))
        .filter(email_outbox::Column::Subject.starts_with("Your response to"))
        .count(&app.db)
        .await
        .expect("count")
}

/// The board's export as CSV records (with the header first).
async fn export_rows(app: &TestApp, board: &str, c: &Consultation) -> Vec<Vec<String>> {
    let resp = app
        .api_get(
            &format!("/api/v1/consultations/{}/responses.csv", c.slug),
            board,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let body = resp.text().await.expect("body");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_owned)
                .collect::<Vec<String>>()
        })
        .collect();
    rows
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

pub(crate) async fn import_csv(
    app: &TestApp,
    board: &str,
    c: &Consultation,
    file: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!(
            "/api/v1/consultations/{}/responses/import",
            c.slug
        )))
        .bearer_auth(board)
        .header("Content-Type", "text/csv")
        .body(file.to_owned())
        .send()
        .await
        .expect("POST import")
}

#[tokio::test]
async fn drafts_are_seen_only_by_the_board_and_sections_have_stable_anchors() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let c = create_draft(&app, &board, "token-standard", &["everyone"]).await;
    let path = format!("/api/v1/consultations/{}", c.slug);

    problem(app.api_get(&path, &nurse).await, 404).await;
    assert_eq!(app.get(&path).await.status(), 404, "signed out");
    assert_eq!(
        app.api_get(&format!("{path}/versions/1"), &nurse)
            .await
            .status(),
        404
    );
    let respond = app
        .api_send(
            Method::PUT,
            &format!("{path}/response"),
            &nurse,
            &[],
            Some(&json!({ "answers": {} })),
        )
        .await;
    problem(respond, 404).await;
    let listed: Value = app.api_json("/api/v1/consultations", &nurse).await;
    assert_eq!(listed, json!([]), "absent from a contributor's list");
    let listed: Value = app
        .get("/api/v1/consultations")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed, json!([]), "absent from the signed-out list");

    let for_board: Value = app.api_json("/api/v1/consultations", &board).await;
    assert_eq!(for_board.as_array().map(Vec::len), Some(1));
    assert_eq!(for_board[0]["slug"], "token-standard");
    assert_eq!(for_board[0]["phase"], "draft");
    let draft: Value = app.api_json(&path, &board).await;
    assert_eq!(draft["phase"], "draft");
    assert_eq!(draft["title"], TITLE);
    assert_eq!(draft["questions"].as_array().map(Vec::len), Some(4));
    let sections: Vec<(&str, &str, u64)> = draft["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| {
            (
                s["anchor"].as_str().unwrap_or(""),
                s["title"].as_str().unwrap_or(""),
                s["level"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        sections,
        [
            ("scope", "Scope", 1),
            ("token-lifetimes", "Token lifetimes", 1),
            ("refresh-tokens", "Refresh tokens", 2)
        ]
    );
    assert!(
        draft["sections"][2]["body"]
            .as_str()
            .unwrap_or("")
            .contains("rotate on use")
    );

    // Published, everyone sees it with the same anchors.
    let resp = app
        .api_post(&format!("{path}/publish"), &board, &json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let public: Value = app.api_json(&path, &nurse).await;
    assert_eq!(public["phase"], "open");
    assert_eq!(public["sections"][1]["anchor"], "token-lifetimes");
    let listed: Value = app.api_json("/api/v1/consultations", &nurse).await;
    assert_eq!(listed[0]["slug"], "token-standard");
    app.stop().await;
}

#[tokio::test]
async fn only_the_board_creates_consultations_and_bad_details_are_refused_per_field() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let good = consultation_body(
        "token-standard",
        &["supplier", "expert"],
        &at(Duration::hours(-1)),
        &at(Duration::days(1)),
    );

    let refused = app.api_post("/api/v1/consultations", &nurse, &good).await;
    let refused = problem(refused, 403).await;
    assert_eq!(refused["type"], "/problems/forbidden");
    let signed_out = app
        .client
        .post(app.url("/api/v1/consultations"))
        .json(&good)
        .send()
        .await
        .expect("POST");
    let signed_out = problem(signed_out, 401).await;
    assert_eq!(signed_out["type"], "/problems/unauthorized");
    let listed: Value = app.api_json("/api/v1/consultations", &board).await;
    assert_eq!(listed, json!([]), "nothing was created");

    let mut bad = good.clone();
    bad["slug"] = json!("Not a slug!");
    bad["title"] = json!("   ");
    bad["opens_at"] = json!(at(Duration::days(2)));
    bad["closes_at"] = json!(at(Duration::days(1)));
    let resp = app.api_post("/api/v1/consultations", &board, &bad).await;
    let body = problem(resp, 422).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(field_errors(&body), ["slug", "title", "closes_at"]);

    let resp = app
        .api_post("/api/v1/consultations", &board, &json!({}))
        .await;
    let body = problem(resp, 422).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(
        field_errors(&body),
        [
            "slug",
            "title",
            "summary",
            "audience",
            "document",
            "opens_at",
            "closes_at"
        ]
    );

    let mut unknown_audience = good.clone();
    unknown_audience["audience"] = json!(["martians"]);
    let resp = app
        .api_post("/api/v1/consultations", &board, &unknown_audience)
        .await;
    let body = problem(resp, 422).await;
    assert_eq!(field_errors(&body), ["audience"]);

    let created = app.api_post("/api/v1/consultations", &board, &good).await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["location"].to_str().expect("ascii"),
        "/api/v1/consultations/token-standard"
    );
    let created: Value = created.json().await.expect("json");
    assert_eq!(created["phase"], "draft");
    assert_eq!(created["audience"], json!(["supplier", "expert"]));
    let again = app.api_post("/api/v1/consultations", &board, &good).await;
    let body = problem(again, 422).await;
    assert_eq!(field_errors(&body), ["slug"], "the slug is taken");
    app.stop().await;
}

#[tokio::test]
async fn only_the_audience_may_respond() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier", "expert"]).await;
    let supplier = respondent(&app, "supplier@example.com", "supplier", "Sam Supplier").await;
    let nurse = respondent(&app, "nurse@example.nhs.uk", "nhs_staff", "Nell Nurse").await;
    let unknown = app
        .api_token_for("unknown@example.com", Role::Contributor)
        .await;
    let body = complete(&c, "Tokens should last a whole shift", "named");

    let saved = save(&app, &supplier, &c, &body).await;
    assert_eq!(saved["status"], "draft");
    assert_eq!(saved["capacity"], "individual");

    let refused = app
        .api_send(Method::PUT, &response_path(&c), &nurse, &[], Some(&body))
        .await;
    let refused = problem(refused, 403).await;
    assert_eq!(refused["type"], "/problems/forbidden");
    problem(app.api_get(&response_path(&c), &nurse).await, 404).await;

    let untyped = app
        .api_send(Method::PUT, &response_path(&c), &unknown, &[], Some(&body))
        .await;
    let untyped = problem(untyped, 422).await;
    assert_eq!(field_errors(&untyped), ["respondent_type"]);
    app.stop().await;
}

#[tokio::test]
async fn a_draft_is_saved_incomplete_and_submitted_once_complete_with_an_emailed_receipt() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier", "expert"]).await;
    let address = "supplier@example.com";
    let supplier = respondent(&app, address, "supplier", "Sam Supplier").await;
    problem(app.api_get(&response_path(&c), &supplier).await, 404).await;

    let mut partial = serde_json::Map::new();
    partial.insert(c.single_choice.clone(), json!(["Not sure"]));
    let draft = save(&app, &supplier, &c, &json!({ "answers": partial })).await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["capacity"], "");
    let read: Value = app.api_json(&response_path(&c), &supplier).await;
    assert_eq!(read, draft, "a save answers with the response as stored");
    assert_eq!(read["status"], "draft");
    assert_eq!(
        read["answers"],
        json!([{ "question_id": c.single_choice, "values": ["Not sure"] }])
    );

    let incomplete = submit(&app, &supplier, &c, &[]).await;
    let incomplete = problem(incomplete, 422).await;
    assert_eq!(incomplete["type"], "/problems/validation");
    assert_eq!(
        field_errors(&incomplete),
        [
            "capacity".to_owned(),
            // A supplier says whether they have interests to declare.
            "interests".to_owned(),
            "consent".to_owned(),
            format!("q-{}", c.free_text)
        ]
    );
    let still: Value = app.api_json(&response_path(&c), &supplier).await;
    assert_eq!(still["status"], "draft");
    assert_eq!(receipts_queued(&app, address).await, 0);

    save(
        &app,
        &supplier,
        &c,
        &complete(&c, "Tokens should last a whole shift", "named"),
    )
    .await;
    let resp = submit(&app, &supplier, &c, &[]).await;
    assert_eq!(resp.status(), 200);
    let submitted: Value = resp.json().await.expect("json");
    assert_eq!(submitted["id"], draft["id"]);
    assert_eq!(submitted["status"], "submitted");
    assert!(submitted["submitted_at"].is_string());
    assert_eq!(submitted["consent"], "named");
    assert_eq!(submitted["answers"].as_array().map(Vec::len), Some(4));
    // Answered from what the submission wrote: the same as reading it back.
    assert_eq!(submitted, app.api_json(&response_path(&c), &supplier).await);

    let email = app.wait_for_email(address, 1).await;
    assert!(
        email.contains(&format!("Your response to {TITLE}")),
        "{email}"
    );
    assert!(
        email.contains("Tokens should last a whole shift"),
        "{email}"
    );
    assert!(
        email.contains("Agree"),
        "the agreement level in words: {email}"
    );
    assert!(email.contains("Web; Mobile"), "{email}");
    let subject = email_outbox::Entity::find()
        .filter(email_outbox::Column::ToAddress.eq(address))
        .one(&app.db)
        .await
        .expect("query")
        .expect("a receipt")
        .subject;
    assert_eq!(subject, format!("Your response to {TITLE}"));
    app.stop().await;
}

#[tokio::test]
async fn section_comments_stay_with_the_version_and_section_they_were_made_on() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let reader = respondent(&app, "reader@example.nhs.uk", "nhs_staff", "Rae Reader").await;

    let resp = comment_on(&app, &reader, &c, "scope", "Say which systems are clinical").await;
    assert_eq!(resp.status(), 200);
    let mine: Value = resp.json().await.expect("json");
    assert_eq!(mine["status"], "draft", "commenting starts a draft");
    assert_eq!(mine["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["comments"][0]["version"], 1);
    assert_eq!(mine["comments"][0]["anchor"], "scope");
    assert_eq!(mine["comments"][0]["section_title"], "Scope");
    problem(
        comment_on(&app, &reader, &c, "no-such-section", "Hello").await,
        404,
    )
    .await;

    let path = format!("/api/v1/consultations/{}", c.slug);
    let resp = app
        .api_post(
            &format!("{path}/versions"),
            &board,
            &json!({ "document": DOCUMENT_V2, "change_summary": "Longer token lifetimes" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v2: Value = resp.json().await.expect("json");
    assert_eq!(v2["current_version"], 2);
    assert_eq!(v2["document_version"], 2);
    assert_eq!(v2["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v2["versions"][1]["change_summary"],
        "Longer token lifetimes"
    );
    let anchors: Vec<&str> = v2["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| s["anchor"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(anchors, ["scope", "token-lifetimes", "refresh-tokens"]);

    let mine: Value = app.api_json(&response_path(&c), &reader).await;
    assert_eq!(mine["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["comments"][0]["version"], 1);
    assert_eq!(mine["comments"][0]["anchor"], "scope");
    assert_eq!(
        mine["comments"][0]["comment"],
        "Say which systems are clinical"
    );

    let v1: Value = app.api_json(&format!("{path}/versions/1"), &reader).await;
    assert_eq!(v1["document_version"], 1);
    assert_eq!(v1["document"], DOCUMENT);
    assert!(
        v1["sections"][0]["body"]
            .as_str()
            .unwrap_or("")
            .ends_with("clinical systems.")
    );
    let current: Value = app.api_json(&path, &reader).await;
    assert_eq!(current["document"], DOCUMENT_V2);

    // A new comment on the same section belongs to the current version.
    let resp = comment_on(&app, &reader, &c, "scope", "Administrative systems too?").await;
    assert_eq!(resp.status(), 200);
    let mine: Value = resp.json().await.expect("json");
    let versions: Vec<(i64, &str)> = mine["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| {
            (
                c["version"].as_i64().unwrap_or(0),
                c["comment"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (1, "Say which systems are clinical"),
            (2, "Administrative systems too?")
        ]
    );
    // Each save answers with the response as stored: a comment added,
    // changed and removed.
    assert_eq!(mine, app.api_json(&response_path(&c), &reader).await);
    for text in ["Administrative and clinical systems?", ""] {
        let resp = comment_on(&app, &reader, &c, "scope", text).await;
        assert_eq!(resp.status(), 200);
        let mine: Value = resp.json().await.expect("json");
        assert_eq!(mine, app.api_json(&response_path(&c), &reader).await);
    }
    let mine: Value = app.api_json(&response_path(&c), &reader).await;
    assert_eq!(mine["comments"].as_array().map(Vec::len), Some(1));
    // Several comments made in one save, in the order they read back.
    let saved = save(
        &app,
        &reader,
        &c,
        &json!({ "comments": {
            "token-lifetimes": "Eight hours at least",
            "refresh-tokens": "Rotate them",
            "scope": "Community trusts too",
        } }),
    )
    .await;
    assert_eq!(saved["comments"].as_array().map(Vec::len), Some(4));
    assert_eq!(saved, app.api_json(&response_path(&c), &reader).await);
    app.stop().await;
}

#[tokio::test]
async fn late_submissions_are_refused_keeping_the_draft_and_submitted_responses_change_until_closing()
 {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let late = respondent(&app, "late@example.nhs.uk", "nhs_staff", "Lee Late").await;
    let early = respondent(&app, "early@example.com", "supplier", "Eve Early").await;

    save(
        &app,
        &late,
        &c,
        &complete(&c, "I will send this later", "named"),
    )
    .await;
    respond(&app, &early, &c, "First thoughts on tokens", "named", None).await;
    let changed = save(
        &app,
        &early,
        &c,
        &complete(&c, "Second thoughts on tokens", "named"),
    )
    .await;
    assert_eq!(
        changed["status"], "submitted",
        "a change keeps it submitted"
    );
    let mine: Value = app.api_json(&response_path(&c), &early).await;
    assert_eq!(mine["status"], "submitted");
    let free: Vec<&Value> = mine["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter(|a| a["question_id"] == c.free_text.as_str())
        .collect();
    assert_eq!(free[0]["values"], json!(["Second thoughts on tokens"]));

    close(&app, &board, &c).await;

    let refused = submit(&app, &late, &c, &[]).await;
    let refused = problem(refused, 409).await;
    assert_eq!(refused["type"], "/problems/consultation-closed");
    let kept: Value = app.api_json(&response_path(&c), &late).await;
    assert_eq!(kept["status"], "draft");
    assert!(kept["submitted_at"].is_null());
    assert!(
        kept["answers"]
            .as_array()
            .expect("answers")
            .iter()
            .any(|a| a["values"] == json!(["I will send this later"])),
        "{kept}"
    );
    // The draft can still be saved, so nothing typed is lost.
    let resaved = save(
        &app,
        &late,
        &c,
        &complete(&c, "Too late, but kept", "named"),
    )
    .await;
    assert_eq!(resaved["status"], "draft");

    let too_late = app
        .api_send(
            Method::PUT,
            &response_path(&c),
            &early,
            &[],
            Some(&complete(&c, "Third thoughts on tokens", "named")),
        )
        .await;
    let too_late = problem(too_late, 409).await;
    assert_eq!(too_late["type"], "/problems/consultation-closed");
    let mine: Value = app.api_json(&response_path(&c), &early).await;
    assert_eq!(mine["status"], "submitted");
    assert!(
        mine["answers"]
            .as_array()
            .expect("answers")
            .iter()
            .any(|a| a["values"] == json!(["Second thoughts on tokens"])),
        "the submitted response is unchanged: {mine}"
    );
    app.stop().await;
}

#[tokio::test]
async fn nhs_numbers_are_refused_and_a_replayed_submission_sends_one_receipt() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let address = "supplier@example.com";
    let supplier = respondent(&app, address, "supplier", "Sam Supplier").await;

    let leaky = complete(&c, "Patient 943 476 5919 was signed out mid-round", "named");
    let resp = app
        .api_send(
            Method::PUT,
            &response_path(&c),
            &supplier,
            &[],
            Some(&leaky),
        )
        .await;
    let refused = problem(resp, 422).await;
    assert_eq!(field_errors(&refused), [format!("q-{}", c.free_text)]);
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("NHS number")
    );
    problem(app.api_get(&response_path(&c), &supplier).await, 404).await;
    let resp = comment_on(&app, &supplier, &c, "scope", "See 9434765919").await;
    let refused = problem(resp, 422).await;
    assert_eq!(field_errors(&refused), ["comment"]);

    save(
        &app,
        &supplier,
        &c,
        &complete(&c, "Signed out mid-round", "named"),
    )
    .await;
    let key = [("Idempotency-Key", "submit-token-standard-1")];
    let first = submit(&app, &supplier, &c, &key).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["status"], "submitted");
    app.wait_for_email(address, 1).await;

    let replay = submit(&app, &supplier, &c, &key).await;
    assert_eq!(replay.status(), 200);
    let replay: Value = replay.json().await.expect("json");
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["status"], "submitted");
    assert_eq!(
        replay["version"], first["version"],
        "nothing was saved again"
    );
    assert_eq!(receipts_queued(&app, address).await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.emails_to(address).len(), 1, "one receipt");
    app.stop().await;
}

#[tokio::test]
async fn the_board_records_dispositions_with_known_codes_and_a_rationale() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let nurse = respondent(&app, "nurse@example.nhs.uk", "nhs_staff", "Nell Nurse").await;
    let mine = respond(
        &app,
        &nurse,
        &c,
        "Tokens expire during ward rounds",
        "named",
        Some("Include ward tablets in scope"),
    )
    .await;
    let comment_id = mine["comments"][0]["id"].as_str().expect("comment id");
    let path = format!(
        "/api/v1/consultations/{}/comments/{comment_id}/disposition",
        c.slug
    );

    let unknown = app
        .api_send(
            Method::PUT,
            &path,
            &board,
            &[],
            Some(&json!({ "disposition": "maybe_later", "rationale": "We will see" })),
        )
        .await;
    let unknown = problem(unknown, 422).await;
    assert_eq!(field_errors(&unknown), ["disposition"]);
    let no_reason = app
        .api_send(
            Method::PUT,
            &path,
            &board,
            &[],
            Some(&json!({ "disposition": "accepted" })),
        )
        .await;
    let no_reason = problem(no_reason, 422).await;
    assert_eq!(field_errors(&no_reason), ["rationale"]);

    let decision = json!({
        "disposition": "accepted_with_modification",
        "rationale": "Shared ward devices are now in scope"
    });
    let refused = app
        .api_send(Method::PUT, &path, &nurse, &[], Some(&decision))
        .await;
    problem(refused, 403).await;

    let resp = app
        .api_send(Method::PUT, &path, &board, &[], Some(&decision))
        .await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.expect("json");
    assert_eq!(saved["id"], comment_id);
    assert_eq!(saved["disposition"], "accepted_with_modification");
    assert_eq!(saved["rationale"], "Shared ward devices are now in scope");

    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    let comment = &listed["items"][0]["comments"][0];
    assert_eq!(comment["id"], comment_id);
    assert_eq!(comment["disposition"], "accepted_with_modification");
    assert_eq!(comment["rationale"], "Shared ward devices are now in scope");
    app.stop().await;
}

#[tokio::test]
async fn the_outcome_is_published_after_closing_with_every_comment_decided_respecting_consent_and_redaction()
 {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let reader = app
        .api_token_for("reader@example.nhs.uk", Role::Contributor)
        .await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let named_address = "named@example.nhs.uk";
    let anonymous_address = "anonymous@example.com";
    let private_address = "private@example.com";
    let named = respondent(&app, named_address, "nhs_staff", "Nina Named").await;
    let anonymous = respondent(&app, anonymous_address, "supplier", "Alex Anon").await;
    let private = respondent(&app, private_address, "expert", "Pat Private").await;
    respond(
        &app,
        &named,
        &c,
        "Named view on tokens",
        "named",
        Some("Named comment on the scope"),
    )
    .await;
    let anon_response = respond(
        &app,
        &anonymous,
        &c,
        "Anonymous view on tokens",
        "anonymous",
        Some("Dr Jane Smith at our trust says the scope is too narrow"),
    )
    .await;
    respond(
        &app,
        &private,
        &c,
        "Private view on tokens",
        "private",
        Some("Private concern about the scope wording"),
    )
    .await;
    for address in [named_address, anonymous_address, private_address] {
        app.wait_for_email(address, 1).await;
    }

    let outcome_path = format!("/api/v1/consultations/{}/outcome", c.slug);
    let summary = json!({ "summary": "We widened the scope to shared devices." });
    problem(app.api_get(&outcome_path, &reader).await, 404).await;
    let early = app.api_post(&outcome_path, &board, &summary).await;
    let early = problem(early, 409).await;
    assert_eq!(early["type"], "/problems/conflict");

    close(&app, &board, &c).await;
    problem(app.api_get(&outcome_path, &reader).await, 404).await;
    let preview: Value = app.api_json(&outcome_path, &board).await;
    assert_eq!(preview["published"], false);

    let undecided = app.api_post(&outcome_path, &board, &summary).await;
    let undecided = problem(undecided, 422).await;
    assert_eq!(field_errors(&undecided), ["outcome_summary"]);
    let message = undecided["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("3 section comments"), "{message}");

    // Redact the third party's name from the anonymous comment.
    let anon_id = anon_response["id"].as_str().expect("id");
    let anon_comment = anon_response["comments"][0]["id"]
        .as_str()
        .expect("comment id");
    let redacted_text = "[name removed] at our trust says the scope is too narrow";
    let mut redacted = serde_json::Map::new();
    redacted.insert(anon_comment.to_owned(), json!(redacted_text));
    let resp = app
        .api_send(
            Method::PUT,
            &format!(
                "/api/v1/consultations/{}/responses/{anon_id}/redaction",
                c.slug
            ),
            &board,
            &[],
            Some(&json!({ "reason": "Names a third party", "comments": redacted })),
        )
        .await;
    assert_eq!(resp.status(), 200);

    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    let mut decided = 0;
    for item in listed["items"].as_array().expect("items") {
        for comment in item["comments"].as_array().expect("comments") {
            let id = comment["id"].as_str().expect("id");
            let resp = app
                .api_send(
                    Method::PUT,
                    &format!("/api/v1/consultations/{}/comments/{id}/disposition", c.slug),
                    &board,
                    &[],
                    Some(&json!({ "disposition": "accepted", "rationale": "Scope widened" })),
                )
                .await;
            assert_eq!(resp.status(), 200);
            decided += 1;
        }
    }
    assert_eq!(decided, 3);

    let published = app.api_post(&outcome_path, &board, &summary).await;
    assert_eq!(published.status(), 200);
    let published: Value = published.json().await.expect("json");
    assert_eq!(published["published"], true);
    for address in [named_address, anonymous_address, private_address] {
        app.wait_for_email(address, 2).await;
        assert!(
            app.emails_to(address)
                .iter()
                .any(|e| e.contains("You said, we did")),
            "{address} is told"
        );
        let subjects: Vec<String> = email_outbox::Entity::find()
            .filter(email_outbox::Column::ToAddress.eq(address))
            .all(&app.db)
            .await
            .expect("query")
            .into_iter()
            .map(|e| e.subject)
            .collect();
        assert!(
            subjects.contains(&format!("You said, we did: the outcome of {TITLE}")),
            "{subjects:?}"
        );
    }

    let outcome: Value = app.api_json(&outcome_path, &reader).await;
    assert_eq!(outcome["published"], true);
    assert_eq!(
        outcome["summary"],
        "We widened the scope to shared devices."
    );
    assert_eq!(outcome["total_responses"], 3);
    assert_eq!(outcome["published_responses"], 2);
    let text = outcome.to_string();
    assert!(
        !text.contains("Private concern"),
        "private stays private: {text}"
    );
    assert!(!text.contains("Pat Private"));
    assert!(!text.contains("Alex Anon"), "anonymous has no name: {text}");
    assert!(
        !text.contains("Jane Smith"),
        "the redaction applies: {text}"
    );
    assert_eq!(outcome["sections"].as_array().map(Vec::len), Some(1));
    let section = &outcome["sections"][0];
    assert_eq!(section["anchor"], "scope");
    assert_eq!(section["comments_received"], 3);
    let said: Vec<(&str, &str, &str)> = section["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| {
            (
                c["respondent"].as_str().unwrap_or(""),
                c["said"].as_str().unwrap_or(""),
                c["disposition"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said.contains(&("Nina Named", "Named comment on the scope", "accepted")));
    assert!(said.contains(&("Anonymous respondent", redacted_text, "accepted")));

    // The board's export keeps the original.
    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    let original = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == anon_id)
        .expect("the anonymous response");
    assert_eq!(
        original["comments"][0]["comment"],
        "Dr Jane Smith at our trust says the scope is too narrow"
    );
    assert_eq!(original["comments"][0]["published_comment"], redacted_text);
    assert_eq!(original["redaction_reason"], "Names a third party");

    let md = app.api_get(&format!("{outcome_path}.md"), &reader).await;
    assert_eq!(md.status(), 200);
    let md = md.text().await.expect("body");
    assert!(md.contains("## Scope (version 1)"), "{md}");
    assert!(
        md.contains("Nina Named") && !md.contains("Jane Smith") && !md.contains("Private concern")
    );
    let table = app.api_get(&format!("{outcome_path}.csv"), &reader).await;
    assert_eq!(table.status(), 200);
    let table = table.text().await.expect("body");
    assert!(table.starts_with("section,version,respondent"), "{table}");
    assert!(table.contains("Scope,1,Nina Named"), "{table}");
    assert!(!table.contains("Jane Smith") && !table.contains("Private concern"));

    let again = app.api_post(&outcome_path, &board, &summary).await;
    problem(again, 409).await;
    app.stop().await;
}

#[tokio::test]
async fn near_identical_responses_are_grouped_as_one_campaign() {
    const LETTER: &str = "As a supplier of electronic patient records we believe the proposed token lifetime of five minutes is far too short for clinical workflows and will cause staff to be signed out during ward rounds";
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let texts = [
        LETTER.to_owned(),
        format!("{LETTER}."),
        LETTER.to_uppercase(),
        LETTER.replace("we believe", "we believe,").replace("far too short", "far too short!"),
        format!("{}!!", LETTER.to_lowercase()),
        "Our trust supports the proposal in full and would like to see it adopted quickly across every region with funding for smaller organisations".to_owned(),
        "Refresh tokens should be bound to the device that asked for them and the standard should say how rotation works when a ward tablet is shared".to_owned(),
    ];
    let mut ids = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let token = respondent(
            &app,
            &format!("person{n}@example.com"),
            "supplier",
            &format!("Person {n}"),
        )
        .await;
        let submitted = respond(&app, &token, &c, text, "named", None).await;
        ids.push(submitted["id"].as_str().expect("id").to_owned());
    }

    let path = format!("/api/v1/consultations/{}/responses", c.slug);
    let all: Value = app.api_json(&path, &board).await;
    assert_eq!(all["total"], 7);
    assert_eq!(
        all["campaigns"].as_array().map(Vec::len),
        Some(1),
        "{}",
        all["campaigns"]
    );
    let campaign = &all["campaigns"][0];
    assert_eq!(campaign["count"], 5);
    assert_eq!(campaign["number"], 1);
    assert!(ids[..5].iter().any(|id| campaign["example"] == id.as_str()));

    let grouped: Value = app.api_json(&format!("{path}?campaign=1"), &board).await;
    assert_eq!(grouped["total"], 5);
    let mut found: Vec<String> = grouped["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_owned())
        .collect();
    found.sort();
    let mut expected = ids[..5].to_vec();
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        grouped["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["campaign"] == 1)
    );
    let others: Vec<&Value> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["id"] == ids[5].as_str() || i["id"] == ids[6].as_str())
        .collect();
    assert_eq!(others.len(), 2);
    assert!(others.iter().all(|i| i["campaign"].is_null()));
    app.stop().await;
}

#[tokio::test]
async fn an_import_takes_good_rows_reports_bad_ones_and_imports_nothing_twice() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier", "expert"]).await;
    let file = "respondent_name,respondent_email,respondent_type,consent,q1,section:scope\n\
Ada Supplier,ada@example.com,supplier,named,Tokens should last a whole shift,\n\
Bob Martian,bob@example.com,martian,named,We have views,\n\
Cy Expert,cy@example.com,expert,anonymous,Rotation needs a grace period,The scope should include devices\n\
Di Missing,di@example.com,supplier,,No consent given here,\n";

    let resp = import_csv(&app, &board, &c, file).await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.expect("json");
    assert_eq!(report["rows"], 4);
    assert_eq!(report["imported"], 2);
    let rejected = report["rejected"].as_array().expect("rejected");
    let lines: Vec<u64> = rejected
        .iter()
        .map(|r| r["line"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(lines, [3, 5]);
    let reasons = |i: usize| -> Vec<String> {
        rejected[i]["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(
        reasons(0).iter().any(|r| r.contains("respondent_type")),
        "{:?}",
        reasons(0)
    );
    assert!(
        reasons(1).iter().any(|r| r.contains("may be published")),
        "{:?}",
        reasons(1)
    );

    let path = format!("/api/v1/consultations/{}/responses", c.slug);
    let listed: Value = app.api_json(&path, &board).await;
    assert_eq!(listed["total"], 2);
    let mut names: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["respondent"].as_str().unwrap_or(""))
        .collect();
    names.sort();
    assert_eq!(names, ["Ada Supplier", "Cy Expert"]);
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["source"] == "import")
    );
    let cy = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["respondent"] == "Cy Expert")
        .expect("Cy");
    assert_eq!(cy["consent"], "anonymous");
    assert_eq!(cy["comments"][0]["anchor"], "scope");
    assert_eq!(
        cy["comments"][0]["comment"],
        "The scope should include devices"
    );

    let resp = import_csv(&app, &board, &c, file).await;
    assert_eq!(resp.status(), 200);
    let again: Value = resp.json().await.expect("json");
    assert_eq!(again["rows"], 4);
    assert_eq!(again["imported"], 0);
    assert!(
        again["rejected"][0]["reasons"][0]
            .as_str()
            .unwrap_or("")
            .contains("already imported"),
        "{again}"
    );
    let listed: Value = app.api_json(&path, &board).await;
    assert_eq!(listed["total"], 2, "nothing imported twice");

    let unknown_column = "respondent_name,respondent_type,consent,q1,favourite_colour\n\
Ed New,supplier,named,A fine answer,blue\n";
    let resp = import_csv(&app, &board, &c, unknown_column).await;
    let refused = problem(resp, 422).await;
    assert_eq!(field_errors(&refused), ["file"]);
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("favourite_colour")
    );
    let listed: Value = app.api_json(&path, &board).await;
    assert_eq!(listed["total"], 2, "the whole file was refused");

    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = import_csv(&app, &nurse, &c, file).await;
    assert_eq!(resp.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn the_board_exports_one_csv_row_per_answer_or_comment_with_formulas_defused() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let supplier = respondent(&app, "supplier@example.com", "supplier", "Sam Supplier").await;
    let submitted = respond(
        &app,
        &supplier,
        &c,
        "=SUM(A1:A2)",
        "named",
        Some("Scope is clear"),
    )
    .await;

    let refused = app
        .api_get(
            &format!("/api/v1/consultations/{}/responses.csv", c.slug),
            &supplier,
        )
        .await;
    problem(refused, 403).await;

    let rows = export_rows(&app, &board, &c).await;
    let header = &rows[0];
    assert_eq!(header[0], "response_id");
    let data = &rows[1..];
    assert_eq!(data.len(), 5, "four answers and one comment: {rows:?}");
    let (id, item, question, text) = (
        column(header, "response_id"),
        column(header, "item"),
        column(header, "question_or_section"),
        column(header, "text"),
    );
    assert!(
        data.iter()
            .all(|r| r[id] == submitted["id"].as_str().unwrap_or(""))
    );
    let items: Vec<&str> = data.iter().map(|r| r[item].as_str()).collect();
    assert_eq!(items, ["answer", "answer", "answer", "answer", "comment"]);
    let first = data
        .iter()
        .find(|r| r[question].starts_with("Q1:"))
        .expect("the free-text answer");
    assert_eq!(first[text], "'=SUM(A1:A2)");
    let scale = data
        .iter()
        .find(|r| r[question].starts_with("Q3:"))
        .expect("the agreement answer");
    assert_eq!(scale[text], "Agree");
    let multi = data
        .iter()
        .find(|r| r[question].starts_with("Q4:"))
        .expect("the multiple-choice answer");
    assert_eq!(multi[text], "Web; Mobile");
    let comment = &data[4];
    assert_eq!(comment[question], "Scope");
    assert_eq!(comment[column(header, "version")], "1");
    assert_eq!(comment[text], "Scope is clear");
    app.stop().await;
}

#[tokio::test]
async fn the_board_tags_responses_with_known_themes_and_the_export_lists_them() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let supplier = respondent(&app, "supplier@example.com", "supplier", "Sam Supplier").await;
    let submitted = respond(&app, &supplier, &c, "Tokens and security", "named", None).await;
    let id = submitted["id"].as_str().expect("id");
    let path = format!("/api/v1/consultations/{}/responses/{id}/themes", c.slug);

    let unknown = app
        .api_send(
            Method::PUT,
            &path,
            &board,
            &[],
            Some(&json!({ "themes": ["no-such-theme"] })),
        )
        .await;
    let unknown = problem(unknown, 422).await;
    assert_eq!(field_errors(&unknown), ["themes"]);
    let refused = app
        .api_send(
            Method::PUT,
            &path,
            &supplier,
            &[],
            Some(&json!({ "themes": ["cyber-security"] })),
        )
        .await;
    problem(refused, 403).await;

    let resp = app
        .api_send(
            Method::PUT,
            &path,
            &board,
            &[],
            Some(&json!({ "themes": ["cyber-security"] })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.expect("json");
    assert_eq!(saved["themes"], json!(["cyber-security"]));

    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    assert_eq!(listed["items"][0]["themes"], json!(["Cyber security"]));
    let rows = export_rows(&app, &board, &c).await;
    let themes = column(&rows[0], "response_themes");
    assert!(rows.len() > 1);
    assert!(
        rows[1..].iter().all(|r| r[themes] == "Cyber security"),
        "{rows:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_command_line_imports_responses_and_lists_rejected_rows_with_reasons() {
    let dir = crate::helpers::temp_dir();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        database_url: Some(url.clone()),
        data_dir: Some(dir.clone()),
        ..crate::helpers::Options::default()
    })
    .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let file = dir.join("responses.csv");
    std::fs::write(
        &file,
        "respondent_name,respondent_type,consent,q1\n\
Ed Expert,expert,named,Tokens should survive a ward round\n\
No Consent,nhs_staff,,Something\n",
    )
    .expect("write csv");
    let args = [
        "consultations",
        "import-responses",
        "--consultation",
        c.slug.as_str(),
        file.to_str().expect("utf-8 path"),
    ];
    let out = crate::cli::hub(&dir, &url, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 rows, 1 imported, 1 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("line 3:"), "{stdout}");

    let path = format!("/api/v1/consultations/{}/responses", c.slug);
    let listed: Value = app.api_json(&path, &board).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["respondent"], "Ed Expert");

    let again = crate::cli::hub(&dir, &url, &args);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 imported"));
    let unknown = crate::cli::hub(
        &dir,
        &url,
        &[
            "consultations",
            "import-responses",
            "--consultation",
            "no-such-thing",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no consultation with the short name no-such-thing")
    );
    app.stop().await;
}

/// The kinds and ids a search finds, for visibility checks.
async fn found(app: &TestApp, token: Option<&str>, words: &str) -> Vec<String> {
    let result = crate::search::search(app, token, &format!("q={words}")).await;
    crate::search::ids_in(&result, "hits")
}

#[tokio::test]
async fn search_finds_drafts_and_unpublished_responses_for_the_board_alone_and_respects_consent_after_the_outcome()
 {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = create_draft(&app, &board, "token-standard", &["everyone"]).await;
    let outsider = respondent(
        &app,
        "outsider@example.nhs.uk",
        "nhs_staff",
        "Olive Outsider",
    )
    .await;
    app.indexed().await;
    let consultation_id = {
        let got: Value = app
            .api_json(&format!("/api/v1/consultations/{}", c.slug), &board)
            .await;
        got["id"].as_str().expect("id").to_owned()
    };
    // "rotate" is only in the draft's document.
    assert!(
        found(&app, Some(&board), "rotate")
            .await
            .contains(&consultation_id)
    );
    assert!(found(&app, None, "rotate").await.is_empty());
    assert!(found(&app, Some(&outsider), "rotate").await.is_empty());

    let resp = app
        .api_post(
            &format!("/api/v1/consultations/{}/publish", c.slug),
            &board,
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    app.indexed().await;
    let public = crate::search::search(&app, None, "q=rotate").await;
    assert_eq!(
        public["hits"][0]["link"],
        format!("/consultations/{}#refresh-tokens", c.slug)
    );

    let named = respondent(&app, "named@example.com", "supplier", "Nina Named").await;
    let private = respondent(&app, "private@example.com", "expert", "Pat Private").await;
    let redacted = respondent(&app, "redacted@example.com", "expert", "Rae Redacted").await;
    let named_id = respond(
        &app,
        &named,
        &c,
        "Tokens need quokkaward handling",
        "named",
        None,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let private_id = respond(
        &app,
        &private,
        &c,
        "Tokens need wombatish handling",
        "private",
        None,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let redacted_id = respond(
        &app,
        &redacted,
        &c,
        "Ask Jane Smithsonite about tokens",
        "anonymous",
        None,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.indexed().await;
    assert_eq!(
        found(&app, Some(&board), "quokkaward").await,
        std::slice::from_ref(&named_id)
    );
    assert_eq!(
        found(&app, Some(&named), "quokkaward").await,
        std::slice::from_ref(&named_id)
    );
    assert!(
        found(&app, None, "quokkaward").await.is_empty(),
        "not public before the outcome"
    );
    assert!(found(&app, Some(&outsider), "wombatish").await.is_empty());

    let mut redaction = serde_json::Map::new();
    redaction.insert(
        c.free_text.clone(),
        json!("Ask [name removed] about tokens"),
    );
    let resp = app
        .api_send(
            Method::PUT,
            &format!(
                "/api/v1/consultations/{}/responses/{redacted_id}/redaction",
                c.slug
            ),
            &board,
            &[],
            Some(&json!({ "reason": "Names a member of staff", "answers": redaction })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    close(&app, &board, &c).await;
    let resp = app
        .api_post(
            &format!("/api/v1/consultations/{}/outcome", c.slug),
            &board,
            &json!({ "summary": "Adopted with changes." }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    app.indexed().await;

    assert_eq!(
        found(&app, None, "quokkaward").await,
        std::slice::from_ref(&named_id)
    );
    assert!(
        found(&app, None, "wombatish").await.is_empty(),
        "private stays private"
    );
    assert!(found(&app, Some(&outsider), "wombatish").await.is_empty());
    assert_eq!(found(&app, Some(&board), "wombatish").await, [private_id]);
    assert!(
        found(&app, None, "smithsonite").await.is_empty(),
        "the redacted words are gone"
    );
    assert!(found(&app, Some(&board), "smithsonite").await.is_empty());
    let removed = crate::search::search(&app, None, "q=removed").await;
    assert!(crate::search::ids_in(&removed, "hits").contains(&redacted_id));
    // Anonymous respondents' organisations and names are not in facets.
    let everything = crate::search::search(&app, None, "q=tokens").await;
    let text = everything.to_string();
    assert!(
        !text.contains("Rae Redacted") && !text.contains("Pat Private"),
        "{text}"
    );
    let consultation_facet = everything["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|g| g["name"] == "consultation")
        .expect("a consultation facet");
    assert_eq!(consultation_facet["values"][0]["value"], TITLE);
}

/// The comment a board member decided on, changed by its respondent, needs
/// deciding again; a response changed after redaction needs redacting again.
#[tokio::test]
async fn a_respondent_changing_their_words_undoes_the_decision_and_the_redaction_made_of_them() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let token = respondent(&app, "ruth@example.nhs.uk", "nhs_staff", "Ruth Respondent").await;
    let submitted = respond(
        &app,
        &token,
        &c,
        "Ask Dr Jones on ward 7",
        "named",
        Some("Too broad"),
    )
    .await;
    let response_id = submitted["id"].as_str().expect("id").to_owned();
    let comment_id = submitted["comments"][0]["id"]
        .as_str()
        .expect("comment id")
        .to_owned();
    let decided = app
        .api_send(
            Method::PUT,
            &format!(
                "/api/v1/consultations/{}/comments/{comment_id}/disposition",
                c.slug
            ),
            &board,
            &[],
            Some(&json!({ "disposition": "noted", "rationale": "Scope stays as it is." })),
        )
        .await;
    assert_eq!(decided.status(), 200);
    let mut answers = serde_json::Map::new();
    answers.insert(c.free_text.clone(), json!("Ask [a doctor] on ward 7"));
    let redacted = app
        .api_send(
            Method::PUT,
            &format!(
                "/api/v1/consultations/{}/responses/{response_id}/redaction",
                c.slug
            ),
            &board,
            &[],
            Some(&json!({ "reason": "Names a doctor", "answers": answers })),
        )
        .await;
    assert_eq!(redacted.status(), 200);

    let unchanged = comment_on(&app, &token, &c, "scope", "Too broad").await;
    assert_eq!(unchanged.status(), 200);
    let unchanged: Value = unchanged.json().await.expect("json");
    assert_eq!(unchanged, app.api_json(&response_path(&c), &token).await);
    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    assert_eq!(
        listed["items"][0]["comments"][0]["disposition"], "noted",
        "the same words keep the decision"
    );
    assert_eq!(listed["items"][0]["redaction_reason"], "Names a doctor");

    let changed = comment_on(&app, &token, &c, "scope", "Too broad for community trusts").await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed, app.api_json(&response_path(&c), &token).await);
    let listed: Value = app
        .api_json(
            &format!("/api/v1/consultations/{}/responses", c.slug),
            &board,
        )
        .await;
    let item = &listed["items"][0];
    assert_eq!(item["comments"][0]["disposition"], Value::Null);
    assert_eq!(item["comments"][0]["rationale"], "");
    assert_eq!(item["redaction_reason"], Value::Null);
    assert_eq!(item["answers"][0]["published_answer"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn from_the_pages_a_double_submission_sends_one_receipt_and_a_change_sends_one_more() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let address = "pat@example.nhs.uk";
    app.sign_in_as(address, Role::Contributor).await;
    respondent(&app, address, "nhs_staff", "Pat Page").await;
    let page = format!("/consultations/{}/response", c.slug);
    let html = app.get_html(&page).await;
    let key = crate::helpers::hidden_value(&html, "submission_key").expect("a submission key");
    let free_text = format!("q-{}", c.free_text);
    let fields = [
        ("submission_key", key.as_str()),
        ("capacity", "individual"),
        ("consent", "anonymous"),
        (free_text.as_str(), "Tokens should outlast a handover"),
        ("action", "submit"),
    ];
    for _ in 0..2 {
        let resp = app.post_form(&page, &page, &fields).await;
        assert_eq!(resp.status(), 303);
        assert!(
            resp.headers()["location"]
                .to_str()
                .expect("ascii")
                .ends_with("?submitted=1")
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receipts_queued(&app, address).await, 1);

    let html = app.get_html(&page).await;
    assert!(
        html.contains("Save changes"),
        "a submitted response is changed, not submitted again"
    );
    let key = crate::helpers::hidden_value(&html, "submission_key").expect("a submission key");
    let changed = [
        ("submission_key", key.as_str()),
        ("capacity", "individual"),
        ("consent", "anonymous"),
        (free_text.as_str(), "Tokens should outlast a long handover"),
        ("action", "submit"),
    ];
    let resp = app.post_form(&page, &page, &changed).await;
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .expect("ascii")
            .ends_with("?changed=1")
    );
    assert_eq!(receipts_queued(&app, address).await, 2);

    // The comment page refuses text with an NHS number, keeping what was typed.
    let section = format!("/consultations/{}/sections/scope", c.slug);
    let resp = app
        .post_form(
            &section,
            &section,
            &[("comment", "Patient 943 476 5919 was affected")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.expect("html");
    assert!(html.contains("nhsuk-error-summary") && html.contains("943 476 5919"));
    app.stop().await;
}

#[tokio::test]
async fn a_published_consultation_closes_early_from_its_page_with_its_fixed_details_untouched() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier", "expert"]).await;
    let contributor = app
        .api_token_for("reader@example.nhs.uk", Role::Contributor)
        .await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = format!("/consultations/{}/edit", c.slug);
    let html = app.get_html(&page).await;
    assert!(
        !html.contains("name=\"slug\""),
        "the short name has no input once published"
    );
    assert!(!html.contains("name=\"document\""));
    // Ten minutes ago, in UK time as the page takes it (it opened an hour ago).
    let closes = hub::uk_time::local(Utc::now() - Duration::minutes(10));
    let resp = app
        .post_form(
            &page,
            &page,
            &[
                ("version", &hidden_version(&html)),
                ("title", TITLE),
                (
                    "summary",
                    "How long API access tokens should last.\r\nClosing early.",
                ),
                ("closes_date", &closes.format("%Y-%m-%d").to_string()),
                ("closes_time", &closes.format("%H:%M").to_string()),
            ],
        )
        .await;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, 303, "{body}");
    let got: Value = app
        .api_json(&format!("/api/v1/consultations/{}", c.slug), &contributor)
        .await;
    assert_eq!(got["phase"], "closed");
    assert_eq!(got["audience"], json!(["supplier", "expert"]));
    assert_eq!(
        got["opens_at"]
            .as_str()
            .map(|s| s.starts_with(&c.opens_at[..16])),
        Some(true)
    );
    assert_eq!(
        got["summary"],
        "How long API access tokens should last.\nClosing early."
    );
    app.stop().await;
}

fn hidden_version(html: &str) -> String {
    crate::helpers::hidden_value(html, "version").expect("a version field")
}

#[tokio::test]
async fn a_respondent_asks_for_a_link_back_to_their_draft_and_gets_one_email() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let address = "later@example.nhs.uk";
    let token = respondent(&app, address, "expert", "Lee Later").await;
    let path = format!("{}/resume-link", response_path(&c));
    let before = app.api_send(Method::POST, &path, &token, &[], None).await;
    assert_eq!(
        before.status(),
        404,
        "there is no draft to come back to yet"
    );

    save(&app, &token, &c, &json!({ "capacity": "individual" })).await;
    for _ in 0..2 {
        let resp = app.api_send(Method::POST, &path, &token, &[], None).await;
        assert_eq!(resp.status(), 202);
    }
    let email = app.wait_for_email(address, 1).await;
    assert!(email.contains("Carry on with your response to"), "{email}");
    assert!(
        email.contains("next=3D%2Fconsultations%2Ftoken-standard%2Fresponse")
            || email.contains("next=%2Fconsultations%2Ftoken-standard%2Fresponse"),
        "{email}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.emails_to(address).len(),
        1,
        "asking twice sends one email"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_published_consultation_refuses_stale_changes_fixed_details_question_edits_and_empty_versions()
 {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier", "expert"]).await;
    let path = format!("/api/v1/consultations/{}", c.slug);
    let got: Value = app.api_json(&path, &board).await;
    let version = got["version"].as_i64().expect("version");
    let mut body = consultation_body(&c.slug, &c.audience, &c.opens_at, &at(Duration::days(2)));
    body["version"] = json!(version - 1);
    let stale = app
        .api_send(Method::PUT, &path, &board, &[], Some(&body))
        .await;
    problem(stale, 409).await;

    let mut fixed = consultation_body(
        "another-name",
        &["everyone"],
        &c.opens_at,
        &at(Duration::days(2)),
    );
    fixed["document"] = json!(DOCUMENT_V2);
    let refused = app
        .api_send(Method::PUT, &path, &board, &[], Some(&fixed))
        .await;
    let refused = problem(refused, 422).await;
    assert_eq!(field_errors(&refused), ["slug", "audience", "document"]);

    let question = app
        .api_post(
            &format!("{path}/questions"),
            &board,
            &json!({ "kind": "free_text", "prompt": "Too late?" }),
        )
        .await;
    problem(question, 409).await;
    let same = app
        .api_post(
            &format!("{path}/versions"),
            &board,
            &json!({ "document": DOCUMENT, "change_summary": "Nothing" }),
        )
        .await;
    assert_eq!(field_errors(&problem(same, 422).await), ["document"]);

    // A draft has one version, edited in place.
    create_draft(&app, &board, "draft-standard", &["everyone"]).await;
    let on_draft = app
        .api_post(
            "/api/v1/consultations/draft-standard/versions",
            &board,
            &json!({ "document": DOCUMENT_V2, "change_summary": "New" }),
        )
        .await;
    problem(on_draft, 409).await;
    app.stop().await;
}

#[tokio::test]
async fn a_consultation_not_yet_open_takes_no_responses_and_cannot_be_published_after_its_close() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let mut later = consultation_body(
        "later",
        &["everyone"],
        &at(Duration::days(3)),
        &at(Duration::days(9)),
    );
    let resp = app.api_post("/api/v1/consultations", &board, &later).await;
    assert_eq!(resp.status(), 201);
    let published = app
        .api_post("/api/v1/consultations/later/publish", &board, &json!({}))
        .await;
    let published: Value = published.json().await.expect("json");
    assert_eq!(published["phase"], "upcoming");
    let token = respondent(&app, "early@example.nhs.uk", "nhs_staff", "Eli Early").await;
    let early = app
        .api_send(
            Method::PUT,
            "/api/v1/consultations/later/response",
            &token,
            &[],
            Some(&json!({ "capacity": "individual" })),
        )
        .await;
    let early = problem(early, 409).await;
    assert_eq!(early["type"], "/problems/consultation-closed");
    assert!(
        early["detail"]
            .as_str()
            .expect("detail")
            .contains("opens on")
    );

    later["slug"] = json!("gone");
    later["opens_at"] = json!(at(Duration::days(-9)));
    later["closes_at"] = json!(at(Duration::days(-1)));
    assert_eq!(
        app.api_post("/api/v1/consultations", &board, &later)
            .await
            .status(),
        201
    );
    let late = app
        .api_post("/api/v1/consultations/gone/publish", &board, &json!({}))
        .await;
    assert_eq!(field_errors(&problem(late, 422).await), ["closes_at"]);
    app.stop().await;
}

#[tokio::test]
async fn submission_needs_the_organisation_the_declared_interests_and_something_said() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c = open_consultation(&app, &board, "token-standard", &["supplier"]).await;
    let token = respondent(&app, "sup@example.com", "supplier", "Sue Supplier").await;
    save(
        &app,
        &token,
        &c,
        &json!({ "capacity": "organisation", "interests": "yes", "consent": "named" }),
    )
    .await;
    let refused = problem(submit(&app, &token, &c, &[]).await, 422).await;
    assert_eq!(
        field_errors(&refused),
        [
            "organisation_name".to_owned(),
            "products_affected".to_owned(),
            "commercial_interest".to_owned(),
            format!("q-{}", c.free_text),
            "answers".to_owned(),
        ]
    );
    let bad = app
        .api_send(
            Method::PUT,
            &response_path(&c),
            &token,
            &[],
            Some(&json!({ "capacity": "sideways", "consent": "maybe", "interests": "perhaps" })),
        )
        .await;
    assert_eq!(
        field_errors(&problem(bad, 422).await),
        ["capacity", "consent", "interests"]
    );
    app.stop().await;
}

#[tokio::test]
async fn draft_pages_do_not_exist_for_contributors_and_written_markup_is_shown_as_text() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    create_draft(&app, &board, "secret-draft", &["everyone"]).await;
    let c = open_consultation(&app, &board, "token-standard", &["everyone"]).await;
    let token = respondent(&app, "mark@example.nhs.uk", "nhs_staff", "Mark Up").await;
    let submitted = respond(
        &app,
        &token,
        &c,
        "<script>alert(1)</script> tokens",
        "named",
        None,
    )
    .await;
    app.sign_in_as("reader@example.nhs.uk", Role::Contributor)
        .await;
    for path in [
        "/consultations/secret-draft",
        "/consultations/secret-draft/versions/1",
        "/consultations/secret-draft/sections/scope",
        "/consultations/secret-draft/outcome",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert!(
        !app.get_html("/consultations")
            .await
            .contains("secret-draft")
    );
    app.post_form("/sign-out", "/consultations", &[]).await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app
        .get_html(&format!(
            "/consultations/{}/analysis/responses/{}",
            c.slug,
            submitted["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62; tokens"),
        "escaped"
    );
    assert!(!page.contains("<script>alert(1)"));
    app.stop().await;
}
