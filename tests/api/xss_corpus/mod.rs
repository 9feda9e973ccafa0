//! Hostile input, end to end: a corpus of classic cross-site scripting and
//! CSV-injection payloads is written into every text field a person can
//! fill in (through the JSON API, or the page where a field has no API),
//! then every place the text comes back is fetched and checked: pages,
//! emails (both parts, as delivered), and exports (CSV, JSON, Markdown, the
//! board report, audit trails, consultation exports and each person's own
//! data). Forms that show back what was typed (a preview, a refusal) are
//! checked too.
//!
//! Each payload carries a marker naming its field and its place in the
//! corpus (`xss7731` + a two-letter field code + the payload's number), so
//! that every output is also checked to *show* the text it should: a check
//! that never finds its marker would prove nothing.
//!
//! HTML is read with a real parser (html5ever, through `scraper`) and must
//! hold no element that runs or loads anything (`script`, `style`,
//! `iframe`, `object`, `embed`, `img`, `meta`, `base`...) made from a
//! payload, no `on*` attribute at all, no `href`/`src`/`action`/
//! `formaction`/... leading to a `javascript:`, `vbscript:` or `data:`
//! address, no `srcdoc`, and no `style` attribute carrying a payload. CSV
//! cells must never start with `=`, `+`, `-`, `@`, a tab or a carriage
//! return (the service prefixes such a cell with `'`: `defuse_csv_cell`).
//! Markdown exports are rendered as a Markdown viewer that passes raw HTML
//! through would render them, then checked as HTML; the one field that is
//! Markdown by design (the outcome summary) must be there as written and is
//! left to the viewer's own sanitising, as the service's pages sanitise it.
//!
//! The people, their API tokens (which the pages accept as well as a
//! session, with no CSRF token needed) and the board are set up directly;
//! signing in is tested in `sign_in.rs`.

mod checks;
mod corpus;
mod reads;
mod writes;

use checks::*;
use corpus::*;
use reads::*;
use writes::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::email_outbox;
use hub::auth::domain::Role;
use reqwest::Method;
use scraper::{ElementRef, Html, Node, Selector};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::consultations::at;
use crate::helpers::{TestApp, decode_quoted_printable, id_of, spawn_app};

/// What the service accepted (so must show back) and what it refused.
#[derive(Default)]
struct Ledger {
    accepted: BTreeSet<String>,
    refused: Vec<String>,
}

/// An answer read whole.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Csv(String),
}

fn form(pairs: &[(&str, String)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// What the tasks share: the service's address, a client, the board's and
/// the administrator's tokens, and what was accepted.
struct Ctx {
    base: String,
    client: reqwest::Client,
    board: String,
    admin: String,
    ledger: Mutex<Ledger>,
}

impl Ctx {
    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> Answer {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Form(fields) => request.form(&fields),
            Body::Csv(text) => request.header("content-type", "text/csv").body(text),
        };
        let resp = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.text().await.expect("body");
        assert!(status < 500, "{method} {path} failed with {status}: {body}");
        Answer {
            status,
            content_type,
            body,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let answer = self.send(Method::GET, path, token, Body::None).await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        answer
    }

    async fn json(&self, method: Method, path: &str, token: &str, body: Value) -> Answer {
        self.send(method, path, Some(token), Body::Json(body)).await
    }

    /// Sends `body` with each of `fields` (JSON key, field code) holding
    /// payload `i`. A field the service refuses (422 naming it) is recorded
    /// and sent again as plain text, so that the rest goes on. Returns the
    /// successful answer's JSON.
    async fn submit(
        &self,
        method: Method,
        path: &str,
        token: &str,
        mut body: Value,
        fields: &[(&str, &str)],
        i: usize,
    ) -> Value {
        for (key, code) in fields {
            body[*key] = json!(text(code, i));
        }
        let mut refused: BTreeSet<&str> = BTreeSet::new();
        loop {
            let answer = self.json(method.clone(), path, token, body.clone()).await;
            if (200..300).contains(&answer.status) {
                for (key, code) in fields {
                    if !refused.contains(key) {
                        self.accept(code, i);
                    }
                }
                return if answer.body.is_empty() {
                    Value::Null
                } else {
                    answer.json()
                };
            }
            assert_eq!(
                answer.status, 422,
                "{method} {path}, payload {i}: {}",
                answer.body
            );
            let problem = answer.json();
            let named = |key: &str| {
                problem["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(|e| e["field"] == key))
            };
            let newly: Vec<&(&str, &str)> = fields
                .iter()
                .filter(|(key, _)| named(key) && !refused.contains(key))
                .collect();
            assert!(
                !newly.is_empty(),
                "{method} {path}, payload {i}, refused for something else: {problem}"
            );
            for (key, code) in newly {
                refused.insert(key);
                self.refuse(code, i, &problem["errors"].to_string());
                body[*key] = json!(plain(code, i));
            }
        }
    }

    fn refuse(&self, code: &str, i: usize, why: &str) {
        let why: String = why.chars().take(160).collect();
        self.ledger.lock().expect("ledger").refused.push(format!(
            "{} ({code}), payload {i}: {why}",
            field_of(code).name
        ));
    }

    fn accept(&self, code: &str, i: usize) {
        self.ledger
            .lock()
            .expect("ledger")
            .accepted
            .insert(marker(code, i));
    }

    fn accepted(&self, code: &str, i: usize) -> bool {
        self.ledger
            .lock()
            .expect("ledger")
            .accepted
            .contains(&marker(code, i))
    }

    /// What was stored in `code` for payload `i`.
    fn stored(&self, code: &str, i: usize) -> String {
        if self.accepted(code, i) {
            text(code, i)
        } else {
            plain(code, i)
        }
    }

    /// The markers of `codes` for payload `i` that the service accepted.
    fn expect(&self, codes: &[&str], i: usize) -> Vec<String> {
        codes
            .iter()
            .filter(|c| self.accepted(c, i))
            .map(|c| marker(c, i))
            .collect()
    }

    /// The same for payloads `from`.
    fn expect_of(&self, codes: &[&str], from: impl IntoIterator<Item = usize>) -> Vec<String> {
        from.into_iter()
            .flat_map(|i| self.expect(codes, i))
            .collect()
    }

    /// The same for every payload.
    fn expect_all(&self, codes: &[&str]) -> Vec<String> {
        self.expect_of(codes, 0..PAYLOADS.len())
    }
}

/// One payload's person and what they and the board made with it.
#[derive(Default, Clone)]
struct World {
    i: usize,
    email: String,
    token: String,
    theme: String,
    idea: String,
    comment: String,
    hidden_comment: String,
    report: String,
    slug: String,
    consultation_id: String,
    free_question: String,
    choice_question: String,
    response: String,
    section_comment: String,
}

fn person(i: usize) -> String {
    format!("person{i:02}@example.nhs.uk")
}

/// The organisation each payload's report is made at (imported with the
/// payload as its name).
fn ods(i: usize) -> String {
    format!("XSS{i:02}")
}

/// How many payloads each digest reader follows: a digest shows ten lines
/// a section, and each payload gives two items (its idea and its report).
const PER_DIGEST: usize = 5;

fn digest_reader(k: usize) -> String {
    format!("digest{k}@example.nhs.uk")
}

/// The payloads digest reader `k` follows.
fn followed(k: usize) -> impl Iterator<Item = usize> {
    (k * PER_DIGEST..PAYLOADS.len()).take(PER_DIGEST)
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_every_field_is_shown_as_text_and_never_runs_where_it_comes_back() {
    let started = Instant::now();
    let app = spawn_app().await;
    let ctx = Arc::new(Ctx {
        base: app.address.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        board: app.api_token_for("board@example.nhs.uk", Role::Board).await,
        admin: app.api_token_for("admin@example.nhs.uk", Role::Admin).await,
        ledger: Mutex::new(Ledger::default()),
    });
    let n = PAYLOADS.len();

    // The register: an organisation named by each payload, and rows the
    // import refuses (a bad code; a bad code with the payload as name).
    let mut file = csv::Writer::from_writer(Vec::new());
    file.write_record(["ods_code", "name"]).expect("csv");
    for i in 0..n {
        file.write_record([ods(i), text("or", i)]).expect("csv");
        file.write_record([text("oc", i), format!("Refused {i}")])
            .expect("csv");
        file.write_record([format!("!{i}"), text("oj", i)])
            .expect("csv");
    }
    let file = String::from_utf8(file.into_inner().expect("csv")).expect("utf-8");
    let import = ctx
        .send(
            Method::POST,
            "/api/v1/organisations/imports?file_name=xss.csv&kind=trust",
            Some(&ctx.admin),
            Body::Csv(file),
        )
        .await;
    assert_eq!(import.status, 202, "{}", import.body);
    let import_id = id_of(&import.json());
    crate::organisations::finished(&app, uuid::Uuid::parse_str(&import_id).expect("uuid")).await;
    for i in 0..n {
        for code in ["or", "oj", "oc"] {
            ctx.accept(code, i);
        }
    }

    // Digest readers follow searches for their payloads' ideas, saved
    // before the ideas exist so that the ideas are new matches.
    let mut readers = Vec::new();
    for k in 0..n.div_ceil(PER_DIGEST) {
        let token = app.api_token_for(&digest_reader(k), Role::Board).await;
        let settings = ctx
            .json(
                Method::PUT,
                "/api/v1/me/digest",
                &token,
                json!({ "frequency": "daily", "send_hour": 8, "sections": ["assigned", "saved_searches"] }),
            )
            .await;
        assert_eq!(settings.status, 200, "{}", settings.body);
        for i in followed(k) {
            ctx.submit(
                Method::POST,
                "/api/v1/me/saved-searches",
                &token,
                json!({ "q": marker("it", i), "notify": true }),
                &[("name", "ss")],
                i,
            )
            .await;
            ctx.submit(
                Method::POST,
                "/api/v1/me/saved-searches",
                &token,
                json!({ "name": format!("Query {i}") }),
                &[("q", "sq")],
                i,
            )
            .await;
        }
        let me: Value = ctx.get("/api/v1/me", Some(&token)).await.json();
        readers.push((token, me["id"].clone()));
    }

    let mut worlds = Vec::new();
    for i in 0..n {
        let email = person(i);
        let token = app.api_token_for(&email, Role::Contributor).await;
        worlds.push(World {
            i,
            email,
            token,
            ..World::default()
        });
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for w in worlds {
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tasks.spawn(async move {
            let _turn = gate.acquire_owned().await.expect("gate");
            plant(ctx, w).await
        });
    }
    let mut worlds: Vec<World> = tasks.join_all().await;
    worlds.sort_by_key(|w| w.i);
    // Each payload's idea and report go to its digest reader.
    for (k, (_, reader)) in readers.iter().enumerate() {
        let items: Vec<Value> = followed(k)
            .flat_map(|i| {
                let w = &worlds[i];
                [
                    json!({ "kind": "idea", "id": w.idea }),
                    json!({ "kind": "report", "id": w.report }),
                ]
            })
            .collect();
        let assigned = ctx
            .json(
                Method::POST,
                "/api/v1/inbox/assign",
                &ctx.board,
                json!({ "items": items, "assignee": reader }),
            )
            .await;
        assert_eq!(assigned.status, 200, "{}", assigned.body);
    }
    let planted = started.elapsed();
    app.indexed().await;

    let mut tasks = tokio::task::JoinSet::new();
    for w in worlds.clone() {
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tasks.spawn(async move {
            let _turn = gate.acquire_owned().await.expect("gate");
            check_world(ctx, w).await
        });
    }
    let mut findings = Findings::default();
    for found in tasks.join_all().await {
        findings.merge(found);
    }
    let tokens: Vec<String> = readers.into_iter().map(|(token, _)| token).collect();
    check_lists(&ctx, &tokens, &import_id, &worlds[0].idea, &mut findings).await;
    check_digests(&app, &ctx, &tokens, &mut findings).await;
    check_emails(&app, &ctx, &worlds, tokens.len(), &mut findings).await;

    {
        let ledger = ctx.ledger.lock().expect("ledger");
        eprintln!(
            "{n} payloads into {} fields: {} accepted, {} refused (below); {} outputs checked; \
             planted in {planted:?}, all done in {:?}",
            FIELDS.len(),
            ledger.accepted.len(),
            ledger.refused.len(),
            findings.outputs,
            started.elapsed()
        );
        for refusal in &ledger.refused {
            eprintln!("refused: {refusal}");
        }
    }
    // A field that refused most of the corpus was hardly tested. The search
    // parser refuses most payloads as queries: they are checked where a
    // search shows them back.
    for field in FIELDS.iter().filter(|f| !f.echo_only && f.code != "sq") {
        let taken = (0..n).filter(|&i| ctx.accepted(field.code, i)).count();
        assert!(
            taken * 4 >= n * 3,
            "{} ({}) took only {taken} of {n} payloads",
            field.name,
            field.code
        );
    }
    assert!(
        findings.unsafe_output.is_empty() && findings.missing.is_empty(),
        "{} unsafe outputs:\n{}\n\n{} markers not shown where expected:\n{}",
        findings.unsafe_output.len(),
        findings.unsafe_output.join("\n"),
        findings.missing.len(),
        findings.missing.join("\n")
    );
    app.stop().await;
}
