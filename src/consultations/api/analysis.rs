//! The board's analysis of a consultation's responses, the export and the
//! import, and the "you said, we did" outcome (public once published).

use std::collections::HashMap;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::consultations::analysis::{self, Redaction, ResponseFilter, ThemeTarget};
use crate::consultations::authoring;
use crate::consultations::export::{self, ExportedResponse};
use crate::consultations::import::{self, ImportReport};
use crate::consultations::outcome::{self, Outcome};
use crate::error::AppError;
use crate::organisations::api::CsvFile;

pub struct ConsultationAnalysisApi;

#[derive(Debug, Object)]
pub struct CampaignOut {
    pub number: u64,
    pub count: u64,
    /// The first response of the campaign.
    pub example: Uuid,
    pub excerpt: String,
}

#[derive(Debug, Object)]
pub struct ResponseList {
    /// Responses matching the filters.
    pub total: u64,
    pub items: Vec<ExportedResponse>,
    /// Groups of near-identical responses over the whole consultation.
    pub campaigns: Vec<CampaignOut>,
}

#[derive(Debug, Object)]
pub struct CountOut {
    pub label: String,
    pub value: String,
    pub count: u64,
    pub percent: u32,
}

#[derive(Debug, Object)]
pub struct QuestionSummaryOut {
    pub question_id: Uuid,
    pub number: i32,
    pub prompt: String,
    pub kind: String,
    pub answered: u64,
    pub counts: Vec<CountOut>,
    pub free_text: Vec<String>,
}

#[derive(Debug, Object)]
pub struct SectionCountOut {
    pub version: i32,
    pub anchor: String,
    pub title: String,
    pub comments: u64,
    pub undecided: u64,
}

#[derive(Debug, Object)]
pub struct AnalysisSummary {
    pub responses: u64,
    pub questions: Vec<QuestionSummaryOut>,
    pub sections: Vec<SectionCountOut>,
}

#[derive(Debug, Object)]
pub struct ThemesBody {
    /// Theme slugs from `GET /api/v1/themes`; the list replaces the current one.
    #[oai(default)]
    pub themes: Vec<String>,
}

#[derive(Debug, Object)]
pub struct ThemesOut {
    pub themes: Vec<String>,
}

#[derive(Debug, Object)]
pub struct DispositionBody {
    /// accepted, accepted_with_modification, deferred, not_accepted,
    /// not_related, previously_considered or noted
    #[oai(default)]
    pub disposition: String,
    /// Published in the outcome.
    #[oai(default)]
    pub rationale: String,
}

#[derive(Debug, Object)]
pub struct DispositionOut {
    pub id: Uuid,
    #[oai(nullable)]
    pub disposition: Option<String>,
    pub rationale: String,
}

#[derive(Debug, Object)]
pub struct RedactionBody {
    /// Recorded with the redaction.
    #[oai(default)]
    pub reason: String,
    /// By question id: the text to publish instead ("" publishes it as written).
    #[oai(default)]
    pub answers: HashMap<String, String>,
    /// By section comment id: the text to publish instead.
    #[oai(default)]
    pub comments: HashMap<String, String>,
}

#[derive(Debug, Object)]
pub struct OutcomeBody {
    /// The board's summary in Markdown.
    #[oai(default)]
    pub summary: String,
}

#[derive(ApiResponse)]
pub enum CsvResponse {
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        PlainText<String>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

#[derive(ApiResponse)]
pub enum MarkdownResponse {
    #[oai(status = 200, content_type = "text/markdown; charset=utf-8")]
    Markdown(
        PlainText<String>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

fn parse_ids(
    map: &HashMap<String, String>,
    field: &str,
) -> Result<HashMap<Uuid, String>, AppError> {
    map.iter()
        .map(|(k, v)| {
            Uuid::parse_str(k).map(|id| (id, v.clone())).map_err(|_| {
                AppError::Validation(vec![crate::error::FieldError::new(
                    format!("{field}.{k}"),
                    "Keys are ids",
                )])
            })
        })
        .collect()
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Consultations")]
impl ConsultationAnalysisApi {
    /// Submitted responses with answers, comments, themes and dispositions (board)
    #[oai(
        path = "/consultations/:slug/responses",
        method = "get",
        operation_id = "listConsultationResponses"
    )]
    #[expect(clippy::too_many_arguments)]
    async fn responses(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        /// nhs_staff, supplier, expert, patient_or_public or other
        respondent_type: Query<Option<String>>,
        /// Part of the organisation's name.
        organisation: Query<Option<String>>,
        /// yes or no: whether interests were declared.
        interests: Query<Option<String>>,
        /// A question id; with `answer`, only responses that gave that answer.
        question: Query<Option<String>>,
        answer: Query<Option<String>>,
        /// A campaign number.
        campaign: Query<Option<String>>,
    ) -> Result<Json<ResponseList>, ApiError> {
        let (_, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let rows = analysis::submitted(&state.db, &view).await?;
        let rows = analysis::with_campaigns(&view, rows).await?;
        let campaigns = analysis::campaigns(&view, &rows);
        let filter = ResponseFilter {
            respondent_type: respondent_type.0.unwrap_or_default(),
            organisation: organisation.0.unwrap_or_default(),
            interests: interests.0.unwrap_or_default(),
            question: question.0.unwrap_or_default(),
            answer: answer.0.unwrap_or_default(),
            campaign: campaign.0.unwrap_or_default(),
        };
        let rows = analysis::filter(rows, &view.questions, &filter);
        let items = export::responses(&state.db, &view, &rows).await?;
        Ok(Json(ResponseList {
            total: items.len() as u64,
            items,
            campaigns: campaigns
                .into_iter()
                .map(|c| CampaignOut {
                    number: c.number as u64,
                    count: c.count as u64,
                    example: c.example,
                    excerpt: c.excerpt,
                })
                .collect(),
        }))
    }

    /// Per-question summaries and per-section comment counts (board)
    #[oai(
        path = "/consultations/:slug/summary",
        method = "get",
        operation_id = "getConsultationSummary"
    )]
    async fn summary(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<Json<AnalysisSummary>, ApiError> {
        let (_, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let rows = analysis::submitted(&state.db, &view).await?;
        Ok(Json(AnalysisSummary {
            responses: rows.len() as u64,
            questions: analysis::summaries(&view.questions, &rows)
                .into_iter()
                .map(|s| QuestionSummaryOut {
                    question_id: s.question.model.id,
                    number: s.question.number(),
                    prompt: s.question.model.prompt.clone(),
                    kind: s.question.kind.as_str().to_owned(),
                    answered: s.answered as u64,
                    counts: s
                        .counts
                        .into_iter()
                        .map(|c| CountOut {
                            label: c.label,
                            value: c.value,
                            count: c.count as u64,
                            percent: c.percent,
                        })
                        .collect(),
                    free_text: s.texts.into_iter().map(|(_, t)| t).collect(),
                })
                .collect(),
            sections: analysis::by_section(&view, &rows)
                .into_iter()
                .map(|s| SectionCountOut {
                    version: s.version,
                    anchor: s.anchor,
                    title: s.title,
                    comments: s.comments.len() as u64,
                    undecided: s.undecided as u64,
                })
                .collect(),
        }))
    }

    /// Tag a response with themes (board)
    #[oai(
        path = "/consultations/:slug/responses/:id/themes",
        method = "put",
        operation_id = "setConsultationResponseThemes"
    )]
    async fn response_themes(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
        body: Json<ThemesBody>,
    ) -> Result<Json<ThemesOut>, ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let target = ThemeTarget::Response(id.0);
        let themes =
            analysis::set_themes(&state.db, &user, view.consultation.id, target, &body.themes)
                .await?;
        Ok(Json(ThemesOut {
            themes: themes.into_iter().map(|t| t.slug).collect(),
        }))
    }

    /// Tag a section comment with themes (board)
    #[oai(
        path = "/consultations/:slug/comments/:id/themes",
        method = "put",
        operation_id = "setSectionCommentThemes"
    )]
    async fn comment_themes(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
        body: Json<ThemesBody>,
    ) -> Result<Json<ThemesOut>, ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let target = ThemeTarget::Comment(id.0);
        let themes =
            analysis::set_themes(&state.db, &user, view.consultation.id, target, &body.themes)
                .await?;
        Ok(Json(ThemesOut {
            themes: themes.into_iter().map(|t| t.slug).collect(),
        }))
    }

    /// Record the disposition of a section comment (board)
    #[oai(
        path = "/consultations/:slug/comments/:id/disposition",
        method = "put",
        operation_id = "decideSectionComment"
    )]
    async fn decide(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
        body: Json<DispositionBody>,
    ) -> Result<Json<DispositionOut>, ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let saved = analysis::decide(
            &state.db,
            &user,
            &view.consultation,
            id.0,
            &body.disposition,
            &body.rationale,
        )
        .await?;
        Ok(Json(DispositionOut {
            id: saved.id,
            disposition: saved.disposition,
            rationale: saved.rationale,
        }))
    }

    /// Redact personal details from a response before publication (board)
    ///
    /// The original is kept for the board; the reason is recorded.
    #[oai(
        path = "/consultations/:slug/responses/:id/redaction",
        method = "put",
        operation_id = "redactConsultationResponse"
    )]
    async fn redact(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
        body: Json<RedactionBody>,
    ) -> Result<(), ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let redaction = Redaction {
            reason: body.reason.clone(),
            answers: parse_ids(&body.answers, "answers")?,
            comments: parse_ids(&body.comments, "comments")?,
        };
        analysis::redact(&state.db, &user, &view.consultation, id.0, &redaction).await?;
        Ok(())
    }

    /// Every submitted response as CSV, one row per answer or comment (board)
    #[oai(
        path = "/consultations/:slug/responses.csv",
        method = "get",
        operation_id = "exportConsultationResponsesCsv"
    )]
    async fn export_csv(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<CsvResponse, ApiError> {
        let (_, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let rows = analysis::submitted(&state.db, &view).await?;
        let rows = analysis::with_campaigns(&view, rows).await?;
        let body = export::csv(&export::responses(&state.db, &view, &rows).await?)?;
        Ok(CsvResponse::Csv(
            PlainText(body),
            format!(
                "attachment; filename=\"{}-responses.csv\"",
                view.consultation.slug
            ),
        ))
    }

    /// Import responses collected elsewhere from CSV (board)
    ///
    /// The columns are documented in the README. Good rows are imported; bad
    /// rows change nothing and are listed with their reasons. Importing the
    /// same file again imports nothing twice.
    #[oai(
        path = "/consultations/:slug/responses/import",
        method = "post",
        operation_id = "importConsultationResponses"
    )]
    async fn import(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        file: CsvFile,
    ) -> Result<Json<ImportReport>, ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        let text = std::str::from_utf8(&file.0).map_err(|_| {
            AppError::Validation(vec![crate::error::FieldError::new(
                "file",
                "The file must be UTF-8 text",
            )])
        })?;
        let report = import::import(&state.db, Some(&user), &view, text, |_, _| {}).await?;
        Ok(Json(report))
    }

    /// "You said, we did": public once published; a preview for the board before
    #[oai(
        path = "/consultations/:slug/outcome",
        method = "get",
        operation_id = "getConsultationOutcome"
    )]
    async fn outcome(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<Json<Outcome>, ApiError> {
        Ok(Json(
            outcome::for_caller(&state.db, &caller, &slug.0).await?.1,
        ))
    }

    /// The outcome as Markdown
    #[oai(
        path = "/consultations/:slug/outcome.md",
        method = "get",
        operation_id = "getConsultationOutcomeMarkdown"
    )]
    async fn outcome_markdown(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<MarkdownResponse, ApiError> {
        let found = outcome::for_caller(&state.db, &caller, &slug.0).await?.1;
        Ok(MarkdownResponse::Markdown(
            PlainText(outcome::markdown(&found)),
            format!("attachment; filename=\"{}-outcome.md\"", found.consultation),
        ))
    }

    /// The outcome as CSV, one row per published comment
    #[oai(
        path = "/consultations/:slug/outcome.csv",
        method = "get",
        operation_id = "getConsultationOutcomeCsv"
    )]
    async fn outcome_csv(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<CsvResponse, ApiError> {
        let found = outcome::for_caller(&state.db, &caller, &slug.0).await?.1;
        Ok(CsvResponse::Csv(
            PlainText(outcome::csv(&found)?),
            format!(
                "attachment; filename=\"{}-outcome.csv\"",
                found.consultation
            ),
        ))
    }

    /// Publish the outcome (board): every comment must have a disposition; every respondent is emailed
    #[oai(
        path = "/consultations/:slug/outcome",
        method = "post",
        operation_id = "publishConsultationOutcome"
    )]
    async fn publish_outcome(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<OutcomeBody>,
    ) -> Result<Json<Outcome>, ApiError> {
        let (user, view) = authoring::board_view(&state.db, &caller, &slug.0).await?;
        outcome::publish(&state, &user, &view.consultation, &body.summary).await?;
        Ok(Json(
            outcome::for_caller(&state.db, &caller, &slug.0).await?.1,
        ))
    }
}
