//! One inbox across ideas, reports and submitted consultation responses,
//! with filters and counts, and assignment that never overwrites a change
//! it did not see (every item carries a version; a stale one is refused).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    consultation_responses, consultations, idea_themes, ideas, item_tags, item_themes,
    organisations, reports, tags, themes, users,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::auth::domain::Role;
use crate::auth::policy;
use crate::error::{AppError, FieldError};
use crate::ideas::domain::{IdeaStatus, labelled_enum};
use crate::reports::domain::{Category, ReportStatus, Severity};

labelled_enum!(
    /// The kinds of item the inbox holds.
    InboxKind {
        Idea => ("idea", "Ideas"),
        Report => ("report", "Reports"),
        Response => ("consultation_response", "Consultation responses"),
    }
);

labelled_enum!(
    /// How the inbox is ordered.
    InboxSort {
        Oldest => ("oldest", "Oldest first"),
        Newest => ("newest", "Newest first"),
    }
);

/// Whose items to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Anyone,
    Unassigned,
    Person(Uuid),
}

#[derive(Debug, Clone)]
pub struct InboxFilter {
    /// Empty: every kind.
    pub kinds: Vec<InboxKind>,
    pub status: Option<String>,
    pub assignee: Assignee,
    pub theme: Option<String>,
    /// A board tag's slug (any kind).
    pub tag: Option<String>,
    /// Only items still awaiting a decision (not implemented, declined,
    /// resolved, closed...).
    pub awaiting: bool,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub organisation: Option<String>,
    pub consultation: Option<String>,
    pub older_than_days: Option<i64>,
    pub sort: InboxSort,
    pub offset: u64,
    pub limit: u64,
}

pub const MAX_LIMIT: u64 = 100;
pub const MAX_OFFSET: u64 = 10_000;

impl InboxKind {
    /// One of them: "Idea", "Report", "Consultation response".
    pub fn singular(self) -> &'static str {
        match self {
            InboxKind::Idea => "Idea",
            InboxKind::Report => "Report",
            InboxKind::Response => "Consultation response",
        }
    }
}

/// An item as the inbox lists it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub kind: InboxKind,
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub status_label: String,
    /// Severity and problem, themes, or the consultation.
    pub detail: String,
    pub assignee_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    pub link: String,
    pub tags: Vec<super::tags::Tag>,
}

#[derive(Debug, Clone)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Matching items of each kind.
    pub counts: Vec<(InboxKind, u64)>,
    pub total: u64,
}

impl InboxFilter {
    fn wants(&self, kind: InboxKind) -> bool {
        let applies = match kind {
            InboxKind::Idea => {
                self.category.is_none()
                    && self.severity.is_none()
                    && self.organisation.is_none()
                    && self.consultation.is_none()
            }
            InboxKind::Report => self.theme.is_none() && self.consultation.is_none(),
            InboxKind::Response => {
                self.category.is_none()
                    && self.severity.is_none()
                    && self.status.as_deref().is_none_or(|s| s == "submitted")
            }
        };
        applies && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }

    fn before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.older_than_days.map(|d| now - Duration::days(d))
    }
}

fn assignee_condition<C: ColumnTrait>(column: C, assignee: Assignee) -> Condition {
    match assignee {
        Assignee::Anyone => Condition::all(),
        Assignee::Unassigned => Condition::all().add(column.is_null()),
        Assignee::Person(id) => Condition::all().add(column.eq(id)),
    }
}

/// The ids of items of `kind` carrying the tag `slug`.
fn tagged(kind: InboxKind, slug: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(item_tags::Column::SubjectId)
        .from(item_tags::Entity)
        .inner_join(
            tags::Entity,
            Expr::col((tags::Entity, tags::Column::Id))
                .equals((item_tags::Entity, item_tags::Column::TagId)),
        )
        .and_where(Expr::col((item_tags::Entity, item_tags::Column::SubjectType)).eq(kind.as_str()))
        .and_where(Expr::col((tags::Entity, tags::Column::Slug)).eq(slug))
        .to_owned()
}

fn ideas_query(f: &InboxFilter, now: DateTime<Utc>) -> sea_orm::Select<ideas::Entity> {
    let mut q =
        ideas::Entity::find().filter(assignee_condition(ideas::Column::AssigneeId, f.assignee));
    if let Some(slug) = &f.tag {
        q = q.filter(ideas::Column::Id.in_subquery(tagged(InboxKind::Idea, slug)));
    }
    if f.awaiting {
        q = q.filter(
            ideas::Column::Status.is_not_in(IdeaStatus::DECIDED.iter().map(|s| s.as_str())),
        );
    }
    if let Some(status) = &f.status {
        q = q.filter(ideas::Column::Status.eq(status.as_str()));
    }
    if let Some(slug) = &f.theme {
        q = q.filter(
            ideas::Column::Id.in_subquery(
                Query::select()
                    .column(idea_themes::Column::IdeaId)
                    .from(idea_themes::Entity)
                    .inner_join(
                        themes::Entity,
                        Expr::col((themes::Entity, themes::Column::Id))
                            .equals((idea_themes::Entity, idea_themes::Column::ThemeId)),
                    )
                    .and_where(Expr::col((themes::Entity, themes::Column::Slug)).eq(slug.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(before) = f.before(now) {
        q = q.filter(ideas::Column::CreatedAt.lt(before));
    }
    q
}

fn reports_query(f: &InboxFilter, now: DateTime<Utc>) -> sea_orm::Select<reports::Entity> {
    let mut q =
        reports::Entity::find().filter(assignee_condition(reports::Column::AssigneeId, f.assignee));
    if let Some(slug) = &f.tag {
        q = q.filter(reports::Column::Id.in_subquery(tagged(InboxKind::Report, slug)));
    }
    if f.awaiting {
        q = q.filter(
            reports::Column::Status.is_not_in(ReportStatus::DECIDED.iter().map(|s| s.as_str())),
        );
    }
    if let Some(status) = &f.status {
        q = q.filter(reports::Column::Status.eq(status.as_str()));
    }
    if let Some(category) = &f.category {
        q = q.filter(reports::Column::Category.eq(category.as_str()));
    }
    if let Some(severity) = &f.severity {
        q = q.filter(reports::Column::Severity.eq(severity.as_str()));
    }
    if let Some(name) = &f.organisation {
        q = q.filter(
            reports::Column::OrganisationId.in_subquery(
                Query::select()
                    .column(organisations::Column::Id)
                    .from(organisations::Entity)
                    .and_where(crate::db::contains_ignoring_case(
                        organisations::Column::Name,
                        name,
                    ))
                    .to_owned(),
            ),
        );
    }
    if let Some(before) = f.before(now) {
        q = q.filter(reports::Column::CreatedAt.lt(before));
    }
    q
}

fn responses_query(
    f: &InboxFilter,
    now: DateTime<Utc>,
) -> sea_orm::Select<consultation_responses::Entity> {
    let mut q = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .filter(assignee_condition(
            consultation_responses::Column::AssigneeId,
            f.assignee,
        ));
    if let Some(slug) = &f.tag {
        q = q.filter(
            consultation_responses::Column::Id.in_subquery(tagged(InboxKind::Response, slug)),
        );
    }
    if let Some(slug) = &f.theme {
        q = q.filter(
            consultation_responses::Column::Id.in_subquery(
                Query::select()
                    .column(item_themes::Column::SubjectId)
                    .from(item_themes::Entity)
                    .inner_join(
                        themes::Entity,
                        Expr::col((themes::Entity, themes::Column::Id))
                            .equals((item_themes::Entity, item_themes::Column::ThemeId)),
                    )
                    .and_where(
                        Expr::col((item_themes::Entity, item_themes::Column::SubjectType))
                            .eq(crate::consultations::responding::SUBJECT),
                    )
                    .and_where(Expr::col((themes::Entity, themes::Column::Slug)).eq(slug.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(slug) = &f.consultation {
        q = q.filter(
            consultation_responses::Column::ConsultationId.in_subquery(
                Query::select()
                    .column(consultations::Column::Id)
                    .from(consultations::Entity)
                    .and_where(Expr::col(consultations::Column::Slug).eq(slug.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(name) = &f.organisation {
        q = q.filter(crate::db::contains_ignoring_case(
            (
                consultation_responses::Entity,
                consultation_responses::Column::OrganisationName,
            ),
            name,
        ));
    }
    if let Some(before) = f.before(now) {
        q = q.filter(consultation_responses::Column::SubmittedAt.lt(before));
    }
    q
}

async fn names(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, AppError> {
    Ok(crate::auth::people::load(conn, ids)
        .await?
        .into_iter()
        .map(|(id, p)| (id, p.name))
        .collect())
}

/// The items assigned to `person` still awaiting a decision, oldest first:
/// what the dashboard and the digest show as needing them.
pub async fn awaiting(
    conn: &impl ConnectionTrait,
    person: Uuid,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<InboxPage, AppError> {
    let filter = InboxFilter {
        kinds: Vec::new(),
        status: None,
        assignee: Assignee::Person(person),
        theme: None,
        tag: None,
        awaiting: true,
        category: None,
        severity: None,
        organisation: None,
        consultation: None,
        older_than_days: None,
        sort: InboxSort::Oldest,
        offset: 0,
        limit,
    };
    inbox(conn, &filter, now).await
}

/// One page of the inbox, with counts of matching items of each kind.
pub async fn inbox(
    conn: &impl ConnectionTrait,
    filter: &InboxFilter,
    now: DateTime<Utc>,
) -> Result<InboxPage, AppError> {
    let wanted = (filter.offset + filter.limit) as usize;
    let newest = filter.sort == InboxSort::Newest;
    let mut items: Vec<InboxItem> = Vec::new();
    let mut counts = Vec::new();
    if filter.wants(InboxKind::Idea) {
        counts.push((InboxKind::Idea, ideas_query(filter, now).count(conn).await?));
        let q = ideas_query(filter, now);
        let q = if newest {
            q.order_by_desc(ideas::Column::CreatedAt)
        } else {
            q.order_by_asc(ideas::Column::CreatedAt)
        };
        for i in q.limit(wanted as u64).all(conn).await? {
            items.push(InboxItem {
                kind: InboxKind::Idea,
                id: i.id,
                status_label: IdeaStatus::label_of(&i.status).to_owned(),
                status: i.status,
                detail: format!("{} supporters", i.support_count),
                assignee_id: i.assignee_id,
                assignee: None,
                tags: Vec::new(),
                created_at: i.created_at,
                version: i.version,
                link: format!("/ideas/{}", i.id),
                title: i.title,
            });
        }
    }
    if filter.wants(InboxKind::Report) {
        counts.push((
            InboxKind::Report,
            reports_query(filter, now).count(conn).await?,
        ));
        let q = reports_query(filter, now);
        let q = if newest {
            q.order_by_desc(reports::Column::CreatedAt)
        } else {
            q.order_by_asc(reports::Column::CreatedAt)
        };
        for r in q.limit(wanted as u64).all(conn).await? {
            items.push(InboxItem {
                kind: InboxKind::Report,
                id: r.id,
                status_label: ReportStatus::label_of(&r.status).to_owned(),
                status: r.status,
                detail: format!(
                    "{} · {}",
                    Severity::label_of(&r.severity),
                    Category::label_of(&r.category)
                ),
                assignee_id: r.assignee_id,
                assignee: None,
                tags: Vec::new(),
                created_at: r.created_at,
                version: r.version,
                link: format!("/reports/{}", r.id),
                title: r.system_name,
            });
        }
    }
    if filter.wants(InboxKind::Response) {
        counts.push((
            InboxKind::Response,
            responses_query(filter, now).count(conn).await?,
        ));
        let q = responses_query(filter, now);
        let q = if newest {
            q.order_by_desc(consultation_responses::Column::SubmittedAt)
        } else {
            q.order_by_asc(consultation_responses::Column::SubmittedAt)
        };
        let found = q.limit(wanted as u64).all(conn).await?;
        let parent_ids: Vec<Uuid> = found.iter().map(|r| r.consultation_id).collect();
        let parents: HashMap<Uuid, consultations::Model> = if parent_ids.is_empty() {
            HashMap::new()
        } else {
            consultations::Entity::find()
                .filter(consultations::Column::Id.is_in(parent_ids))
                .all(conn)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect()
        };
        let people = names(conn, found.iter().filter_map(|r| r.respondent_id)).await?;
        for r in found {
            let Some(c) = parents.get(&r.consultation_id) else {
                continue;
            };
            let who = r
                .respondent_id
                .and_then(|id| people.get(&id).cloned())
                .or_else(|| r.respondent_name.clone())
                .unwrap_or_else(|| "Former account".to_owned());
            items.push(InboxItem {
                kind: InboxKind::Response,
                id: r.id,
                title: format!("Response from {who}"),
                status_label: "Submitted".to_owned(),
                status: r.status.clone(),
                detail: c.title.clone(),
                assignee_id: r.assignee_id,
                assignee: None,
                tags: Vec::new(),
                created_at: r.submitted_at.unwrap_or(r.created_at),
                version: r.version,
                link: format!("/consultations/{}/analysis/responses/{}", c.slug, r.id),
            });
        }
    }
    items.sort_by(|a, b| {
        if newest {
            b.created_at.cmp(&a.created_at)
        } else {
            a.created_at.cmp(&b.created_at)
        }
        .then(a.id.cmp(&b.id))
    });
    let mut items: Vec<InboxItem> = items
        .into_iter()
        .skip(filter.offset as usize)
        .take(filter.limit as usize)
        .collect();
    let assignees = names(conn, items.iter().filter_map(|i| i.assignee_id)).await?;
    let mut tagged = HashMap::new();
    for &kind in InboxKind::ALL.iter() {
        let ids: Vec<Uuid> = items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.id)
            .collect();
        tagged.insert(kind, super::tags::of_items(conn, kind, &ids).await?);
    }
    for item in &mut items {
        item.assignee = item.assignee_id.and_then(|id| assignees.get(&id).cloned());
        if let Some(found) = tagged.get_mut(&item.kind).and_then(|t| t.remove(&item.id)) {
            item.tags = found;
        }
    }
    let total = counts.iter().map(|(_, n)| n).sum();
    Ok(InboxPage {
        items,
        counts,
        total,
    })
}

/// The board members and admins items can be assigned to.
pub async fn assignable(conn: &impl ConnectionTrait) -> Result<Vec<users::Model>, AppError> {
    let roles: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| policy::allows(*r, policy::Permission::Triage))
        .map(Role::as_str)
        .collect();
    Ok(users::Entity::find()
        .filter(users::Column::Role.is_in(roles))
        .order_by_asc(users::Column::DisplayName)
        .all(conn)
        .await?)
}

/// What happened to one item of an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done {
        version: i32,
    },
    /// Someone changed it since the version the change was based on.
    Stale {
        current_version: i32,
    },
    NotFound,
}

/// Whom items may be assigned to, checked once for any number of items:
/// a board member, or nobody.
#[derive(Debug, Clone, Copy)]
pub struct CheckedAssignee(Option<Uuid>);

impl CheckedAssignee {
    pub fn id(self) -> Option<Uuid> {
        self.0
    }
}

pub async fn check_assignee(
    conn: &impl ConnectionTrait,
    assignee: Option<Uuid>,
) -> Result<CheckedAssignee, AppError> {
    if let Some(person) = assignee {
        let found = users::Entity::find_by_id(person).one(conn).await?;
        if !found
            .as_ref()
            .is_some_and(|u| policy::allows(policy::role_of(u), policy::Permission::Triage))
        {
            return Err(AppError::Validation(vec![FieldError::new(
                "assignee",
                "Choose a board member to assign it to",
            )]));
        }
    }
    Ok(CheckedAssignee(assignee))
}

/// Assigns one item (None unassigns), if it is still at `expected` (when
/// given). Compare-and-set on the version: of two concurrent changes, one wins.
pub async fn assign(
    db: &DatabaseConnection,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    assignee: CheckedAssignee,
    expected: Option<i32>,
) -> Result<Outcome, AppError> {
    let assignee = assignee.id();
    let txn = crate::db::begin_write(db).await?;
    macro_rules! cas {
        ($entity:ident) => {{
            let Some(row) = $entity::Entity::find_by_id(id).one(&txn).await? else {
                return Ok(Outcome::NotFound);
            };
            // A draft response is its respondent's, not the board's to assign.
            if kind == InboxKind::Response && row.status != "submitted" {
                return Ok(Outcome::NotFound);
            }
            if expected.is_some_and(|v| v != row.version) {
                return Ok(Outcome::Stale {
                    current_version: row.version,
                });
            }
            let updated = $entity::Entity::update_many()
                .col_expr($entity::Column::AssigneeId, Expr::value(assignee))
                .col_expr(
                    $entity::Column::Version,
                    Expr::col($entity::Column::Version).add(1),
                )
                .col_expr($entity::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter($entity::Column::Id.eq(id))
                .filter($entity::Column::Version.eq(row.version))
                .exec(&txn)
                .await?;
            if updated.rows_affected != 1 {
                // Changed between reading and writing: say to what.
                let current = $entity::Entity::find_by_id(id).one(&txn).await?;
                return Ok(match current {
                    Some(row) => Outcome::Stale {
                        current_version: row.version,
                    },
                    None => Outcome::NotFound,
                });
            }
            (row.assignee_id, row.version)
        }};
    }
    let (before, version) = match kind {
        InboxKind::Idea => cas!(ideas),
        InboxKind::Report => cas!(reports),
        InboxKind::Response => cas!(consultation_responses),
    };
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: if assignee.is_some() {
                "triage.assigned"
            } else {
                "triage.unassigned"
            },
            subject_type: kind.as_str(),
            subject_id: Some(id),
            before: Some(json!({ "assignee": before, "version": version })),
            after: Some(json!({ "assignee": assignee, "version": version + 1 })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Outcome::Done {
        version: version + 1,
    })
}

/// What happened to one item of a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    Changed {
        version: i32,
    },
    /// Not allowed or not valid, in words for the board member.
    Refused(String),
    /// Someone changed it since the version the change was based on.
    Stale(String),
    NotFound,
}

/// Moves one item to `status` within its kind's workflow, with a public
/// note, if it is still at `expected`. The rules (which statuses may follow
/// which, who is emailed) are the item's own.
pub async fn change_status(
    state: &crate::app_state::AppState,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    expected: Option<i32>,
    status: &str,
    note: &str,
) -> Result<StatusOutcome, AppError> {
    let result = match kind {
        InboxKind::Idea => {
            let change = crate::ideas::service::StatusChange {
                status: status.to_owned(),
                note: note.to_owned(),
                duplicate_of: None,
                version: expected,
            };
            crate::ideas::service::change_status(state, actor, id, &change)
                .await
                .map(|i| i.version)
        }
        InboxKind::Report => {
            let change = crate::reports::service::ReportStatusChange {
                status: status.to_owned(),
                note: note.to_owned(),
                version: expected,
            };
            crate::reports::service::change_status(state, actor, id, &change)
                .await
                .map(|r| r.version)
        }
        InboxKind::Response => {
            return Ok(StatusOutcome::Refused(
                "Consultation responses have no status to change: decide on their comments instead"
                    .to_owned(),
            ));
        }
    };
    Ok(match result {
        Ok(version) => StatusOutcome::Changed { version },
        Err(AppError::Validation(errors)) => StatusOutcome::Refused(
            errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(". "),
        ),
        Err(AppError::Conflict(message)) => StatusOutcome::Stale(message),
        Err(AppError::NotFound) => StatusOutcome::NotFound,
        Err(other) => return Err(other),
    })
}

/// What an item is now, for a board member whose change was refused as
/// stale: "it is now Under review, assigned to Bea Board" (or "it has gone").
pub async fn now_reads(
    conn: &impl ConnectionTrait,
    kind: InboxKind,
    id: Uuid,
) -> Result<String, AppError> {
    let (status, assignee) = match kind {
        InboxKind::Idea => match ideas::Entity::find_by_id(id).one(conn).await? {
            Some(i) => (IdeaStatus::label_of(&i.status).to_owned(), i.assignee_id),
            None => return Ok("it has gone".to_owned()),
        },
        InboxKind::Report => match reports::Entity::find_by_id(id).one(conn).await? {
            Some(r) => (ReportStatus::label_of(&r.status).to_owned(), r.assignee_id),
            None => return Ok("it has gone".to_owned()),
        },
        InboxKind::Response => match consultation_responses::Entity::find_by_id(id)
            .one(conn)
            .await?
        {
            Some(r) => ("Submitted".to_owned(), r.assignee_id),
            None => return Ok("it has gone".to_owned()),
        },
    };
    let who = match assignee {
        Some(person) => names(conn, std::iter::once(person))
            .await?
            .remove(&person)
            .map_or_else(
                || "assigned".to_owned(),
                |name| format!("assigned to {name}"),
            ),
        None => "unassigned".to_owned(),
    };
    Ok(format!("it is now {status}, {who}"))
}
