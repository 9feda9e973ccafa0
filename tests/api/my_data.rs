//! A person downloads everything held about them and deletes their account:
//! what they sent stays, without their name.

use hub::auth::domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::ideas::{create_idea, idea_body};

#[tokio::test]
async fn a_person_downloads_their_data_then_deletes_their_account_and_their_submissions_stay_anonymised()
 {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let c =
        crate::consultations::open_consultation(&app, &board, "privacy-standard", &["everyone"])
            .await;
    let token =
        crate::consultations::respondent(&app, "leaver@example.nhs.uk", "expert", "Lee Leaver")
            .await;
    crate::consultations::respond(
        &app,
        &token,
        &c,
        "Tokens should be short lived",
        "named",
        None,
    )
    .await;
    let idea = create_idea(&app, &token, &idea_body("An idea that outlives me")).await;
    let idea_id = idea["id"].as_str().expect("id");
    let note = app
        .api_post(
            &format!("/api/v1/inbox/idea/{idea_id}/notes"),
            &board,
            &json!({ "visibility": "internal", "body": "Board eyes only: check with the supplier" }),
        )
        .await;
    assert_eq!(note.status(), 201);

    let data: Value = app.api_json("/api/v1/me/data", &token).await;
    assert_eq!(data["account"]["email"], "leaver@example.nhs.uk");
    assert_eq!(data["ideas"][0]["title"], "An idea that outlives me");
    let response = &data["consultation_responses"][0];
    assert_eq!(response["response"]["consent"], "named");
    assert!(
        response["answers"]
            .to_string()
            .contains("Tokens should be short lived"),
        "{response}"
    );
    assert!(
        data["api_tokens"][0].get("token_hash").is_none(),
        "no secrets"
    );
    let text = data.to_string();
    assert!(
        !text.contains("Board eyes only"),
        "internal notes are the board's"
    );
    assert!(!text.contains("assignee_id"));

    // The page: a download, and deletion only once confirmed.
    app.sign_in_as("leaver@example.nhs.uk", Role::Contributor)
        .await;
    let download = app.get("/account/data").await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("healthtech-hub-my-data.json")
    );
    let unconfirmed = app
        .post_form("/account/delete", "/account/delete", &[])
        .await;
    assert_eq!(unconfirmed.status(), 422);
    let page = unconfirmed.text().await.expect("html");
    assert!(page.contains("nhsuk-error-summary"));
    assert!(page.contains("Tick the box to confirm"));
    let deleted = app
        .post_form("/account/delete", "/account/delete", &[("confirm", "yes")])
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(deleted.headers()["location"], "/account/deleted");
    assert_eq!(app.get("/profile").await.status(), 401, "signed out");
    assert_eq!(
        app.api_get("/api/v1/me", &token).await.status(),
        401,
        "tokens gone"
    );

    // What they sent stays, without them.
    let kept: Value = app
        .api_json(&format!("/api/v1/ideas/{idea_id}"), &board)
        .await;
    assert_eq!(kept["title"], "An idea that outlives me");
    assert!(kept["author"].is_null(), "{kept}");
    let responses = entity::consultation_responses::Entity::find()
        .all(&app.db)
        .await
        .expect("responses");
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].respondent_id, None);
    assert_eq!(responses[0].respondent_name, None);
    assert_eq!(
        responses[0].consent, "anonymous",
        "no longer published with a name"
    );
    assert!(
        entity::users::Entity::find()
            .filter(entity::users::Column::Email.eq("leaver@example.nhs.uk"))
            .one(&app.db)
            .await
            .expect("query")
            .is_none()
    );
    let audited = entity::audit_events::Entity::find()
        .filter(entity::audit_events::Column::Action.eq("user.deleted"))
        .all(&app.db)
        .await
        .expect("audit");
    assert_eq!(audited.len(), 1);
    assert!(
        !audited[0]
            .before
            .as_ref()
            .expect("before")
            .to_string()
            .contains("leaver@"),
        "the audit keeps no address"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_only_administrator_cannot_delete_their_account() {
    let app = spawn_app().await;
    let admin = app.api_token_for("admin@example.nhs.uk", Role::Admin).await;
    let refused = app.api_delete("/api/v1/me", &admin).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "confirm");
    app.api_token_for("second-admin@example.nhs.uk", Role::Admin)
        .await;
    // A tag they put on an item stays, no longer naming them.
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(&app, &author, &idea_body("Tagged by a leaver")).await;
    let tagged = app
        .api_post(
            &format!(
                "/api/v1/inbox/idea/{}/tags",
                idea["id"].as_str().expect("id")
            ),
            &admin,
            &json!({ "tag": "Quick win" }),
        )
        .await;
    assert_eq!(tagged.status(), 200);
    assert_eq!(app.api_delete("/api/v1/me", &admin).await.status(), 204);
    let tags = entity::item_tags::Entity::find()
        .all(&app.db)
        .await
        .expect("tags");
    assert_eq!(tags.len(), 1, "the tag stays");
    assert_eq!(tags[0].created_by, None, "and no longer names them");
    app.stop().await;
}
