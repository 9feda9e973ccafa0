//! The board's dashboard and its report back to government.

use chrono::Utc;
use hub::auth::domain::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, spawn_app};
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

/// The API path of an inbox item's assignee.
pub(crate) fn assignee_path(kind: &str, item: &Value) -> String {
    format!("/api/v1/inbox/{kind}/{}/assignee", id_of(item))
}

/// PUTs `body` (the assignee, and the version seen if any) to `path`.
pub(crate) async fn put_assignee(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    app.api_send(reqwest::Method::PUT, path, token, &[], Some(body))
        .await
}

/// Assigns `idea` to the board member whose token this is, and returns
/// their account as the API shows it.
pub(crate) async fn assign_idea_to_self(app: &TestApp, token: &str, idea: &Value) -> Value {
    let me: Value = app.api_json("/api/v1/me", token).await;
    let resp = put_assignee(
        app,
        token,
        &assignee_path("idea", idea),
        &json!({ "assignee": me["id"] }),
    )
    .await;
    assert_eq!(resp.status(), 200, "assigned to themselves");
    me
}

/// An idea, a critical report and a consultation response, one of each.
async fn one_of_each(app: &TestApp, board: &str) -> (Value, Value, String) {
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(app, &author, &idea_body("Inbox idea")).await;
    let report = escalated_report(app, board).await;
    let c =
        crate::consultations::open_consultation(app, board, "inbox-standard", &["everyone"]).await;
    let token =
        crate::consultations::respondent(app, "resp@example.nhs.uk", "expert", "Rhys Respondent")
            .await;
    crate::consultations::respond(app, &token, &c, "Keep tokens short", "named", None).await;
    (idea, report, c.slug.clone())
}

fn kinds_of(inbox: &Value) -> Vec<String> {
    inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect()
}

#[tokio::test]
async fn the_inbox_holds_every_kind_with_counts_and_narrows_by_each_filter() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let (_, _, slug) = one_of_each(&app, &board).await;
    let all: Value = app.api_json("/api/v1/inbox", &board).await;
    assert_eq!(all["total"], 3);
    assert_eq!(
        kinds_of(&all),
        ["idea", "report", "consultation_response"],
        "oldest first"
    );
    let newest: Value = app.api_json("/api/v1/inbox?sort=newest", &board).await;
    assert_eq!(
        kinds_of(&newest),
        ["consultation_response", "report", "idea"]
    );
    for (query, expected) in [
        ("kind=report", vec!["report"]),
        (
            "kind=idea&kind=consultation_response",
            vec!["idea", "consultation_response"],
        ),
        ("severity=critical", vec!["report"]),
        ("status=escalated", vec!["report"]),
        (
            &format!("consultation={slug}") as &str,
            vec!["consultation_response"],
        ),
        ("organisation=oxford", vec!["report"]),
        (
            "assignee=unassigned",
            vec!["idea", "report", "consultation_response"],
        ),
        ("assignee=me", vec![]),
        ("older_than_days=1", vec![]),
    ] {
        let got: Value = app
            .api_json(&format!("/api/v1/inbox?{query}"), &board)
            .await;
        assert_eq!(kinds_of(&got), expected, "{query}");
    }
    let bad = app
        .api_get("/api/v1/inbox?assignee=bob&limit=1000", &board)
        .await;
    assert_eq!(bad.status(), 422);
    let contributor = app
        .api_token_for("someone@example.nhs.uk", Role::Contributor)
        .await;
    assert_eq!(
        app.api_get("/api/v1/inbox", &contributor).await.status(),
        403
    );
    app.stop().await;
}

#[tokio::test]
async fn two_board_members_assigning_at_once_never_overwrite_each_other() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let other = app.api_token_for("other@example.nhs.uk", Role::Board).await;
    let (idea, _, _) = one_of_each(&app, &board).await;
    let me: Value = app.api_json("/api/v1/me", &board).await;
    let them: Value = app.api_json("/api/v1/me", &other).await;
    let listed: Value = app.api_json("/api/v1/inbox?kind=idea", &board).await;
    let version = listed["items"][0]["version"].as_i64().expect("version");
    let path = assignee_path("idea", &idea);
    let mine = json!({ "assignee": me["id"], "version": version });
    let theirs = json!({ "assignee": them["id"], "version": version });
    let (a, b) = tokio::join!(
        put_assignee(&app, &board, &path, &mine),
        put_assignee(&app, &other, &path, &theirs),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "exactly one wins");
    let loser = if a.status() == 409 { a } else { b };
    let problem: Value = loser.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/conflict");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains(&format!("version {}", version + 1))
    );

    // A contributor cannot be assigned items.
    let author: Value = app
        .api_json(
            "/api/v1/me",
            &app.api_token_for("author@example.nhs.uk", Role::Contributor)
                .await,
        )
        .await;
    let refused = put_assignee(&app, &board, &path, &json!({ "assignee": author["id"] })).await;
    assert_eq!(refused.status(), 422);
    let timeline = entity::audit_events::Entity::find()
        .filter(entity::audit_events::Column::Action.eq("triage.assigned"))
        .all(&app.db)
        .await
        .expect("audit");
    assert_eq!(timeline.len(), 1, "the refused changes left no trace");
    app.stop().await;
}

#[tokio::test]
async fn assigning_ticked_items_from_the_page_reports_what_happened_to_each() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let (idea, report, _) = one_of_each(&app, &board).await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get_html("/board/inbox").await;
    assert!(
        page.contains("3 items: 1 ideas, 1 reports, 1 consultation responses"),
        "{page}"
    );
    let idea_item = format!("idea:{}:1", idea["id"].as_str().expect("id"));
    // The report changed (its status) after this version: the page was stale for it.
    let report_item = format!("report:{}:1", report["id"].as_str().expect("id"));
    let title_field = format!("title-{}", idea["id"].as_str().expect("id"));
    let resp = app
        .post_form(
            "/board/inbox/assign",
            "/board/inbox",
            &[
                ("item", &idea_item),
                ("item", &report_item),
                (title_field.as_str(), "Inbox idea"),
                ("action", "me"),
                ("back", "/board/inbox?kind=idea&kind=report"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("html");
    assert!(
        html.contains("<strong>Inbox idea</strong>: Assigned."),
        "{html}"
    );
    assert!(
        html.contains("Not changed: someone changed it after you loaded the page (it is now Escalated, unassigned, version 3)"),
        "what changed is shown: {html}"
    );
    let mine: Value = app.api_json("/api/v1/inbox?assignee=me", &board).await;
    assert_eq!(kinds_of(&mine), ["idea"]);
    app.stop().await;
}

#[tokio::test]
async fn a_status_change_for_several_items_keeps_each_kind_s_workflow_and_reports_each() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let (idea, report, _) = one_of_each(&app, &board).await;
    let listed: Value = app.api_json("/api/v1/inbox", &board).await;
    let items: Vec<Value> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| json!({ "kind": i["kind"], "id": i["id"], "version": i["version"] }))
        .collect();
    let resp = app
        .api_post(
            "/api/v1/inbox/status",
            &board,
            &json!({ "items": items, "status": "under_review", "note": "The board is looking at this" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let results: Value = resp.json().await.expect("json");
    let by_kind = |kind: &str| {
        results
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["kind"] == kind)
            .cloned()
            .expect("a result for each kind")
    };
    assert_eq!(by_kind("idea")["result"], "changed");
    assert_eq!(
        by_kind("report")["result"],
        "refused",
        "an escalated report cannot go to under review"
    );
    assert_eq!(by_kind("consultation_response")["result"], "refused");
    let idea_now: Value = app
        .api_json(
            &format!("/api/v1/ideas/{}", idea["id"].as_str().expect("id")),
            &board,
        )
        .await;
    assert_eq!(idea_now["status"], "under_review");

    // The same change again, from the versions read before: stale now.
    let stale = app
        .api_post(
            "/api/v1/inbox/status",
            &board,
            &json!({
                "items": [{ "kind": "idea", "id": idea["id"], "version": 1 }],
                "status": "shortlisted",
                "note": "Again"
            }),
        )
        .await;
    let stale: Value = stale.json().await.expect("json");
    assert_eq!(stale[0]["result"], "stale", "{stale}");
    let report_now: Value = app
        .api_json(
            &format!("/api/v1/reports/{}", report["id"].as_str().expect("id")),
            &board,
        )
        .await;
    assert_eq!(report_now["status"], "escalated");
    app.stop().await;
}

#[tokio::test]
async fn internal_notes_stay_with_the_board_and_replies_reach_the_author() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let stranger = app
        .api_token_for("stranger@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Noted idea")).await;
    let id = idea["id"].as_str().expect("id");
    let notes = format!("/api/v1/inbox/idea/{id}/notes");
    let internal = app
        .api_post(
            &notes,
            &board,
            &json!({ "visibility": "internal", "body": "Zanzibarish concerns about cost" }),
        )
        .await;
    assert_eq!(internal.status(), 201);
    let reply = app
        .api_post(
            &notes,
            &board,
            &json!({ "visibility": "reply", "body": "Thank you: we will look at this in March." }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let empty = app
        .api_post(
            &notes,
            &board,
            &json!({ "visibility": "reply", "body": " " }),
        )
        .await;
    assert_eq!(empty.status(), 422);
    // Neither internal nor a reply, and empty: both fields named at once.
    let neither: Value = app
        .api_post(&notes, &board, &json!({ "visibility": "public" }))
        .await
        .json()
        .await
        .expect("problem");
    assert_eq!(neither["status"], 422, "{neither}");
    let fields: Vec<&str> = neither["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["visibility", "body"], "{neither}");
    assert_eq!(
        app.api_post(
            &notes,
            &author,
            &json!({ "visibility": "reply", "body": "x" })
        )
        .await
        .status(),
        403
    );

    let for_board: Value = app.api_json(&notes, &board).await;
    assert_eq!(for_board.as_array().map(Vec::len), Some(2));
    let for_author: Value = app.api_json(&notes, &author).await;
    assert_eq!(for_author.as_array().map(Vec::len), Some(1));
    assert_eq!(for_author[0]["visibility"], "reply");
    assert_eq!(app.api_get(&notes, &stranger).await.status(), 404);

    // The reply is emailed to the author.
    let emailed = app.wait_for_email("author@example.nhs.uk", 1).await;
    assert!(
        emailed.contains("The HealthTech Advisory Board replied"),
        "{emailed}"
    );
    // Pages: the author sees the reply, never the internal note; others see neither.
    let public = app.get_html(&format!("/ideas/{id}")).await;
    assert!(!public.contains("Zanzibarish") && !public.contains("we will look at this in March"));
    app.sign_in_as("author@example.nhs.uk", Role::Contributor)
        .await;
    let authors_view = app.get_html(&format!("/ideas/{id}")).await;
    assert!(authors_view.contains("we will look at this in March"));
    assert!(!authors_view.contains("Zanzibarish"));
    let mine = app.get_html("/my-submissions").await;
    assert!(!mine.contains("Zanzibarish"));
    // Search never holds notes, for anyone.
    app.indexed().await;
    let found = crate::search::search(&app, Some(&board), "q=zanzibarish").await;
    assert_eq!(found["total"], 0);
    // The author is emailed the reply.
    // The author is emailed the reply (after the sign-in link), and only the reply.
    app.wait_for_email("author@example.nhs.uk", 2).await;
    let emails = app.emails_to("author@example.nhs.uk");
    let replies: Vec<&String> = emails
        .iter()
        .filter(|e| e.contains("The HealthTech Advisory Board replied"))
        .collect();
    assert_eq!(replies.len(), 1, "{emails:?}");
    assert!(replies[0].contains("we will look at this in March"));
    assert!(emails.iter().all(|e| !e.contains("Zanzibarish")));
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_lists_what_is_assigned_to_the_board_member_looking() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let (idea, _, _) = one_of_each(&app, &board).await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let before = app.get_html("/board/dashboard").await;
    assert!(before.contains("Nothing is assigned to you"));
    assign_idea_to_self(&app, &board, &idea).await;
    let after = app.get_html("/board/dashboard").await;
    assert!(after.contains("Inbox idea</a>"), "{after}");
    assert!(!after.contains("Nothing is assigned to you"));
    app.stop().await;
}

#[tokio::test]
async fn merging_a_duplicate_combines_supporters_and_unmerging_gives_them_back() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let first_author = app
        .api_token_for("first@example.nhs.uk", Role::Contributor)
        .await;
    let second_author = app
        .api_token_for("second@example.nhs.uk", Role::Contributor)
        .await;
    let original = create_idea(
        &app,
        &first_author,
        &idea_body("Shared care record for every trust"),
    )
    .await;
    let copy = create_idea(
        &app,
        &second_author,
        &idea_body("One care record shared by all trusts"),
    )
    .await;
    let original_id = original["id"].as_str().expect("id").to_owned();
    let copy_id = copy["id"].as_str().expect("id").to_owned();
    let support = |token: String, id: String| {
        let app = &app;
        async move {
            let body = json!({ "notify": false });
            let resp = app
                .api_send(
                    reqwest::Method::PUT,
                    &format!("/api/v1/ideas/{id}/support"),
                    &token,
                    &[],
                    Some(&body),
                )
                .await;
            assert!(resp.status().is_success(), "support: {}", resp.status());
        }
    };
    let both = app
        .api_token_for("both@example.nhs.uk", Role::Contributor)
        .await;
    support(both.clone(), original_id.clone()).await;
    support(both, copy_id.clone()).await;
    for who in ["a", "b"] {
        let token = app
            .api_token_for(&format!("{who}@example.nhs.uk"), Role::Contributor)
            .await;
        support(token, copy_id.clone()).await;
    }
    // The original's author supporting the copy is not counted twice on their own idea.
    support(first_author, copy_id.clone()).await;

    let status = format!("/api/v1/ideas/{copy_id}/status");
    let merged = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "duplicate", "duplicate_of": original_id, "note": "Same idea" }),
        )
        .await;
    assert_eq!(merged.status(), 200);
    let got: Value = app
        .api_json(&format!("/api/v1/ideas/{original_id}"), &board)
        .await;
    assert_eq!(
        got["support_count"], 3,
        "1 before, plus the copy's 2 other supporters"
    );

    let unmerged = app
        .api_post(
            &status,
            &board,
            &json!({ "status": "under_review", "note": "Different after all" }),
        )
        .await;
    assert_eq!(unmerged.status(), 200);
    let got: Value = app
        .api_json(&format!("/api/v1/ideas/{original_id}"), &board)
        .await;
    assert_eq!(got["support_count"], 1, "back to its own supporters");
    let copy_now: Value = app
        .api_json(&format!("/api/v1/ideas/{copy_id}"), &board)
        .await;
    assert_eq!(
        copy_now["support_count"], 4,
        "the copy kept its own supporters throughout"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bulk_change_with_one_bad_item_changes_nothing_and_bad_filters_are_named() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let other = app.api_token_for("other@example.nhs.uk", Role::Board).await;
    let (idea, report, _) = one_of_each(&app, &board).await;
    let them: Value = app.api_json("/api/v1/me", &other).await;
    let bad = app
        .api_post(
            "/api/v1/inbox/assign",
            &board,
            &json!({
                "items": [{ "kind": "idea", "id": idea["id"] }, { "kind": "martian", "id": report["id"] }],
                "assignee": them["id"]
            }),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.expect("json");
    assert_eq!(bad["errors"][0]["field"], "items[1].kind");
    let unassigned: Value = app
        .api_json("/api/v1/inbox?assignee=unassigned", &board)
        .await;
    assert_eq!(unassigned["total"], 3, "nothing was assigned");

    let items =
        json!([{ "kind": "idea", "id": idea["id"] }, { "kind": "report", "id": report["id"] }]);
    let assigned = app
        .api_post(
            "/api/v1/inbox/assign",
            &board,
            &json!({ "items": items, "assignee": them["id"] }),
        )
        .await;
    let assigned: Value = assigned.json().await.expect("json");
    assert_eq!(assigned[0]["result"], "assigned");
    assert_eq!(assigned[1]["result"], "assigned");
    let theirs: Value = app
        .api_json(
            &format!(
                "/api/v1/inbox?assignee={}",
                them["id"].as_str().expect("id")
            ),
            &board,
        )
        .await;
    assert_eq!(kinds_of(&theirs), ["idea", "report"]);
    let released = app
        .api_post("/api/v1/inbox/assign", &board, &json!({ "items": items }))
        .await;
    let released: Value = released.json().await.expect("json");
    assert_eq!(released[0]["result"], "unassigned");

    let filters = app
        .api_get(
            "/api/v1/inbox?assignee=bob&limit=1000&sort=sideways",
            &board,
        )
        .await;
    assert_eq!(filters.status(), 422);
    assert_eq!(
        filters.headers()["content-type"],
        "application/problem+json"
    );
    let filters: Value = filters.json().await.expect("json");
    let fields: Vec<&str> = filters["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["assignee", "limit", "sort"]);
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get("/board/inbox?older_than_days=many").await;
    assert_eq!(page.status(), 422);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("href=\"#older_than_days\"")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_the_report_and_an_item_s_timeline_are_in_the_api_for_the_board() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let (idea, report, _) = one_of_each(&app, &board).await;
    let me = assign_idea_to_self(&app, &board, &idea).await;
    let idea_id = idea["id"].as_str().expect("id");

    let dashboard: Value = app.api_json("/api/v1/dashboard", &board).await;
    assert_eq!(dashboard["awaiting_me_total"], 1);
    assert_eq!(dashboard["awaiting_me"][0]["id"], idea["id"]);
    assert_eq!(dashboard["open_critical"][0]["id"], report["id"]);
    assert_eq!(dashboard["weeks"].as_array().expect("weeks").len(), 12);

    let month: Value = app
        .api_json(
            &format!("/api/v1/board-report?period={}", this_month()),
            &board,
        )
        .await;
    assert_eq!(month["ideas_submitted"], 1);
    assert_eq!(
        month["critical_and_escalated"][0]["system"],
        "Zephyr theatre scheduler"
    );
    assert!(
        !month.to_string().contains("Rita"),
        "reporters are never named"
    );
    let bad = app
        .api_get("/api/v1/board-report?period=2026-13", &board)
        .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "period");

    let timeline: Value = app
        .api_json(&format!("/api/v1/audit/idea/{idea_id}"), &board)
        .await;
    let actions: Vec<&str> = timeline
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["idea.submitted", "triage.assigned"]);
    assert_eq!(timeline[1]["after"]["assignee"], me["id"]);
    assert_eq!(
        app.api_get(&format!("/api/v1/audit/planet/{idea_id}"), &board)
            .await
            .status(),
        404
    );

    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    for path in [
        "/api/v1/dashboard".to_owned(),
        "/api/v1/board-report".to_owned(),
        format!("/api/v1/audit/idea/{idea_id}"),
    ] {
        assert_eq!(app.api_get(&path, &author).await.status(), 403, "{path}");
    }
    app.stop().await;
}
