//! Consultations as anyone may read them, the board's authoring, and a
//! respondent's own response.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::consultations::authoring::{self, ConsultationView, QuestionEdit};
use crate::consultations::domain::{ConsultationInput, QuestionInput};
use crate::consultations::responding::{self, ResponseDetail, ResponseInput};
use crate::error::AppError;
use crate::idempotency::IdempotencyKey;

pub struct ConsultationsApi;

#[derive(Debug, Object)]
pub struct ConsultationSummary {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// everyone, or any of nhs_staff, supplier, expert
    pub audience: Vec<String>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// draft, upcoming, open, closed or outcome_published
    pub phase: String,
    /// The document version respondents see now.
    pub current_version: i32,
    /// Changes with every change; send it back to refuse stale updates.
    pub version: i32,
}

impl ConsultationSummary {
    fn of(c: &entity::consultations::Model) -> Self {
        let phase = crate::consultations::domain::Phase::of(c, Utc::now());
        ConsultationSummary {
            id: c.id,
            slug: c.slug.clone(),
            title: c.title.clone(),
            summary: c.summary.clone(),
            audience: crate::consultations::domain::Audience::from_column(&c.audience)
                .values()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            opens_at: c.opens_at,
            closes_at: c.closes_at,
            phase: phase.as_str().to_owned(),
            current_version: c.current_version,
            version: c.version,
        }
    }
}

#[derive(Debug, Object)]
pub struct SectionOut {
    /// Stable while the heading's text is: link to it with `#anchor`.
    pub anchor: String,
    pub title: String,
    pub level: u8,
    pub body: String,
    pub body_html: String,
}

#[derive(Debug, Object)]
pub struct QuestionOut {
    pub id: Uuid,
    pub number: i32,
    /// free_text, single_choice, multi_choice or agreement_scale
    pub kind: String,
    pub prompt: String,
    pub help_text: String,
    pub required: bool,
    /// The choices (choice questions); the agreement scale is 1 (strongly disagree) to 5 (strongly agree).
    pub options: Vec<String>,
}

#[derive(Debug, Object)]
pub struct VersionOut {
    pub number: i32,
    pub change_summary: String,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Object)]
pub struct Consultation {
    #[oai(flatten)]
    pub summary: ConsultationSummary,
    /// The document version these sections belong to.
    pub document_version: i32,
    /// The proposed standard as Markdown.
    pub document: String,
    pub sections: Vec<SectionOut>,
    pub questions: Vec<QuestionOut>,
    pub versions: Vec<VersionOut>,
}

async fn consultation_out(
    state: &AppState,
    view: &ConsultationView,
) -> Result<Consultation, AppError> {
    let versions = authoring::versions(&state.db, view.consultation.id).await?;
    Ok(Consultation {
        summary: ConsultationSummary::of(&view.consultation),
        document_version: view.document.number,
        document: view.document.document.clone(),
        sections: view
            .sections
            .iter()
            .map(|s| SectionOut {
                anchor: s.anchor.clone(),
                title: s.title.clone(),
                level: s.level,
                body: s.body.clone(),
                body_html: crate::markdown::render(&s.body),
            })
            .collect(),
        questions: view.questions.iter().map(question_out).collect(),
        versions: versions
            .into_iter()
            .filter(|v| {
                v.published_at.is_some() || view.phase == crate::consultations::domain::Phase::Draft
            })
            .map(|v| VersionOut {
                number: v.number,
                change_summary: v.change_summary,
                published_at: v.published_at,
            })
            .collect(),
    })
}

fn question_out(q: &authoring::Question) -> QuestionOut {
    QuestionOut {
        id: q.model.id,
        number: q.number(),
        kind: q.kind.as_str().to_owned(),
        prompt: q.model.prompt.clone(),
        help_text: q.model.help_text.clone(),
        required: q.model.required,
        options: q.options.clone(),
    }
}

/// A consultation's details. Every field is checked and every problem reported at once.
#[derive(Debug, Object)]
pub struct ConsultationBody {
    /// The web address: lower-case letters, digits and hyphens. Fixed once published.
    #[oai(default)]
    pub slug: String,
    #[oai(default)]
    pub title: String,
    #[oai(default)]
    pub summary: String,
    /// everyone, or any of nhs_staff, supplier, expert
    #[oai(default)]
    pub audience: Vec<String>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    /// The proposed standard in Markdown; each heading is a section.
    #[oai(default)]
    pub document: String,
    /// For changes: the version they are based on (a stale one is refused with 409).
    pub version: Option<i32>,
}

impl ConsultationBody {
    fn input(&self) -> ConsultationInput {
        ConsultationInput {
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            audience: self.audience.clone(),
            opens_at: self.opens_at,
            closes_at: self.closes_at,
            document: self.document.clone(),
        }
    }
}

#[derive(Debug, Object)]
pub struct QuestionBody {
    /// free_text, single_choice, multi_choice or agreement_scale
    #[oai(default)]
    pub kind: String,
    #[oai(default)]
    pub prompt: String,
    #[oai(default)]
    pub help_text: String,
    #[oai(default)]
    pub required: bool,
    /// The choices, for single_choice and multi_choice (2 to 20).
    #[oai(default)]
    pub options: Vec<String>,
}

impl QuestionBody {
    fn input(&self) -> QuestionInput {
        QuestionInput {
            kind: self.kind.clone(),
            prompt: self.prompt.clone(),
            help_text: self.help_text.clone(),
            required: self.required,
            options: self.options.clone(),
        }
    }
}

#[derive(Debug, Object)]
pub struct VersionBody {
    #[oai(default)]
    pub document: String,
    #[oai(default)]
    pub change_summary: String,
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct PublishBody {
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct AnswerOut {
    pub question_id: Uuid,
    /// The text, the chosen option(s), or the agreement level ("1" to "5").
    pub values: Vec<String>,
}

#[derive(Debug, Object)]
pub struct SectionCommentOut {
    pub id: Uuid,
    pub version: i32,
    pub anchor: String,
    pub section_title: String,
    pub comment: String,
}

#[derive(Debug, Object)]
pub struct MyResponse {
    pub id: Uuid,
    /// draft or submitted
    pub status: String,
    #[oai(nullable)]
    pub submitted_at: Option<DateTime<Utc>>,
    pub capacity: String,
    #[oai(nullable)]
    pub organisation_name: Option<String>,
    /// None until the respondent says (suppliers must, before submitting).
    #[oai(nullable)]
    pub interests_declared: Option<bool>,
    pub products_affected: String,
    pub commercial_interest: String,
    pub consent: String,
    pub answers: Vec<AnswerOut>,
    pub comments: Vec<SectionCommentOut>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

fn my_response(view: &ConsultationView, d: &ResponseDetail) -> MyResponse {
    let r = &d.response;
    MyResponse {
        id: r.id,
        status: r.status.clone(),
        submitted_at: r.submitted_at,
        capacity: r.capacity.clone(),
        organisation_name: r.organisation_name.clone(),
        interests_declared: r.interests_declared,
        products_affected: r.products_affected.clone(),
        commercial_interest: r.commercial_interest.clone(),
        consent: r.consent.clone(),
        answers: view
            .questions
            .iter()
            .filter_map(|q| {
                let values = d.values(q);
                (!values.is_empty()).then_some(AnswerOut {
                    question_id: q.model.id,
                    values,
                })
            })
            .collect(),
        comments: d
            .comments
            .iter()
            .map(|c| SectionCommentOut {
                id: c.id,
                version: c.version_number,
                anchor: c.anchor.clone(),
                section_title: c.section_title.clone(),
                comment: c.body.clone(),
            })
            .collect(),
        version: r.version,
        updated_at: r.updated_at,
    }
}

/// A response's details and answers: saved as a draft (or, once submitted,
/// as a change to the submitted response, until closing).
#[derive(Debug, Object, serde::Serialize)]
pub struct ResponseBody {
    /// individual or organisation
    #[oai(default)]
    pub capacity: String,
    #[oai(default)]
    pub organisation_name: String,
    /// "yes" or "no": suppliers say whether they have interests to declare.
    #[oai(default)]
    pub interests: String,
    #[oai(default)]
    pub products_affected: String,
    #[oai(default)]
    pub commercial_interest: String,
    /// named, anonymous or private
    #[oai(default)]
    pub consent: String,
    /// By question id: the text, the option(s) or the agreement level ("1" to "5").
    #[oai(default)]
    pub answers: HashMap<String, Vec<String>>,
    /// By section anchor of the current version: the comment ("" removes it).
    #[oai(default)]
    pub comments: HashMap<String, String>,
}

#[derive(Debug, Object)]
pub struct SectionCommentBody {
    /// Markdown; "" removes the comment.
    #[oai(default)]
    pub comment: String,
}

#[derive(ApiResponse)]
pub enum CreatedConsultation {
    /// The consultation was created as a draft.
    #[oai(status = 201)]
    Created(Json<Consultation>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum ResumeLinkResponse {
    /// The link is on its way (or was sent within the last ten minutes).
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
pub enum CreatedQuestion {
    #[oai(status = 201)]
    Created(Json<QuestionOut>),
}

fn bad_question_id(raw: &str) -> AppError {
    AppError::Validation(vec![crate::error::FieldError::new(
        format!("answers.{raw}"),
        "Answers are keyed by question id",
    )])
}

impl ResponseBody {
    fn input(&self) -> Result<ResponseInput, AppError> {
        let mut answers = HashMap::new();
        for (id, values) in &self.answers {
            let id = Uuid::parse_str(id).map_err(|_| bad_question_id(id))?;
            answers.insert(id, values.clone());
        }
        Ok(ResponseInput {
            capacity: self.capacity.clone(),
            organisation_name: self.organisation_name.clone(),
            interests: self.interests.clone(),
            products_affected: self.products_affected.clone(),
            commercial_interest: self.commercial_interest.clone(),
            consent: self.consent.clone(),
            answers,
        })
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Consultations")]
impl ConsultationsApi {
    /// Consultations the caller may see, open ones first
    #[oai(
        path = "/consultations",
        method = "get",
        operation_id = "listConsultations"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<Vec<ConsultationSummary>>, ApiError> {
        let found = authoring::list(&state.db, &caller).await?;
        Ok(Json(
            found
                .iter()
                .map(|(c, _)| ConsultationSummary::of(c))
                .collect(),
        ))
    }

    /// Create a consultation as a draft (board)
    #[oai(
        path = "/consultations",
        method = "post",
        operation_id = "createConsultation"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<ConsultationBody>,
    ) -> Result<CreatedConsultation, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let details = body
            .input()
            .validate(Vec::new())
            .map_err(AppError::Validation)?;
        let created = authoring::create(&state.db, user, details).await?;
        let view = authoring::view(&state.db, created, None).await?;
        let location = format!("/api/v1/consultations/{}", view.consultation.slug);
        Ok(CreatedConsultation::Created(
            Json(consultation_out(&state, &view).await?),
            location,
        ))
    }

    /// A consultation with its document (the current version), sections and questions
    #[oai(
        path = "/consultations/:slug",
        method = "get",
        operation_id = "getConsultation"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<Json<Consultation>, ApiError> {
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        Ok(Json(consultation_out(&state, &view).await?))
    }

    /// Change a consultation's details (board)
    ///
    /// A draft can change everything. Once published, the title, summary and
    /// closing time can change; the document changes by a new version.
    #[oai(
        path = "/consultations/:slug",
        method = "put",
        operation_id = "updateConsultation"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<ConsultationBody>,
    ) -> Result<Json<Consultation>, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        let details = body
            .input()
            .validate(Vec::new())
            .map_err(AppError::Validation)?;
        let updated = authoring::update(&state.db, user, found.id, details, body.version).await?;
        let view = authoring::view(&state.db, updated, None).await?;
        Ok(Json(consultation_out(&state, &view).await?))
    }

    /// One version of the document
    #[oai(
        path = "/consultations/:slug/versions/:number",
        method = "get",
        operation_id = "getConsultationVersion"
    )]
    async fn get_version(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        number: Path<i32>,
    ) -> Result<Json<Consultation>, ApiError> {
        let found = authoring::visible(&state.db, &caller, &slug.0).await?;
        let view = authoring::view(&state.db, found, Some(number.0)).await?;
        if view.document.published_at.is_none()
            && view.phase != crate::consultations::domain::Phase::Draft
        {
            return Err(AppError::NotFound.into());
        }
        Ok(Json(consultation_out(&state, &view).await?))
    }

    /// Publish a new version of the document (board)
    ///
    /// Comments made on earlier versions stay attached to them.
    #[oai(
        path = "/consultations/:slug/versions",
        method = "post",
        operation_id = "createConsultationVersion"
    )]
    async fn new_version(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<VersionBody>,
    ) -> Result<Json<Consultation>, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        authoring::new_version(
            &state.db,
            user,
            found.id,
            &body.document,
            &body.change_summary,
            body.version,
        )
        .await?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        Ok(Json(consultation_out(&state, &view).await?))
    }

    /// Publish a draft consultation (board): it opens at its opening time
    #[oai(
        path = "/consultations/:slug/publish",
        method = "post",
        operation_id = "publishConsultation"
    )]
    async fn publish(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<PublishBody>,
    ) -> Result<Json<Consultation>, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        let published = authoring::publish(&state.db, user, found.id, body.version).await?;
        let view = authoring::view(&state.db, published, None).await?;
        Ok(Json(consultation_out(&state, &view).await?))
    }

    /// Add a question to a draft (board)
    #[oai(
        path = "/consultations/:slug/questions",
        method = "post",
        operation_id = "createConsultationQuestion"
    )]
    async fn add_question(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<QuestionBody>,
    ) -> Result<CreatedQuestion, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        let details = body.input().validate().map_err(AppError::Validation)?;
        let saved = authoring::add_question(&state.db, user, found.id, details).await?;
        let question = authoring::questions(&state.db, found.id)
            .await?
            .into_iter()
            .find(|q| q.model.id == saved.id)
            .ok_or(AppError::NotFound)?;
        Ok(CreatedQuestion::Created(Json(question_out(&question))))
    }

    /// Change a question of a draft (board)
    #[oai(
        path = "/consultations/:slug/questions/:id",
        method = "put",
        operation_id = "updateConsultationQuestion"
    )]
    async fn update_question(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
        body: Json<QuestionBody>,
    ) -> Result<Json<QuestionOut>, ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        let details = body.input().validate().map_err(AppError::Validation)?;
        authoring::edit_question(
            &state.db,
            user,
            found.id,
            id.0,
            QuestionEdit::Replace(details),
        )
        .await?;
        let question = authoring::questions(&state.db, found.id)
            .await?
            .into_iter()
            .find(|q| q.model.id == id.0)
            .ok_or(AppError::NotFound)?;
        Ok(Json(question_out(&question)))
    }

    /// Remove a question from a draft (board)
    #[oai(
        path = "/consultations/:slug/questions/:id",
        method = "delete",
        operation_id = "deleteConsultationQuestion"
    )]
    async fn delete_question(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        id: Path<Uuid>,
    ) -> Result<(), ApiError> {
        let user = policy::require(&caller, Permission::ManageConsultations)?;
        let found = authoring::find_by_slug(&state.db, &slug.0).await?;
        authoring::edit_question(&state.db, user, found.id, id.0, QuestionEdit::Remove).await?;
        Ok(())
    }

    /// The caller's own response (404 until they start one)
    #[oai(
        path = "/consultations/:slug/response",
        method = "get",
        operation_id = "getMyConsultationResponse"
    )]
    async fn my_response(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<Json<MyResponse>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        let found = responding::mine(&state.db, view.consultation.id, user.id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Json(my_response(&view, &found)))
    }

    /// Save the caller's response
    ///
    /// Saves a draft (answers need not be complete) or, once submitted,
    /// changes the submitted response until the consultation closes (it must
    /// stay complete, and a new receipt is emailed). A draft can be saved
    /// after closing, so nothing is lost, but not submitted.
    #[oai(
        path = "/consultations/:slug/response",
        method = "put",
        operation_id = "saveMyConsultationResponse"
    )]
    async fn save_response(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        body: Json<ResponseBody>,
    ) -> Result<Json<MyResponse>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        let input = body.input()?;
        let comments: Vec<(String, String)> = body
            .comments
            .iter()
            .map(|(anchor, text)| (anchor.clone(), text.clone()))
            .collect();
        let saved = responding::save(&state, user, &view, &input, &comments).await?;
        Ok(Json(my_response(&view, &saved)))
    }

    /// Comment on one section of the current version ("" removes the comment)
    #[oai(
        path = "/consultations/:slug/response/comments/:anchor",
        method = "put",
        operation_id = "saveMySectionComment"
    )]
    async fn save_comment(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        anchor: Path<String>,
        body: Json<SectionCommentBody>,
    ) -> Result<Json<MyResponse>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        let saved = responding::save_comment(&state, user, &view, &anchor.0, &body.comment).await?;
        Ok(Json(my_response(&view, &saved)))
    }

    /// Email the caller a link back to their saved response
    ///
    /// Signing in from the link, on any device, returns to the response. At
    /// most one email every ten minutes; asking again within them sends none.
    #[oai(
        path = "/consultations/:slug/response/resume-link",
        method = "post",
        operation_id = "emailMyConsultationResumeLink"
    )]
    async fn resume_link(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
    ) -> Result<ResumeLinkResponse, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        responding::email_resume_link(&state, user, &view).await?;
        Ok(ResumeLinkResponse::Accepted)
    }

    /// Submit the caller's saved response before the consultation closes
    ///
    /// A receipt with a copy of the response is emailed. A late submission is
    /// refused (`/problems/consultation-closed`) and the draft is kept. Send an
    /// `Idempotency-Key` to make retries safe.
    #[oai(
        path = "/consultations/:slug/response/submit",
        method = "post",
        operation_id = "submitMyConsultationResponse"
    )]
    async fn submit(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        slug: Path<String>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> Result<Json<MyResponse>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let view = authoring::visible_view(&state.db, &caller, &slug.0).await?;
        let key = IdempotencyKey::parse(
            idempotency_key.0.as_deref(),
            &format!("submit-response:{}", view.consultation.id),
            &(),
        )?;
        let submitted = responding::submit(&state, user, &view, key.as_ref()).await?;
        Ok(Json(my_response(&view, &submitted)))
    }
}
