use std::process::Command;

use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::{Options, fresh_database_url, spawn_app_with, temp_dir};

pub fn hub(data_dir: &std::path::Path, database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .env("HUB_DATA_DIR", data_dir)
        .env("HUB_DATABASE_URL", database_url)
        .env_remove("HUB_SMTP_URL")
        .output()
        .expect("run hub")
}

#[tokio::test]
async fn the_first_admin_and_an_operator_token_are_made_from_the_command_line() {
    let dir = temp_dir();
    let url = fresh_database_url(&dir).await;
    let added = hub(
        &dir,
        &url,
        &[
            "users",
            "add",
            "--email",
            "First.Admin@Example.nhs.uk",
            "--role",
            "admin",
            "--name",
            "First Admin",
        ],
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let created = hub(
        &dir,
        &url,
        &[
            "tokens",
            "create",
            "--email",
            "first.admin@example.nhs.uk",
            "--name",
            "Operator",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout)
        .expect("utf8")
        .trim()
        .to_owned();

    let app = spawn_app_with(Options {
        database_url: Some(url.clone()),
        data_dir: Some(dir.clone()),
        ..Options::default()
    })
    .await;
    let me: serde_json::Value = app
        .api_get("/api/v1/me", &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["display_name"], "First Admin");
    app.stop().await;

    // An operator's changes from the command line are audited like an
    // administrator's on the pages (with no actor: the operator has no
    // account).
    let promoted = hub(
        &dir,
        &url,
        &[
            "users",
            "add",
            "--email",
            "first.admin@example.nhs.uk",
            "--role",
            "board",
        ],
    );
    assert!(promoted.status.success());
    let db = sea_orm::Database::connect(&url).await.expect("connect");
    let events: Vec<(String, Option<uuid::Uuid>, Option<serde_json::Value>)> =
        entity::audit_events::Entity::find()
            .order_by_asc(entity::audit_events::Column::Id)
            .all(&db)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| (e.action, e.actor_user_id, e.after))
            .collect();
    let actions: Vec<&str> = events.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "api_token.created",
            "user.updated_by_operator"
        ],
        "{events:?}"
    );
    assert_eq!(events[0].1, None);
    assert_eq!(events[2].2.as_ref().expect("after")["role"], "board");

    let missing = hub(
        &dir,
        &url,
        &[
            "tokens",
            "create",
            "--email",
            "nobody@example.nhs.uk",
            "--name",
            "x",
        ],
    );
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no account for nobody@example.nhs.uk")
    );
}

#[test]
fn a_bad_setting_stops_start_up_with_its_name() {
    let dir = temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["migrate"])
        .env("HUB_DATA_DIR", &dir)
        .env("HUB_LISTN", "127.0.0.1:1")
        .output()
        .expect("run hub");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HUB_LISTN"));
}

#[test]
fn every_command_has_help_and_openapi_prints_the_spec() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["users", "add", "--help"],
        &["tokens", "create", "--help"],
        &["migrate", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hub"))
            .args(args)
            .output()
            .expect("run hub");
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("openapi")
        .output()
        .expect("run hub");
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the spec is JSON");
    assert_eq!(spec["info"]["title"], "HealthTech Hub API");
}
