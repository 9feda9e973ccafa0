//! Board members' email digests: content and order, both MIME parts and
//! the unsubscribe headers over a real SMTP server, the one-click
//! unsubscribe without signing in, nothing sent when nothing is new, and
//! each period's digest sent exactly once across a restart, across two
//! processes, and after an SMTP outage.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use entity::email_outbox;
use hub::auth::domain::Role;
use hub::digests::schedule::{self, Mode, Outcome};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::email::wait_until;
use crate::helpers::{
    Options, TestApp, decode_quoted_printable, fresh_database_url, spawn_app_with, temp_dir,
};
use crate::ideas::{create_idea, idea_body};
use crate::reports::report_body;
use crate::smtp_sink::SmtpSink;
use crate::triage::assign_idea_to_self;

/// A moment today when a digest set for 8:00 is due (now, or later today).
fn due_now() -> DateTime<Utc> {
    let now = Utc::now();
    let hour = hub::uk_time::local(now).hour();
    if hour >= 8 {
        now
    } else {
        now + chrono::Duration::hours(i64::from(8 - hour))
    }
}

async fn board_member(app: &TestApp, email: &str) -> (String, entity::users::Model) {
    let token = app.api_token_for(email, Role::Board).await;
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .expect("query")
        .expect("user");
    (token, user)
}

async fn digest_rows(app: &TestApp) -> Vec<email_outbox::Model> {
    email_outbox::Entity::find()
        .filter(email_outbox::Column::IdempotencyKey.starts_with("digest:"))
        .all(&app.db)
        .await
        .expect("outbox")
}

async fn critical_report(app: &TestApp, token: &str, system: &str) -> Value {
    let mut body = report_body(system);
    body["severity"] = json!("critical");
    body["patient_impact"] = json!("Clinics cancelled");
    body["staff_impact"] = json!("Paper lists");
    body["evidence"] = json!("Down since Monday");
    app.api_post_json("/api/v1/reports", token, &body).await
}

#[tokio::test]
async fn a_digest_puts_decisions_first_and_arrives_with_both_parts_and_unsubscribe_headers() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(Options {
        env: vec![("HUB_SMTP_URL".into(), sink.url())],
        real_mailer: true,
        ..Options::default()
    })
    .await;
    let (board, user) = board_member(&app, "digest@example.nhs.uk").await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    let quiet = create_idea(&app, &author, &idea_body("A quiet idea")).await;
    let popular = create_idea(
        &app,
        &author,
        &idea_body("A *popular* [idea](javascript:alert(1))"),
    )
    .await;
    for n in 0..2 {
        let fan = app
            .api_token_for(&format!("fan{n}@example.nhs.uk"), Role::Contributor)
            .await;
        let resp = app
            .api_send(
                reqwest::Method::PUT,
                &format!(
                    "/api/v1/ideas/{}/support",
                    popular["id"].as_str().expect("id")
                ),
                &fan,
                &[],
                Some(&json!({})),
            )
            .await;
        assert!(resp.status().is_success(), "supported");
    }
    critical_report(&app, &author, "Nimbus theatre system").await;
    // Assigned to the board member: it comes first.
    assign_idea_to_self(&app, &board, &quiet).await;

    let tally = schedule::tick(&app.state, due_now()).await.expect("tick");
    assert_eq!(tally.sent, 1);
    wait_until(async || !sink.received().is_empty(), "the digest to arrive").await;
    let raw = sink.received()[0].clone();
    let text = decode_quoted_printable(&raw);
    assert!(text.contains("To: digest@example.nhs.uk"), "{text}");
    assert!(raw.contains("multipart/alternative"));
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "both parts"
    );
    let unsubscribe_header = raw
        .lines()
        .find(|l| l.starts_with("List-Unsubscribe: <"))
        .expect("List-Unsubscribe header");
    assert!(unsubscribe_header.contains("/digests/unsubscribe?user="));
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));

    // Subject and sections, decisions first, new ideas most supported first.
    let row = &digest_rows(&app).await[0];
    assert_eq!(
        row.subject,
        "1 item needs you · 1 new critical or high report · 2 new ideas"
    );
    assert!(
        row.idempotency_key
            .starts_with(&format!("digest:{}:", user.id))
    );
    let plain = &row.text_body;
    let order: Vec<usize> = [
        "1 item needs you",
        "1 new critical or high report",
        "2 new ideas",
    ]
    .iter()
    .map(|h| plain.find(h).unwrap_or_else(|| panic!("{h} in {plain}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{plain}");
    let popular_at = plain.find("A *popular*").expect("popular idea");
    let quiet_at = plain.rfind("A quiet idea").expect("quiet idea");
    assert!(popular_at < quiet_at, "ranked by support: {plain}");
    assert!(plain.contains("2 supporters"));
    assert!(plain.contains("Nimbus theatre system"));
    // Written markup stays text: no link is made from a title.
    let html = row.html_body.as_deref().expect("html part");
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(
        html.contains(">A *popular* [idea](javascript:alert(1))</a>"),
        "shown as written: {html}"
    );
    assert!(html.contains("style=\""), "styled inline");
    app.stop().await;
    sink.stop();
}

#[tokio::test]
async fn nothing_is_sent_when_nothing_is_new_and_settings_are_checked() {
    let app = spawn_app_with(Options::default()).await;
    let (board, user) = board_member(&app, "quiet@example.nhs.uk").await;
    let outcome = schedule::send_one(&app.state, &user, due_now(), Mode::Scheduled)
        .await
        .expect("digest");
    assert!(matches!(outcome, Outcome::NothingNew { .. }), "{outcome:?}");
    assert!(digest_rows(&app).await.is_empty());

    let bad = app
        .api_send(
            reqwest::Method::PUT,
            "/api/v1/me/digest",
            &board,
            &[],
            Some(&json!({ "frequency": "hourly", "send_hour": 3, "sections": ["gossip"] })),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.expect("json");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["frequency", "send_hour", "sections"]);
    let saved: Value = app
        .api_send(
            reqwest::Method::PUT,
            "/api/v1/me/digest",
            &board,
            &[],
            Some(&json!({ "frequency": "weekly", "weekday": 5, "send_hour": 7, "sections": ["ideas", "assigned"] })),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(saved["sections"], json!(["assigned", "ideas"]));
    let read: Value = app.api_json("/api/v1/me/digest", &board).await;
    assert_eq!(read["weekday"], 5);
    let contributor = app
        .api_token_for("someone@example.nhs.uk", Role::Contributor)
        .await;
    assert_eq!(
        app.api_get("/api/v1/me/digest", &contributor)
            .await
            .status(),
        403
    );

    // The settings page: errors in the NHS error summary, then saved.
    app.sign_in_as("quiet@example.nhs.uk", Role::Board).await;
    let resp = app
        .post_form(
            "/board/digest",
            "/board/digest",
            &[("frequency", "daily"), ("send_hour", "8")],
        )
        .await;
    assert_eq!(resp.status(), 422);
    let page = resp.text().await.expect("html");
    assert!(page.contains("nhsuk-error-summary"));
    assert!(page.contains("Choose at least one section"));
    let resp = app
        .post_form(
            "/board/digest",
            "/board/digest",
            &[
                ("frequency", "daily"),
                ("send_hour", "9"),
                ("sections", "reports"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page = app.get_html("/board/digest?saved=1").await;
    assert!(page.contains("Your digest settings have been saved."));
    let preview = app.get_html("/board/digest/preview").await;
    assert!(
        preview.contains("Nothing is new since your last digest"),
        "{preview}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_unsubscribe_link_works_without_signing_in_and_in_one_click() {
    let app = spawn_app_with(Options::default()).await;
    let (board, user) = board_member(&app, "leaving@example.nhs.uk").await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&app, &author, &idea_body("Something new")).await;
    let Outcome::Sent { .. } = schedule::send_one(&app.state, &user, due_now(), Mode::Now)
        .await
        .expect("digest")
    else {
        panic!("a digest was due");
    };
    let row = &digest_rows(&app).await[0];
    let header = row.headers.as_ref().expect("headers")["List-Unsubscribe"]
        .as_str()
        .expect("header")
        .to_owned();
    let link = header
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();

    // No cookies, no session: a mail client or a link checker.
    let stranger = reqwest::Client::new();
    let page = stranger.get(&link).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("Unsubscribe from digests")
    );
    let still: Value = app.api_json("/api/v1/me/digest", &board).await;
    assert_eq!(
        still["frequency"], "daily",
        "opening the link changes nothing"
    );

    let forged = link.replace("token=", "token=x");
    let refused = stranger
        .post(&forged)
        .body("List-Unsubscribe=One-Click")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), 404);
    let done = stranger
        .post(&link)
        .body("List-Unsubscribe=One-Click")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("POST");
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .expect("html")
            .contains("You have unsubscribed")
    );
    let now: Value = app.api_json("/api/v1/me/digest", &board).await;
    assert_eq!(now["frequency"], "off");
    let unsubscribed = entity::audit_events::Entity::find()
        .filter(entity::audit_events::Column::Action.eq("digest.unsubscribed"))
        .all(&app.db)
        .await
        .expect("audit");
    assert_eq!(unsubscribed.len(), 1);

    // Even an operator's "send now" honours it.
    create_idea(&app, &author, &idea_body("Something newer")).await;
    let outcome = schedule::send_one(&app.state, &user, Utc::now(), Mode::Now)
        .await
        .expect("digest");
    assert!(matches!(outcome, Outcome::NotDue), "{outcome:?}");
    assert_eq!(digest_rows(&app).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_digest_is_sent_once_across_a_restart_and_across_two_processes() {
    let data_dir = temp_dir();
    let database_url = fresh_database_url(&data_dir).await;
    let options = || Options {
        data_dir: Some(data_dir.clone()),
        database_url: Some(database_url.clone()),
        ..Options::default()
    };
    let app = spawn_app_with(options()).await;
    board_member(&app, "once@example.nhs.uk").await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&app, &author, &idea_body("Worth a digest")).await;
    let at = due_now();
    assert_eq!(schedule::tick(&app.state, at).await.expect("tick").sent, 1);
    app.stop().await;

    let again = spawn_app_with(options()).await;
    let tally = schedule::tick(&again.state, at + chrono::Duration::minutes(1))
        .await
        .expect("tick");
    assert_eq!((tally.sent, tally.already_sent), (0, 1), "after a restart");
    assert_eq!(digest_rows(&again).await.len(), 1);

    // Two processes asked at once to send a board member's digest: one does.
    let (_, other) = board_member(&again, "twice@example.nhs.uk").await;
    let run = |dir: std::path::PathBuf| {
        let url = database_url.clone();
        std::thread::spawn(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
                .args(["digests", "send", "--user", "twice@example.nhs.uk"])
                .env("HUB_DATA_DIR", dir)
                .env("HUB_DATABASE_URL", url)
                .env("HUB_LISTEN", "127.0.0.1:0")
                .env_remove("HUB_SMTP_URL")
                .output()
                .expect("run hub")
        })
    };
    let (a, b) = (run(temp_dir()), run(temp_dir()));
    let outputs: Vec<String> = [a, b]
        .into_iter()
        .map(|h| {
            let out = h.join().expect("process");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let both = outputs.join("");
    assert_eq!(both.matches(": sent \"").count(), 1, "{both}");
    assert_eq!(
        both.matches("this period's digest was already sent")
            .count(),
        1,
        "{both}"
    );
    let rows = digest_rows(&again).await;
    assert_eq!(rows.len(), 2, "one for each board member: {both}");
    assert_eq!(
        rows.iter()
            .filter(|r| r
                .idempotency_key
                .starts_with(&format!("digest:{}:", other.id)))
            .count(),
        1
    );
    again.stop().await;
}

#[tokio::test]
async fn a_digest_enqueued_while_smtp_is_down_is_delivered_once_when_it_returns() {
    let (app, port) = crate::email::spawn_with_smtp_down(&[]).await;
    let (_, user) = board_member(&app, "patient@example.nhs.uk").await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&app, &author, &idea_body("Sent after the outage")).await;
    let Outcome::Sent { .. } = schedule::send_one(&app.state, &user, due_now(), Mode::Scheduled)
        .await
        .expect("digest")
    else {
        panic!("a digest was due");
    };
    wait_until(
        async || {
            digest_rows(&app)
                .await
                .first()
                .is_some_and(|r| r.attempts >= 1 && r.status == "pending" && r.last_error.is_some())
        },
        "a failed first attempt",
    )
    .await;
    let sink = SmtpSink::start_on(port).await;
    wait_until(
        async || {
            digest_rows(&app)
                .await
                .first()
                .is_some_and(|r| r.status == "sent")
        },
        "delivery after SMTP returns",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered: Vec<String> = sink
        .received()
        .into_iter()
        .filter(|m| m.contains("List-Unsubscribe-Post"))
        .collect();
    assert_eq!(delivered.len(), 1, "delivered exactly once");
    app.stop().await;
    sink.stop();
}

#[tokio::test]
async fn a_digest_counts_new_responses_per_open_consultation_and_new_saved_search_matches() {
    let app = spawn_app_with(Options::default()).await;
    let (board, user) = board_member(&app, "reader@example.nhs.uk").await;
    let saved = app
        .api_post(
            "/api/v1/me/saved-searches",
            &board,
            &json!({ "name": "Handover", "q": "handover", "notify": true }),
        )
        .await;
    assert_eq!(saved.status(), 201);
    let c = crate::consultations::open_consultation(&app, &board, "digest-standard", &["everyone"])
        .await;
    let respondent =
        crate::consultations::respondent(&app, "resp@example.nhs.uk", "expert", "Rhys Respondent")
            .await;
    crate::consultations::respond(&app, &respondent, &c, "Keep tokens short", "named", None).await;
    let author = app
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&app, &author, &idea_body("Handover notes on the ward")).await;
    app.indexed().await;

    let Outcome::Preview {
        digest, rendered, ..
    } = schedule::send_one(&app.state, &user, Utc::now(), Mode::DryRun)
        .await
        .expect("preview")
    else {
        panic!("a dry run previews");
    };
    let responses = digest
        .part(hub::digests::settings::Section::Responses)
        .expect("responses part");
    assert_eq!(responses.total, 1);
    assert!(responses.lines[0].detail.starts_with("1 new response"));
    let matches = digest
        .part(hub::digests::settings::Section::SavedSearches)
        .expect("saved searches part");
    assert_eq!(matches.total, 1);
    assert_eq!(matches.lines[0].title, "Handover");
    assert!(
        matches.lines[0]
            .detail
            .contains("Handover notes on the ward")
    );
    assert!(rendered.subject.contains("1 new consultation response"));
    assert!(rendered.subject.contains("1 new saved-search match"));
    assert!(
        digest_rows(&app).await.is_empty(),
        "a preview sends nothing"
    );

    let api: Value = app.api_json("/api/v1/me/digest/preview", &board).await;
    assert_eq!(api["has_news"], true);
    assert_eq!(api["subject"], rendered.subject.as_str());
    app.stop().await;
}

#[tokio::test]
async fn two_services_on_one_database_whose_schedulers_run_at_once_send_one_digest() {
    let database_url = fresh_database_url(&temp_dir()).await;
    let spawn = || {
        spawn_app_with(Options {
            data_dir: Some(temp_dir()),
            database_url: Some(database_url.clone()),
            ..Options::default()
        })
    };
    let first = spawn().await;
    let second = spawn().await;
    board_member(&first, "shared@example.nhs.uk").await;
    let author = first
        .api_token_for("author@example.nhs.uk", Role::Contributor)
        .await;
    create_idea(&first, &author, &idea_body("Seen by both services")).await;
    let at = due_now();
    let (a, b) = tokio::join!(
        schedule::tick(&first.state, at),
        schedule::tick(&second.state, at)
    );
    let (a, b) = (a.expect("first tick"), b.expect("second tick"));
    assert_eq!(a.sent + b.sent, 1, "{a:?} {b:?}");
    assert_eq!(a.already_sent + b.already_sent, 1, "{a:?} {b:?}");
    assert_eq!(digest_rows(&first).await.len(), 1);
    first.stop().await;
    second.stop().await;
}
