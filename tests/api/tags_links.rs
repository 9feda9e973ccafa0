//! The board's tags and links on items: through the API, the inbox and the
//! item's page; never shown to anyone else.

use hub::auth::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::ideas::{create_idea, idea_body};

async fn actions_on(app: &TestApp, id: &str) -> Vec<String> {
    entity::audit_events::Entity::find()
        .filter(entity::audit_events::Column::SubjectId.eq(uuid::Uuid::parse_str(id).expect("id")))
        .all(&app.db)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn confidential_report(app: &TestApp, token: &str) -> Value {
    app.api_post_json(
        "/api/v1/reports",
        token,
        &json!({
            "organisation": "RTH",
            "system_name": "Umbral pathology link",
            "supplier_name": "Example Systems Ltd",
            "category": "interoperability",
            "severity": "high",
            "patient_impact": "Results arrive late",
            "staff_impact": "Phoning the lab",
            "evidence": "The link drops results overnight",
            "confidential": true
        }),
    )
    .await
}

#[tokio::test]
async fn the_board_tags_items_in_bulk_filters_by_tag_and_untags_with_each_change_audited() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Tagged idea")).await;
    let report = confidential_report(&app, &author).await;
    let other = create_idea(&app, &author, &idea_body("Untagged idea")).await;
    let idea_id = idea["id"].as_str().expect("id");
    let report_id = report["id"].as_str().expect("id");

    let results: Value = app
        .api_post_json(
            "/api/v1/inbox/tags",
            &board,
            &json!({
                "tag": "Quick win",
                "items": [
                    { "kind": "idea", "id": idea_id },
                    { "kind": "report", "id": report_id },
                    { "kind": "idea", "id": uuid::Uuid::now_v7() }
                ]
            }),
        )
        .await;
    let outcomes: Vec<&str> = results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"].as_str().expect("result"))
        .collect();
    assert_eq!(outcomes, ["tagged", "tagged", "not_found"]);

    let again: Value = app
        .api_post_json(
            &format!("/api/v1/inbox/idea/{idea_id}/tags"),
            &board,
            &json!({ "tag": "quick WIN" }),
        )
        .await;
    assert_eq!(
        again,
        json!([{ "slug": "quick-win", "label": "Quick win" }])
    );

    let tagged: Value = app.api_json("/api/v1/inbox?tag=quick-win", &board).await;
    assert_eq!(tagged["total"], 2);
    assert_eq!(tagged["items"][0]["tags"][0]["label"], "Quick win");
    let ids: Vec<&str> = tagged["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert!(!ids.contains(&other["id"].as_str().expect("id")));
    let all: Value = app.api_json("/api/v1/tags", &board).await;
    assert_eq!(all, json!([{ "slug": "quick-win", "label": "Quick win" }]));

    let bad = app
        .api_post(
            &format!("/api/v1/inbox/idea/{idea_id}/tags"),
            &board,
            &json!({ "tag": "!!!" }),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "tag");

    let removed = app
        .api_delete(
            &format!("/api/v1/inbox/idea/{idea_id}/tags/quick-win"),
            &board,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let gone = app
        .api_delete(
            &format!("/api/v1/inbox/idea/{idea_id}/tags/quick-win"),
            &board,
        )
        .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(
        actions_on(&app, idea_id).await,
        ["idea.submitted", "triage.tagged", "triage.untagged"]
    );

    // Tags are the board's: contributors cannot read or change them.
    assert_eq!(app.api_get("/api/v1/tags", &author).await.status(), 403);
    assert_eq!(
        app.api_get(&format!("/api/v1/inbox/report/{report_id}/tags"), &author)
            .await
            .status(),
        403
    );
    app.sign_in_as("author@example.nhs.uk", Role::Contributor)
        .await;
    let own_report = app.get_html(&format!("/reports/{report_id}")).await;
    assert!(own_report.contains("Umbral pathology link"));
    assert!(!own_report.contains("Quick win"), "{own_report}");
    app.stop().await;
}

#[tokio::test]
async fn links_join_ideas_reports_and_consultation_sections_both_ways_for_the_board_alone() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Linked idea")).await;
    let reporter = app
        .api_token_for("reporter@example.nhs.uk", Role::Contributor)
        .await;
    let report = confidential_report(&app, &reporter).await;
    crate::consultations::open_consultation(&app, &board, "linked-standard", &["everyone"]).await;
    let consultation: Value = app
        .api_json("/api/v1/consultations/linked-standard", &board)
        .await;
    let idea_id = idea["id"].as_str().expect("id");
    let report_id = report["id"].as_str().expect("id");
    let links_path = format!("/api/v1/inbox/idea/{idea_id}/links");

    let resp = app
        .api_post(
            &links_path,
            &board,
            &json!({ "kind": "report", "id": report_id }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .api_post(
            &links_path,
            &board,
            &json!({ "kind": "consultation_section", "id": consultation["id"], "anchor": "token-lifetimes" }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let links: Value = resp.json().await.expect("json");
    assert_eq!(links.as_array().expect("links").len(), 2);
    assert_eq!(
        links[1]["link"],
        "/consultations/linked-standard/sections/token-lifetimes"
    );

    // The same link from the other end changes nothing.
    let reverse = app
        .api_post(
            &format!("/api/v1/inbox/report/{report_id}/links"),
            &board,
            &json!({ "kind": "idea", "id": idea_id }),
        )
        .await;
    assert_eq!(reverse.status(), 200);
    let from_report: Value = reverse.json().await.expect("json");
    assert_eq!(from_report[0]["kind"], "idea");
    assert_eq!(from_report[0]["title"], "Linked idea");

    for (body, field) in [
        (json!({ "kind": "idea", "id": idea_id }), "target"),
        (
            json!({ "kind": "consultation_section", "id": consultation["id"], "anchor": "no-such-section" }),
            "target",
        ),
        (
            json!({ "kind": "consultation_section", "id": consultation["id"] }),
            "anchor",
        ),
        (json!({ "kind": "planet", "id": idea_id }), "kind"),
        (
            json!({ "kind": "report", "id": uuid::Uuid::now_v7() }),
            "target",
        ),
    ] {
        let resp = app.api_post(&links_path, &board, &body).await;
        assert_eq!(resp.status(), 422, "{body}");
        let problem: Value = resp.json().await.expect("json");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(
        actions_on(&app, report_id)
            .await
            .iter()
            .filter(|a| *a == "triage.linked")
            .count(),
        1,
        "the report's timeline shows the link made from the idea"
    );

    // The idea's author never learns of the confidential report.
    app.sign_in_as("author@example.nhs.uk", Role::Contributor)
        .await;
    let page = app.get_html(&format!("/ideas/{idea_id}")).await;
    assert!(page.contains("Linked idea"));
    assert!(!page.contains("Umbral"), "{page}");
    assert_eq!(app.api_get(&links_path, &author).await.status(), 403);

    // The board sees both ends on the item's page, and removes one.
    app.post_form("/sign-out", "/ideas", &[]).await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get_html(&format!("/ideas/{idea_id}")).await;
    assert!(page.contains("Report: <a href=\"/reports/"), "{page}");
    let link_id = links[0]["id"].as_str().expect("link id");
    let removed = app
        .api_delete(
            &format!("/api/v1/inbox/report/{report_id}/links/{link_id}"),
            &board,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let left: Value = app.api_json(&links_path, &board).await;
    assert_eq!(left.as_array().expect("links").len(), 1);
    assert_eq!(left[0]["kind"], "consultation_section");
    assert!(
        actions_on(&app, idea_id)
            .await
            .contains(&"triage.unlinked".to_owned())
    );
    app.stop().await;
}

#[tokio::test]
async fn the_pages_tag_and_link_an_item_and_tag_ticked_items_in_the_inbox() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Page idea")).await;
    let report = confidential_report(&app, &author).await;
    let idea_id = idea["id"].as_str().expect("id");
    let report_id = report["id"].as_str().expect("id");
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = format!("/board/items/idea/{idea_id}");

    let empty = app
        .post_form(&format!("{page}/tags"), &page, &[("tag", "  ")])
        .await;
    assert_eq!(empty.status(), 422);
    let html = empty.text().await.expect("html");
    assert!(html.contains("nhsuk-error-summary"));
    assert!(html.contains("Enter a tag"));

    let added = app
        .post_form(
            &format!("{page}/tags"),
            &page,
            &[("tag", "Needs clinical safety")],
        )
        .await;
    let html = app.get_html(&followed(&added)).await;
    assert!(html.contains("The tag has been added."));
    assert!(html.contains("Needs clinical safety"));

    let bad_link = app
        .post_form(
            &format!("{page}/links"),
            &page,
            &[("target", "https://example.com/nowhere")],
        )
        .await;
    assert_eq!(bad_link.status(), 422);
    let html = bad_link.text().await.expect("html");
    assert!(html.contains("Enter the address of an idea, a report"));
    assert!(
        html.contains("https://example.com/nowhere"),
        "what was typed is kept"
    );
    let linked = app
        .post_form(
            &format!("{page}/links"),
            &page,
            &[("target", &format!("http://localhost/reports/{report_id}"))],
        )
        .await;
    let html = app.get_html(&followed(&linked)).await;
    assert!(html.contains("The link has been added."), "{html}");
    assert!(html.contains("Umbral pathology link"));

    let link_id = hub_link_id(&html);
    let unlinked = app
        .post_form(
            &format!("{page}/links/remove"),
            &page,
            &[("link", &link_id)],
        )
        .await;
    assert!(
        app.get_html(&followed(&unlinked))
            .await
            .contains("Nothing linked yet.")
    );

    let bulk = app
        .post_form(
            "/board/inbox/tag",
            "/board/inbox",
            &[
                ("item", &format!("idea:{idea_id}:1")),
                ("item", &format!("report:{report_id}:1")),
                (&format!("title-{idea_id}"), "Page idea"),
                ("new_tag", "Needs clinical safety"),
                ("back", "/board/inbox"),
            ],
        )
        .await;
    let html = bulk.text().await.expect("html");
    assert!(
        html.contains("<strong>Page idea</strong>: Already tagged Needs clinical safety."),
        "{html}"
    );
    assert!(html.contains(": Tagged Needs clinical safety."), "{html}");
    let filtered = app.get_html("/board/inbox?tag=needs-clinical-safety").await;
    assert!(filtered.contains("2 items"), "{filtered}");

    let removed = app
        .post_form(
            &format!("{page}/tags/remove"),
            &page,
            &[("slug", "needs-clinical-safety")],
        )
        .await;
    assert!(
        app.get_html(&followed(&removed))
            .await
            .contains("The tag has been removed.")
    );
    let filtered = app.get_html("/board/inbox?tag=needs-clinical-safety").await;
    assert!(filtered.contains("1 item"), "{filtered}");
    app.stop().await;
}

/// Where a form's 303 sends the browser.
fn followed(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), 303);
    resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The id in the first "remove link" form of an item's page.
fn hub_link_id(html: &str) -> String {
    crate::helpers::hidden_value(html, "link").expect("a link to remove")
}

#[tokio::test]
async fn a_contributor_cannot_reach_the_tags_and_links_page_or_its_forms() {
    let app = spawn_app().await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Private workings")).await;
    let idea_id = idea["id"].as_str().expect("id");
    app.sign_in_as("author@example.nhs.uk", Role::Contributor)
        .await;
    let page = app.get(&format!("/board/items/idea/{idea_id}")).await;
    assert_eq!(page.status(), 403);
    let post = app
        .post_form(
            &format!("/board/items/idea/{idea_id}/tags"),
            &format!("/ideas/{idea_id}"),
            &[("tag", "x")],
        )
        .await;
    assert_eq!(post.status(), 403);
    app.stop().await;
}
