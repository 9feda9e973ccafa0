//! `/api/v1/ideas`, `/api/v1/comments` and `/api/v1/themes`.

use chrono::{DateTime, Utc};
use entity::themes;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::domain::{IdeaInput, IdeaSort, IdeaStatus};
use super::service::{self, CommentView, IdeaCard, IdeaDetail, IdeaFilter, StatusChange};
use super::themes as theme_service;
use crate::api::problem::ApiError;
use crate::api::{ApiTags, optional_choice};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::people::Person;
use crate::auth::policy::{self, Permission};
use crate::error::{AppError, FieldError};
use crate::idempotency::{Created, IdempotencyKey};
use crate::pagination::{self, Cursor, PageSize};

pub struct IdeasApi;

/// A person as shown beside what they wrote: never their email address.
#[derive(Debug, Object)]
pub struct PersonOut {
    pub name: String,
    #[oai(nullable)]
    pub respondent_type: Option<String>,
    #[oai(nullable)]
    pub organisation: Option<String>,
}

impl From<&Person> for PersonOut {
    fn from(p: &Person) -> Self {
        PersonOut {
            name: p.name.clone(),
            respondent_type: p.respondent_type.map(str::to_owned),
            organisation: p.organisation.clone(),
        }
    }
}

#[derive(Debug, Object)]
pub struct Theme {
    pub id: Uuid,
    /// Stable: used in filters (`theme=`) and when submitting.
    pub slug: String,
    pub name: String,
    /// Retired themes stay on old ideas but cannot be chosen for new ones.
    pub active: bool,
}

impl From<&themes::Model> for Theme {
    fn from(t: &themes::Model) -> Self {
        Theme {
            id: t.id,
            slug: t.slug.clone(),
            name: t.name.clone(),
            active: t.active,
        }
    }
}

/// An idea as listed.
#[derive(Debug, Object)]
pub struct IdeaSummary {
    pub id: Uuid,
    pub title: String,
    /// submitted, under_review, shortlisted, in_progress, implemented, declined or duplicate
    pub status: String,
    pub themes: Vec<Theme>,
    /// patients, staff, system
    pub beneficiaries: Vec<String>,
    pub support_count: i32,
    pub comment_count: i32,
    #[oai(nullable)]
    pub author: Option<PersonOut>,
    /// Changes with every status change; send it back to refuse stale updates.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&IdeaCard> for IdeaSummary {
    fn from(c: &IdeaCard) -> Self {
        IdeaSummary {
            id: c.idea.id,
            title: c.idea.title.clone(),
            status: c.status.as_str().to_owned(),
            themes: c.themes.iter().map(Theme::from).collect(),
            beneficiaries: c
                .beneficiaries
                .iter()
                .map(|b| b.as_str().to_owned())
                .collect(),
            support_count: c.idea.support_count,
            comment_count: c.idea.comment_count,
            author: c.author.as_ref().map(PersonOut::from),
            version: c.idea.version,
            created_at: c.idea.created_at,
            updated_at: c.idea.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct StatusHistoryEntry {
    #[oai(nullable)]
    pub from_status: Option<String>,
    pub status: String,
    /// The board's public note on the change.
    pub note: String,
    pub at: DateTime<Utc>,
}

/// An idea with its description and public status history.
#[derive(Debug, Object)]
pub struct Idea {
    #[oai(flatten)]
    pub summary: IdeaSummary,
    /// Markdown as written.
    pub description: String,
    /// The Markdown rendered and sanitized.
    pub description_html: String,
    pub expected_impact: String,
    /// For duplicates: the original idea.
    #[oai(nullable)]
    pub duplicate_of: Option<Uuid>,
    pub history: Vec<StatusHistoryEntry>,
}

impl From<&IdeaDetail> for Idea {
    fn from(d: &IdeaDetail) -> Self {
        Idea {
            summary: IdeaSummary::from(&d.card),
            description: d.card.idea.description.clone(),
            description_html: crate::markdown::render(&d.card.idea.description),
            expected_impact: d.card.idea.expected_impact.clone(),
            duplicate_of: d.card.idea.duplicate_of,
            history: d
                .history
                .iter()
                .map(|h| StatusHistoryEntry {
                    from_status: h.from.clone(),
                    status: h.to.clone(),
                    note: h.note.clone(),
                    at: h.at,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct IdeaPage {
    pub items: Vec<IdeaSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A new idea. Every field is checked and every problem reported at once.
#[derive(Debug, Object, serde::Serialize)]
pub struct NewIdeaBody {
    /// Up to 150 characters.
    #[oai(default)]
    pub title: String,
    /// Markdown, up to 20,000 characters.
    #[oai(default)]
    pub description: String,
    /// One or more theme slugs from `GET /api/v1/themes`.
    #[oai(default)]
    pub themes: Vec<String>,
    /// One or more of patients, staff, system.
    #[oai(default)]
    pub beneficiaries: Vec<String>,
    /// Up to 2,000 characters.
    #[oai(default)]
    pub expected_impact: String,
}

#[derive(Debug, Object)]
pub struct SimilarIdea {
    #[oai(flatten)]
    pub idea: IdeaSummary,
    /// How alike: 1 for the closest match, the others relative to it.
    pub score: f64,
}

#[derive(Debug, Object)]
pub struct StatusChangeBody {
    /// The new status; it must follow from the current one.
    #[oai(default)]
    pub status: String,
    /// A public note explaining the change; emailed to the author and to
    /// supporters who asked to hear.
    #[oai(default)]
    pub note: String,
    /// For `duplicate`: the original idea's id or link.
    pub duplicate_of: Option<String>,
    /// The version the change is based on; a stale version is refused with 409.
    pub version: Option<i32>,
}

#[derive(Debug, Object, Default)]
pub struct SupportBody {
    /// Email me when the idea's status changes.
    #[oai(default)]
    pub notify: bool,
}

#[derive(Debug, Object)]
pub struct SupportState {
    pub supported: bool,
    pub notify: bool,
    pub support_count: i32,
}

#[derive(Debug, Object)]
pub struct Comment {
    pub id: Uuid,
    pub idea_id: Uuid,
    #[oai(nullable)]
    pub author: Option<PersonOut>,
    /// Markdown as written; null when hidden (except for board members).
    #[oai(nullable)]
    pub body: Option<String>,
    #[oai(nullable)]
    pub body_html: Option<String>,
    pub hidden: bool,
    /// Why the board hid it.
    #[oai(nullable)]
    pub hidden_reason: Option<String>,
    #[oai(nullable)]
    pub edited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Whether the caller may still edit it.
    pub editable: bool,
}

impl From<&CommentView> for Comment {
    fn from(v: &CommentView) -> Self {
        Comment {
            id: v.comment.id,
            idea_id: v.comment.subject_id,
            author: v.author.as_ref().map(PersonOut::from),
            body: v.body_html.as_ref().map(|_| v.comment.body.clone()),
            body_html: v.body_html.clone(),
            hidden: v.comment.hidden_at.is_some(),
            hidden_reason: v.comment.hidden_reason.clone(),
            edited_at: v.comment.edited_at,
            created_at: v.comment.created_at,
            editable: v.can_edit,
        }
    }
}

#[derive(Debug, Object, serde::Serialize)]
pub struct CommentBody {
    /// Markdown, up to 10,000 characters.
    #[oai(default)]
    pub body: String,
}

#[derive(Debug, Object)]
pub struct HideBody {
    /// Recorded and shown in place of the comment.
    #[oai(default)]
    pub reason: String,
}

#[derive(Debug, Object)]
pub struct ThemeBody {
    #[oai(default)]
    pub name: String,
}

#[derive(Debug, Object)]
pub struct ThemeUpdateBody {
    pub name: Option<String>,
    /// false retires the theme; true restores it.
    pub active: Option<bool>,
}

#[derive(ApiResponse)]
pub enum CreateIdeaResponse {
    /// The idea was submitted (or, for a retried `Idempotency-Key`, had been).
    #[oai(status = 201)]
    Created(Json<Idea>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum CreateCommentResponse {
    /// The comment was posted (or, for a retried `Idempotency-Key`, had been).
    #[oai(status = 201)]
    Created(Json<Comment>),
}

#[derive(ApiResponse)]
pub enum CreateThemeResponse {
    #[oai(status = 201)]
    Created(Json<Theme>),
}

async fn comment_out(
    state: &AppState,
    caller: &Caller,
    idea_id: Uuid,
    id: Uuid,
) -> Result<Comment, AppError> {
    service::comments_for(&state.db, caller, idea_id)
        .await?
        .iter()
        .find(|c| c.comment.id == id)
        .map(Comment::from)
        .ok_or(AppError::NotFound)
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Ideas")]
impl IdeasApi {
    /// Themes ideas are filed under
    #[oai(path = "/themes", method = "get", operation_id = "listThemes")]
    async fn list_themes(&self, state: Data<&AppState>) -> Result<Json<Vec<Theme>>, ApiError> {
        let list = theme_service::list(&state.db, false).await?;
        Ok(Json(list.iter().map(Theme::from).collect()))
    }

    /// Add a theme (board)
    #[oai(path = "/themes", method = "post", operation_id = "createTheme")]
    async fn create_theme(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<ThemeBody>,
    ) -> Result<CreateThemeResponse, ApiError> {
        let user = policy::require(&caller, Permission::ManageThemes)?;
        let theme = theme_service::create(&state.db, user.id, &body.name).await?;
        Ok(CreateThemeResponse::Created(Json(Theme::from(&theme))))
    }

    /// Rename, retire or restore a theme (board)
    #[oai(path = "/themes/:id", method = "patch", operation_id = "updateTheme")]
    async fn update_theme(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<ThemeUpdateBody>,
    ) -> Result<Json<Theme>, ApiError> {
        let user = policy::require(&caller, Permission::ManageThemes)?;
        let theme =
            theme_service::update(&state.db, user.id, id.0, body.name.as_deref(), body.active)
                .await?;
        Ok(Json(Theme::from(&theme)))
    }

    /// List ideas
    #[oai(path = "/ideas", method = "get", operation_id = "listIdeas")]
    async fn list_ideas(
        &self,
        state: Data<&AppState>,
        /// A theme slug
        theme: Query<Option<String>>,
        /// submitted, under_review, shortlisted, in_progress, implemented, declined or duplicate
        status: Query<Option<String>>,
        /// newest (default), most_supported or recently_updated
        sort: Query<Option<String>>,
        cursor: Query<Option<String>>,
        /// 1 to 100, default 20
        limit: Query<Option<PageSize>>,
    ) -> Result<Json<IdeaPage>, ApiError> {
        let filter = IdeaFilter {
            theme: theme.0.filter(|t| !t.is_empty()),
            status: optional_choice(
                status.0.as_deref(),
                "status",
                IdeaStatus::parse,
                "Unknown status",
            )?,
            author: None,
            sort: optional_choice(
                sort.0.as_deref(),
                "sort",
                IdeaSort::parse,
                "sort must be newest, most_supported or recently_updated",
            )?,
            cursor: Cursor::parse_optional(cursor.0.as_deref())?,
            limit: pagination::page_size(limit.0)?,
        };
        let (items, next) = service::list(&state.db, &filter).await?;
        Ok(Json(IdeaPage {
            items: items.iter().map(IdeaSummary::from).collect(),
            next_cursor: next.map(|c| c.encode()),
        }))
    }

    /// Submit an idea
    ///
    /// Send an `Idempotency-Key` header to make retries safe: a retried
    /// request returns the idea the first one created.
    #[oai(path = "/ideas", method = "post", operation_id = "createIdea")]
    async fn create_idea(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<NewIdeaBody>,
    ) -> Result<CreateIdeaResponse, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let key = IdempotencyKey::parse(idempotency_key.0.as_deref(), "create-idea", &body.0)?;
        let input = IdeaInput {
            title: body.0.title,
            description: body.0.description,
            themes: body.0.themes,
            beneficiaries: body.0.beneficiaries,
            expected_impact: body.0.expected_impact,
        };
        let themes = theme_service::list(&state.db, true).await?;
        let new = input.validate(&themes).map_err(AppError::Validation)?;
        let created = service::create(
            &state.db,
            user,
            new,
            &themes,
            key.as_ref(),
            state.settings.submissions_per_hour,
        )
        .await?;
        let detail = match created {
            Created::New(detail) => detail,
            Created::Replayed(id) => service::find(&state.db, id).await?,
        };
        Ok(CreateIdeaResponse::Created(
            Json(Idea::from(&detail)),
            format!("/api/v1/ideas/{}", detail.card.idea.id),
        ))
    }

    /// Ideas like a draft
    ///
    /// Possible duplicates of an idea being written, most alike first,
    /// ranked by the distinctive words they share.
    #[oai(path = "/ideas/similar", method = "get", operation_id = "similarIdeas")]
    async fn similar_ideas(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        #[oai(default)] title: Query<String>,
        #[oai(default)] description: Query<String>,
    ) -> Result<Json<Vec<SimilarIdea>>, ApiError> {
        if title.0.len() > 2_000 || description.0.len() > 20_000 {
            return Err(AppError::Validation(vec![FieldError::new(
                "title",
                "title and description are too long to compare",
            )])
            .into());
        }
        let found = service::similar(&state, &caller, &title.0, &description.0, 5).await?;
        Ok(Json(
            found
                .iter()
                .map(|(card, score)| SimilarIdea {
                    idea: IdeaSummary::from(card),
                    score: *score,
                })
                .collect(),
        ))
    }

    /// One idea
    #[oai(path = "/ideas/:id", method = "get", operation_id = "getIdea")]
    async fn get_idea(
        &self,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> Result<Json<Idea>, ApiError> {
        let detail = service::find(&state.db, id.0).await?;
        Ok(Json(Idea::from(&detail)))
    }

    /// Change an idea's status (board)
    #[oai(
        path = "/ideas/:id/status",
        method = "post",
        operation_id = "changeIdeaStatus"
    )]
    async fn change_status(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<StatusChangeBody>,
    ) -> Result<Json<Idea>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let change = StatusChange {
            status: body.0.status,
            note: body.0.note,
            duplicate_of: body.0.duplicate_of,
            version: body.0.version,
        };
        service::change_status(&state, user, id.0, &change).await?;
        let detail = service::find(&state.db, id.0).await?;
        Ok(Json(Idea::from(&detail)))
    }

    /// Support an idea
    ///
    /// Once per person: supporting again only changes `notify`.
    #[oai(
        path = "/ideas/:id/support",
        method = "put",
        operation_id = "supportIdea"
    )]
    async fn support(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<SupportBody>,
    ) -> Result<Json<SupportState>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let count = service::support(&state.db, user, id.0, body.notify).await?;
        Ok(Json(SupportState {
            supported: true,
            notify: body.notify,
            support_count: count,
        }))
    }

    /// Withdraw support
    #[oai(
        path = "/ideas/:id/support",
        method = "delete",
        operation_id = "withdrawSupport"
    )]
    async fn withdraw(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<Json<SupportState>, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let count = service::withdraw_support(&state.db, user, id.0).await?;
        Ok(Json(SupportState {
            supported: false,
            notify: false,
            support_count: count,
        }))
    }

    /// Comments on an idea, oldest first
    #[oai(
        path = "/ideas/:id/comments",
        method = "get",
        operation_id = "listComments"
    )]
    async fn list_comments(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<Comment>>, ApiError> {
        service::find(&state.db, id.0).await?;
        let list = service::comments_for(&state.db, &caller, id.0).await?;
        Ok(Json(list.iter().map(Comment::from).collect()))
    }

    /// Comment on an idea
    #[oai(
        path = "/ideas/:id/comments",
        method = "post",
        operation_id = "createComment"
    )]
    async fn create_comment(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<CommentBody>,
    ) -> Result<CreateCommentResponse, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let key = IdempotencyKey::parse(
            idempotency_key.0.as_deref(),
            &format!("comment-on-idea:{}", id.0),
            &body.0,
        )?;
        let created: Created =
            service::add_comment(&state.db, user, id.0, &body.body, key.as_ref()).await?;
        let comment = service::find_comment(&state.db, created.id()).await?;
        Ok(CreateCommentResponse::Created(Json(
            comment_out(&state, &caller, comment.subject_id, comment.id).await?,
        )))
    }

    /// Edit your comment (for 15 minutes after posting)
    #[oai(path = "/comments/:id", method = "patch", operation_id = "editComment")]
    async fn edit_comment(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<CommentBody>,
    ) -> Result<Json<Comment>, ApiError> {
        policy::require(&caller, Permission::Contribute)?;
        let comment = service::edit_comment(&state.db, &caller, id.0, &body.body).await?;
        Ok(Json(
            comment_out(&state, &caller, comment.subject_id, comment.id).await?,
        ))
    }

    /// Hide a comment, with a reason (board)
    #[oai(
        path = "/comments/:id/hide",
        method = "post",
        operation_id = "hideComment"
    )]
    async fn hide_comment(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<HideBody>,
    ) -> Result<Json<Comment>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let comment = service::hide_comment(&state.db, user, id.0, &body.reason).await?;
        Ok(Json(
            comment_out(&state, &caller, comment.subject_id, comment.id).await?,
        ))
    }
}
