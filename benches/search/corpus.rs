//! A realistic corpus: ideas, reports, comments and consultation responses
//! of 50 to 2,000 words
//! (log-uniform, so most are short and some are long), in the language of
//! NHS digital services with a long tail of rarer words (Zipf), spread over
//! two years, with themes, statuses, categories, severities, organisations
//! and respondent types in realistic proportions. Deterministic: the same
//! seed gives the same corpus.

use chrono::{DateTime, Duration, Utc};
use entity::{
    comments, consultation_answers, consultation_questions, consultation_responses,
    consultation_versions, consultations, idea_themes, ideas, reports, section_comments, users,
};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use uuid::Uuid;

/// SplitMix64: small, fast and good enough for synthetic data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One of `items`, chosen with the given weights.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut at = self.below(total as usize) as u32;
        for (item, weight) in items {
            if at < *weight {
                return item;
            }
            at -= weight;
        }
        &items[items.len() - 1].0
    }
}

const DOMAIN: &[&str] = &[
    "patient",
    "patients",
    "clinical",
    "clinician",
    "nurse",
    "nurses",
    "ward",
    "wards",
    "doctor",
    "consultant",
    "pharmacy",
    "prescribing",
    "prescription",
    "medication",
    "discharge",
    "admission",
    "referral",
    "referrals",
    "appointment",
    "appointments",
    "outpatient",
    "theatre",
    "radiology",
    "pathology",
    "results",
    "record",
    "records",
    "electronic",
    "system",
    "systems",
    "interoperability",
    "integration",
    "interface",
    "api",
    "apis",
    "fhir",
    "hl7",
    "standard",
    "standards",
    "login",
    "password",
    "smartcard",
    "authentication",
    "access",
    "permissions",
    "privacy",
    "consent",
    "security",
    "cyber",
    "vulnerability",
    "patching",
    "outage",
    "downtime",
    "crash",
    "crashes",
    "slow",
    "latency",
    "network",
    "wifi",
    "laptop",
    "desktop",
    "printer",
    "supplier",
    "vendor",
    "contract",
    "procurement",
    "licence",
    "cloud",
    "hosting",
    "backup",
    "recovery",
    "incident",
    "safety",
    "risk",
    "harm",
    "audit",
    "dashboard",
    "report",
    "data",
    "quality",
    "duplicate",
    "duplicates",
    "handover",
    "whiteboard",
    "bed",
    "beds",
    "flow",
    "capacity",
    "waiting",
    "list",
    "triage",
    "emergency",
    "department",
    "community",
    "mental",
    "health",
    "maternity",
    "paediatric",
    "oncology",
    "cardiology",
    "diabetes",
    "stroke",
    "primary",
    "care",
    "gp",
    "practice",
    "trust",
    "trusts",
    "integrated",
    "board",
    "region",
    "national",
    "shared",
    "summary",
    "allergy",
    "allergies",
    "observations",
    "vital",
    "signs",
    "sepsis",
    "alert",
    "alerts",
    "notification",
    "messages",
    "email",
    "letter",
    "letters",
    "scanning",
    "paper",
    "forms",
    "workflow",
    "training",
    "usability",
    "accessibility",
    "screen",
    "reader",
    "keyboard",
    "mobile",
    "app",
    "portal",
    "booking",
    "reminder",
    "reminders",
    "telephone",
    "video",
    "consultation",
    "remote",
    "monitoring",
    "device",
    "devices",
    "wearable",
    "sensor",
    "identity",
    "number",
    "demographics",
    "spine",
    "messaging",
    "pas",
    "epr",
    "ehr",
    "lims",
    "ris",
    "pacs",
    "order",
    "orders",
    "requests",
    "staff",
    "time",
    "hours",
    "minutes",
    "delay",
    "delays",
    "error",
    "errors",
    "manual",
    "transcription",
    "copy",
    "twice",
    "again",
    "logon",
    "session",
    "timeout",
    "locked",
    "support",
    "ticket",
    "helpdesk",
    "upgrade",
    "migration",
    "legacy",
    "server",
    "database",
    "encryption",
    "phishing",
    "ransomware",
    "firewall",
    "mfa",
    "token",
    "role",
    "roles",
    "sharing",
    "agreement",
    "governance",
    "dpia",
    "caldicott",
    "retention",
    "deletion",
    "export",
    "import",
    "analytics",
    "research",
    "population",
    "outcomes",
    "improvement",
    "pilot",
    "evaluation",
    "benefit",
    "benefits",
    "cost",
    "savings",
    "efficiency",
    "productivity",
];

const GLUE: &[&str] = &[
    "the", "a", "to", "of", "and", "in", "for", "on", "is", "it", "that", "with", "we", "our",
    "this", "when", "every", "have", "not", "be", "are", "from", "at", "which", "so", "because",
    "but", "can", "could", "should", "would", "there", "they", "their", "into", "after", "before",
];

/// Syllables for the long tail: rare terms such as product names and codes.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ro", "ta", "vi", "zu", "bel", "cor", "dex", "fin", "gra", "hal",
    "jen", "kor", "lim", "mor", "nix", "pol", "qua", "ras", "sol", "tor", "ul", "ven", "wex",
    "yor", "zen", "ard", "bri", "cla", "dro", "esk", "fal", "gim",
];

pub struct Vocabulary {
    words: Vec<String>,
    /// Cumulative Zipf weights, for sampling by binary search.
    cumulative: Vec<f64>,
}

impl Vocabulary {
    /// Domain words first (the most frequent), then `tail` rarer words.
    pub fn new(rng: &mut Rng, tail: usize) -> Self {
        let mut words: Vec<String> = DOMAIN.iter().map(|w| (*w).to_owned()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        while words.len() < DOMAIN.len() + tail {
            let parts = 2 + rng.below(3);
            let word: String = (0..parts).map(|_| *rng.pick(SYLLABLES)).collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(1.07);
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    pub fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        let at = self.cumulative.partition_point(|c| *c < target);
        &self.words[at.min(self.words.len() - 1)]
    }

    /// A word of middling frequency: what people search for.
    pub fn query_word(&self, rng: &mut Rng) -> &str {
        let from = 20.min(self.words.len());
        let to = 3_000.min(self.words.len());
        &self.words[from + rng.below(to - from)]
    }

    /// About `words` words in sentences of 8 to 20.
    pub fn text(&self, rng: &mut Rng, words: usize) -> String {
        let mut out = String::with_capacity(words * 8);
        let mut in_sentence = 0;
        let mut sentence_length = 8 + rng.below(13);
        for n in 0..words {
            let word = if rng.below(3) == 0 {
                *rng.pick(GLUE)
            } else {
                self.word(rng)
            };
            if in_sentence == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(word);
            }
            in_sentence += 1;
            if in_sentence == sentence_length || n + 1 == words {
                out.push_str(". ");
                in_sentence = 0;
                sentence_length = 8 + rng.below(13);
                if rng.below(6) == 0 {
                    out.push_str("\n\n");
                }
            } else {
                out.push(' ');
            }
        }
        out
    }

    pub fn title(&self, rng: &mut Rng) -> String {
        let words = 4 + rng.below(7);
        let mut title = self.text(rng, words);
        title.truncate(title.trim_end_matches([' ', '.', '\n']).len());
        title.chars().take(150).collect()
    }
}

/// 50 to 2,000 words, log-uniform: a median near 300.
pub fn length(rng: &mut Rng) -> usize {
    let (low, high) = (50f64.ln(), 2_000f64.ln());
    (low + rng.unit() * (high - low)).exp().round() as usize
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub ideas: usize,
    pub reports: usize,
    pub comments: usize,
    pub responses: usize,
    pub words: u64,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.ideas + self.reports + self.comments + self.responses
    }
}

const INSERT_ROWS: usize = 500;

fn when(rng: &mut Rng, now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::seconds(rng.below(2 * 365 * 24 * 3600) as i64)
}

/// Writes `items` items into the hub's tables, calling `progress(done)`.
pub async fn generate(
    db: &DatabaseConnection,
    items: usize,
    seed: u64,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<Counts> {
    let mut rng = Rng::new(seed);
    let vocabulary = Vocabulary::new(&mut rng, 30_000);
    let now = Utc::now();
    let themes: Vec<Uuid> = entity::themes::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let organisations: Vec<(Uuid, String)> = entity::organisations::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    anyhow::ensure!(
        !themes.is_empty() && !organisations.is_empty(),
        "themes and organisations are seeded"
    );

    // Authors: NHS staff mostly, then suppliers and experts.
    let respondents = [
        ("nhs_staff", 70),
        ("supplier", 15),
        ("expert", 10),
        ("patient_or_public", 3),
        ("other", 2),
    ];
    let mut authors = Vec::new();
    let mut batch = Vec::new();
    for n in 0..2_000 {
        let id = Uuid::now_v7();
        authors.push(id);
        let (org_id, org_name) = rng.pick(&organisations).clone();
        batch.push(users::ActiveModel {
            id: Set(id),
            email: Set(format!("author{n}@bench.nhs.uk")),
            display_name: Set(Some(format!("Author {n}"))),
            role: Set("contributor".into()),
            respondent_type: Set(Some((*rng.weighted(&respondents)).to_owned())),
            organisation_id: Set(Some(org_id)),
            organisation_name: Set(Some(org_name)),
            job_title: Set(None),
            profile_completed_at: Set(Some(now)),
            last_signed_in_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    for chunk in batch.chunks(INSERT_ROWS) {
        users::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }

    // 45% ideas, 20% reports, 15% comments, 20% consultation responses.
    let mut counts = Counts {
        ideas: items * 45 / 100,
        reports: items * 20 / 100,
        responses: items * 20 / 100,
        ..Counts::default()
    };
    counts.comments = items - counts.ideas - counts.reports - counts.responses;
    let idea_statuses = [
        ("submitted", 40),
        ("under_review", 20),
        ("shortlisted", 10),
        ("in_progress", 8),
        ("implemented", 7),
        ("declined", 12),
        ("duplicate", 3),
    ];
    let mut idea_ids = Vec::with_capacity(counts.ideas);
    let mut done = 0;
    let mut rows = Vec::new();
    let mut links = Vec::new();
    for n in 0..counts.ideas {
        let id = Uuid::now_v7();
        idea_ids.push(id);
        let words = length(&mut rng);
        counts.words += words as u64;
        let created = when(&mut rng, now);
        rows.push(ideas::ActiveModel {
            id: Set(id),
            author_id: Set(Some(*rng.pick(&authors))),
            title: Set(vocabulary.title(&mut rng)),
            description: Set(vocabulary.text(&mut rng, words * 4 / 5)),
            beneficiaries: Set("patients,staff".into()),
            expected_impact: Set(vocabulary.text(&mut rng, words / 5)),
            status: Set((*rng.weighted(&idea_statuses)).to_owned()),
            duplicate_of: Set(None),
            // Most ideas gather a few supporters; a few gather hundreds.
            support_count: Set((rng.unit().powi(6) * 400.0) as i32),
            comment_count: Set(0),
            version: Set(1),
            assignee_id: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        let first = rng.below(themes.len());
        links.push(idea_themes::ActiveModel {
            idea_id: Set(id),
            theme_id: Set(themes[first]),
        });
        if rng.below(3) == 0 {
            let second = (first + 1 + rng.below(themes.len() - 1)) % themes.len();
            links.push(idea_themes::ActiveModel {
                idea_id: Set(id),
                theme_id: Set(themes[second]),
            });
        }
        if rows.len() == INSERT_ROWS || n + 1 == counts.ideas {
            done += rows.len();
            ideas::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
            idea_themes::Entity::insert_many(std::mem::take(&mut links))
                .exec(db)
                .await?;
            progress(done);
        }
    }

    let categories = [
        ("interoperability", 30),
        ("outage", 20),
        ("usability", 20),
        ("cyber_security", 10),
        ("privacy", 5),
        ("data_quality", 8),
        ("procurement", 4),
        ("other", 3),
    ];
    let severities = [("low", 30), ("medium", 40), ("high", 22), ("critical", 8)];
    let report_statuses = [
        ("new", 35),
        ("triaged", 20),
        ("investigating", 15),
        ("escalated", 5),
        ("resolved", 15),
        ("closed", 7),
        ("not_actionable", 3),
    ];
    let mut rows = Vec::new();
    for n in 0..counts.reports {
        let words = length(&mut rng);
        counts.words += words as u64;
        let created = when(&mut rng, now);
        let (organisation_id, _) = rng.pick(&organisations).clone();
        rows.push(reports::ActiveModel {
            id: Set(Uuid::now_v7()),
            reporter_id: Set(Some(*rng.pick(&authors))),
            organisation_id: Set(organisation_id),
            system_name: Set(vocabulary.title(&mut rng)),
            supplier_name: Set(Some(format!("{} Ltd", vocabulary.word(&mut rng)))),
            category: Set((*rng.weighted(&categories)).to_owned()),
            standard_reference: Set(None),
            severity: Set((*rng.weighted(&severities)).to_owned()),
            patient_impact: Set(vocabulary.text(&mut rng, words / 5)),
            staff_impact: Set(vocabulary.text(&mut rng, words / 5)),
            evidence: Set(vocabulary.text(&mut rng, words * 3 / 5)),
            confidential: Set(rng.below(10) == 0),
            status: Set((*rng.weighted(&report_statuses)).to_owned()),
            version: Set(1),
            assignee_id: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        if rows.len() == INSERT_ROWS || n + 1 == counts.reports {
            done += rows.len();
            reports::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
            progress(done);
        }
    }

    let mut rows = Vec::new();
    for n in 0..counts.comments {
        let words = length(&mut rng);
        counts.words += words as u64;
        let created = when(&mut rng, now);
        rows.push(comments::ActiveModel {
            id: Set(Uuid::now_v7()),
            subject_type: Set("idea".into()),
            subject_id: Set(*rng.pick(&idea_ids)),
            author_id: Set(Some(*rng.pick(&authors))),
            body: Set(vocabulary.text(&mut rng, words)),
            visibility: Set("public".into()),
            edited_at: Set(None),
            hidden_at: Set(None),
            hidden_reason: Set(None),
            hidden_by: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        if rows.len() == INSERT_ROWS || n + 1 == counts.comments {
            done += rows.len();
            comments::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
            progress(done);
        }
    }
    done += responses(
        db,
        &mut rng,
        &vocabulary,
        &mut counts,
        now,
        done,
        &mut progress,
    )
    .await?;
    progress(done);
    Ok(counts)
}

/// Consultations (half with their outcome published) and their responses:
/// a free-text answer and a section comment each, with consent and
/// respondent types in realistic proportions.
async fn responses(
    db: &DatabaseConnection,
    rng: &mut Rng,
    vocabulary: &Vocabulary,
    counts: &mut Counts,
    now: DateTime<Utc>,
    mut done: usize,
    progress: &mut impl FnMut(usize),
) -> anyhow::Result<usize> {
    let started = done;
    let mut parents = Vec::new();
    for n in 0..20 {
        let id = Uuid::now_v7();
        let question = Uuid::now_v7();
        let published = n % 2 == 0;
        consultations::Entity::insert(consultations::ActiveModel {
            id: Set(id),
            slug: Set(format!("bench-{n}")),
            title: Set(format!("{} standard", vocabulary.title(rng))),
            summary: Set(vocabulary.text(rng, 40)),
            audience: Set("everyone".into()),
            opens_at: Set(now - Duration::days(400)),
            closes_at: Set(now - Duration::days(300)),
            status: Set(if published {
                "outcome_published"
            } else {
                "published"
            }
            .into()),
            current_version: Set(1),
            outcome_summary: Set(String::new()),
            outcome_published_at: Set(published.then_some(now)),
            created_by: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(db)
        .await?;
        consultation_versions::Entity::insert(consultation_versions::ActiveModel {
            id: Set(Uuid::now_v7()),
            consultation_id: Set(id),
            number: Set(1),
            document: Set(format!(
                "# Scope\n\n{}\n\n# Requirements\n\n{}",
                vocabulary.text(rng, 200),
                vocabulary.text(rng, 400)
            )),
            change_summary: Set(String::new()),
            published_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(db)
        .await?;
        consultation_questions::Entity::insert(consultation_questions::ActiveModel {
            id: Set(question),
            consultation_id: Set(id),
            position: Set(1),
            kind: Set("free_text".into()),
            prompt: Set("What would you change?".into()),
            help_text: Set(String::new()),
            required: Set(false),
            options: Set("[]".into()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(db)
        .await?;
        parents.push((id, question));
    }
    let consents = [("named", 50), ("anonymous", 35), ("private", 15)];
    let types = [
        ("nhs_staff", 45),
        ("supplier", 35),
        ("expert", 15),
        ("other", 5),
    ];
    let (mut rows, mut answers, mut comments) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..counts.responses {
        let words = length(rng);
        counts.words += words as u64;
        let created = when(rng, now);
        let (consultation, question) = *rng.pick(&parents);
        let id = Uuid::now_v7();
        rows.push(consultation_responses::ActiveModel {
            id: Set(id),
            consultation_id: Set(consultation),
            respondent_id: Set(None),
            respondent_name: Set(Some(format!("Respondent {n}"))),
            respondent_email: Set(None),
            respondent_type: Set((*rng.weighted(&types)).to_owned()),
            capacity: Set("individual".into()),
            organisation_name: Set(None),
            interests_declared: Set(Some(false)),
            products_affected: Set(String::new()),
            commercial_interest: Set(String::new()),
            consent: Set((*rng.weighted(&consents)).to_owned()),
            status: Set("submitted".into()),
            submitted_at: Set(Some(created)),
            source: Set("import".into()),
            redaction_reason: Set(None),
            redacted_by: Set(None),
            redacted_at: Set(None),
            version: Set(1),
            assignee_id: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        answers.push(consultation_answers::ActiveModel {
            id: Set(Uuid::now_v7()),
            response_id: Set(id),
            question_id: Set(question),
            value: Set(vocabulary.text(rng, words * 3 / 5)),
            redacted_value: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        comments.push(section_comments::ActiveModel {
            id: Set(Uuid::now_v7()),
            response_id: Set(id),
            consultation_id: Set(consultation),
            version_number: Set(1),
            anchor: Set("requirements".into()),
            section_title: Set("Requirements".into()),
            body: Set(vocabulary.text(rng, words * 2 / 5)),
            redacted_body: Set(None),
            disposition: Set(None),
            rationale: Set(String::new()),
            decided_by: Set(None),
            decided_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        });
        if rows.len() == INSERT_ROWS || n + 1 == counts.responses {
            done += rows.len();
            consultation_responses::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
            consultation_answers::Entity::insert_many(std::mem::take(&mut answers))
                .exec(db)
                .await?;
            section_comments::Entity::insert_many(std::mem::take(&mut comments))
                .exec(db)
                .await?;
            progress(done);
        }
    }
    Ok(done - started)
}

/// Queries people type: one word, two words, or a phrase, from the
/// middle of the vocabulary; some with a filter.
pub fn queries(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let vocabulary = Vocabulary::new(&mut rng, 30_000);
    let mut rng = Rng::new(seed ^ 0x5EED);
    (0..count)
        .map(|_| match rng.below(20) {
            0..=10 => vocabulary.query_word(&mut rng).to_owned(),
            11..=15 => format!(
                "{} {}",
                vocabulary.query_word(&mut rng),
                vocabulary.query_word(&mut rng)
            ),
            _ => format!(
                "\"{} {}\"",
                vocabulary.word(&mut rng),
                vocabulary.word(&mut rng)
            ),
        })
        .collect()
}
