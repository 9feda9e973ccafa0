//! Saved searches: board only, owner only, checked when saved, new matches
//! since the owner last looked (with the caller's visibility), pages.

use std::time::Duration;

use hub::auth::domain::Role;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::ideas::{create_idea, idea_body};

fn field_of(problem: &Value) -> String {
    problem["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn board_members_save_searches_and_see_only_what_is_new() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let colleague = app
        .api_token_for("colleague@example.nhs.uk", Role::Board)
        .await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&app, &nurse, &idea_body("Handover notes before saving")).await;

    let body = json!({
        "name": "Handover ideas",
        "q": "handover",
        "filters": [{ "name": "kind", "values": ["idea"] }],
        "notify": true
    });
    let refused = app
        .api_post("/api/v1/me/saved-searches", &nurse, &body)
        .await;
    assert_eq!(refused.status(), 403, "contributors do not save searches");
    let saved = app
        .api_post("/api/v1/me/saved-searches", &board, &body)
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.expect("json");
    let id = saved["id"].as_str().expect("id").to_owned();
    assert_eq!(saved["notify"], true);
    assert_eq!(saved["link"], "/search?q=handover&sort=relevance&kind=idea");

    for (bad, field) in [
        (json!({ "name": "Handover ideas", "q": "other" }), "name"),
        (json!({ "name": "", "q": "x" }), "name"),
        (json!({ "name": "Broken", "q": "\"unclosed" }), "q"),
        (
            json!({ "name": "Unknown", "filters": [{ "name": "secret", "values": ["x"] }] }),
            "secret",
        ),
        (json!({ "name": "Dates", "from": "yesterday" }), "from"),
    ] {
        let resp = app
            .api_post("/api/v1/me/saved-searches", &board, &bad)
            .await;
        assert_eq!(resp.status(), 422, "{bad}");
        let problem: Value = resp.json().await.expect("json");
        assert_eq!(field_of(&problem), field, "{bad}");
    }

    // Only the owner sees it.
    let path = format!("/api/v1/me/saved-searches/{id}");
    assert_eq!(app.api_get(&path, &colleague).await.status(), 404);
    let listed: Value = app.api_json("/api/v1/me/saved-searches", &colleague).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(0));

    // What existed before saving is not new; what arrives after is.
    create_idea(&app, &nurse, &idea_body("Handover board for wards")).await;
    app.api_post(
        "/api/v1/reports",
        &nurse,
        &json!({
            "organisation": "RTH", "system_name": "Handover system", "category": "outage",
            "severity": "high", "patient_impact": "handover", "staff_impact": "handover",
            "evidence": "handover crashed"
        }),
    )
    .await;
    app.indexed().await;
    let new_path = format!("{path}/new-matches");
    let new: Value = app.api_json(&new_path, &board).await;
    assert_eq!(
        new["total"], 1,
        "one new idea; the report is filtered out: {new}"
    );
    assert_eq!(
        new["hits"][0]["title_html"],
        "<b>Handover</b> board for wards"
    );

    // Marked seen, it is no longer new; the next arrival is.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let seen = app
        .api_get(&format!("{new_path}?mark_seen=true"), &board)
        .await;
    assert_eq!(seen.status(), 200);
    let after: Value = app.api_json(&new_path, &board).await;
    assert_eq!(after["total"], 0, "{after}");
    create_idea(&app, &nurse, &idea_body("Handover checklist app")).await;
    app.indexed().await;
    let after: Value = app.api_json(&new_path, &board).await;
    assert_eq!(after["total"], 1);

    // With more new matches than are returned, only those returned
    // (the oldest) are marked seen.
    for n in 0..3 {
        create_idea(&app, &nurse, &idea_body(&format!("Handover sheet {n}"))).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.indexed().await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let first_two: Value = app
        .api_json(&format!("{new_path}?mark_seen=true&limit=2"), &board)
        .await;
    assert_eq!(first_two["total"], 4);
    assert_eq!(
        first_two["hits"][0]["title_html"],
        "<b>Handover</b> checklist app"
    );
    let rest: Value = app.api_json(&new_path, &board).await;
    assert_eq!(rest["total"], 2, "the two not returned stay new: {rest}");
    assert_eq!(rest["hits"][1]["title_html"], "<b>Handover</b> sheet 2");

    // Rename, stop notifications, delete.
    let changed = app
        .api_send(
            reqwest::Method::PATCH,
            &path,
            &board,
            &[],
            Some(&json!({ "name": "Ward handover", "notify": false })),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(
        (changed["name"].as_str(), changed["notify"].as_bool()),
        (Some("Ward handover"), Some(false))
    );
    let deleted = app
        .api_send(reqwest::Method::DELETE, &path, &board, &[], None)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.api_get(&path, &board).await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_search_page_saves_a_search_with_clear_errors_and_lists_new_matches() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let results = app.get_html("/search?q=discharge&kind=idea").await;
    let save_link = "/search/save?q=discharge&#38;kind=idea";
    assert!(
        results.contains(save_link),
        "board members are offered to save: {results}"
    );

    let form_page = "/search/save?q=discharge&kind=idea";
    let form = app.get_html(form_page).await;
    assert!(form.contains("name=\"kind\" value=\"idea\""));
    let missing = app
        .post_form(
            "/search/saved",
            form_page,
            &[("q", "discharge"), ("kind", "idea"), ("name", "")],
        )
        .await;
    assert_eq!(missing.status(), 422);
    let html = missing.text().await.expect("html");
    assert!(html.contains("nhsuk-error-summary") && html.contains("Enter a name for this search"));
    assert!(
        html.contains("name=\"kind\" value=\"idea\""),
        "the search is kept"
    );

    let saved = app
        .post_form(
            "/search/saved",
            form_page,
            &[
                ("q", "discharge"),
                ("kind", "idea"),
                ("name", "Discharge ideas"),
                ("notify", "yes"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    create_idea(&app, &nurse, &idea_body("Discharge letters by email")).await;
    app.indexed().await;
    let list = app.get_html("/search/saved").await;
    assert!(list.contains("Discharge ideas") && list.contains("1 new"));
    let id = list
        .split("/search/saved/")
        .nth(1)
        .and_then(|rest| rest.get(..36))
        .expect("a link to the new matches")
        .to_owned();
    // Looked at a little later, the new match can be marked seen.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let new_page = format!("/search/saved/{id}");
    let new = app.get_html(&new_page).await;
    assert!(new.contains("<b>Discharge</b> letters by email"), "{new}");
    let shown_at = crate::helpers::hidden_value(&new, "shown_at").expect("shown_at");
    let seen = app
        .post_form(
            &format!("/search/saved/{id}/seen"),
            &new_page,
            &[("shown_at", &shown_at)],
        )
        .await;
    assert_eq!(seen.status(), 303);
    let list = app.get_html("/search/saved").await;
    assert!(!list.contains("1 new"), "nothing is new after marking");

    // Contributors are not offered it and cannot reach it.
    let out = app.post_form("/sign-out", "/search/saved", &[]).await;
    assert_eq!(out.status(), 303);
    app.sign_in_as("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let results = app.get_html("/search?q=discharge").await;
    assert!(!results.contains("Save this search"));
    assert_eq!(app.get(form_page).await.status(), 403);
    assert_eq!(app.get("/search/saved").await.status(), 403);
    app.stop().await;
}
