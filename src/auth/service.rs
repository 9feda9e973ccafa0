//! Accounts, sign-in links, sessions and API tokens. Knows nothing of HTTP.

use chrono::{Duration, Utc};
use entity::{api_tokens, login_tokens, organisations, sessions, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::crypto::{hash_token, new_token};
use super::domain::{EmailAddress, RespondentType, Role};
use super::rate_limit;
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::email::{self, templates};
use crate::error::{AppError, FieldError};

/// How long a sign-in link works.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);
/// API tokens start with this, so secret scanners and people can spot them.
pub const API_TOKEN_PREFIX: &str = "hth_";
pub const MAX_TOKENS_PER_USER: u64 = 50;

/// Sends a sign-in link to `email`, whether or not it has an account yet
/// (the reply is the same either way, so nobody learns who has one).
#[tracing::instrument(skip_all)]
pub async fn request_sign_in(
    state: &AppState,
    email: &EmailAddress,
    client: &str,
    next: Option<&str>,
) -> Result<(), AppError> {
    let address_bucket = format!("sign-in:address:{}", hash_token(email.as_str()));
    let client_bucket = format!("sign-in:client:{client}");
    // Counted in a write of its own, in turn with every other write, and
    // kept when the request is refused.
    let counting = crate::db::begin_write(&state.db).await?;
    let mut refused = None;
    for (bucket, limit) in [
        (client_bucket.as_str(), &rate_limit::SIGN_IN_PER_CLIENT),
        (address_bucket.as_str(), &rate_limit::SIGN_IN_PER_ADDRESS),
    ] {
        refused = rate_limit::hit(&counting, bucket, limit).await?;
        if refused.is_some() {
            break;
        }
    }
    counting.commit().await?;
    if let Some(retry_after_secs) = refused {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }

    let token = new_token();
    let now = Utc::now();
    let link = state.settings.link(&crate::web::page::link_with_query(
        "/sign-in/link",
        [
            ("token", token.as_str()),
            ("next", next.unwrap_or_default()),
        ],
    ));
    let message = templates::sign_in(email.as_str(), &link, LINK_LIFETIME.num_minutes())?;
    let txn = crate::db::begin_write(&state.db).await?;
    let row = login_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(now + LINK_LIFETIME),
        used_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    email::enqueue(&txn, &format!("sign-in:{}", row.id), message).await?;
    txn.commit().await?;
    state.outbox_ready.notify_one();
    Ok(())
}

pub struct SignedIn {
    pub session_token: String,
    pub user: users::Model,
}

/// Why a sign-in link did not work, in words a person can act on.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Expired,
    Used,
}

/// Looks a link up without using it (the confirmation page shows first, so
/// mail scanners that follow links cannot use them up).
pub async fn check_link(
    db: &DatabaseConnection,
    token: &str,
) -> Result<Result<(), LinkProblem>, AppError> {
    let found = login_tokens::Entity::find()
        .filter(login_tokens::Column::TokenHash.eq(hash_token(token)))
        .one(db)
        .await?;
    Ok(match found {
        None => Err(LinkProblem::Unknown),
        Some(t) if t.used_at.is_some() => Err(LinkProblem::Used),
        Some(t) if t.expires_at <= Utc::now() => Err(LinkProblem::Expired),
        Some(_) => Ok(()),
    })
}

/// Uses a sign-in link once: creates the account on first sign-in, and a session.
#[tracing::instrument(skip_all)]
pub async fn sign_in_with_link(
    state: &AppState,
    token: &str,
) -> Result<Result<SignedIn, LinkProblem>, AppError> {
    if let Err(problem) = check_link(&state.db, token).await? {
        return Ok(Err(problem));
    }
    let now = Utc::now();
    let txn = crate::db::begin_write(&state.db).await?;
    // Claim the link atomically: of two concurrent uses, exactly one updates it.
    let claimed = login_tokens::Entity::update_many()
        .col_expr(
            login_tokens::Column::UsedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            login_tokens::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(login_tokens::Column::TokenHash.eq(hash_token(token)))
        .filter(login_tokens::Column::UsedAt.is_null())
        .filter(login_tokens::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(Err(LinkProblem::Used));
    }
    let link = login_tokens::Entity::find()
        .filter(login_tokens::Column::TokenHash.eq(hash_token(token)))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;

    let user = match users::Entity::find()
        .filter(users::Column::Email.eq(&link.email))
        .one(&txn)
        .await?
    {
        Some(user) => user,
        None => {
            let user = new_user(&txn, &link.email, Role::Contributor, None).await?;
            audit::record(
                &txn,
                AuditEvent {
                    actor: Some(user.id),
                    action: "user.created",
                    subject_type: "user",
                    subject_id: Some(user.id),
                    before: None,
                    after: Some(
                        json!({ "email": user.email, "role": user.role, "via": "sign-in" }),
                    ),
                },
            )
            .await?;
            user
        }
    };
    let mut active: users::ActiveModel = user.into();
    active.last_signed_in_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;

    let session_token = new_token();
    sessions::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(hash_token(&session_token)),
        user_id: Set(user.id),
        expires_at: Set(now + super::caller::SESSION_IDLE),
        last_seen_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "user.signed_in",
            subject_type: "user",
            subject_id: Some(user.id),
            before: None,
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(SignedIn {
        session_token,
        user,
    }))
}

async fn new_user(
    conn: &impl ConnectionTrait,
    email: &str,
    role: Role,
    name: Option<String>,
) -> Result<users::Model, AppError> {
    let now = Utc::now();
    Ok(users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_owned()),
        display_name: Set(name),
        role: Set(role.as_str().to_owned()),
        respondent_type: Set(None),
        organisation_id: Set(None),
        organisation_name: Set(None),
        job_title: Set(None),
        profile_completed_at: Set(None),
        last_signed_in_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

pub async fn sign_out(db: &DatabaseConnection, session_id: Uuid) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    sessions::Entity::delete_by_id(session_id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Creates an account or changes its role (and name, when given). Used by
/// `hub users add`, which is how the first administrator is made.
pub async fn upsert_user(
    db: &DatabaseConnection,
    email: &EmailAddress,
    role: Role,
    name: Option<String>,
) -> Result<users::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?;
    let user = match existing {
        Some(user) => {
            let before = json!({ "role": user.role, "display_name": user.display_name });
            let mut active: users::ActiveModel = user.into();
            active.role = Set(role.as_str().to_owned());
            if let Some(name) = name {
                active.display_name = Set(Some(name));
            }
            active.updated_at = Set(Utc::now());
            let user = active.update(&txn).await?;
            audit::record(
                &txn,
                AuditEvent {
                    actor: None,
                    action: "user.updated_by_operator",
                    subject_type: "user",
                    subject_id: Some(user.id),
                    before: Some(before),
                    after: Some(json!({ "role": user.role, "display_name": user.display_name })),
                },
            )
            .await?;
            user
        }
        None => {
            let user = new_user(&txn, email.as_str(), role, name).await?;
            audit::record(
                &txn,
                AuditEvent {
                    actor: None,
                    action: "user.created",
                    subject_type: "user",
                    subject_id: Some(user.id),
                    before: None,
                    after: Some(
                        json!({ "email": user.email, "role": user.role, "via": "operator" }),
                    ),
                },
            )
            .await?;
            user
        }
    };
    txn.commit().await?;
    Ok(user)
}

/// The profile a person completes on first sign-in.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub display_name: String,
    pub respondent_type: String,
    pub organisation: String,
    pub ods_code: String,
    pub job_title: String,
}

pub async fn update_profile(
    db: &DatabaseConnection,
    user: &users::Model,
    input: &ProfileInput,
) -> Result<users::Model, AppError> {
    use super::domain::{bounded_text, ods_code};
    let mut errors = Vec::new();
    let name = bounded_text(&input.display_name, 100, Some("Enter your name"))
        .map_err(|m| errors.push(FieldError::new("display_name", m)))
        .ok()
        .flatten();
    let respondent = RespondentType::parse(&input.respondent_type);
    if respondent.is_none() {
        errors.push(FieldError::new(
            "respondent_type",
            "Select which best describes you",
        ));
    }
    let organisation = bounded_text(&input.organisation, 200, None)
        .map_err(|m| errors.push(FieldError::new("organisation", m)))
        .ok()
        .flatten();
    let ods = ods_code(&input.ods_code)
        .map_err(|m| errors.push(FieldError::new("ods_code", m)))
        .ok()
        .flatten();
    let job_title = bounded_text(&input.job_title, 100, None)
        .map_err(|m| errors.push(FieldError::new("job_title", m)))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let txn = crate::db::begin_write(db).await?;
    // An ODS code ties the person to the register; an unknown code is kept as
    // typed so that the board can add the organisation later.
    let registered = match &ods {
        Some(code) => {
            organisations::Entity::find()
                .filter(organisations::Column::OdsCode.eq(code))
                .one(&txn)
                .await?
        }
        None => None,
    };
    let organisation_name = match (&registered, organisation, &ods) {
        (Some(org), _, _) => Some(org.name.clone()),
        (None, Some(name), Some(code)) => Some(format!("{name} ({code})")),
        (None, name, _) => name,
    };
    let before = profile_json(user);
    let now = Utc::now();
    let mut active: users::ActiveModel = user.clone().into();
    active.display_name = Set(name);
    active.respondent_type = Set(respondent.map(|r| r.as_str().to_owned()));
    active.organisation_id = Set(registered.map(|o| o.id));
    active.organisation_name = Set(organisation_name);
    active.job_title = Set(job_title);
    if user.profile_completed_at.is_none() {
        active.profile_completed_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "user.profile_updated",
            subject_type: "user",
            subject_id: Some(user.id),
            before: Some(before),
            after: Some(profile_json(&updated)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

fn profile_json(user: &users::Model) -> serde_json::Value {
    json!({
        "display_name": user.display_name,
        "respondent_type": user.respondent_type,
        "organisation_id": user.organisation_id,
        "organisation_name": user.organisation_name,
        "job_title": user.job_title,
    })
}

pub async fn list_users(db: &DatabaseConnection) -> Result<Vec<users::Model>, AppError> {
    Ok(users::Entity::find()
        .order_by_asc(users::Column::Email)
        .all(db)
        .await?)
}

/// Changes someone's role. The last administrator cannot be demoted, so the
/// service never ends up with nobody able to manage it.
pub async fn change_role(
    db: &DatabaseConnection,
    actor: &users::Model,
    target_id: Uuid,
    role: Role,
) -> Result<users::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let target = users::Entity::find_by_id(target_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if target.role == role.as_str() {
        return Ok(target);
    }
    if target.role == Role::Admin.as_str() {
        let admins = users::Entity::find()
            .filter(users::Column::Role.eq(Role::Admin.as_str()))
            .count(&txn)
            .await?;
        if admins <= 1 {
            return Err(AppError::Validation(vec![FieldError::new(
                "role",
                "There must always be at least one administrator. Make someone else an administrator first",
            )]));
        }
    }
    let before = json!({ "role": target.role });
    let mut active: users::ActiveModel = target.into();
    active.role = Set(role.as_str().to_owned());
    active.updated_at = Set(Utc::now());
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "user.role_changed",
            subject_type: "user",
            subject_id: Some(updated.id),
            before: Some(before),
            after: Some(json!({ "role": updated.role })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

pub struct NewApiToken {
    pub token: String,
    pub record: api_tokens::Model,
}

pub fn parse_token_name(raw: &str) -> Result<String, AppError> {
    super::domain::bounded_text(
        raw,
        60,
        Some("Enter a name for the token, like ‘Supplier integration’"),
    )
    .map_err(|m| AppError::Validation(vec![FieldError::new("name", m)]))?
    .ok_or_else(|| {
        AppError::Validation(vec![FieldError::new("name", "Enter a name for the token")])
    })
}

pub async fn create_api_token(
    db: &DatabaseConnection,
    user: &users::Model,
    name: &str,
) -> Result<NewApiToken, AppError> {
    let name = parse_token_name(name)?;
    let txn = crate::db::begin_write(db).await?;
    let live = api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user.id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if live >= MAX_TOKENS_PER_USER {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            format!(
                "You already have {MAX_TOKENS_PER_USER} tokens. Revoke one you no longer use first"
            ),
        )]));
    }
    let token = format!("{API_TOKEN_PREFIX}{}", new_token());
    let now = Utc::now();
    let record = api_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        name: Set(name),
        token_hash: Set(hash_token(&token)),
        prefix: Set(token.chars().take(10).collect()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "api_token.created",
            subject_type: "api_token",
            subject_id: Some(record.id),
            before: None,
            after: Some(json!({ "name": record.name, "prefix": record.prefix })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(NewApiToken { token, record })
}

pub async fn list_api_tokens(
    db: &DatabaseConnection,
    user: &users::Model,
) -> Result<Vec<api_tokens::Model>, AppError> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user.id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .order_by_desc(api_tokens::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Revokes one of the caller's own tokens; another person's token is "not found".
pub async fn revoke_api_token(
    db: &DatabaseConnection,
    user: &users::Model,
    token_id: Uuid,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let token = api_tokens::Entity::find_by_id(token_id)
        .filter(api_tokens::Column::UserId.eq(user.id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let mut active: api_tokens::ActiveModel = token.into();
    active.revoked_at = Set(Some(now));
    active.updated_at = Set(now);
    let revoked = active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "api_token.revoked",
            subject_type: "api_token",
            subject_id: Some(revoked.id),
            before: None,
            after: Some(json!({ "name": revoked.name })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn find_user_by_email(
    db: &DatabaseConnection,
    email: &EmailAddress,
) -> Result<Option<users::Model>, AppError> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}
