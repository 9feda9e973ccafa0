//! The dashboard page and the report-back page with its downloads.

use askama::Template;
use chrono::Utc;
use poem::web::{Data, Html, Query};
use poem::{Response, handler};
use serde::Deserialize;

use super::dashboard::{self, Dashboard};
use super::report::{self, GovernmentReport, Period};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::web::chart::{self, Bar};
use crate::web::forms::Errors;
use crate::web::page::{PageContext, download, render, render_with_status};

/// A chart with its caption, drawn from counts.
pub struct ChartView {
    pub title: &'static str,
    pub svg: String,
    pub rows: Vec<(String, u64)>,
}

fn chart_of(title: &'static str, counts: &[report::Count]) -> ChartView {
    let rows: Vec<(String, u64)> = counts.iter().map(|c| (c.label.clone(), c.count)).collect();
    ChartView {
        title,
        svg: chart::bars(
            title,
            &rows
                .iter()
                .map(|(label, value)| Bar {
                    label: label.clone(),
                    value: *value,
                })
                .collect::<Vec<_>>(),
        ),
        rows,
    }
}

#[derive(Template)]
#[template(path = "triage/dashboard.html")]
struct DashboardPage {
    page: PageContext,
    dashboard: Dashboard,
    weekly_svg: String,
    charts: Vec<ChartView>,
}

#[handler]
pub async fn dashboard_page(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    let user = policy::require(&caller, Permission::Triage)?;
    let dashboard = dashboard::build(&state.db, Utc::now(), user.id).await?;
    let weekly_svg = chart::bars(
        "Submissions per week",
        &dashboard
            .weeks
            .iter()
            .map(|w| Bar {
                label: w.label.clone(),
                value: w.total(),
            })
            .collect::<Vec<_>>(),
    );
    let charts = vec![
        chart_of("Reports by kind of problem", &dashboard.reports_by_category),
        chart_of("Reports by severity", &dashboard.reports_by_severity),
        chart_of("Ideas by theme", &dashboard.ideas_by_theme),
        chart_of("Ideas by status", &dashboard.ideas_by_status),
        chart_of(
            "Consultation responses by respondent type",
            &dashboard.responses_by_type,
        ),
    ];
    render(&DashboardPage {
        page: PageContext::new(&caller, &state.key),
        dashboard,
        weekly_svg,
        charts,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PeriodParams {
    period: String,
}

fn period_of(params: &PeriodParams) -> Result<Period, AppError> {
    if params.period.trim().is_empty() {
        Ok(Period::previous(Utc::now()))
    } else {
        Period::parse(&params.period)
    }
}

#[derive(Template)]
#[template(path = "triage/report.html")]
struct ReportPage {
    page: PageContext,
    period: String,
    report: Option<GovernmentReport>,
    errors: Errors,
}

#[handler]
pub async fn report_page(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<PeriodParams>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    match period_of(&params) {
        Ok(period) => {
            let built = report::build(&state.db, period).await?;
            render_with_status(
                &ReportPage {
                    page: PageContext::new(&caller, &state.key),
                    period: period.value(),
                    report: Some(built),
                    errors: Errors::default(),
                },
                poem::http::StatusCode::OK,
            )
        }
        Err(AppError::Validation(errors)) => render_with_status(
            &ReportPage {
                page: PageContext::new(&caller, &state.key),
                period: params.period.chars().take(20).collect(),
                report: None,
                errors: errors.into(),
            },
            poem::http::StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "triage/report_document.html")]
struct ReportDocument<'a> {
    report: &'a GovernmentReport,
}

/// The report as a standalone HTML document, for people to file or send on.
pub fn html_document(report: &GovernmentReport) -> Result<String, AppError> {
    ReportDocument { report }
        .render()
        .map_err(AppError::internal)
}

#[handler]
pub async fn report_markdown(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<PeriodParams>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let period = period_of(&params)?;
    let built = report::build(&state.db, period).await?;
    Ok(download(
        report::markdown(&built),
        "text/markdown; charset=utf-8",
        &format!("board-report-{}.md", period.value()),
    ))
}

#[handler]
pub async fn report_html(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<PeriodParams>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let period = period_of(&params)?;
    let built = report::build(&state.db, period).await?;
    Ok(download(
        html_document(&built)?,
        "text/html; charset=utf-8",
        &format!("board-report-{}.html", period.value()),
    ))
}

#[derive(Template)]
#[template(path = "triage/audit.html")]
struct AuditPage {
    page: PageContext,
    subject_type: String,
    subject_id: uuid::Uuid,
    label: &'static str,
    entries: Vec<super::audit::Entry>,
}

impl AuditPage {
    fn when(&self, at: &chrono::DateTime<Utc>) -> String {
        crate::uk_time::display(*at)
    }
}

#[handler]
pub async fn audit_page(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    poem::web::Path((subject_type, subject_id)): poem::web::Path<(String, uuid::Uuid)>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let label = super::audit::subject_label(&subject_type).ok_or(AppError::NotFound)?;
    let entries = super::audit::timeline(&state.db, &subject_type, subject_id).await?;
    render(&AuditPage {
        page: PageContext::new(&caller, &state.key),
        subject_type,
        subject_id,
        label,
        entries,
    })
}

#[handler]
pub async fn audit_csv(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    poem::web::Path((subject_type, subject_id)): poem::web::Path<(String, uuid::Uuid)>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    super::audit::subject_label(&subject_type).ok_or(AppError::NotFound)?;
    let entries = super::audit::timeline(&state.db, &subject_type, subject_id).await?;
    Ok(download(
        super::audit::csv(&entries)?,
        "text/csv; charset=utf-8",
        &format!("audit-{subject_type}-{subject_id}.csv"),
    ))
}
