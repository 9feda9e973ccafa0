//! The board's periodic report to the Secretary of State: headline numbers,
//! top themes, critical and escalated reports, ideas shortlisted and
//! implemented, and consultation outcomes, for one calendar month (UK time).
//! Reporters are never named in it, confidential or not.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::{
    consultation_responses, consultations, idea_themes, ideas, organisations, reports,
    section_comments, status_changes, themes,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;

use crate::consultations::domain::Disposition;
use crate::error::{AppError, FieldError};
use crate::ideas::domain::IdeaStatus;
use crate::reports::domain::{Category, ReportStatus, Severity};

/// A calendar month in UK time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    /// "2026-10".
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let bad = || {
            AppError::Validation(vec![FieldError::new(
                "period",
                "Enter a month as year and month, for example 2026-10",
            )])
        };
        let (year, month) = raw.trim().split_once('-').ok_or_else(bad)?;
        let (year, month): (i32, u32) = (
            year.parse().map_err(|_| bad())?,
            month.parse().map_err(|_| bad())?,
        );
        NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        if !(2000..=2100).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }

    /// The month before the one `at` falls in (the usual month to report on).
    pub fn previous(at: DateTime<Utc>) -> Self {
        let today = crate::uk_time::local(at).date();
        let (year, month) = if today.month() == 1 {
            (today.year() - 1, 12)
        } else {
            (today.year(), today.month() - 1)
        };
        Period { year, month }
    }

    pub fn value(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// "October 2026".
    pub fn label(self) -> String {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .map(|d| d.format("%B %Y").to_string())
            .unwrap_or_default()
    }

    /// Its first instant and the first instant after it, in UTC.
    pub fn bounds(self) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
        let first = |y, m| {
            NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(crate::uk_time::from_local)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("no start for {y}-{m}")))
        };
        let (next_year, next_month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        Ok((first(self.year, self.month)?, first(next_year, next_month)?))
    }
}

#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
#[oai(rename = "BoardCount")]
pub struct Count {
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
#[oai(rename = "BoardReportLine")]
pub struct ReportLine {
    pub id: Uuid,
    pub system: String,
    pub organisation: String,
    pub category: String,
    pub severity: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
#[oai(rename = "BoardIdeaLine")]
pub struct IdeaLine {
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub supporters: i32,
}

#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
#[oai(rename = "BoardOutcomeLine")]
pub struct OutcomeLine {
    pub slug: String,
    pub title: String,
    pub responses: u64,
    pub decisions: Vec<Count>,
}

/// The report for one month.
#[derive(Debug, Clone, Serialize, poem_openapi::Object)]
pub struct GovernmentReport {
    pub period: String,
    pub period_label: String,
    pub ideas_submitted: u64,
    pub reports_submitted: u64,
    pub reports_by_severity: Vec<Count>,
    pub responses_submitted: u64,
    pub outcomes_published: u64,
    pub top_themes: Vec<Count>,
    pub critical_and_escalated: Vec<ReportLine>,
    pub shortlisted_and_implemented: Vec<IdeaLine>,
    pub consultation_outcomes: Vec<OutcomeLine>,
}

pub async fn build(
    conn: &impl ConnectionTrait,
    period: Period,
) -> Result<GovernmentReport, AppError> {
    let (start, end) = period.bounds()?;
    let ideas_in = ideas::Entity::find()
        .filter(ideas::Column::CreatedAt.gte(start))
        .filter(ideas::Column::CreatedAt.lt(end))
        .all(conn)
        .await?;
    let reports_in = reports::Entity::find()
        .filter(reports::Column::CreatedAt.gte(start))
        .filter(reports::Column::CreatedAt.lt(end))
        .order_by_asc(reports::Column::CreatedAt)
        .all(conn)
        .await?;
    let responses_in = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .filter(consultation_responses::Column::SubmittedAt.gte(start))
        .filter(consultation_responses::Column::SubmittedAt.lt(end))
        .all(conn)
        .await?;
    let outcomes = consultations::Entity::find()
        .filter(consultations::Column::OutcomePublishedAt.gte(start))
        .filter(consultations::Column::OutcomePublishedAt.lt(end))
        .order_by_asc(consultations::Column::OutcomePublishedAt)
        .all(conn)
        .await?;

    let theme_names: HashMap<Uuid, String> = themes::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut by_theme: BTreeMap<String, u64> = BTreeMap::new();
    let idea_ids: Vec<Uuid> = ideas_in.iter().map(|i| i.id).collect();
    for chunk in idea_ids.chunks(500) {
        for link in idea_themes::Entity::find()
            .filter(idea_themes::Column::IdeaId.is_in(chunk.to_vec()))
            .all(conn)
            .await?
        {
            if let Some(name) = theme_names.get(&link.theme_id) {
                *by_theme.entry(name.clone()).or_default() += 1;
            }
        }
    }
    let mut top_themes: Vec<Count> = by_theme
        .into_iter()
        .map(|(label, count)| Count { label, count })
        .collect();
    top_themes.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    top_themes.truncate(5);

    let reports_by_severity = Severity::ALL
        .iter()
        .rev()
        .map(|s| Count {
            label: s.label().to_owned(),
            count: reports_in
                .iter()
                .filter(|r| r.severity == s.as_str())
                .count() as u64,
        })
        .collect();

    // Escalations are status changes in the month, whenever the report came in.
    let escalated: Vec<Uuid> = status_changes::Entity::find()
        .filter(status_changes::Column::SubjectType.eq("report"))
        .filter(status_changes::Column::ToStatus.eq("escalated"))
        .filter(status_changes::Column::CreatedAt.gte(start))
        .filter(status_changes::Column::CreatedAt.lt(end))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.subject_id)
        .collect();
    let mut flagged: Vec<reports::Model> = reports_in
        .iter()
        .filter(|r| r.severity == "critical")
        .cloned()
        .collect();
    let missing: Vec<Uuid> = escalated
        .iter()
        .filter(|id| !flagged.iter().any(|r| r.id == **id))
        .copied()
        .collect();
    if !missing.is_empty() {
        flagged.extend(
            reports::Entity::find()
                .filter(reports::Column::Id.is_in(missing))
                .all(conn)
                .await?,
        );
    }
    let critical_and_escalated = lines(conn, flagged).await?;

    let moved: Vec<Uuid> = status_changes::Entity::find()
        .filter(status_changes::Column::SubjectType.eq("idea"))
        .filter(status_changes::Column::ToStatus.is_in(["shortlisted", "implemented"]))
        .filter(status_changes::Column::CreatedAt.gte(start))
        .filter(status_changes::Column::CreatedAt.lt(end))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.subject_id)
        .collect();
    let shortlisted_and_implemented = if moved.is_empty() {
        Vec::new()
    } else {
        ideas::Entity::find()
            .filter(ideas::Column::Id.is_in(moved))
            .order_by_desc(ideas::Column::SupportCount)
            .all(conn)
            .await?
            .into_iter()
            // Their status now: one shortlisted then declined in the month is not news.
            .filter(|i| {
                matches!(
                    i.status.as_str(),
                    "shortlisted" | "in_progress" | "implemented"
                )
            })
            .map(|i| IdeaLine {
                id: i.id,
                status: IdeaStatus::label_of(&i.status).to_owned(),
                supporters: i.support_count,
                title: i.title,
            })
            .collect()
    };

    let mut consultation_outcomes = Vec::new();
    for c in &outcomes {
        let responses = consultation_responses::Entity::find()
            .filter(consultation_responses::Column::ConsultationId.eq(c.id))
            .filter(consultation_responses::Column::Status.eq("submitted"))
            .all(conn)
            .await?
            .len() as u64;
        let comments = section_comments::Entity::find()
            .filter(section_comments::Column::ConsultationId.eq(c.id))
            .all(conn)
            .await?;
        let decisions = Disposition::ALL
            .iter()
            .map(|d| Count {
                label: d.label().to_owned(),
                count: comments
                    .iter()
                    .filter(|x| x.disposition.as_deref() == Some(d.as_str()))
                    .count() as u64,
            })
            .filter(|d| d.count > 0)
            .collect();
        consultation_outcomes.push(OutcomeLine {
            slug: c.slug.clone(),
            title: c.title.clone(),
            responses,
            decisions,
        });
    }

    Ok(GovernmentReport {
        period: period.value(),
        period_label: period.label(),
        ideas_submitted: ideas_in.len() as u64,
        reports_submitted: reports_in.len() as u64,
        reports_by_severity,
        responses_submitted: responses_in.len() as u64,
        outcomes_published: outcomes.len() as u64,
        top_themes,
        critical_and_escalated,
        shortlisted_and_implemented,
        consultation_outcomes,
    })
}

/// Reports as the board's summaries list them: system, organisation,
/// problem, severity and status, never who reported.
pub async fn lines(
    conn: &impl ConnectionTrait,
    found: Vec<reports::Model>,
) -> Result<Vec<ReportLine>, AppError> {
    let org_ids: Vec<Uuid> = found.iter().map(|r| r.organisation_id).collect();
    let org_names: HashMap<Uuid, String> = if org_ids.is_empty() {
        HashMap::new()
    } else {
        organisations::Entity::find()
            .filter(organisations::Column::Id.is_in(org_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect()
    };
    Ok(found
        .into_iter()
        .map(|r| ReportLine {
            id: r.id,
            organisation: org_names
                .get(&r.organisation_id)
                .cloned()
                .unwrap_or_default(),
            category: Category::label_of(&r.category).to_owned(),
            severity: Severity::label_of(&r.severity).to_owned(),
            status: ReportStatus::label_of(&r.status).to_owned(),
            system: r.system_name,
        })
        .collect())
}

/// The report as Markdown, to paste into a submission. What people wrote
/// (titles, systems, organisations) is escaped: it reads as text wherever
/// the file is rendered.
pub fn markdown(r: &GovernmentReport) -> String {
    let mut out = format!(
        "# HealthTech Advisory Board: report for {}\n\n## Headlines\n\n- Ideas submitted: {}\n- Best-practice reports: {} ({})\n- Consultation responses: {}\n- Consultation outcomes published: {}\n",
        r.period_label,
        r.ideas_submitted,
        r.reports_submitted,
        r.reports_by_severity
            .iter()
            .map(|c| format!("{} {}", c.count, c.label.to_lowercase()))
            .collect::<Vec<_>>()
            .join(", "),
        r.responses_submitted,
        r.outcomes_published,
    );
    out.push_str("\n## Top themes of new ideas\n\n");
    if r.top_themes.is_empty() {
        out.push_str("No ideas were submitted.\n");
    }
    for t in &r.top_themes {
        out.push_str(&format!(
            "- {}: {}\n",
            crate::markdown::escape(&t.label),
            t.count
        ));
    }
    out.push_str("\n## Critical and escalated reports\n\n");
    if r.critical_and_escalated.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str(
            "| System | Organisation | Problem | Severity | Status |\n|---|---|---|---|---|\n",
        );
        for l in &r.critical_and_escalated {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&l.system),
                cell(&l.organisation),
                l.category,
                l.severity,
                l.status
            ));
        }
    }
    out.push_str("\n## Ideas shortlisted and implemented\n\n");
    if r.shortlisted_and_implemented.is_empty() {
        out.push_str("None.\n");
    }
    for i in &r.shortlisted_and_implemented {
        out.push_str(&format!(
            "- {} ({}, {} supporters)\n",
            crate::markdown::escape(&i.title),
            i.status.to_lowercase(),
            i.supporters
        ));
    }
    out.push_str("\n## Consultation outcomes\n\n");
    if r.consultation_outcomes.is_empty() {
        out.push_str("None published.\n");
    }
    for c in &r.consultation_outcomes {
        let decisions: Vec<String> = c
            .decisions
            .iter()
            .map(|d| format!("{} {}", d.count, d.label.to_lowercase()))
            .collect();
        out.push_str(&format!(
            "- {}: {} responses; comments {}\n",
            crate::markdown::escape(&c.title),
            c.responses,
            if decisions.is_empty() {
                "none".to_owned()
            } else {
                decisions.join(", ")
            }
        ));
    }
    out
}

/// A table cell: pipes and line breaks would break the table, and markup
/// would be rendered by whatever shows the file.
fn cell(text: &str) -> String {
    crate::markdown::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_uk_month() {
        let p = Period::parse("2026-10").unwrap();
        assert_eq!(p.label(), "October 2026");
        let (start, end) = p.bounds().unwrap();
        // October starts in BST and ends in GMT.
        assert_eq!(start.to_rfc3339(), "2026-09-30T23:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        for bad in ["2026", "2026-13", "October", "1999-01", "2026-1x"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        let january: DateTime<Utc> = "2027-01-15T12:00:00Z".parse().unwrap();
        assert_eq!(Period::previous(january).value(), "2026-12");
    }

    #[test]
    fn table_cells_cannot_break_the_table() {
        assert_eq!(cell("EPR | v2\nbeta"), "EPR \\| v2 beta");
    }
}
