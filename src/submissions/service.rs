//! Gathers what one person has submitted.

use entity::{comments, ideas};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::caller::Caller;
use crate::error::AppError;
use crate::ideas::domain::IdeaStatus;
use crate::ideas::service::{self as idea_service, IdeaCard, IdeaFilter};
use crate::reports::service::{self as report_service, ReportView};

/// A comment with the title of the idea it is on.
pub struct MyComment {
    pub comment: comments::Model,
    pub idea_title: String,
    pub idea_status: IdeaStatus,
}

pub struct MySubmissions {
    pub ideas: Vec<IdeaCard>,
    pub reports: Vec<ReportView>,
    pub comments: Vec<MyComment>,
}

/// How many of each kind are listed: far more than anyone submits.
const LIMIT: u64 = 100;

pub async fn for_caller(
    conn: &impl ConnectionTrait,
    caller: &Caller,
) -> Result<MySubmissions, AppError> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthorized)?;
    let (ideas, _) = idea_service::list(
        conn,
        &IdeaFilter {
            author: Some(user.id),
            limit: LIMIT,
            ..IdeaFilter::default()
        },
    )
    .await?;
    let reports = report_service::mine(conn, caller).await?;
    let mine = comments::Entity::find()
        .filter(comments::Column::AuthorId.eq(user.id))
        .filter(comments::Column::SubjectType.eq(idea_service::SUBJECT))
        .filter(comments::Column::Visibility.eq("public"))
        .order_by_desc(comments::Column::Id)
        .limit(LIMIT)
        .all(conn)
        .await?;
    let idea_ids: Vec<_> = mine.iter().map(|c| c.subject_id).collect();
    let commented = if idea_ids.is_empty() {
        Vec::new()
    } else {
        ideas::Entity::find()
            .filter(ideas::Column::Id.is_in(idea_ids))
            .all(conn)
            .await?
    };
    let comments = mine
        .into_iter()
        .filter_map(|comment| {
            let idea = commented.iter().find(|i| i.id == comment.subject_id)?;
            Some(MyComment {
                idea_title: idea.title.clone(),
                idea_status: IdeaStatus::parse(&idea.status).unwrap_or(IdeaStatus::Submitted),
                comment,
            })
        })
        .collect();
    Ok(MySubmissions {
        ideas,
        reports,
        comments,
    })
}
