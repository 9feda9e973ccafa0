//! The board's dashboard and its report back to government.

use chrono::Utc;
use hub::auth::domain::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::ideas::{create_idea, idea_body};

fn this_month() -> String {
    hub::uk_time::local(Utc::now()).format("%Y-%m").to_string()
}

/// A critical, confidential report from a named reporter, escalated by the board.
async fn escalated_report(app: &TestApp, board: &str) -> Value {
    let reporter = app
        .api_token_for("rita@example.nhs.uk", Role::Contributor)
        .await;
    entity::users::Entity::update_many()
        .col_expr(
            entity::users::Column::DisplayName,
            Expr::value("Rita Reporter"),
        )
        .filter(entity::users::Column::Email.eq("rita@example.nhs.uk"))
        .exec(&app.db)
        .await
        .expect("name the reporter");
    let resp = app
        .api_post(
            "/api/v1/reports",
            &reporter,
            &json!({
                "organisation": "RTH",
                "system_name": "Zephyr theatre scheduler",
                "supplier_name": "Example Systems Ltd",
                "category": "outage",
                "severity": "critical",
                "patient_impact": "Operations cancelled",
                "staff_impact": "Lists rebuilt by hand",
                "evidence": "Down for two days",
                "confidential": true
            }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let report: Value = resp.json().await.expect("json");
    let path = format!(
        "/api/v1/reports/{}/status",
        report["id"].as_str().expect("id")
    );
    for status in ["triaged", "escalated"] {
        let resp = app
            .api_post(
                &path,
                board,
                &json!({ "status": status, "note": "Raised nationally" }),
            )
            .await;
        assert_eq!(resp.status(), 200, "{status}");
    }
    report
}

#[tokio::test]
async fn the_report_back_to_government_counts_the_month_and_never_names_a_reporter() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    escalated_report(&app, &board).await;
    let idea = create_idea(&app, &author, &idea_body("Quarkly shared care records")).await;
    let resp = app
        .api_post(
            &format!("/api/v1/ideas/{}/status", idea["id"].as_str().expect("id")),
            &board,
            &json!({ "status": "shortlisted", "note": "For the national programme" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    create_idea(&app, &author, &idea_body("Another idea")).await;

    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app
        .get_html(&format!("/board/report?period={}", this_month()))
        .await;
    assert!(page.contains("Ideas submitted: 2"), "{page}");
    assert!(page.contains("Best-practice reports: 1"));
    assert!(page.contains("Zephyr theatre scheduler"));
    assert!(page.contains("Quarkly shared care records (shortlisted"));
    assert!(!page.contains("Rita Reporter"), "reporters are never named");

    let markdown = app
        .get(&format!("/board/report.md?period={}", this_month()))
        .await;
    assert_eq!(markdown.status(), 200);
    assert!(
        markdown.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains(".md")
    );
    let markdown = markdown.text().await.expect("text");
    assert!(markdown.starts_with("# HealthTech Advisory Board: report for"));
    assert!(markdown.contains("| Zephyr theatre scheduler |"));
    assert!(!markdown.contains("Rita"));
    let html = app
        .get(&format!("/board/report.html?period={}", this_month()))
        .await;
    assert_eq!(html.status(), 200);
    assert!(
        html.text()
            .await
            .expect("text")
            .contains("<h2>Critical and escalated reports</h2>")
    );

    let bad = app.get("/board/report?period=2026-13").await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .expect("text")
            .contains("Enter a month as year and month")
    );
    let earlier = app.get_html("/board/report?period=2001-01").await;
    assert!(earlier.contains("Ideas submitted: 0"));
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_and_the_report_are_for_the_board_alone() {
    let app = spawn_app().await;
    for path in [
        "/board/dashboard",
        "/board/report",
        "/board/report.md",
        "/board/report.html",
    ] {
        assert_eq!(app.get(path).await.status(), 401, "{path} signed out");
    }
    app.sign_in_as("someone@example.nhs.uk", Role::Contributor)
        .await;
    for path in [
        "/board/dashboard",
        "/board/report",
        "/board/report.md",
        "/board/report.html",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            403,
            "{path} for a contributor"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_charts_what_came_in_and_lists_what_needs_attention() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    escalated_report(&app, &board).await;
    create_idea(&app, &author, &idea_body("Charted idea")).await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get_html("/board/dashboard").await;
    assert!(page.contains("Open critical reports"));
    assert!(
        page.contains("Zephyr theatre scheduler"),
        "an open critical report is listed"
    );
    assert_eq!(
        page.matches("role=\"img\"").count(),
        6 + 1,
        "six charts and the NHS logo"
    );
    assert!(
        page.contains("Outage or crash: 1;"),
        "the chart's numbers are its description"
    );
    // This week's row: one idea, one report.
    assert!(
        page.contains("<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">1</td><td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">1</td><td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">0</td><td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">2</td>"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_command_line_prints_a_month_s_report_and_refuses_a_bad_month() {
    let dir = crate::helpers::temp_dir();
    let url = crate::helpers::fresh_database_url(&dir).await;
    let out = crate::cli::hub(&dir, &url, &["report", "--period", "2026-10"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("# HealthTech Advisory Board: report for October 2026"),
        "{text}"
    );
    let html = crate::cli::hub(
        &dir,
        &url,
        &["report", "--period", "2026-10", "--format", "html"],
    );
    assert!(
        String::from_utf8_lossy(&html.stdout)
            .contains("<h1>HealthTech Advisory Board: report for October 2026</h1>")
    );
    let bad = crate::cli::hub(&dir, &url, &["report", "--period", "October"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--period must be a month such as 2026-10")
    );
}

#[tokio::test]
async fn every_change_to_an_item_is_on_its_timeline_for_the_board_and_downloads_as_csv() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let report = escalated_report(&app, &board).await;
    let id = report["id"].as_str().expect("id");
    let path = format!("/board/audit/report/{id}");
    assert_eq!(app.get(&path).await.status(), 401);
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get_html(&path).await;
    let submitted = page
        .find("report.submitted")
        .expect("the submission is recorded");
    let escalated = page
        .rfind("escalated")
        .unwrap_or_else(|| panic!("the escalation is recorded: {page}"));
    assert!(submitted < escalated, "oldest first");
    assert!(
        page.contains("Test Person"),
        "the board member who changed it is named"
    );

    let csv = app.get(&format!("{path}/csv")).await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.expect("text");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let actions: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[2].to_owned())
        .collect();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("report.submitted")
    );
    assert_eq!(
        actions.iter().filter(|a| a.contains("status")).count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        app.get("/board/audit/martians/00000000-0000-0000-0000-000000000000")
            .await
            .status(),
        404
    );
    app.stop().await;
}
