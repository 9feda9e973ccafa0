//! A person's own data: everything the service holds about them, as one
//! JSON download, and deleting their account. What they submitted stays,
//! anonymised (the retention policy in docs/privacy.md): the links from
//! their submissions to the account are cleared by the database, their name
//! and address are removed from consultation responses, and a named
//! response becomes anonymous.

use chrono::Utc;
use entity::{
    api_tokens, comments, consultation_answers, consultation_responses, digest_subscriptions,
    idea_supports, ideas, item_links, item_tags, reports, saved_searches, section_comments, users,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::error::AppError;

/// Columns that are the board's working data or secrets, never part of a
/// person's download.
const LEFT_OUT: &[&str] = &[
    "token_hash",
    "assignee_id",
    "hidden_by",
    "redacted_by",
    "redaction_reason",
    "redacted_at",
    // The board's decisions on a comment are published with the outcome.
    "disposition",
    "rationale",
    "decided_by",
    "decided_at",
];

fn cleaned(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter()
        .map(|mut row| {
            if let Value::Object(map) = &mut row {
                map.retain(|k, _| !LEFT_OUT.contains(&k.as_str()) && !k.starts_with("redacted_"));
            }
            row
        })
        .collect()
}

/// Everything held about `user`, as JSON.
pub async fn export(conn: &impl ConnectionTrait, user: &users::Model) -> Result<Value, AppError> {
    let me = user.id;
    let account = users::Entity::find_by_id(me)
        .into_json()
        .one(conn)
        .await?
        .unwrap_or(Value::Null);
    let ideas = ideas::Entity::find()
        .filter(ideas::Column::AuthorId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    let supports = idea_supports::Entity::find()
        .filter(idea_supports::Column::UserId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    // Internal notes are the board's about an item, not the person's own words.
    let comments = comments::Entity::find()
        .filter(comments::Column::AuthorId.eq(me))
        .filter(comments::Column::Visibility.ne(crate::triage::notes::INTERNAL))
        .into_json()
        .all(conn)
        .await?;
    let reports = reports::Entity::find()
        .filter(reports::Column::ReporterId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    // Read once each: the responses, then all their answers and comments.
    let responses = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::RespondentId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = responses
        .iter()
        .filter_map(|r| r["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()))
        .collect();
    let answers = consultation_answers::Entity::find()
        .filter(consultation_answers::Column::ResponseId.is_in(ids.clone()))
        .into_json()
        .all(conn)
        .await?;
    let section_comments = section_comments::Entity::find()
        .filter(section_comments::Column::ResponseId.is_in(ids))
        .into_json()
        .all(conn)
        .await?;
    let of = |rows: &[Value], id: &Value| -> Vec<Value> {
        cleaned(
            rows.iter()
                .filter(|row| &row["response_id"] == id)
                .cloned()
                .collect(),
        )
    };
    let response_out: Vec<Value> = responses
        .iter()
        .map(|r| {
            json!({
                "response": cleaned(vec![r.clone()]).pop(),
                "answers": of(&answers, &r["id"]),
                "section_comments": of(&section_comments, &r["id"]),
            })
        })
        .collect();
    let saved = saved_searches::Entity::find()
        .filter(saved_searches::Column::OwnerId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    let tokens = api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(me))
        .into_json()
        .all(conn)
        .await?;
    let digest = digest_subscriptions::Entity::find_by_id(me)
        .into_json()
        .one(conn)
        .await?;
    Ok(json!({
        "exported_at": Utc::now(),
        "account": account,
        "ideas": cleaned(ideas),
        "supports": supports,
        "comments": cleaned(comments),
        "reports": cleaned(reports),
        "consultation_responses": response_out,
        "saved_searches": saved,
        "api_tokens": cleaned(tokens),
        "digest_settings": digest,
    }))
}

/// Deletes the account; what it submitted stays, anonymised. The last
/// administrator cannot leave the service without one.
pub async fn delete_account(db: &DatabaseConnection, user: &users::Model) -> Result<(), AppError> {
    let me = user.id;
    let txn = crate::db::begin_write(db).await?;
    if user.role == "admin" {
        let admins = users::Entity::find()
            .filter(users::Column::Role.eq("admin"))
            .count(&txn)
            .await?;
        if admins <= 1 {
            return Err(AppError::Validation(vec![crate::error::FieldError::new(
                "confirm",
                "You are the only administrator: make someone else an administrator first",
            )]));
        }
    }
    // Items assigned to them go back to the board's unassigned pile.
    ideas::Entity::update_many()
        .col_expr(ideas::Column::AssigneeId, Expr::value(Option::<Uuid>::None))
        .filter(ideas::Column::AssigneeId.eq(me))
        .exec(&txn)
        .await?;
    reports::Entity::update_many()
        .col_expr(
            reports::Column::AssigneeId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(reports::Column::AssigneeId.eq(me))
        .exec(&txn)
        .await?;
    consultation_responses::Entity::update_many()
        .col_expr(
            consultation_responses::Column::AssigneeId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(consultation_responses::Column::AssigneeId.eq(me))
        .exec(&txn)
        .await?;
    // The board's tags and links they made stay, unattributed (these
    // columns have no foreign key for the database to clear).
    item_tags::Entity::update_many()
        .col_expr(
            item_tags::Column::CreatedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(item_tags::Column::CreatedBy.eq(me))
        .exec(&txn)
        .await?;
    item_links::Entity::update_many()
        .col_expr(
            item_links::Column::CreatedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(item_links::Column::CreatedBy.eq(me))
        .exec(&txn)
        .await?;
    // Their responses stay, without their name; a named one becomes anonymous.
    let theirs: Vec<Uuid> = consultation_responses::Entity::find()
        .select_only()
        .column(consultation_responses::Column::Id)
        .filter(consultation_responses::Column::RespondentId.eq(me))
        .into_tuple()
        .all(&txn)
        .await?;
    consultation_responses::Entity::update_many()
        .col_expr(
            consultation_responses::Column::RespondentName,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            consultation_responses::Column::RespondentEmail,
            Expr::value(Option::<String>::None),
        )
        .filter(consultation_responses::Column::RespondentId.eq(me))
        .exec(&txn)
        .await?;
    consultation_responses::Entity::update_many()
        .col_expr(
            consultation_responses::Column::Consent,
            Expr::value("anonymous"),
        )
        .filter(consultation_responses::Column::RespondentId.eq(me))
        .filter(consultation_responses::Column::Consent.eq("named"))
        .exec(&txn)
        .await?;
    // Search shows their submissions without a name from now on.
    let written: Vec<Uuid> = ideas::Entity::find()
        .select_only()
        .column(ideas::Column::Id)
        .filter(ideas::Column::AuthorId.eq(me))
        .into_tuple()
        .all(&txn)
        .await?;
    let reported: Vec<Uuid> = reports::Entity::find()
        .select_only()
        .column(reports::Column::Id)
        .filter(reports::Column::ReporterId.eq(me))
        .into_tuple()
        .all(&txn)
        .await?;
    // The database clears every other link to the account (authors,
    // reporters, respondents) and removes sessions, tokens and settings.
    users::Entity::delete_by_id(me).exec(&txn).await?;
    for id in written {
        audit::changed(&txn, "idea", id).await?;
    }
    for id in reported {
        audit::changed(&txn, "report", id).await?;
    }
    for id in theirs {
        audit::changed(&txn, crate::consultations::responding::SUBJECT, id).await?;
    }
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(me),
            action: "user.deleted",
            subject_type: "user",
            subject_id: Some(me),
            before: Some(json!({ "role": user.role, "created_at": user.created_at })),
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
