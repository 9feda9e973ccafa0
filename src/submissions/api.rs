//! `/api/v1/me/submissions`.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::service;
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};

pub struct SubmissionsApi;

/// One thing the caller submitted.
#[derive(Debug, Object)]
pub struct Submission {
    pub id: Uuid,
    /// idea, report or comment
    pub kind: String,
    /// The idea's title, the report's system, or the title of the idea commented on.
    pub title: String,
    /// The item's status (for a comment: the status of its idea).
    pub status: String,
    /// Where to see it: a page path.
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct MySubmissions {
    pub ideas: Vec<Submission>,
    pub reports: Vec<Submission>,
    pub comments: Vec<Submission>,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Account")]
impl SubmissionsApi {
    /// The caller's ideas, reports and comments
    #[oai(
        path = "/me/submissions",
        method = "get",
        operation_id = "mySubmissions"
    )]
    async fn mine(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<MySubmissions>, ApiError> {
        policy::require(&caller, Permission::Contribute)?;
        let mine = service::for_caller(&state.db, &caller).await?;
        Ok(Json(MySubmissions {
            ideas: mine
                .ideas
                .iter()
                .map(|c| Submission {
                    id: c.idea.id,
                    kind: "idea".into(),
                    title: c.idea.title.clone(),
                    status: c.status.as_str().into(),
                    link: format!("/ideas/{}", c.idea.id),
                    created_at: c.idea.created_at,
                    updated_at: c.idea.updated_at,
                })
                .collect(),
            reports: mine
                .reports
                .iter()
                .map(|v| Submission {
                    id: v.report.id,
                    kind: "report".into(),
                    title: v.report.system_name.clone(),
                    status: v.status.as_str().into(),
                    link: format!("/reports/{}", v.report.id),
                    created_at: v.report.created_at,
                    updated_at: v.report.updated_at,
                })
                .collect(),
            comments: mine
                .comments
                .iter()
                .map(|c| Submission {
                    id: c.comment.id,
                    kind: "comment".into(),
                    title: c.idea_title.clone(),
                    status: if c.comment.hidden_at.is_some() {
                        "hidden".into()
                    } else {
                        c.idea_status.as_str().into()
                    },
                    link: format!("/ideas/{}#comment-{}", c.comment.subject_id, c.comment.id),
                    created_at: c.comment.created_at,
                    updated_at: c.comment.updated_at,
                })
                .collect(),
        }))
    }
}
