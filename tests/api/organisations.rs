use std::process::Command;
use std::time::Duration;

use entity::{audit_events, organisation_imports, organisations};
use hub::auth::domain::Role;
use hub::organisations::import;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::helpers::{
    Options, TestApp, csrf_token, fresh_database_url, spawn_app, spawn_app_with, temp_dir,
};

const ADMIN: &str = "admin@example.nhs.uk";

/// A file with a header row: two new trusts, one already in the register
/// (in capitals, as ODS writes names), and one of each kind of bad row.
const MIXED: &str = "ods_code,name\n\
RX1,NEW TRUST ONE\n\
RX2,New Trust Two\n\
RTH,OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST\n\
R-9,Bad Code Trust\n\
RX3,\n\
RX1,New Trust One Again\n";

/// The standard ODS layout (etr.csv): no header; column 12 is the close date.
fn ods_row(code: &str, name: &str, close_date: &str) -> String {
    format!(
        "\"{code}\",\"{name}\",\"Y56\",\"Q71\",\"1 HIGH STREET\",\"\",\"LONDON\",\"\",\"\",\"N1 1AA\",\"20010401\",\"{close_date}\",\"\"\n"
    )
}

async fn admin_token(app: &TestApp) -> String {
    app.api_token_for(ADMIN, Role::Admin).await
}

pub(crate) async fn api_import(
    app: &TestApp,
    token: &str,
    csv: impl Into<reqwest::Body>,
    query: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/organisations/imports{query}")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("POST import")
}

/// Waits for the background import to finish and returns it.
pub(crate) async fn finished(app: &TestApp, id: Uuid) -> organisation_imports::Model {
    for _ in 0..200 {
        let found = organisation_imports::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("query")
            .expect("the import exists");
        if matches!(found.status.as_str(), "done" | "failed") {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {id} did not finish");
}

async fn organisation(app: &TestApp, code: &str) -> Option<organisations::Model> {
    organisations::Entity::find()
        .filter(organisations::Column::OdsCode.eq(code))
        .one(&app.db)
        .await
        .expect("query")
}

async fn import_count(app: &TestApp) -> u64 {
    organisation_imports::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

/// A chosen file: its name and contents.
type FilePart<'a> = Option<(&'a str, &'a [u8])>;

/// A multipart/form-data body as a browser sends it.
pub(crate) fn multipart(fields: &[(&str, &str)], file: FilePart) -> (String, Vec<u8>) {
    let boundary = "----hubTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the upload form. `csrf`: None takes the token from the register
/// page, as a browser would; Some("") leaves it out.
async fn upload(
    app: &TestApp,
    csrf: Option<&str>,
    kind: &str,
    file: FilePart<'_>,
) -> reqwest::Response {
    let token = match csrf {
        Some(token) => token.to_owned(),
        None => csrf_token(&app.get_html("/admin/organisations").await).expect("csrf token"),
    };
    let mut fields = vec![("kind", kind)];
    if !token.is_empty() {
        fields.insert(0, ("csrf_token", token.as_str()));
    }
    let (content_type, body) = multipart(&fields, file);
    app.client
        .post(app.url("/admin/organisations/imports"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST upload")
}

fn import_id(resp: &reqwest::Response) -> Uuid {
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    let id = location.rsplit('/').next().expect("an id");
    Uuid::parse_str(id).expect("a uuid")
}

#[tokio::test]
async fn an_import_creates_updates_and_rejects_rows_with_line_numbers_and_reasons() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let resp = api_import(&app, &token, MIXED, "?file_name=mixed.csv&kind=trust").await;
    assert_eq!(resp.status(), 202);
    let id = import_id(&resp);
    let accepted: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(accepted["file_name"], "mixed.csv");
    assert_eq!(accepted["total_rows"], 6);
    assert_eq!(accepted["rejected_count"], 3);

    let done = finished(&app, id).await;
    assert_eq!(done.status, "done");
    let body: serde_json::Value = app
        .api_get(&format!("/api/v1/organisations/imports/{id}"), &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "done");
    assert_eq!(body["processed_rows"], 6);
    assert_eq!(body["created_count"], 2);
    assert_eq!(body["updated_count"], 1);
    assert_eq!(body["rejected_count"], 3);
    let rejected = body["rejected"].as_array().expect("rejected rows");
    let lines: Vec<(u64, &str)> = rejected
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(lines[0].0, 5);
    assert!(lines[0].1.contains("3 to 10 letters"), "{lines:?}");
    assert_eq!(lines[1], (6, "The name is missing"));
    assert_eq!(
        lines[2],
        (
            7,
            "ODS code RX1 is also on line 2: only the first is imported"
        )
    );

    let one = organisation(&app, "RX1").await.expect("RX1 created");
    assert_eq!(one.name, "NEW TRUST ONE");
    assert_eq!(one.kind, "trust");
    // The seeded exemplar keeps its mixed-case name and note; its kind is
    // what the admin chose.
    let oxford = organisation(&app, "RTH").await.expect("RTH");
    assert_eq!(
        oxford.name,
        "Oxford University Hospitals NHS Foundation Trust"
    );
    assert_eq!(oxford.kind, "trust");
    assert_eq!(
        oxford.note.as_deref(),
        Some("global digital exemplar (2016 list)")
    );
    assert!(organisation(&app, "RX3").await.is_none());

    let actions: Vec<String> = audit_events::Entity::find()
        .filter(audit_events::Column::SubjectId.eq(id))
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "organisation_import.started",
            "organisation_import.finished"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn importing_a_file_again_updates_the_register_rather_than_duplicating_it() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let first = format!(
        "{}{}",
        ods_row("RZ1", "FIRST TRUST", ""),
        ods_row("RZ2", "SECOND TRUST", "")
    );
    let resp = api_import(&app, &token, first.clone(), "?file_name=etr.csv").await;
    let done = finished(&app, import_id(&resp)).await;
    assert_eq!((done.created_count, done.updated_count), (2, 0));
    let before = organisations::Entity::find()
        .count(&app.db)
        .await
        .expect("count");

    let again = api_import(&app, &token, first, "?file_name=etr.csv").await;
    let done = finished(&app, import_id(&again)).await;
    assert_eq!((done.created_count, done.updated_count), (0, 0));

    let changed = format!(
        "{}{}",
        ods_row("RZ1", "FIRST TRUST RENAMED", ""),
        ods_row("RZ2", "SECOND TRUST", "20190930")
    );
    let resp = api_import(&app, &token, changed, "?file_name=etr.csv").await;
    let done = finished(&app, import_id(&resp)).await;
    assert_eq!((done.created_count, done.updated_count), (0, 2));
    assert_eq!(
        organisations::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        before
    );
    let renamed = organisation(&app, "RZ1").await.expect("RZ1");
    assert_eq!(renamed.name, "FIRST TRUST RENAMED");
    let closed = organisation(&app, "RZ2").await.expect("RZ2");
    assert_eq!(
        closed.note.as_deref(),
        Some("Closed 30 September 2019 (NHS ODS)")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_upload_with_the_same_idempotency_key_starts_one_import() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let send = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/organisations/imports?file_name=etr.csv"))
            .bearer_auth(&token)
            .header("content-type", "text/csv; charset=utf-8")
            .header("idempotency-key", "upload-1")
            .body(body)
            .send()
    };
    let first = send("RV1,Retried Trust\n").await.expect("POST");
    assert_eq!(first.status(), 202);
    let retry = send("RV1,Retried Trust\n").await.expect("POST");
    assert_eq!(retry.status(), 202);
    assert_eq!(import_id(&first), import_id(&retry));
    assert_eq!(import_count(&app).await, 1);
    let other = send("RV2,Another Trust\n").await.expect("POST");
    assert_eq!(other.status(), 409);
    app.stop().await;
}

#[tokio::test]
async fn a_file_larger_than_one_batch_is_imported_in_full() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let mut csv = String::from("ods_code,name,kind\n");
    for n in 0..1_201 {
        csv.push_str(&format!("Q{n:05},Practice number {n},gp\n"));
    }
    let resp = api_import(&app, &token, csv, "?file_name=practices.csv").await;
    let done = finished(&app, import_id(&resp)).await;
    assert_eq!(done.status, "done");
    assert_eq!(
        (done.total_rows, done.processed_rows, done.created_count),
        (1_201, 1_201, 1_201)
    );
    let last = organisation(&app, "Q01200").await.expect("the last row");
    assert_eq!(last.kind, "gp");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_uploads_a_file_on_the_page_and_follows_it_to_the_rejected_rows() {
    let app = spawn_app().await;
    app.sign_in_as(ADMIN, Role::Admin).await;
    let register = app.get_html("/admin/organisations").await;
    assert!(register.contains("Oxford University Hospitals NHS Foundation Trust"));
    assert!(register.contains("href=\"/admin/organisations\">Organisations</a>"));

    let csv = "Organisation Code,Name\nRY1,Page Trust\n=HYPERLINK(\"http://x\"),@SUM(A1)\n";
    let resp = upload(&app, None, "icb", Some(("trusts.csv", csv.as_bytes()))).await;
    assert_eq!(resp.status(), 303);
    let id = import_id(&resp);
    finished(&app, id).await;

    let page = app
        .get_html(&format!("/admin/organisations/imports/{id}"))
        .await;
    assert!(page.contains("Processed <span data-import-field=\"processed_rows\">2</span> of <span data-import-field=\"total_rows\">2</span> rows"), "{page}");
    assert!(page.contains("Finished"));
    assert!(page.contains("ODS code must be 3 to 10 letters and numbers"));
    assert!(!page.contains("Refresh this page"));
    assert_eq!(organisation(&app, "RY1").await.expect("RY1").kind, "icb");
    let found = app.get_html("/admin/organisations?q=page+trust").await;
    assert!(found.contains("RY1"));

    let resp = app
        .get(&format!("/admin/organisations/imports/{id}/rejected.csv"))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    let report = resp.text().await.expect("body");
    let mut lines = report.lines();
    assert_eq!(lines.next(), Some("line,ods_code,name,reason"));
    let row = lines.next().expect("a rejected row");
    assert!(row.starts_with("3,\"'=HYPERLINK"), "{row}");
    assert!(row.contains(",'@SUM(A1),"), "{row}");
    app.stop().await;
}

#[tokio::test]
async fn an_upload_without_a_valid_csrf_token_is_refused_and_imports_nothing() {
    let app = spawn_app().await;
    app.sign_in_as(ADMIN, Role::Admin).await;
    let file = Some(("etr.csv", "RQ1,Forged Trust\n".as_bytes()));
    let missing = upload(&app, Some(""), "trust", file).await;
    assert_eq!(missing.status(), 403);
    let forged = upload(&app, Some("forged-token"), "trust", file).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(import_count(&app).await, 0);
    assert!(organisation(&app, "RQ1").await.is_none());
    let genuine = upload(&app, None, "trust", file).await;
    assert_eq!(genuine.status(), 303);
    app.stop().await;
}

#[tokio::test]
async fn upload_problems_are_shown_with_the_error_summary() {
    let app = spawn_app().await;
    app.sign_in_as(ADMIN, Role::Admin).await;
    let cases: [(FilePart, &str, &str); 5] = [
        (None, "trust", "Select a CSV file to import"),
        (
            Some(("etr.zip", b"PK\x03\x04")),
            "trust",
            "unzip it and choose the CSV file inside",
        ),
        (
            Some(("notes.txt", b"RTH,Oxford")),
            "trust",
            "The selected file must be a CSV file",
        ),
        (
            Some(("list.csv", b"ods_code,title\nRTH,Oxford\n")),
            "trust",
            "The header row must name an ODS code column",
        ),
        (
            Some(("etr.csv", b"RTH,Oxford\n")),
            "castle",
            "Select what kind of organisations the file lists",
        ),
    ];
    for (file, kind, message) in cases {
        let resp = upload(&app, None, kind, file).await;
        assert_eq!(resp.status(), 422, "{message}");
        let page = resp.text().await.expect("body");
        assert!(page.contains("nhsuk-error-summary"), "{message}");
        assert!(page.contains("<title>Error: Organisations"), "{message}");
        assert!(page.contains(message), "{message}: {page}");
    }
    assert_eq!(import_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn only_administrators_may_see_or_import_into_the_register() {
    let app = spawn_app().await;
    let admin = admin_token(&app).await;
    let resp = api_import(&app, &admin, "RQ2,Some Trust\n", "").await;
    let id = import_id(&resp);

    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    assert_eq!(app.get("/admin/organisations").await.status(), 403);
    let page = format!("/admin/organisations/imports/{id}");
    assert_eq!(app.get(&page).await.status(), 403);
    assert_eq!(app.get(&format!("{page}/rejected.csv")).await.status(), 403);
    let csrf = csrf_token(&app.get_html("/profile").await).expect("csrf");
    let resp = upload(
        &app,
        Some(&csrf),
        "trust",
        Some(("etr.csv", b"RQ3,Board Trust\n")),
    )
    .await;
    assert_eq!(resp.status(), 403);

    let contributor = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = api_import(&app, &contributor, "RQ4,Nurse Trust\n", "").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let resp = app
        .api_get(&format!("/api/v1/organisations/imports/{id}"), &contributor)
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(import_count(&app).await, 1);

    // The register itself is public reference data: anyone may search it.
    let found: serde_json::Value = reqwest::get(app.url("/api/v1/organisations?q=rth"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        found["items"][0]["name"],
        "Oxford University Hospitals NHS Foundation Trust"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let too_big = vec![b'a'; import::MAX_FILE_BYTES + 1];
    let resp = api_import(&app, &token, too_big.clone(), "").await;
    assert_eq!(resp.status(), 413);
    let problem: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/payload-too-large");

    app.sign_in_as(ADMIN, Role::Admin).await;
    let resp = upload(&app, None, "trust", Some(("etr.csv", &too_big))).await;
    assert_eq!(resp.status(), 413);
    let page = resp.text().await.expect("body");
    assert!(page.contains("nhsuk-error-summary"));
    assert!(page.contains("The selected file must be smaller than 20 MB"));

    // Only those who may import may send a body that large.
    let contributor = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let resp = api_import(&app, &contributor, vec![b'a'; 300 * 1024], "").await;
    assert_eq!(resp.status(), 413);
    assert_eq!(import_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn an_import_interrupted_by_a_crash_is_resumed_on_start_up() {
    let dir = temp_dir();
    let url = fresh_database_url(&dir).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrations");
    let (source, parsed) = import::prepare(b"RW1,Resumed One\nRW2,Resumed Two\n", "trust")
        .await
        .expect("a valid file");
    let new = import::NewImport {
        created_by: None,
        file_name: "etr.csv",
        kind: "trust",
        source,
    };
    let started = import::create(&db, new, &parsed, import::Start::Now, None)
        .await
        .expect("import");
    // As left by a process that died ten minutes ago.
    organisation_imports::Entity::update_many()
        .col_expr(
            organisation_imports::Column::UpdatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(10)),
        )
        .filter(organisation_imports::Column::Id.eq(started.id))
        .exec(&db)
        .await
        .expect("update");
    db.close().await.expect("close");

    let app = spawn_app_with(Options {
        database_url: Some(url),
        data_dir: Some(dir),
        ..Options::default()
    })
    .await;
    let done = finished(&app, started.id).await;
    assert_eq!(done.status, "done");
    assert_eq!(done.created_count, 2);
    assert!(organisation(&app, "RW2").await.is_some());
    app.stop().await;
}

fn hub(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .env("HUB_DATA_DIR", dir)
        .env("HUB_DATABASE_URL", url)
        .output()
        .expect("run hub")
}

#[tokio::test]
async fn the_command_line_imports_a_file_and_prints_the_counts_and_rejected_rows() {
    let dir = temp_dir();
    let url = fresh_database_url(&dir).await;
    let file = dir.join("epraccur.csv");
    let rows = format!(
        "{}{}{}",
        ods_row("A81001", "THE DENSHAM SURGERY", ""),
        ods_row("A81002", "QUEENS PARK MEDICAL CENTRE", "20200331"),
        ods_row("A8", "TOO SHORT", "")
    );
    std::fs::write(&file, rows).expect("write file");
    let path = file.display().to_string();
    let out = hub(
        &dir,
        &url,
        &["organisations", "import", &path, "--kind", "gp"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("epraccur.csv: 3 rows, 2 created, 0 updated, 1 rejected."),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 3: \"A8\" \"TOO SHORT\": ODS code must be 3 to 10"),
        "{stdout}"
    );

    let db = Database::connect(&url).await.expect("connect");
    let practice = organisations::Entity::find()
        .filter(organisations::Column::OdsCode.eq("A81002"))
        .one(&db)
        .await
        .expect("query")
        .expect("imported");
    assert_eq!(practice.kind, "gp");
    assert_eq!(
        practice.note.as_deref(),
        Some("Closed 31 March 2020 (NHS ODS)")
    );
    db.close().await.expect("close");

    let zip = dir.join("epraccur.zip");
    std::fs::write(&zip, b"PK\x03\x04\x00\x00").expect("write zip");
    let refused = hub(
        &dir,
        &url,
        &["organisations", "import", &zip.display().to_string()],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("UTF-8"));
    let bad_kind = hub(
        &dir,
        &url,
        &["organisations", "import", &path, "--kind", "castle"],
    );
    assert!(!bad_kind.status.success());
    assert!(String::from_utf8_lossy(&bad_kind.stderr).contains("must be one of"));
    let help = hub(&dir, &url, &["organisations", "import", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("etr.csv"));
}
