//! The board's dashboard: what came in week by week, what it is about, and
//! what needs attention now. Counts are made by the database (GROUP BY), so
//! the page costs the same however many items there are.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use entity::{consultation_responses, consultations, idea_themes, ideas, reports, themes};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::report::{Count, ReportLine};
use crate::auth::domain::RespondentType;
use crate::error::AppError;
use crate::ideas::domain::IdeaStatus;
use crate::reports::domain::{Category, ReportStatus, Severity};

pub const WEEKS: i64 = 12;

/// Submissions in one week (Monday to Sunday, UK time).
#[derive(Debug, Clone, poem_openapi::Object)]
#[oai(rename = "DashboardWeek")]
pub struct Week {
    /// "w/c 2 Nov"
    pub label: String,
    pub ideas: u64,
    pub reports: u64,
    pub responses: u64,
}

impl Week {
    pub fn total(&self) -> u64 {
        self.ideas + self.reports + self.responses
    }
}

#[derive(Debug, Clone, poem_openapi::Object)]
pub struct ClosingSoon {
    pub slug: String,
    pub title: String,
    pub closes: String,
    pub responses: u64,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub weeks: Vec<Week>,
    pub reports_by_category: Vec<Count>,
    pub reports_by_severity: Vec<Count>,
    pub ideas_by_theme: Vec<Count>,
    pub ideas_by_status: Vec<Count>,
    pub responses_by_type: Vec<Count>,
    pub open_critical: Vec<ReportLine>,
    pub closing_soon: Vec<ClosingSoon>,
    /// Items assigned to the board member looking, oldest first.
    pub awaiting_me: Vec<super::inbox::InboxItem>,
    pub awaiting_me_total: u64,
}

/// Counts of `column`'s values among rows of `E`, as (value, count).
async fn grouped<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    column: E::Column,
    filter: sea_orm::Condition,
) -> Result<HashMap<String, u64>, AppError> {
    let rows: Vec<(String, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(Expr::expr(Func::count(Expr::col(column))), "n")
        .filter(filter)
        .group_by(column)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| (k, n.max(0) as u64))
        .collect())
}

fn labelled<T: Copy>(
    all: &[T],
    counts: &HashMap<String, u64>,
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<Count> {
    all.iter()
        .map(|t| Count {
            label: label(*t).to_owned(),
            count: counts.get(value(*t)).copied().unwrap_or(0),
        })
        .collect()
}

/// The Monday (UK time) that starts the week `at` falls in, as a date.
fn week_start(at: DateTime<Utc>) -> chrono::NaiveDate {
    let day = crate::uk_time::local(at).date();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

async fn created_since<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    column: E::Column,
    since: DateTime<Utc>,
    extra: sea_orm::Condition,
) -> Result<Vec<DateTime<Utc>>, AppError> {
    Ok(E::find()
        .select_only()
        .column(column)
        .filter(column.gte(since))
        .filter(extra)
        .into_tuple::<DateTime<Utc>>()
        .all(conn)
        .await?)
}

/// How near its closing a consultation counts as closing soon.
pub const CLOSING_SOON: Duration = Duration::days(7);

/// Published consultations open at `at`.
pub fn open_at(at: DateTime<Utc>) -> sea_orm::Select<consultations::Entity> {
    consultations::Entity::find()
        .filter(consultations::Column::Status.eq("published"))
        .filter(consultations::Column::OpensAt.lte(at))
        .filter(consultations::Column::ClosesAt.gt(at))
}

/// Consultations open at `at` that close within [`CLOSING_SOON`], the
/// soonest first.
pub fn closing_soon(at: DateTime<Utc>) -> sea_orm::Select<consultations::Entity> {
    open_at(at)
        .filter(consultations::Column::ClosesAt.lte(at + CLOSING_SOON))
        .order_by_asc(consultations::Column::ClosesAt)
}

pub async fn build(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    me: Uuid,
) -> Result<Dashboard, AppError> {
    use sea_orm::Condition;
    let mine = super::inbox::awaiting(conn, me, 10, now).await?;
    let this_week = week_start(now);
    let first = this_week - Duration::weeks(WEEKS - 1);
    let since = first
        .and_hms_opt(0, 0, 0)
        .and_then(crate::uk_time::from_local)
        .unwrap_or(now - Duration::weeks(WEEKS));
    let mut weeks: Vec<Week> = (0..WEEKS)
        .map(|n| {
            let start = first + Duration::weeks(n);
            Week {
                label: format!("w/c {}", start.format("%-d %b")),
                ideas: 0,
                reports: 0,
                responses: 0,
            }
        })
        .collect();
    let slot =
        |at: DateTime<Utc>| ((week_start(at) - first).num_weeks()).clamp(0, WEEKS - 1) as usize;
    for at in
        created_since::<ideas::Entity>(conn, ideas::Column::CreatedAt, since, Condition::all())
            .await?
    {
        weeks[slot(at)].ideas += 1;
    }
    for at in
        created_since::<reports::Entity>(conn, reports::Column::CreatedAt, since, Condition::all())
            .await?
    {
        weeks[slot(at)].reports += 1;
    }
    for at in created_since::<consultation_responses::Entity>(
        conn,
        consultation_responses::Column::SubmittedAt,
        since,
        Condition::all().add(consultation_responses::Column::Status.eq("submitted")),
    )
    .await?
    {
        weeks[slot(at)].responses += 1;
    }

    let by_category =
        grouped::<reports::Entity>(conn, reports::Column::Category, Condition::all()).await?;
    let by_severity =
        grouped::<reports::Entity>(conn, reports::Column::Severity, Condition::all()).await?;
    let by_status = grouped::<ideas::Entity>(conn, ideas::Column::Status, Condition::all()).await?;
    let by_type = grouped::<consultation_responses::Entity>(
        conn,
        consultation_responses::Column::RespondentType,
        Condition::all().add(consultation_responses::Column::Status.eq("submitted")),
    )
    .await?;
    let theme_counts: Vec<(Uuid, i64)> = idea_themes::Entity::find()
        .select_only()
        .column(idea_themes::Column::ThemeId)
        .column_as(
            Expr::expr(Func::count(Expr::col(idea_themes::Column::IdeaId))),
            "n",
        )
        .group_by(idea_themes::Column::ThemeId)
        .into_tuple()
        .all(conn)
        .await?;
    let all_themes = themes::Entity::find()
        .order_by_asc(themes::Column::Position)
        .all(conn)
        .await?;
    let ideas_by_theme = all_themes
        .iter()
        .filter_map(|t| {
            let count = theme_counts
                .iter()
                .find(|(id, _)| *id == t.id)
                .map(|(_, n)| (*n).max(0) as u64)?;
            Some(Count {
                label: t.name.clone(),
                count,
            })
        })
        .collect();

    let critical = reports::Entity::find()
        .filter(reports::Column::Severity.eq("critical"))
        .filter(reports::Column::Status.is_not_in(ReportStatus::DECIDED.iter().map(|s| s.as_str())))
        .order_by_asc(reports::Column::CreatedAt)
        .limit(20)
        .all(conn)
        .await?;
    let open_critical = super::report::lines(conn, critical).await?;

    let soon = closing_soon(now).all(conn).await?;
    let mut closing_soon = Vec::new();
    for c in soon {
        let responses = grouped::<consultation_responses::Entity>(
            conn,
            consultation_responses::Column::Status,
            Condition::all().add(consultation_responses::Column::ConsultationId.eq(c.id)),
        )
        .await?
        .get("submitted")
        .copied()
        .unwrap_or(0);
        closing_soon.push(ClosingSoon {
            closes: crate::uk_time::display(c.closes_at),
            slug: c.slug,
            title: c.title,
            responses,
        });
    }

    Ok(Dashboard {
        weeks,
        reports_by_category: labelled(
            Category::ALL,
            &by_category,
            Category::as_str,
            Category::label,
        ),
        reports_by_severity: labelled(
            Severity::ALL,
            &by_severity,
            Severity::as_str,
            Severity::label,
        ),
        ideas_by_theme,
        ideas_by_status: labelled(
            IdeaStatus::ALL,
            &by_status,
            IdeaStatus::as_str,
            IdeaStatus::label,
        ),
        responses_by_type: labelled(
            &RespondentType::ALL,
            &by_type,
            RespondentType::as_str,
            RespondentType::label,
        ),
        open_critical,
        closing_soon,
        awaiting_me_total: mine.total,
        awaiting_me: mine.items,
    })
}
