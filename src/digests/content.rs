//! What a board member's digest says: decisions first, then what is new
//! since their last digest. Every count is of what they may see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{audit_events, consultation_responses, consultations, ideas, reports, users};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::settings::{DigestSettings, Section};
use crate::app_state::AppState;
use crate::error::AppError;
use crate::triage::dashboard::{CLOSING_SOON, closing_soon, open_at};
use crate::triage::inbox::{self, InboxKind};

/// How many lines a section shows before "and N more".
pub const LINES_PER_SECTION: u64 = 10;
/// How many new matches are named for each saved search.
const MATCHES_PER_SEARCH: u64 = 3;

/// One line of a section: something to open.
#[derive(Debug, Clone)]
pub struct Line {
    pub title: String,
    /// A path on this service.
    pub link: String,
    pub detail: String,
}

/// One section of a digest.
#[derive(Debug, Clone)]
pub struct Part {
    pub section: Section,
    /// How many there are in all (the lines show the first of them).
    pub total: u64,
    pub lines: Vec<Line>,
    /// Where to see them all.
    pub more_link: String,
    /// Whether this part holds anything new since the last digest.
    pub news: bool,
}

/// A board member's digest, before rendering.
#[derive(Debug, Clone)]
pub struct Digest {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only the chosen sections that have something in them.
    pub parts: Vec<Part>,
}

impl Digest {
    /// Nothing is sent when nothing is new: items still awaiting a decision
    /// alone do not make a digest.
    pub fn has_news(&self) -> bool {
        self.parts.iter().any(|p| p.news)
    }

    pub fn part(&self, section: Section) -> Option<&Part> {
        self.parts.iter().find(|p| p.section == section)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Part {
    /// How the subject line and the heading count this part.
    pub fn summary(&self) -> String {
        let n = self.total;
        match self.section {
            Section::Assigned => plural(n, "item needs you", "items need you"),
            Section::Reports => plural(
                n,
                "new critical or high report",
                "new critical or high reports",
            ),
            Section::Ideas => plural(n, "new idea", "new ideas"),
            Section::Responses => {
                plural(n, "new consultation response", "new consultation responses")
            }
            Section::Closing => {
                plural(n, "consultation closing soon", "consultations closing soon")
            }
            Section::SavedSearches => {
                plural(n, "new saved-search match", "new saved-search matches")
            }
        }
    }
}

/// Builds the digest of what the board member may see, covering `since`
/// up to `until`.
pub async fn build(
    state: &AppState,
    user: &users::Model,
    settings: &DigestSettings,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Digest, AppError> {
    let conn = &state.db;
    let mut parts = Vec::new();
    for &section in &settings.sections {
        let part = match section {
            Section::Assigned => assigned(conn, user.id, since, until).await?,
            Section::Reports => new_reports(conn, since, until).await?,
            Section::Ideas => new_ideas(conn, since, until).await?,
            Section::Responses => new_responses(conn, since, until).await?,
            Section::Closing => closing(conn, since, until).await?,
            Section::SavedSearches => saved_searches(state, user, since).await?,
        };
        if part.total > 0 {
            parts.push(part);
        }
    }
    Ok(Digest {
        since,
        until,
        parts,
    })
}

async fn assigned(
    conn: &impl ConnectionTrait,
    me: Uuid,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Part, AppError> {
    let page = inbox::awaiting(conn, me, LINES_PER_SECTION, until).await?;
    // New when one of them was assigned since the last digest.
    let ids: Vec<Uuid> = page.items.iter().map(|i| i.id).collect();
    let newly_assigned = !ids.is_empty()
        && audit_events::Entity::find()
            .filter(audit_events::Column::Action.eq("triage.assigned"))
            .filter(audit_events::Column::SubjectId.is_in(ids))
            .filter(audit_events::Column::CreatedAt.gt(since))
            .count(conn)
            .await?
            > 0;
    Ok(Part {
        section: Section::Assigned,
        total: page.total,
        news: newly_assigned,
        more_link: "/board/inbox?assignee=me".to_owned(),
        lines: page
            .items
            .into_iter()
            .map(|i| Line {
                detail: format!(
                    "{} · {} · since {}",
                    i.kind.singular(),
                    i.status_label,
                    i.created_at.format("%-d %b %Y")
                ),
                title: i.title,
                link: i.link,
            })
            .collect(),
    })
}

async fn new_reports(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Part, AppError> {
    let query = || {
        reports::Entity::find()
            .filter(reports::Column::Severity.is_in(["critical", "high"]))
            .filter(reports::Column::CreatedAt.gt(since))
            .filter(reports::Column::CreatedAt.lte(until))
    };
    let total = query().count(conn).await?;
    // "critical" sorts before "high": critical first, then oldest first.
    let found = query()
        .order_by_asc(reports::Column::Severity)
        .order_by_asc(reports::Column::CreatedAt)
        .limit(LINES_PER_SECTION)
        .all(conn)
        .await?;
    let lines = crate::triage::report::lines(conn, found).await?;
    Ok(Part {
        section: Section::Reports,
        total,
        news: total > 0,
        more_link: format!(
            "/board/inbox?kind={}&sort=newest",
            InboxKind::Report.as_str()
        ),
        lines: lines
            .into_iter()
            .map(|line| Line {
                link: format!("/reports/{}", line.id),
                detail: format!("{} · {}", line.severity, line.organisation),
                title: line.system,
            })
            .collect(),
    })
}

async fn new_ideas(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Part, AppError> {
    let query = || {
        ideas::Entity::find()
            .filter(ideas::Column::CreatedAt.gt(since))
            .filter(ideas::Column::CreatedAt.lte(until))
    };
    let total = query().count(conn).await?;
    let found = query()
        .order_by_desc(ideas::Column::SupportCount)
        .order_by_asc(ideas::Column::CreatedAt)
        .limit(LINES_PER_SECTION)
        .all(conn)
        .await?;
    Ok(Part {
        section: Section::Ideas,
        total,
        news: total > 0,
        more_link: "/ideas?sort=most_supported".to_owned(),
        lines: found
            .into_iter()
            .map(|i| Line {
                link: format!("/ideas/{}", i.id),
                detail: plural(i.support_count.max(0) as u64, "supporter", "supporters"),
                title: i.title,
            })
            .collect(),
    })
}

async fn new_responses(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Part, AppError> {
    let open = open_at(until)
        .order_by_asc(consultations::Column::ClosesAt)
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = open.iter().map(|c| c.id).collect();
    let counts: HashMap<Uuid, u64> = if ids.is_empty() {
        HashMap::new()
    } else {
        consultation_responses::Entity::find()
            .select_only()
            .column(consultation_responses::Column::ConsultationId)
            .column_as(
                Expr::expr(Func::count(Expr::col(consultation_responses::Column::Id))),
                "n",
            )
            .filter(consultation_responses::Column::ConsultationId.is_in(ids))
            .filter(consultation_responses::Column::Status.eq("submitted"))
            .filter(consultation_responses::Column::SubmittedAt.gt(since))
            .filter(consultation_responses::Column::SubmittedAt.lte(until))
            .group_by(consultation_responses::Column::ConsultationId)
            .into_tuple::<(Uuid, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, n)| (id, n.max(0) as u64))
            .collect()
    };
    let mut total = 0;
    let mut lines = Vec::new();
    for c in open {
        let Some(&n) = counts.get(&c.id) else {
            continue;
        };
        total += n;
        lines.push(Line {
            link: format!("/consultations/{}/analysis/responses", c.slug),
            detail: format!(
                "{}, closes {}",
                plural(n, "new response", "new responses"),
                crate::uk_time::display(c.closes_at)
            ),
            title: c.title,
        });
    }
    Ok(Part {
        section: Section::Responses,
        total,
        news: total > 0,
        more_link: "/consultations".to_owned(),
        lines,
    })
}

async fn closing(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Part, AppError> {
    let soon = closing_soon(until).all(conn).await?;
    // New when it came within seven days of closing since the last digest.
    let news = soon.iter().any(|c| c.closes_at - CLOSING_SOON > since);
    Ok(Part {
        section: Section::Closing,
        total: soon.len() as u64,
        news,
        more_link: "/board/dashboard".to_owned(),
        lines: soon
            .into_iter()
            .map(|c| Line {
                link: format!("/consultations/{}/analysis", c.slug),
                detail: format!("closes {}", crate::uk_time::display(c.closes_at)),
                title: c.title,
            })
            .collect(),
    })
}

async fn saved_searches(
    state: &AppState,
    user: &users::Model,
    since: DateTime<Utc>,
) -> Result<Part, AppError> {
    let followed: Vec<_> = crate::search::saved::list(&state.db, user.id)
        .await?
        .into_iter()
        .filter(|s| s.notify)
        .collect();
    let mut total = 0u64;
    let mut lines = Vec::new();
    if !followed.is_empty() && !state.search.needs_fill() {
        let index = state.search.current();
        let audience = crate::auth::policy::search_audience_of(user);
        let found = tokio::task::spawn_blocking(move || {
            followed
                .into_iter()
                .map(|mut saved| {
                    // New since the later of their last look and their last digest.
                    saved.seen_at = saved.seen_at.max(since);
                    let results = crate::search::saved::new_matches(
                        &index,
                        &audience,
                        &saved,
                        MATCHES_PER_SEARCH,
                    );
                    (saved, results)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(AppError::internal)?;
        for (saved, results) in found {
            let results = results?;
            if results.total == 0 {
                continue;
            }
            total += results.total as u64;
            let named: Vec<String> = results
                .hits
                .iter()
                .map(|h| crate::text::strip_tags(&h.title_html))
                .collect();
            lines.push(Line {
                link: crate::search::saved::SavedQuery::of(&saved).link(),
                detail: format!(
                    "{}: {}",
                    plural(results.total as u64, "new match", "new matches"),
                    named.join("; ")
                ),
                title: saved.name,
            });
        }
    }
    Ok(Part {
        section: Section::SavedSearches,
        total,
        news: total > 0,
        more_link: "/search/saved".to_owned(),
        lines,
    })
}
