//! Search: freshness, query syntax, facets, typo tolerance, restart, and
//! strict visibility (hidden items carry unique words that must never show).

use std::time::Duration;

use hub::auth::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with, temp_dir};
use crate::ideas::{create_idea, idea_body};

pub(crate) async fn search(app: &TestApp, token: Option<&str>, query: &str) -> Value {
    let path = format!("/api/v1/search?{query}");
    let resp = match token {
        Some(token) => app.api_get(&path, token).await,
        None => app.get(&path).await,
    };
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.expect("json")
}

async fn indexed(app: &TestApp) {
    app.indexed().await;
}

/// An idea whose only distinctive words are in its title.
fn plain_idea(title: &str) -> Value {
    let mut body = idea_body(title);
    body["description"] = json!("Details to follow.");
    body["expected_impact"] = json!("Better care");
    body
}

fn ids(result: &Value) -> Vec<String> {
    ids_in(result, "hits")
}

pub(crate) fn ids_in(result: &Value, list: &str) -> Vec<String> {
    result[list]
        .as_array()
        .expect("a list of results")
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A data directory and database that outlive one run of the service, with
/// three indexed ideas titled "{title} 0".."{title} 2".
struct Kept {
    dir: std::path::PathBuf,
    database_url: String,
}

impl Kept {
    async fn with_ideas(title: &str) -> (Self, TestApp, String) {
        let dir = temp_dir();
        let database_url = crate::helpers::fresh_database_url(&dir).await;
        let kept = Kept { dir, database_url };
        let app = kept.spawn().await;
        let token = app
            .api_token_for("nurse@example.nhs.uk", Role::Contributor)
            .await;
        for n in 0..3 {
            create_idea(&app, &token, &idea_body(&format!("{title} {n}"))).await;
        }
        indexed(&app).await;
        (kept, app, token)
    }

    async fn spawn(&self) -> TestApp {
        spawn_app_with(Options {
            database_url: Some(self.database_url.clone()),
            data_dir: Some(self.dir.clone()),
            ..Options::default()
        })
        .await
    }
}

fn facet(result: &Value, group: &str, value: &str) -> u64 {
    result["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|g| g["name"] == group)
        .and_then(|g| g["values"].as_array())
        .and_then(|values| values.iter().find(|v| v["value"] == value))
        .and_then(|v| v["count"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn hidden_items_never_show_in_hits_totals_facets_or_snippets() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let other = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let report = app
        .api_post(
            "/api/v1/reports",
            &nurse,
            &json!({
                "organisation": "RTH", "system_name": "Zanzibarquux scheduler", "category": "outage",
                "severity": "critical", "patient_impact": "zanzibarquux delays", "staff_impact": "none",
                "evidence": "The zanzibarquux module crashed", "confidential": true
            }),
        )
        .await;
    assert_eq!(report.status(), 201);
    let idea = create_idea(&app, &nurse, &idea_body("A public idea about wombatfrob")).await;
    let idea_id = idea["id"].as_str().expect("id");
    let comment: Value = app
        .api_post_json(
            &format!("/api/v1/ideas/{idea_id}/comments"),
            &other,
            &json!({ "body": "Secret quokkablorp remark" }),
        )
        .await;
    let hidden = app
        .api_post(
            &format!(
                "/api/v1/comments/{}/hide",
                comment["id"].as_str().expect("id")
            ),
            &board,
            &json!({ "reason": "Off topic" }),
        )
        .await;
    assert_eq!(hidden.status(), 200);
    indexed(&app).await;

    for (who, token) in [
        ("signed out", None),
        ("another contributor", Some(other.as_str())),
    ] {
        for query in [
            "q=zanzibarquux",
            "q=zanzibarqux",
            "q=quokkablorp",
            "q=Zanzibarquux%20scheduler",
            "kind=report",
        ] {
            let result = search(&app, token, query).await;
            assert_eq!(result["total"], 0, "{who}: {query}");
            assert!(ids(&result).is_empty(), "{who}: {query}");
            let text = result.to_string();
            assert!(
                !text.contains("anzibarquux") && !text.contains("quokkablorp"),
                "{who}: {query}: {text}"
            );
        }
        let everything = search(&app, token, "q=").await;
        assert_eq!(
            facet(&everything, "kind", "report"),
            0,
            "{who}: no report in the counts"
        );
        assert_eq!(
            facet(&everything, "severity", "critical"),
            0,
            "{who}: no severity in the counts"
        );
        assert_eq!(facet(&everything, "status", "hidden"), 0, "{who}");
        assert_eq!(
            facet(&everything, "kind", "idea"),
            1,
            "{who}: the public idea is counted"
        );
        let public = search(&app, token, "q=wombatfrob").await;
        assert_eq!(ids(&public), [idea_id], "{who}");
    }

    let own = search(&app, Some(&nurse), "q=zanzibarquux").await;
    assert_eq!(own["total"], 1, "reporters find their own reports");
    let for_board = search(&app, Some(&board), "q=zanzibarquux").await;
    assert_eq!(for_board["total"], 1);
    assert!(
        for_board["hits"][0]["snippet_html"]
            .as_str()
            .unwrap_or("")
            .contains("<b>zanzibarquux</b>")
    );
    assert_eq!(facet(&for_board, "severity", "critical"), 1);
    let hidden_for_board = search(&app, Some(&board), "q=quokkablorp").await;
    assert_eq!(
        hidden_for_board["total"], 1,
        "the board still finds hidden comments"
    );

    // The page applies the same rules.
    let page = app.get_html("/search?q=zanzibarquux").await;
    assert!(page.contains("0 results"));
    assert!(!page.contains("Zanzibarquux scheduler"));
    app.stop().await;
}

#[tokio::test]
async fn queries_take_phrases_exclusions_or_field_filters_and_dates() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let fan = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let shared = create_idea(
        &app,
        &nurse,
        &plain_idea("Shared care records for mental health"),
    )
    .await;
    let mut theatres = plain_idea("Shared dashboards for theatres");
    theatres["themes"] = json!(["cyber-security"]);
    let theatres = create_idea(&app, &nurse, &theatres).await;
    let prescribing = create_idea(
        &app,
        &nurse,
        &plain_idea("Electronic prescribing everywhere"),
    )
    .await;
    app.client
        .put(app.url(&format!(
            "/api/v1/ideas/{}/support",
            prescribing["id"].as_str().expect("id")
        )))
        .bearer_auth(&fan)
        .json(&json!({}))
        .send()
        .await
        .expect("support");
    indexed(&app).await;
    let id = |v: &Value| v["id"].as_str().expect("id").to_owned();

    assert_eq!(
        ids(&search(&app, None, "q=%22shared%20care%22").await),
        [id(&shared)]
    );
    assert_eq!(
        ids(&search(&app, None, "q=shared%20-theatres").await),
        [id(&shared)]
    );
    let either = search(&app, None, "q=prescribing%20OR%20dashboards").await;
    assert_eq!(either["total"], 2);
    let themed = search(&app, None, "q=theme:%22cyber%20security%22").await;
    assert_eq!(ids(&themed), [id(&theatres)]);
    assert_eq!(
        search(&app, None, "q=kind:idea%20status:open").await["total"],
        3
    );
    assert_eq!(search(&app, None, "q=kind:report").await["total"], 0);
    // Stemming: "records" finds "record".
    assert_eq!(search(&app, None, "q=record").await["total"], 1);
    let supported = search(&app, None, "q=&sort=most_supported&limit=1").await;
    assert_eq!(ids(&supported), [id(&prescribing)]);
    let newest = search(&app, None, "q=&sort=newest").await;
    assert_eq!(ids(&newest), [id(&prescribing), id(&theatres), id(&shared)]);
    let page_one = search(&app, None, "q=&sort=newest&limit=2").await;
    let cursor = page_one["next_cursor"].as_str().expect("a next page");
    let page_two = search(
        &app,
        None,
        &format!("q=&sort=newest&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(ids(&page_two), [id(&shared)]);
    assert!(page_two["next_cursor"].is_null());
    let today = chrono::Utc::now().date_naive();
    let dated = search(&app, None, &format!("q=&from={today}&to={today}")).await;
    assert_eq!(dated["total"], 3);
    let before = search(&app, None, "q=&to=2020-01-01").await;
    assert_eq!(before["total"], 0);
    let filtered = search(&app, None, "q=&theme=Cyber%20security").await;
    assert_eq!(ids(&filtered), [id(&theatres)]);
    assert_eq!(
        facet(
            &search(&app, None, "q=shared").await,
            "theme",
            "Interoperability"
        ),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn one_typo_still_finds_the_item_when_the_exact_word_finds_nothing() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let idea = create_idea(
        &app,
        &nurse,
        &idea_body("Interoperability between pharmacy systems"),
    )
    .await;
    indexed(&app).await;
    let exact = search(&app, None, "q=pharmacy").await;
    assert_eq!(exact["near_matches"], false);
    let typo = search(&app, None, "q=pharmcy").await;
    assert_eq!(ids(&typo), [idea["id"].as_str().expect("id")]);
    assert_eq!(typo["near_matches"], true);
    let page = app.get_html("/search?q=pharmcy").await;
    assert!(page.contains("showing results for similar words"));
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_query_gets_a_clear_message_never_a_server_error() {
    let app = spawn_app().await;
    for query in [
        "q=%22unclosed",
        "q=nosuchfield:value",
        "q=(open",
        "from=yesterday",
        "sort=sideways",
        "cursor=bad!",
        "kind=idea&limit=0",
    ] {
        let resp = app.get(&format!("/api/v1/search?{query}")).await;
        assert_eq!(resp.status(), 422, "{query}");
        let problem: Value = resp.json().await.expect("json");
        assert_eq!(problem["type"], "/problems/validation", "{query}");
        assert!(problem["errors"][0]["message"].is_string());
    }
    let long = "a".repeat(501);
    assert_eq!(
        app.get(&format!("/api/v1/search?q={long}")).await.status(),
        422
    );
    let page = app.get("/search?q=%22unclosed").await;
    assert_eq!(page.status(), 422);
    let html = page.text().await.expect("body");
    assert!(html.contains("There is a problem"));
    assert!(
        html.contains("value=\"&#34;unclosed\"") || html.contains("value=\"&quot;unclosed\""),
        "the query is kept"
    );
    app.stop().await;
}

#[tokio::test]
async fn after_a_restart_the_index_resumes_from_its_checkpoint_with_nothing_missing_or_doubled() {
    let (kept, app, token) = Kept::with_ideas("Checkpoint idea").await;
    let checkpoint = app.state.search.applied();
    assert!(checkpoint > 0);
    app.stop().await;

    let app = kept.spawn().await;
    assert_eq!(
        app.state.search.applied(),
        checkpoint,
        "the checkpoint is read back from the index"
    );
    for n in 3..5 {
        create_idea(&app, &token, &idea_body(&format!("Checkpoint idea {n}"))).await;
    }
    indexed(&app).await;
    let all = search(&app, None, "q=checkpoint&limit=100").await;
    assert_eq!(all["total"], 5, "every idea once");
    let mut found = ids(&all);
    found.sort();
    found.dedup();
    assert_eq!(found.len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn hub_reindex_rebuilds_the_index_while_the_service_keeps_answering() {
    let (kept, app, token) = Kept::with_ideas("Reindexed idea").await;
    let Kept { dir, database_url } = &kept;
    let before = app.state.search.generation();

    let reindex = {
        let (dir, url) = (dir.clone(), database_url.clone());
        tokio::task::spawn_blocking(move || crate::cli::hub(&dir, &url, &["reindex"]))
    };
    // Searches are answered from the old index while the new one is built.
    while !reindex.is_finished() {
        assert_eq!(search(&app, None, "q=reindexed").await["total"], 3);
    }
    let output = reindex.await.expect("reindex ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Indexed 3 items"));

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.search.generation() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the service switched to the rebuilt index"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(search(&app, None, "q=reindexed").await["total"], 3);
    // New writes land in the rebuilt index.
    create_idea(&app, &token, &idea_body("Reindexed idea 3")).await;
    indexed(&app).await;
    assert_eq!(search(&app, None, "q=reindexed").await["total"], 4);
    // The old generation is removed once no search reads it.
    let old = dir.join("search").join(&before);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while old.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the old index is removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_lost_or_outdated_index_is_rebuilt_from_the_database_on_start() {
    let (kept, app, _) = Kept::with_ideas("Rebuilt idea").await;
    let dir = &kept.dir;
    let generation = app.state.search.generation();
    app.stop().await;

    // An index written by another schema version is not trusted.
    let version = dir.join("search").join(&generation).join("schema-version");
    std::fs::write(&version, "0").expect("write the version");
    let app = kept.spawn().await;
    assert_ne!(app.state.search.generation(), generation);
    filled(&app).await;
    assert_eq!(search(&app, None, "q=rebuilt").await["total"], 3);
    app.stop().await;

    // Nor is one whose rebuild was interrupted (a partial commit).
    let generation = app_generation(dir);
    {
        let index = hub::search::schema::SearchIndex::open(&dir.join("search").join(&generation))
            .expect("open the index");
        index
            .with_writer(|writer| {
                writer.delete_all_documents().expect("delete");
                let mut commit = writer.prepare_commit().expect("prepare");
                commit.set_payload(hub::search::indexer::PARTIAL);
                commit.commit().expect("commit");
                Ok(())
            })
            .expect("writer");
    }
    let app = kept.spawn().await;
    filled(&app).await;
    assert_eq!(search(&app, None, "q=rebuilt").await["total"], 3);
    app.stop().await;

    // Nor is a lost one: it is refilled as well.
    std::fs::remove_dir_all(dir.join("search")).expect("remove the index");
    let app = kept.spawn().await;
    filled(&app).await;
    assert_eq!(search(&app, None, "q=rebuilt").await["total"], 3);
    app.stop().await;
}

fn app_generation(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("search").join("CURRENT"))
        .expect("CURRENT")
        .trim()
        .to_owned()
}

async fn filled(app: &TestApp) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.search.needs_fill() {
        assert!(
            std::time::Instant::now() < deadline,
            "the index was filled from the database"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn similar_ids(found: &Value) -> Vec<String> {
    ids_in(found, "items")
}

#[tokio::test]
async fn similar_items_rank_shared_subjects_and_never_show_what_the_caller_may_not_see() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let other = app
        .api_token_for("supplier@example.com", Role::Contributor)
        .await;
    let board = app.api_token_for("board@example.nhs.uk", Role::Board).await;
    let mut whiteboard = idea_body("Electronic ward whiteboard for handover");
    whiteboard["description"] =
        json!("Replace the handover whiteboard with an electronic whiteboard showing bed status.");
    let whiteboard = create_idea(&app, &nurse, &whiteboard).await;
    let whiteboard_id = whiteboard["id"].as_str().expect("id").to_owned();
    let mut parking = idea_body("Staff car parking permits online");
    parking["description"] = json!("Let staff renew parking permits without queueing.");
    let parking = create_idea(&app, &nurse, &parking).await;
    let report: Value = app.api_post_json(
            "/api/v1/reports", &nurse, &json!({
                "organisation": "RTH", "system_name": "Handover whiteboard", "category": "usability",
                "severity": "medium", "patient_impact": "The electronic whiteboard loses bed status at handover",
                "staff_impact": "Handover takes longer", "evidence": "The whiteboard froze at handover"
            }),
        ).await;
    let report_id = report["id"].as_str().expect("id").to_owned();
    indexed(&app).await;

    let draft = json!({
        "title": "Electronic whiteboards at handover",
        "text": "Wards still write bed status on a whiteboard at handover."
    });
    let as_contributor: Value = app
        .api_post_json("/api/v1/search/similar", &other, &draft)
        .await;
    let found = similar_ids(&as_contributor);
    assert_eq!(found.first(), Some(&whiteboard_id), "{as_contributor}");
    assert_eq!(as_contributor["items"][0]["score"], 1.0);
    assert!(
        !found.contains(&report_id),
        "a report is not shown to another contributor"
    );
    assert!(
        !found.contains(&parking["id"].as_str().expect("id").to_owned()),
        "an idea on another subject is not similar"
    );
    let as_board: Value = app
        .api_post_json("/api/v1/search/similar", &board, &draft)
        .await;
    assert!(similar_ids(&as_board).contains(&report_id));
    let ideas_only: Value = app
        .api_post_json(
            "/api/v1/search/similar",
            &board,
            &json!({ "title": "whiteboard handover", "kind": ["idea"] }),
        )
        .await;
    assert_eq!(similar_ids(&ideas_only), vec![whiteboard_id.clone()]);

    // Like an indexed item: never the item itself.
    let like_idea = format!("/api/v1/search/similar?item_kind=idea&item_id={whiteboard_id}");
    let for_contributor: Value = app.api_json(&like_idea, &other).await;
    assert!(!similar_ids(&for_contributor).contains(&whiteboard_id));
    assert!(!similar_ids(&for_contributor).contains(&report_id));
    let for_board: Value = app.api_json(&like_idea, &board).await;
    assert_eq!(similar_ids(&for_board).first(), Some(&report_id));

    // An item the caller may not see is absent, not a hint that it exists.
    let like_report = format!("/api/v1/search/similar?item_kind=report&item_id={report_id}");
    assert_eq!(app.api_get(&like_report, &other).await.status(), 404);
    assert_eq!(app.get(&like_report).await.status(), 404);
    let for_board: Value = app.api_json(&like_report, &board).await;
    assert_eq!(similar_ids(&for_board), vec![whiteboard_id.clone()]);

    // Pages show similar items beside the item, filtered the same way.
    let report_link = format!("/reports/{report_id}");
    let page = app.get_html(&format!("/ideas/{whiteboard_id}")).await;
    assert!(!page.contains(&report_link), "signed out: no report");
    app.sign_in_as("board@example.nhs.uk", Role::Board).await;
    let page = app.get_html(&format!("/ideas/{whiteboard_id}")).await;
    assert!(page.contains("Similar items") && page.contains(&report_link));

    let bad = app
        .api_get(
            "/api/v1/search/similar?item_kind=secret&item_id=00000000-0000-0000-0000-000000000000",
            &board,
        )
        .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "item_kind");
    let too_long = app
        .api_post(
            "/api/v1/search/similar",
            &board,
            &json!({ "text": "word ".repeat(20_001) }),
        )
        .await;
    assert_eq!(too_long.status(), 422);
    app.stop().await;
}

#[tokio::test]
async fn later_pages_are_not_shifted_by_items_that_arrive_meanwhile() {
    let app = spawn_app().await;
    let nurse = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    for n in 0..3 {
        create_idea(&app, &nurse, &idea_body(&format!("Paging idea {n}"))).await;
    }
    indexed(&app).await;
    let first = search(&app, None, "q=paging&sort=newest&limit=2").await;
    assert_eq!(first["total"], 3);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();

    create_idea(&app, &nurse, &idea_body("Paging idea 3")).await;
    indexed(&app).await;
    let second = search(
        &app,
        None,
        &format!("q=paging&sort=newest&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["total"], 3, "the total stands as of the first page");
    let mut seen = ids(&first);
    seen.extend(ids(&second));
    assert_eq!(seen.len(), 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no item twice, none skipped");
    // A new search sees the new item.
    assert_eq!(search(&app, None, "q=paging").await["total"], 4);

    let bad = app
        .get("/api/v1/search?q=paging&cursor=bm90LWEtY3Vyc29y")
        .await;
    assert_eq!(bad.status(), 422);
    app.stop().await;
}

/// On PostgreSQL a change's sequence number is taken when it is written and
/// becomes visible when it commits, so a change can appear behind one the
/// index already holds. (SQLite numbers changes under its one write lock,
/// so this cannot happen there; the run on SQLite stops early.)
#[tokio::test]
async fn a_change_that_commits_after_a_later_one_was_indexed_is_still_indexed() {
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    let app = spawn_app().await;
    if app.db.get_database_backend() != DatabaseBackend::Postgres {
        println!("NOTICE: late commits only happen on PostgreSQL; nothing to check on SQLite");
        app.stop().await;
        return;
    }
    let token = app
        .api_token_for("nurse@example.nhs.uk", Role::Contributor)
        .await;
    let slow = create_idea(&app, &token, &plain_idea("Overtaken idea")).await;
    let slow_id: uuid::Uuid = slow["id"].as_str().expect("id").parse().expect("uuid");
    indexed(&app).await;

    // A change written (and numbered) first but committed last.
    let txn = hub::db::begin_write(&app.db).await.expect("begin");
    txn.execute_raw(hub::db::statement(
        DatabaseBackend::Postgres,
        "UPDATE ideas SET title = $1 WHERE id = $2",
        vec!["Quetzalcoatl retitled".into(), slow_id.into()],
    ))
    .await
    .expect("retitle");
    hub::audit::changed(&txn, "idea", slow_id)
        .await
        .expect("change");
    create_idea(&app, &token, &plain_idea("Overtaking idea")).await;
    indexed(&app).await;
    let overtaken_seq = app.state.search.applied();
    txn.commit().await.expect("commit");

    let mut found = Value::Null;
    for _ in 0..100 {
        found = search(&app, None, "q=quetzalcoatl").await;
        if found["total"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ids(&found),
        vec![slow_id.to_string()],
        "the late change is searchable"
    );
    assert!(app.state.search.applied() >= overtaken_seq);
    app.stop().await;
}
