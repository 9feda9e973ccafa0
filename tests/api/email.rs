use std::time::Duration;

use entity::email_outbox;
use hub::email::{OutgoingEmail, enqueue};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{
    Options, TestApp, decode_quoted_printable, sign_in_link, spawn_app, spawn_app_with,
};
use crate::smtp_sink::SmtpSink;

pub(crate) async fn wait_until(mut check: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the (only) outbox row satisfies `check`.
pub(crate) async fn wait_for_outbox_row(
    app: &TestApp,
    check: impl Fn(&email_outbox::Model) -> bool,
    what: &str,
) {
    wait_until(
        async || {
            email_outbox::Entity::find()
                .one(&app.db)
                .await
                .ok()
                .flatten()
                .is_some_and(|r| check(&r))
        },
        what,
    )
    .await;
}

/// An app whose SMTP server is down: its URL names a port nothing listens on
/// (reserved, then freed), where a test may later start one.
pub(crate) async fn spawn_with_smtp_down(extra: &[(&str, &str)]) -> (TestApp, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut env = vec![
        (
            "HUB_SMTP_URL".to_owned(),
            format!("smtp://127.0.0.1:{port}?tls=none"),
        ),
        ("HUB_EMAIL_RETRY_BASE_SECONDS".to_owned(), "1".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let app = spawn_app_with(Options {
        env,
        real_mailer: true,
        ..Options::default()
    })
    .await;
    (app, port)
}

#[tokio::test]
async fn a_sign_in_link_arrives_over_real_smtp_and_works() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(Options {
        env: vec![("HUB_SMTP_URL".into(), sink.url())],
        real_mailer: true,
        ..Options::default()
    })
    .await;
    let resp = app
        .post_form("/sign-in", "/sign-in", &[("email", "smtp@example.nhs.uk")])
        .await;
    assert_eq!(resp.status(), 303);
    wait_until(
        async || !sink.received().is_empty(),
        "the SMTP server to receive the email",
    )
    .await;
    let raw = decode_quoted_printable(&sink.received()[0]);
    assert!(raw.contains("To: smtp@example.nhs.uk"));
    assert!(
        raw.contains("multipart/alternative"),
        "plain text and HTML parts"
    );
    let link = sign_in_link(&raw).expect("link in the email");
    let signed_in = app.follow_sign_in_link(&link).await;
    assert_eq!(signed_in.headers()["location"], "/profile");
    assert_eq!(app.get("/profile").await.status(), 200);
    let sent = email_outbox::Entity::find()
        .one(&app.db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(sent.status, "sent");
    app.stop().await;
    sink.stop();
}

#[tokio::test]
async fn when_smtp_is_down_emails_are_retried_and_delivered_once_it_returns() {
    let (app, port) = spawn_with_smtp_down(&[]).await;
    app.post_form(
        "/sign-in",
        "/sign-in",
        &[("email", "patient@example.nhs.uk")],
    )
    .await;
    wait_for_outbox_row(
        &app,
        |r| r.attempts >= 1 && r.status == "pending" && r.last_error.is_some(),
        "a failed first attempt",
    )
    .await;
    let sink = SmtpSink::start_on(port).await;
    wait_until(
        async || !sink.received().is_empty(),
        "delivery after SMTP returns",
    )
    .await;
    wait_for_outbox_row(&app, |r| r.status == "sent", "the row to be marked sent").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 1, "delivered exactly once");
    app.stop().await;
    sink.stop();
}

#[tokio::test]
async fn after_the_last_attempt_an_email_is_kept_as_failed_and_listed_for_admins() {
    let (app, _) = spawn_with_smtp_down(&[("HUB_EMAIL_MAX_ATTEMPTS", "2")]).await;
    enqueue(
        &app.db,
        "test:undeliverable",
        OutgoingEmail {
            to: "lost@example.nhs.uk".into(),
            subject: "Undeliverable".into(),
            text: "body".into(),
            html: None,
            headers: vec![],
        },
    )
    .await
    .expect("enqueue");
    wait_for_outbox_row(&app, |r| r.status == "failed", "the email to fail for good").await;
    let row = email_outbox::Entity::find()
        .one(&app.db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(row.attempts, 2);
    // An admin sees it; signing in needs email, so make the admin's session directly.
    let admin_token = app
        .api_token_for("ops-admin@example.nhs.uk", hub::auth::domain::Role::Admin)
        .await;
    let page = app.api_get("/admin/emails", &admin_token).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("body");
    assert!(html.contains("lost@example.nhs.uk") && html.contains("Undeliverable"));
    app.stop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_enqueues_and_sends_one_email() {
    let app = spawn_app().await;
    let email = OutgoingEmail {
        to: "once@example.nhs.uk".into(),
        subject: "Digest".into(),
        text: "Hello".into(),
        html: Some("<p>Hello</p>".into()),
        headers: vec![(
            "List-Unsubscribe".into(),
            "<https://hub.example/unsubscribe>".into(),
        )],
    };
    assert!(
        enqueue(&app.db, "digest:once:2026-11-21", email.clone())
            .await
            .expect("first")
    );
    assert!(
        !enqueue(&app.db, "digest:once:2026-11-21", email)
            .await
            .expect("second")
    );
    app.state.outbox_ready.notify_one();
    let delivered = app.wait_for_email("once@example.nhs.uk", 1).await;
    assert!(delivered.contains("List-Unsubscribe: <https://hub.example/unsubscribe>"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.emails_to("once@example.nhs.uk").len(), 1);
    let rows = email_outbox::Entity::find()
        .filter(email_outbox::Column::ToAddress.eq("once@example.nhs.uk"))
        .count(&app.db)
        .await
        .expect("q");
    assert_eq!(rows, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_memory_backend_is_refused_when_running_the_service() {
    let settings = hub::settings::Settings::load_from(
        None,
        vec![("HUB_SMTP_URL".to_owned(), "memory://".to_owned())],
    )
    .expect("parses");
    let err = hub::email::transport::Mailer::from_settings(&settings)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("tests only"));
}
