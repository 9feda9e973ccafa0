//! The people of the load run: contributors submitting ideas, reports and
//! consultation responses through the JSON API, and board members searching,
//! each a task sending one request after another on its own connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Idea,
    Report,
    Response,
    Search,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::Idea => "idea",
            Op::Report => "report",
            Op::Response => "response",
            Op::Search => "search",
        }
    }
}

/// One request's fate: its latency and, when it failed, how.
pub struct Sample {
    pub op: Op,
    pub latency: Duration,
    /// None when acknowledged; the HTTP status (or 0 for no answer) otherwise.
    pub failed: Option<u16>,
    /// When the request was sent, from the start of the phase.
    pub at: Duration,
}

/// What the service said it stored, by search key (`kind:id`).
#[derive(Default)]
pub struct Acknowledged {
    pub keys: Vec<String>,
}

pub struct People {
    pub contributors: Vec<String>,
    pub board: Vec<String>,
    /// (slug, free-text question id) of the open consultations.
    pub consultations: Vec<(String, String)>,
    /// (contributor, consultation) pairs that have not responded yet.
    unanswered: Mutex<Vec<(usize, usize)>>,
}

const WORDS: &[&str] = &[
    "pathology",
    "discharge",
    "referral",
    "theatre",
    "pharmacy",
    "radiology",
    "rota",
    "handover",
    "bedside",
    "maternity",
    "outpatient",
    "community",
];

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

fn word(n: usize) -> &'static str {
    WORDS[n % WORDS.len()]
}

/// Makes `contributors` contributor accounts and `board` board members,
/// each with an API token, straight in the database before the service
/// starts (as `hub users add` and `hub tokens create` would, one by one).
pub async fn accounts(
    database_url: &str,
    contributors: usize,
    board: usize,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    use hub::auth::domain::{EmailAddress, Role};
    let db = Database::connect(database_url).await?;
    let make = async |prefix: &str, n: usize, role: Role| -> anyhow::Result<Vec<String>> {
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let email = EmailAddress::parse(&format!("{prefix}{i}@load.example.nhs.uk"))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let user =
                hub::auth::service::upsert_user(&db, &email, role, Some(format!("Load {i}")))
                    .await?;
            tokens.push(
                hub::auth::service::create_api_token(&db, &user, "load run")
                    .await?
                    .token,
            );
        }
        Ok(tokens)
    };
    let contributor_tokens = make("staff", contributors, Role::Contributor).await?;
    let board_tokens = make("board", board, Role::Board).await?;
    entity::users::Entity::update_many()
        .col_expr(
            entity::users::Column::RespondentType,
            Expr::value("nhs_staff".to_owned()),
        )
        .filter(entity::users::Column::Role.eq("contributor"))
        .exec(&db)
        .await?;
    db.close().await?;
    Ok((contributor_tokens, board_tokens))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    anyhow::ensure!(status.is_success(), "POST {url}: {status} {body}");
    Ok(body)
}

/// Opens `count` consultations (one free-text question each) for NHS staff.
pub async fn consultations(
    base: &str,
    board_token: &str,
    count: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let client = reqwest::Client::new();
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let slug = format!("load-standard-{i}");
        post(
            &client,
            &format!("{base}/api/v1/consultations"),
            board_token,
            &json!({
                "slug": slug,
                "title": format!("Proposed standard {i}: {} records", word(i)),
                "summary": "Shared records between trusts.",
                "audience": ["nhs_staff"],
                "opens_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
                "closes_at": (now + chrono::Duration::days(7)).to_rfc3339(),
                "document": "# Scope\n\nRecords move between trusts.\n\n# Security\n\nEvery request is logged."
            }),
        )
        .await?;
        let question = post(
            &client,
            &format!("{base}/api/v1/consultations/{slug}/questions"),
            board_token,
            &json!({ "kind": "free_text", "prompt": "What would this change for you?", "required": true }),
        )
        .await?;
        post(
            &client,
            &format!("{base}/api/v1/consultations/{slug}/publish"),
            board_token,
            &json!({}),
        )
        .await?;
        let id = question["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("question without an id: {question}"))?;
        out.push((slug, id.to_owned()));
    }
    Ok(out)
}

impl People {
    pub fn new(
        contributors: Vec<String>,
        board: Vec<String>,
        consultations: Vec<(String, String)>,
    ) -> Self {
        let mut pairs = Vec::with_capacity(contributors.len() * consultations.len());
        for c in 0..consultations.len() {
            for p in 0..contributors.len() {
                pairs.push((p, c));
            }
        }
        // Spread each consultation's responses across the run.
        pairs.sort_by_key(|(p, c)| (p * 7919 + c * 104_729) % 1_000_003);
        Self {
            contributors,
            board,
            consultations,
            unanswered: Mutex::new(pairs),
        }
    }

    fn next_unanswered(&self) -> Option<(usize, usize)> {
        self.unanswered.lock().ok()?.pop()
    }

    /// Whether every contributor has responded to every consultation: from
    /// then on a response's turn goes to an idea or a report, and the mix of
    /// four ideas, four reports and two responses no longer holds.
    pub fn responses_ran_out(&self) -> bool {
        self.unanswered.lock().map(|u| u.is_empty()).unwrap_or(true)
    }
}

/// Sends one request and times it; `Ok(body)` only for a 2xx answer.
async fn timed(request: reqwest::RequestBuilder) -> (Duration, Result<Value, u16>) {
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(resp) if resp.status().is_success() => match resp.json::<Value>().await {
            Ok(body) => Ok(body),
            Err(_) => Err(0),
        },
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.bytes().await;
            Err(status)
        }
        Err(_) => Err(0),
    };
    (started.elapsed(), outcome)
}

fn key_of(kind: &str, body: &Value) -> Option<String> {
    body["id"].as_str().map(|id| format!("{kind}:{id}"))
}

/// One contributor's loop until `deadline`: four ideas, four reports and two
/// consultation responses in every ten submissions.
pub async fn contributor(
    base: Arc<str>,
    people: Arc<People>,
    worker: usize,
    phase_start: Instant,
    deadline: Instant,
) -> (Vec<Sample>, Acknowledged) {
    let client = reqwest::Client::new();
    let mut samples = Vec::new();
    let mut acked = Acknowledged::default();
    let mut n = worker;
    while Instant::now() < deadline {
        n += 1;
        let at = phase_start.elapsed();
        let person = n * 31 % people.contributors.len();
        let token = &people.contributors[person];
        let pair = match n % 10 {
            8 | 9 => people.next_unanswered(),
            _ => None,
        };
        let (op, latency, outcome, kind) = if let Some((p, c)) = pair {
            let (slug, question) = &people.consultations[c];
            let token = &people.contributors[p];
            let url = format!("{base}/api/v1/consultations/{slug}/response");
            let mut answers = serde_json::Map::new();
            answers.insert(
                question.clone(),
                json!([format!(
                    "Our {} team would use this every day ({n}).",
                    word(n)
                )]),
            );
            let body = json!({
                "capacity": "individual",
                "interests": "no",
                "consent": "anonymous",
                "answers": answers
            });
            let (saved_in, saved) = timed(client.put(&url).bearer_auth(token).json(&body)).await;
            match saved {
                Ok(_) => {
                    let (submitted_in, submitted) =
                        timed(client.post(format!("{url}/submit")).bearer_auth(token)).await;
                    (
                        Op::Response,
                        saved_in + submitted_in,
                        submitted,
                        "consultation_response",
                    )
                }
                Err(status) => (Op::Response, saved_in, Err(status), "consultation_response"),
            }
        } else if n.is_multiple_of(2) {
            let body = json!({
                "title": format!("Shared {} worklist for ward {n}", word(n)),
                "description": format!("Staff re-key **{}** requests between systems every shift.", word(n + 3)),
                "themes": ["interoperability"],
                "beneficiaries": ["patients", "staff"],
                "expected_impact": "An hour a day back for each ward clerk"
            });
            let (latency, outcome) = timed(
                client
                    .post(format!("{base}/api/v1/ideas"))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await;
            (Op::Idea, latency, outcome, "idea")
        } else {
            let body = json!({
                "organisation": "RTH",
                "system_name": format!("{} system {}", word(n + 5), n % 97),
                "supplier_name": "Example Systems Ltd",
                "category": "outage",
                "severity": SEVERITIES[n % 4],
                "patient_impact": "Results delayed",
                "staff_impact": "Phone calls to the lab",
                "evidence": format!("Crashed during the {} round", word(n + 7)),
                "confidential": n.is_multiple_of(5)
            });
            let (latency, outcome) = timed(
                client
                    .post(format!("{base}/api/v1/reports"))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await;
            (Op::Report, latency, outcome, "report")
        };
        let failed = match outcome {
            Ok(body) => match key_of(kind, &body) {
                Some(key) => {
                    acked.keys.push(key);
                    None
                }
                None => Some(0),
            },
            Err(status) => Some(status),
        };
        samples.push(Sample {
            op,
            latency,
            failed,
            at,
        });
    }
    (samples, acked)
}

/// One board member searching until `deadline`: a search at most every
/// `every` (a slow answer delays the next), or one after another when zero.
pub async fn searcher(
    base: Arc<str>,
    people: Arc<People>,
    worker: usize,
    every: Duration,
    phase_start: Instant,
    deadline: Instant,
) -> Vec<Sample> {
    let client = reqwest::Client::new();
    let token = &people.board[worker % people.board.len()];
    let mut samples = Vec::new();
    let mut n = worker;
    let mut pace = (!every.is_zero()).then(|| {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    while Instant::now() < deadline {
        if let Some(interval) = pace.as_mut() {
            interval.tick().await;
            if Instant::now() >= deadline {
                break;
            }
        }
        n += 1;
        let at = phase_start.elapsed();
        let q = if n.is_multiple_of(3) {
            format!("{} {}", word(n), word(n / 3))
        } else {
            word(n).to_owned()
        };
        let (latency, outcome) = timed(
            client
                .get(format!("{base}/api/v1/search"))
                .query(&[("q", q.as_str())])
                .bearer_auth(token),
        )
        .await;
        samples.push(Sample {
            op: Op::Search,
            latency,
            failed: outcome.err(),
            at,
        });
    }
    samples
}
