//! Audit completeness: every write operation of the JSON API, read from the
//! API's own OpenAPI document, is called once through HTTP with real data and
//! must leave an audit event. A write operation added to the API without a
//! place here fails the test.

use std::collections::BTreeSet;
use std::future::Future;

use entity::audit_events;
use hub::auth::domain::Role;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::consultations::{
    DOCUMENT_V2, at, close, comment_on, complete, consultation_body, import_csv, open_consultation,
    respondent, response_path, save, submit,
};
use crate::helpers::{TestApp, id_of, spawn_app};
use crate::ideas::idea_body;
use crate::organisations::{api_import, finished};
use crate::reports::report_body;
use crate::triage::put_assignee;

/// Write operations that change nothing, so leave no audit event.
const EXEMPT: &[(&str, &str)] = &[
    (
        "similarToDraft",
        "finds items like a draft being typed: it reads and stores nothing",
    ),
    (
        "emailMyConsultationResumeLink",
        "emails the respondent a link back to their draft: the response is unchanged",
    ),
];

/// Calls write operations and checks that each left an audit event with the
/// expected action; remembers which operations were checked.
struct Trail<'a> {
    app: &'a TestApp,
    checked: BTreeSet<String>,
}

impl<'a> Trail<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            checked: BTreeSet::new(),
        }
    }

    async fn count(&self, action: &str) -> u64 {
        audit_events::Entity::find()
            .filter(audit_events::Column::Action.eq(action))
            .count(&self.app.db)
            .await
            .expect("count audit events")
    }

    /// Sends `request` (nothing is sent before it is awaited), asserts that it
    /// succeeded and that at least one `action` event was recorded meanwhile,
    /// and returns the JSON answer (null when there is no body).
    async fn check(
        &mut self,
        operation: &str,
        action: &str,
        request: impl Future<Output = reqwest::Response>,
    ) -> Value {
        let before = self.count(action).await;
        let resp = request.await;
        let status = resp.status();
        let body = resp.text().await.expect("response body");
        assert!(status.is_success(), "{operation} answered {status}: {body}");
        let after = self.count(action).await;
        assert!(
            after > before,
            "{operation} succeeded but recorded no `{action}` audit event"
        );
        self.checked.insert(operation.to_owned());
        if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).expect("a JSON answer")
        }
    }

    /// The newest event with `action`.
    async fn latest(&self, action: &str) -> audit_events::Model {
        audit_events::Entity::find()
            .filter(audit_events::Column::Action.eq(action))
            .order_by_desc(audit_events::Column::CreatedAt)
            .order_by_desc(audit_events::Column::Id)
            .one(&self.app.db)
            .await
            .expect("query audit events")
            .unwrap_or_else(|| panic!("a `{action}` event"))
    }
}

/// Asserts that `event` was made by `actor` and moved `field` from `from` to `to`.
fn assert_change(event: &audit_events::Model, actor: Uuid, field: &str, from: &str, to: &str) {
    assert_eq!(
        event.actor_user_id,
        Some(actor),
        "{} names its actor",
        event.action
    );
    let before = event.before.as_ref().unwrap_or_else(|| {
        panic!("{} records the state before", event.action);
    });
    let after = event.after.as_ref().unwrap_or_else(|| {
        panic!("{} records the state after", event.action);
    });
    assert_eq!(before[field], from, "{}: before {before}", event.action);
    assert_eq!(after[field], to, "{}: after {after}", event.action);
}

/// Every operation of the API's OpenAPI document whose method is not GET.
async fn write_operations(app: &TestApp) -> BTreeSet<String> {
    let spec: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    let paths = spec["paths"].as_object().expect("the document has paths");
    let mut operations = BTreeSet::new();
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().expect("a path's methods") {
            if method == "get" {
                continue;
            }
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            operations.insert(id.to_owned());
        }
    }
    operations
}

async fn user_id(app: &TestApp, token: &str) -> Uuid {
    let me = app.api_json("/api/v1/me", token).await;
    me["id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .expect("my id")
}

/// The people who act in the scenario, with their tokens and ids.
struct Cast {
    board: String,
    board_id: Uuid,
    author: String,
    author_id: Uuid,
    fan: String,
    admin: String,
}

#[tokio::test]
async fn every_write_route_of_the_api_leaves_an_audit_event() {
    let app = spawn_app().await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let cast = Cast {
        board_id: user_id(&app, &board).await,
        board,
        author_id: user_id(&app, &author).await,
        author,
        fan: app
            .api_token_for("fan@example.com", Role::Contributor)
            .await,
        admin: app.api_token_for("admin@example.nhs.uk", Role::Admin).await,
    };
    let mut trail = Trail::new(&app);

    tokens(&mut trail, &cast).await;
    organisation_import(&mut trail, &cast).await;
    saved_searches(&mut trail, &cast).await;
    digest_settings(&mut trail, &cast).await;
    let (idea_id, report_id) = ideas_and_reports(&mut trail, &cast).await;
    triage(&mut trail, &cast, &idea_id, &report_id).await;
    consultation_authoring(&mut trail, &cast).await;
    consultation_responses(&mut trail, &cast).await;
    account_deletion(&mut trail).await;

    let operations = write_operations(&app).await;
    let exempt: BTreeSet<String> = EXEMPT.iter().map(|(op, _)| (*op).to_owned()).collect();
    let overlap: Vec<&String> = trail.checked.intersection(&exempt).collect();
    assert!(
        overlap.is_empty(),
        "exempt operations were checked after all: {overlap:?}"
    );
    let covered: BTreeSet<String> = trail.checked.union(&exempt).cloned().collect();
    let missing: Vec<&String> = operations.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "these write operations of the API are not checked for an audit event: {missing:?}. \
         Add each to tests/api/audit_trail.rs: call it in the scenario with trail.check \
         and the audit action it records, or, if it changes nothing, list it in EXEMPT \
         with the reason"
    );
    let unknown: Vec<&String> = covered.difference(&operations).collect();
    assert!(
        unknown.is_empty(),
        "this test names operations the API does not have: {unknown:?}"
    );
    app.stop().await;
}

async fn account_deletion(trail: &mut Trail<'_>) {
    let app = trail.app;
    let leaver = app
        .api_token_for("leaver@example.nhs.uk", Role::Contributor)
        .await;
    let leaver_id = user_id(app, &leaver).await;
    trail
        .check(
            "deleteMyAccount",
            "user.deleted",
            app.api_delete("/api/v1/me", &leaver),
        )
        .await;
    let deleted = trail.latest("user.deleted").await;
    assert_eq!(deleted.subject_id, Some(leaver_id));
    assert!(deleted.before.is_some(), "what the account was");
}

async fn tokens(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    let created = trail
        .check(
            "createToken",
            "api_token.created",
            app.api_post(
                "/api/v1/tokens",
                &cast.author,
                &json!({ "name": "Nightly export" }),
            ),
        )
        .await;
    trail
        .check(
            "revokeToken",
            "api_token.revoked",
            app.api_delete(&format!("/api/v1/tokens/{}", id_of(&created)), &cast.author),
        )
        .await;
    let revoked = trail.latest("api_token.revoked").await;
    assert_eq!(revoked.actor_user_id, Some(cast.author_id));
}

async fn organisation_import(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    let accepted = trail
        .check(
            "startOrganisationImport",
            "organisation_import.started",
            api_import(
                app,
                &cast.admin,
                "ods_code,name\nRX1,NEW TRUST ONE\n",
                "?file_name=audit.csv&kind=trust",
            ),
        )
        .await;
    let id = Uuid::parse_str(&id_of(&accepted)).expect("import id");
    assert_eq!(finished(app, id).await.status, "done");
}

async fn saved_searches(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    let saved = trail
        .check(
            "saveSearch",
            "saved_search.created",
            app.api_post(
                "/api/v1/me/saved-searches",
                &cast.board,
                &json!({ "name": "Handover ideas", "q": "handover" }),
            ),
        )
        .await;
    let path = format!("/api/v1/me/saved-searches/{}", id_of(&saved));
    trail
        .check(
            "updateSavedSearch",
            "saved_search.updated",
            app.api_send(
                Method::PATCH,
                &path,
                &cast.board,
                &[],
                Some(&json!({ "name": "Ward handover ideas" })),
            ),
        )
        .await;
    assert_change(
        &trail.latest("saved_search.updated").await,
        cast.board_id,
        "name",
        "Handover ideas",
        "Ward handover ideas",
    );
    trail
        .check(
            "deleteSavedSearch",
            "saved_search.deleted",
            app.api_delete(&path, &cast.board),
        )
        .await;
}

async fn digest_settings(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    trail
        .check(
            "setDigestSettings",
            "digest.settings_changed",
            app.api_send(
                Method::PUT,
                "/api/v1/me/digest",
                &cast.board,
                &[],
                Some(&json!({
                    "frequency": "weekly",
                    "weekday": 5,
                    "send_hour": 7,
                    "sections": ["ideas", "assigned"]
                })),
            ),
        )
        .await;
    assert_change(
        &trail.latest("digest.settings_changed").await,
        cast.board_id,
        "frequency",
        "daily",
        "weekly",
    );
}

/// Themes, an idea with its supports and comments, and a report; returns
/// the idea's and the report's ids.
async fn ideas_and_reports(trail: &mut Trail<'_>, cast: &Cast) -> (String, String) {
    let app = trail.app;
    let theme = trail
        .check(
            "createTheme",
            "theme.created",
            app.api_post(
                "/api/v1/themes",
                &cast.board,
                &json!({ "name": "Estates and facilities" }),
            ),
        )
        .await;
    trail
        .check(
            "updateTheme",
            "theme.updated",
            app.api_send(
                Method::PATCH,
                &format!("/api/v1/themes/{}", id_of(&theme)),
                &cast.board,
                &[],
                Some(&json!({ "active": false })),
            ),
        )
        .await;

    let idea = trail
        .check(
            "createIdea",
            "idea.submitted",
            app.api_post(
                "/api/v1/ideas",
                &cast.author,
                &idea_body("Shared care records on every ward"),
            ),
        )
        .await;
    assert_eq!(
        trail.latest("idea.submitted").await.actor_user_id,
        Some(cast.author_id)
    );
    let idea_id = id_of(&idea);
    let support = format!("/api/v1/ideas/{idea_id}/support");
    trail
        .check(
            "supportIdea",
            "idea.supported",
            app.api_send(
                Method::PUT,
                &support,
                &cast.fan,
                &[],
                Some(&json!({ "notify": true })),
            ),
        )
        .await;
    trail
        .check(
            "withdrawSupport",
            "idea.support_withdrawn",
            app.api_delete(&support, &cast.fan),
        )
        .await;
    let comment = trail
        .check(
            "createComment",
            "comment.added",
            app.api_post(
                &format!("/api/v1/ideas/{idea_id}/comments"),
                &cast.fan,
                &json!({ "body": "Rude words here" }),
            ),
        )
        .await;
    let comment_path = format!("/api/v1/comments/{}", id_of(&comment));
    trail
        .check(
            "editComment",
            "comment.edited",
            app.api_send(
                Method::PATCH,
                &comment_path,
                &cast.fan,
                &[],
                Some(&json!({ "body": "Kinder words" })),
            ),
        )
        .await;
    trail
        .check(
            "hideComment",
            "comment.hidden",
            app.api_post(
                &format!("{comment_path}/hide"),
                &cast.board,
                &json!({ "reason": "Off topic" }),
            ),
        )
        .await;
    trail
        .check(
            "changeIdeaStatus",
            "idea.status_changed",
            app.api_post(
                &format!("/api/v1/ideas/{idea_id}/status"),
                &cast.board,
                &json!({ "status": "shortlisted", "note": "For the spring round" }),
            ),
        )
        .await;
    assert_change(
        &trail.latest("idea.status_changed").await,
        cast.board_id,
        "status",
        "submitted",
        "shortlisted",
    );

    let report = trail
        .check(
            "createReport",
            "report.submitted",
            app.api_post(
                "/api/v1/reports",
                &cast.author,
                &report_body("Audited pathology viewer"),
            ),
        )
        .await;
    let report_id = id_of(&report);
    let results = trail
        .check(
            "changeInboxItemsStatus",
            "report.status_changed",
            app.api_post(
                "/api/v1/inbox/status",
                &cast.board,
                &json!({
                    "items": [{ "kind": "report", "id": report_id, "version": report["version"] }],
                    "status": "triaged",
                    "note": "Asked the trust for details"
                }),
            ),
        )
        .await;
    assert_eq!(results[0]["result"], "changed", "{results}");
    assert_change(
        &trail.latest("report.status_changed").await,
        cast.board_id,
        "status",
        "new",
        "triaged",
    );
    trail
        .check(
            "changeReportStatus",
            "report.status_changed",
            app.api_post(
                &format!("/api/v1/reports/{report_id}/status"),
                &cast.board,
                &json!({ "status": "escalated", "note": "Raised nationally" }),
            ),
        )
        .await;
    assert_change(
        &trail.latest("report.status_changed").await,
        cast.board_id,
        "status",
        "triaged",
        "escalated",
    );
    (idea_id, report_id)
}

async fn triage(trail: &mut Trail<'_>, cast: &Cast, idea_id: &str, report_id: &str) {
    let app = trail.app;
    let item = format!("/api/v1/inbox/idea/{idea_id}");
    trail
        .check(
            "createItemNote",
            "triage.note_added",
            app.api_post(
                &format!("{item}/notes"),
                &cast.board,
                &json!({ "visibility": "internal", "body": "Check the cost first" }),
            ),
        )
        .await;
    let assigned = trail
        .check(
            "assignInboxItems",
            "triage.assigned",
            app.api_post(
                "/api/v1/inbox/assign",
                &cast.board,
                &json!({
                    "items": [{ "kind": "idea", "id": idea_id }],
                    "assignee": cast.board_id
                }),
            ),
        )
        .await;
    assert_eq!(assigned[0]["result"], "assigned", "{assigned}");
    trail
        .check(
            "setInboxItemAssignee",
            "triage.unassigned",
            put_assignee(
                app,
                &cast.board,
                &format!("{item}/assignee"),
                &json!({ "assignee": null }),
            ),
        )
        .await;
    let tagged = trail
        .check(
            "tagInboxItems",
            "triage.tagged",
            app.api_post(
                "/api/v1/inbox/tags",
                &cast.board,
                &json!({
                    "tag": "Quick win",
                    "items": [
                        { "kind": "idea", "id": idea_id },
                        { "kind": "report", "id": report_id }
                    ]
                }),
            ),
        )
        .await;
    assert_eq!(tagged[0]["result"], "tagged", "{tagged}");
    trail
        .check(
            "tagItem",
            "triage.tagged",
            app.api_post(
                &format!("/api/v1/inbox/report/{report_id}/tags"),
                &cast.board,
                &json!({ "tag": "Needs the supplier" }),
            ),
        )
        .await;
    trail
        .check(
            "untagItem",
            "triage.untagged",
            app.api_delete(&format!("{item}/tags/quick-win"), &cast.board),
        )
        .await;
    let links = trail
        .check(
            "linkItem",
            "triage.linked",
            app.api_post(
                &format!("{item}/links"),
                &cast.board,
                &json!({ "kind": "report", "id": report_id }),
            ),
        )
        .await;
    trail
        .check(
            "unlinkItem",
            "triage.unlinked",
            app.api_delete(&format!("{item}/links/{}", id_of(&links[0])), &cast.board),
        )
        .await;
    assert_eq!(
        trail.latest("triage.unlinked").await.actor_user_id,
        Some(cast.board_id)
    );
}

/// A draft consultation's life before responses: questions added, changed
/// and removed, its details changed, published and given a new version.
async fn consultation_authoring(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    let slug = "audited-standard";
    let path = format!("/api/v1/consultations/{slug}");
    let opens_at = at(chrono::Duration::hours(-1));
    let closes_at = at(chrono::Duration::days(1));
    let mut details = consultation_body(slug, &["everyone"], &opens_at, &closes_at);
    trail
        .check(
            "createConsultation",
            "consultation.created",
            app.api_post("/api/v1/consultations", &cast.board, &details),
        )
        .await;
    let mut questions = Vec::new();
    for prompt in ["What do you think?", "Anything else?"] {
        let question = trail
            .check(
                "createConsultationQuestion",
                "consultation.question_added",
                app.api_post(
                    &format!("{path}/questions"),
                    &cast.board,
                    &json!({ "kind": "free_text", "prompt": prompt }),
                ),
            )
            .await;
        questions.push(format!("{path}/questions/{}", id_of(&question)));
    }
    trail
        .check(
            "updateConsultationQuestion",
            "consultation.question_changed",
            app.api_send(
                Method::PUT,
                &questions[1],
                &cast.board,
                &[],
                Some(&json!({
                    "kind": "single_choice",
                    "prompt": "Do you support the standard?",
                    "options": ["Yes", "No"]
                })),
            ),
        )
        .await;
    let changed_question = trail.latest("consultation.question_changed").await;
    assert!(
        changed_question.before.as_ref().is_some_and(
            |b| b["prompt"].is_string() && b["prompt"] != "Do you support the standard?"
        ),
        "the question as it was: {:?}",
        changed_question.before
    );
    assert_eq!(
        changed_question.after.as_ref().expect("after")["prompt"],
        "Do you support the standard?"
    );
    trail
        .check(
            "deleteConsultationQuestion",
            "consultation.question_removed",
            app.api_delete(&questions[1], &cast.board),
        )
        .await;
    details["title"] = json!("Token lifetimes standard");
    trail
        .check(
            "updateConsultation",
            "consultation.updated",
            app.api_send(Method::PUT, &path, &cast.board, &[], Some(&details)),
        )
        .await;
    assert_change(
        &trail.latest("consultation.updated").await,
        cast.board_id,
        "title",
        "Token standard",
        "Token lifetimes standard",
    );
    trail
        .check(
            "publishConsultation",
            "consultation.published",
            app.api_post(&format!("{path}/publish"), &cast.board, &json!({})),
        )
        .await;
    assert_change(
        &trail.latest("consultation.published").await,
        cast.board_id,
        "status",
        "draft",
        "published",
    );
    trail
        .check(
            "createConsultationVersion",
            "consultation.new_version",
            app.api_post(
                &format!("{path}/versions"),
                &cast.board,
                &json!({ "document": DOCUMENT_V2, "change_summary": "Longer lifetimes" }),
            ),
        )
        .await;
}

/// An open consultation's responses: submitted, changed after submission,
/// imported, themed, redacted and decided, then the outcome published.
async fn consultation_responses(trail: &mut Trail<'_>, cast: &Cast) {
    let app = trail.app;
    let c = open_consultation(app, &cast.board, "answered-standard", &["everyone"]).await;
    let nurse = respondent(app, "nurse@example.nhs.uk", "nhs_staff", "Nell Nurse").await;
    let nurse_id = user_id(app, &nurse).await;
    // A draft is the respondent's own work in progress, not audited.
    let mut draft = complete(&c, "Tokens expire during ward rounds", "named");
    draft["comments"] = json!({ "scope": "Include ward tablets" });
    save(app, &nurse, &c, &draft).await;

    trail
        .check(
            "submitMyConsultationResponse",
            "consultation_response.submitted",
            submit(app, &nurse, &c, &[]),
        )
        .await;
    assert_eq!(
        trail
            .latest("consultation_response.submitted")
            .await
            .actor_user_id,
        Some(nurse_id)
    );
    // Changes to a submitted response are audited.
    let changed = complete(&c, "Tokens expire during long ward rounds", "named");
    trail
        .check(
            "saveMyConsultationResponse",
            "consultation_response.changed",
            app.api_send(Method::PUT, &response_path(&c), &nurse, &[], Some(&changed)),
        )
        .await;
    let change = trail.latest("consultation_response.changed").await;
    let (before, after) = (
        change.before.as_ref().expect("the response before"),
        change.after.as_ref().expect("the response after"),
    );
    assert_eq!(before["status"], "submitted");
    assert_eq!(
        after["version"].as_i64(),
        before["version"].as_i64().map(|v| v + 1),
        "{before} -> {after}"
    );
    let commented = trail
        .check(
            "saveMySectionComment",
            "consultation_response.changed",
            comment_on(app, &nurse, &c, "scope", "Include ward tablets and kiosks"),
        )
        .await;
    assert_eq!(commented["status"], "submitted");
    assert_eq!(
        trail
            .latest("consultation_response.changed")
            .await
            .actor_user_id,
        Some(nurse_id)
    );

    let imported = trail
        .check(
            "importConsultationResponses",
            "consultation.responses_imported",
            import_csv(
                app,
                &cast.board,
                &c,
                "respondent_name,respondent_email,respondent_type,consent,q1\n\
                 Ada Supplier,ada@example.com,supplier,named,Tokens should last a whole shift\n",
            ),
        )
        .await;
    assert_eq!(imported["imported"], 1, "{imported}");

    let consultation = format!("/api/v1/consultations/{}", c.slug);
    let listed = app
        .api_json(&format!("{consultation}/responses"), &cast.board)
        .await;
    let mine = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["respondent"] == "Nell Nurse")
        .expect("the nurse's response")
        .clone();
    let response_id = id_of(&mine);
    let comment_id = id_of(&mine["comments"][0]);
    trail
        .check(
            "setConsultationResponseThemes",
            "themes.set",
            app.api_send(
                Method::PUT,
                &format!("{consultation}/responses/{response_id}/themes"),
                &cast.board,
                &[],
                Some(&json!({ "themes": ["cyber-security"] })),
            ),
        )
        .await;
    let themed = trail.latest("themes.set").await;
    assert_eq!(themed.actor_user_id, Some(cast.board_id));
    assert!(themed.before.is_some() && themed.after.is_some());
    trail
        .check(
            "setSectionCommentThemes",
            "themes.set",
            app.api_send(
                Method::PUT,
                &format!("{consultation}/comments/{comment_id}/themes"),
                &cast.board,
                &[],
                Some(&json!({ "themes": ["cyber-security"] })),
            ),
        )
        .await;
    let mut redacted = serde_json::Map::new();
    redacted.insert(comment_id.clone(), json!("Include [device removed]"));
    trail
        .check(
            "redactConsultationResponse",
            "consultation_response.redacted",
            app.api_send(
                Method::PUT,
                &format!("{consultation}/responses/{response_id}/redaction"),
                &cast.board,
                &[],
                Some(&json!({ "reason": "Names a product", "comments": redacted })),
            ),
        )
        .await;
    let listed = app
        .api_json(&format!("{consultation}/responses"), &cast.board)
        .await;
    for item in listed["items"].as_array().expect("items") {
        for comment in item["comments"].as_array().expect("comments") {
            trail
                .check(
                    "decideSectionComment",
                    "section_comment.decided",
                    app.api_send(
                        Method::PUT,
                        &format!("{consultation}/comments/{}/disposition", id_of(comment)),
                        &cast.board,
                        &[],
                        Some(&json!({ "disposition": "accepted", "rationale": "Scope widened" })),
                    ),
                )
                .await;
        }
    }
    close(app, &cast.board, &c).await;
    trail
        .check(
            "publishConsultationOutcome",
            "consultation.outcome_published",
            app.api_post(
                &format!("{consultation}/outcome"),
                &cast.board,
                &json!({ "summary": "We widened the scope to shared devices." }),
            ),
        )
        .await;
}
