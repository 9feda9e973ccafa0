//! Best-practice reports: who may see them, confidentiality, the register,
//! the workflow and "My submissions".

use entity::{organisations, reports};
use hub::auth::domain::Role;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

pub(crate) fn report_body(system: &str) -> Value {
    json!({
        "organisation": "RTH",
        "system_name": system,
        "supplier_name": "Example Systems Ltd",
        "category": "outage",
        "severity": "high",
        "patient_impact": "Results delayed",
        "staff_impact": "Phone calls to the lab",
        "evidence": "Crashed **three** times",
        "confidential": true
    })
}

async fn create_report(app: &TestApp, token: &str, body: &Value) -> Value {
    let resp = app.api_post("/api/v1/reports", token, body).await;
    assert_eq!(resp.status(), 201, "report created");
    resp.json().await.expect("json")
}

#[tokio::test]
async fn reports_are_seen_only_by_the_board_and_their_reporter() {
    let app = spawn_app().await;
    let reporter = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let other = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let report = create_report(
        &app,
        &reporter,
        &report_body("Unique pathology viewer zebra"),
    )
    .await;
    let id = report["id"].as_str().expect("id");
    assert_eq!(report["organisation"]["ods_code"], "RTH");
    assert_eq!(report["status"], "new");
    assert!(
        report["evidence_html"]
            .as_str()
            .unwrap_or("")
            .contains("<strong>three</strong>")
    );

    let path = format!("/api/v1/reports/{id}");
    assert_eq!(app.api_get(&path, &reporter).await.status(), 200);
    assert_eq!(app.api_get(&path, &board).await.status(), 200);
    let hidden = app.api_get(&path, &other).await;
    assert_eq!(hidden.status(), 404, "others cannot tell it exists");
    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status(), 401);

    let theirs: Value = app
        .api_get("/api/v1/reports", &other)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let all: Value = app
        .api_get("/api/v1/reports", &board)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));

    // Pages answer the same way, and leak nothing in the not-found page.
    app.sign_in_as("supplier@example.com", Role::Contributor)
        .await;
    let page = app.get(&format!("/reports/{id}")).await;
    assert_eq!(page.status(), 404);
    assert!(!page.text().await.expect("body").contains("zebra"));
    let list = app.get("/reports").await;
    assert_eq!(list.status(), 403, "the full list is for the board");
    app.stop().await;
}

#[tokio::test]
async fn a_new_report_is_answered_exactly_as_it_reads_back() {
    let app = spawn_app().await;
    let reporter = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    for confidential in [true, false] {
        let mut body = report_body("Answered as stored");
        body["confidential"] = json!(confidential);
        let created = create_report(&app, &reporter, &body).await;
        assert!(created["reporter"]["name"].is_string(), "{created}");
        let id = created["id"].as_str().expect("id");
        let read = app
            .api_json(&format!("/api/v1/reports/{id}"), &reporter)
            .await;
        assert_eq!(created, read);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_confidential_reporter_is_named_to_the_board_only() {
    let app = spawn_app().await;
    let reporter = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    hub::auth::service::upsert_user(
        &app.db,
        &hub::auth::domain::EmailAddress::parse("nurse@example.nhs.uk").expect("email"),
        Role::Contributor,
        Some("Nia Nurse".into()),
    )
    .await
    .expect("name");
    let report = create_report(&app, &reporter, &report_body("EPR")).await;
    let id = report["id"].as_str().expect("id");
    let for_board: Value = app
        .api_get(&format!("/api/v1/reports/{id}"), &board)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(for_board["confidential"], true);
    assert_eq!(for_board["reporter"]["name"], "Nia Nurse");

    app.sign_in("board@example.nhs.uk").await;
    let page = app.get_html(&format!("/reports/{id}")).await;
    assert!(page.contains("Nia Nurse"));
    assert!(page.contains("Confidential"));
    app.stop().await;
}

#[tokio::test]
async fn the_organisation_must_be_in_the_register() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let mut unknown = report_body("EPR");
    unknown["organisation"] = json!("No Such Trust Anywhere");
    let resp = app.api_post("/api/v1/reports", &token, &unknown).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "organisation");

    // A wildcard is taken literally, not as "any organisation".
    let mut wildcard = report_body("EPR");
    wildcard["organisation"] = json!("%");
    let resp = app.api_post("/api/v1/reports", &token, &wildcard).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.expect("json");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("No organisation")
    );

    // "University Hospital" matches several exemplar trusts.
    let mut ambiguous = report_body("EPR");
    ambiguous["organisation"] = json!("University Hospital");
    let resp = app.api_post("/api/v1/reports", &token, &ambiguous).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.expect("json");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("ODS code")
    );

    let mut by_name = report_body("EPR");
    by_name["organisation"] = json!("west suffolk nhs foundation trust");
    let created = create_report(&app, &token, &by_name).await;
    assert_eq!(created["organisation"]["ods_code"], "RGR");

    // An ODS code finds its organisation however many names contain it
    // ("RTH" is in every "North ...").
    for n in 0..25 {
        let now = chrono::Utc::now();
        organisations::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            name: Set(format!("Aaa North Example Trust {n}")),
            kind: Set("trust".to_owned()),
            ods_code: Set(Some(format!("ZN{n}"))),
            note: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.db)
        .await
        .expect("organisation");
    }
    let by_code = create_report(&app, &token, &report_body("EPR")).await;
    assert_eq!(by_code["organisation"]["ods_code"], "RTH");
    app.stop().await;
}

#[tokio::test]
async fn every_report_field_is_checked_including_the_patient_data_guard() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = app.api_post("/api/v1/reports", &token, &json!({})).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.expect("json");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for field in [
        "organisation",
        "system_name",
        "category",
        "severity",
        "patient_impact",
        "staff_impact",
        "evidence",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let mut with_number = report_body("EPR");
    with_number["evidence"] = json!("Patient 943 476 5919 was affected");
    let resp = app.api_post("/api/v1/reports", &token, &with_number).await;
    let problem: Value = resp.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "evidence");
    let mut too_long = report_body("EPR");
    too_long["evidence"] = json!("e".repeat(20_001));
    assert_eq!(
        app.api_post("/api/v1/reports", &token, &too_long)
            .await
            .status(),
        422
    );
    assert_eq!(
        reports::Entity::find().count(&app.db).await.expect("count"),
        0
    );

    let headers = [("Idempotency-Key", "report-1")];
    let body = report_body("Retried report");
    let first: Value = app
        .api_send(
            Method::POST,
            "/api/v1/reports",
            &token,
            &headers,
            Some(&body),
        )
        .await
        .json()
        .await
        .expect("json");
    let again: Value = app
        .api_send(
            Method::POST,
            "/api/v1/reports",
            &token,
            &headers,
            Some(&body),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        reports::Entity::find().count(&app.db).await.expect("count"),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn the_board_moves_a_report_through_its_workflow_and_the_reporter_is_emailed() {
    let app = spawn_app().await;
    let reporter = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let report = create_report(&app, &reporter, &report_body("Bed management")).await;
    let path = format!(
        "/api/v1/reports/{}/status",
        report["id"].as_str().expect("id")
    );
    let denied = app
        .api_post(
            &path,
            &reporter,
            &json!({ "status": "closed", "note": "done" }),
        )
        .await;
    assert_eq!(denied.status(), 403);
    let illegal = app
        .api_post(
            &path,
            &board,
            &json!({ "status": "resolved", "note": "skip" }),
        )
        .await;
    assert_eq!(illegal.status(), 422);
    let ok: Value = app
        .api_post(&path, &board, &json!({ "status": "triaged", "note": "We have asked the trust for details.", "version": 1 }))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ok["status"], "triaged");
    assert_eq!(ok["history"].as_array().map(Vec::len), Some(2));
    let email = app.wait_for_email("nurse@example.nhs.uk", 1).await;
    assert!(email.contains("Update on your report: triaged"));
    assert!(email.contains("We have asked the trust for details."));
    let escalated = app
        .api_post(
            &path,
            &board,
            &json!({ "status": "escalated", "note": "Raised with NHS England.", "version": 2 }),
        )
        .await;
    assert_eq!(escalated.status(), 200);
    app.wait_for_email("nurse@example.nhs.uk", 2).await;
    let stale = app
        .api_post(
            &path,
            &board,
            &json!({ "status": "resolved", "note": "x", "version": 2 }),
        )
        .await;
    assert_eq!(stale.status(), 409);
    app.stop().await;
}

#[tokio::test]
async fn a_confidential_report_made_on_the_page_appears_under_my_submissions() {
    let app = spawn_app().await;
    app.sign_in_as("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let fields = [
        ("organisation", "Oxford"),
        ("system_name", "Theatre scheduling"),
        ("category", "usability"),
        ("severity", "medium"),
        ("patient_impact", "Lists start late"),
        ("staff_impact", "Hours of re-keying"),
        ("evidence", "Every Monday"),
        ("confidential", "yes"),
    ];
    let resp = app.post_form("/reports/new", "/reports/new", &fields).await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let page = app.get_html(&location).await;
    assert!(page.contains("Your report has been sent to the board"));
    assert!(page.contains("Oxford University Hospitals NHS Foundation Trust"));
    let mine = app.get_html("/my-submissions").await;
    assert!(mine.contains("Theatre scheduling"));
    assert!(mine.contains("(confidential)"));
    assert!(mine.contains("New"));

    let missing = app
        .post_form(
            "/reports/new",
            "/reports/new",
            &[("organisation", "University"), ("system_name", "Kept text")],
        )
        .await;
    assert_eq!(missing.status(), 422);
    let html = missing.text().await.expect("body");
    assert!(
        html.contains("Several organisations match"),
        "a choice is offered"
    );
    assert!(html.contains("name=\"organisation_id\""));
    assert!(html.contains("value=\"Kept text\""));
    app.stop().await;
}

#[tokio::test]
async fn my_submissions_lists_ideas_reports_and_comments() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let idea =
        crate::ideas::create_idea(&app, &token, &crate::ideas::idea_body("My own idea")).await;
    let idea_id = idea["id"].as_str().expect("id");
    app.api_post(
        &format!("/api/v1/ideas/{idea_id}/comments"),
        &token,
        &json!({ "body": "A comment" }),
    )
    .await;
    create_report(&app, &token, &report_body("My report")).await;
    let other = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    create_report(&app, &other, &report_body("Someone else's report")).await;

    let mine: Value = app
        .api_get("/api/v1/me/submissions", &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(mine["ideas"][0]["title"], "My own idea");
    assert_eq!(mine["ideas"][0]["status"], "submitted");
    assert_eq!(mine["reports"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["reports"][0]["title"], "My report");
    assert_eq!(mine["comments"][0]["title"], "My own idea");
    app.stop().await;
}

#[tokio::test]
async fn a_report_update_reaches_the_reporter_over_real_smtp_with_a_sanitized_note() {
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        env: vec![("HUB_SMTP_URL".into(), sink.url())],
        real_mailer: true,
        ..crate::helpers::Options::default()
    })
    .await;
    let reporter = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let report = create_report(&app, &reporter, &report_body("Order comms")).await;
    let path = format!(
        "/api/v1/reports/{}/status",
        report["id"].as_str().expect("id")
    );
    let note = "Passed to the **CIO**. <script>alert(1)</script>";
    let resp = app
        .api_post(&path, &board, &json!({ "status": "triaged", "note": note }))
        .await;
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    for _ in 0..100 {
        received = sink.received();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let raw =
        crate::helpers::decode_quoted_printable(received.first().expect("an email over SMTP"));
    assert!(raw.contains("To: nurse@example.nhs.uk"));
    assert!(raw.contains("Subject: Update on your report: triaged"));
    assert!(
        raw.contains("multipart/alternative"),
        "plain text and HTML parts"
    );
    let html = &raw[raw.find("Content-Type: text/html").expect("an HTML part")..];
    assert!(
        html.contains("<strong>CIO</strong>"),
        "the HTML part renders the note"
    );
    assert!(
        !html.contains("<script"),
        "no script survives into the HTML part"
    );
    app.stop().await;
    sink.stop();
}

#[tokio::test]
async fn a_register_that_cannot_be_searched_is_not_the_reporters_mistake() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("register@example.nhs.uk", Role::Contributor)
        .await;
    app.sign_in_as("register-page@example.nhs.uk", Role::Contributor)
        .await;
    let form_page = app.get_html("/reports/new").await;
    // The register's table gone from under the service: every search of it
    // fails, as it would with the database failing mid-request.
    app.db
        .execute_unprepared("ALTER TABLE organisations RENAME TO organisations_away")
        .await
        .expect("rename");

    let api = app
        .api_post(
            "/api/v1/reports",
            &token,
            &report_body("Lab results viewer"),
        )
        .await;
    assert_eq!(api.status(), 500, "a failure on our side, not a 422");
    let problem: Value = api.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/internal");

    let page = app
        .client
        .post(app.url("/reports/new"))
        .form(&[
            ("organisation", "Oxford"),
            ("system_name", "Kept system name"),
            ("category", "usability"),
            ("severity", "medium"),
            ("evidence", "Kept evidence"),
            (
                "csrf_token",
                &crate::helpers::csrf_token(&form_page).expect("a form token"),
            ),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(page.status(), 500);
    let html = page.text().await.expect("body");
    assert!(html.contains("The organisation register could not be searched just now"));
    assert!(html.contains("Kept system name") && html.contains("Kept evidence"));

    app.db
        .execute_unprepared("ALTER TABLE organisations_away RENAME TO organisations")
        .await
        .expect("rename back");
    let nothing: u64 = reports::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(nothing, 0, "no report was made");
    app.stop().await;
}
