//! `/api/v1/me` and `/api/v1/tokens`.

use chrono::{DateTime, Utc};
use entity::{api_tokens, users};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::caller::Caller;
use super::policy::{self, Permission};
use super::service;
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;

pub struct AccountApi;

/// The signed-in caller.
#[derive(Debug, Object)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// contributor, board or admin
    pub role: String,
    /// nhs_staff, supplier, expert, patient_or_public or other
    #[oai(nullable)]
    pub respondent_type: Option<String>,
    #[oai(nullable)]
    pub organisation: Option<String>,
    #[oai(nullable)]
    pub job_title: Option<String>,
    pub profile_complete: bool,
}

impl From<&users::Model> for Me {
    fn from(u: &users::Model) -> Self {
        Me {
            id: u.id,
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role.clone(),
            respondent_type: u.respondent_type.clone(),
            organisation: u.organisation_name.clone(),
            job_title: u.job_title.clone(),
            profile_complete: u.profile_completed_at.is_some(),
        }
    }
}

/// An API token as listed: never the token itself.
#[derive(Debug, Object)]
pub struct ApiTokenSummary {
    pub id: Uuid,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&api_tokens::Model> for ApiTokenSummary {
    fn from(t: &api_tokens::Model) -> Self {
        ApiTokenSummary {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct NewApiToken {
    /// What the token is for, up to 60 characters.
    #[oai(validator(max_length = 200))]
    pub name: String,
}

/// A new token: `token` is shown this once and cannot be recovered.
#[derive(Debug, Object)]
pub struct CreatedApiToken {
    pub id: Uuid,
    pub name: String,
    pub token: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum CreateTokenResponse {
    /// The token was created.
    #[oai(status = 201)]
    Created(Json<CreatedApiToken>),
}

#[derive(ApiResponse)]
pub enum RevokeTokenResponse {
    /// The token was revoked and no longer works.
    #[oai(status = 204)]
    Revoked,
}

#[derive(ApiResponse)]
pub enum AccountDeleted {
    /// The account is gone; its submissions stay, anonymised.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Account")]
impl AccountApi {
    /// Who the caller is
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn me(&self, caller: Data<&Caller>) -> Result<Json<Me>, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnAccount)?;
        Ok(Json(Me::from(user)))
    }

    /// Everything the service holds about the caller, as JSON
    #[oai(path = "/me/data", method = "get", operation_id = "exportMyData")]
    async fn my_data(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<serde_json::Value>, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnAccount)?;
        Ok(Json(super::my_data::export(&state.db, user).await?))
    }

    /// Delete the caller's account; what they submitted stays, anonymised
    #[oai(path = "/me", method = "delete", operation_id = "deleteMyAccount")]
    async fn delete_me(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<AccountDeleted, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnAccount)?.clone();
        super::my_data::delete_account(&state.db, &user).await?;
        Ok(AccountDeleted::Deleted)
    }

    /// The caller's API tokens
    #[oai(path = "/tokens", method = "get", operation_id = "listTokens")]
    async fn list_tokens(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<Vec<ApiTokenSummary>>, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnTokens)?;
        let tokens = service::list_api_tokens(&state.db, user).await?;
        Ok(Json(tokens.iter().map(ApiTokenSummary::from).collect()))
    }

    /// Create an API token
    #[oai(path = "/tokens", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<NewApiToken>,
    ) -> Result<CreateTokenResponse, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnTokens)?;
        let created = service::create_api_token(&state.db, user, &body.name).await?;
        Ok(CreateTokenResponse::Created(Json(CreatedApiToken {
            id: created.record.id,
            name: created.record.name,
            token: created.token,
            prefix: created.record.prefix,
            created_at: created.record.created_at,
        })))
    }

    /// Revoke one of the caller's API tokens
    #[oai(path = "/tokens/:id", method = "delete", operation_id = "revokeToken")]
    async fn revoke_token(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<RevokeTokenResponse, ApiError> {
        let user = policy::require(&caller, Permission::ManageOwnTokens)?;
        service::revoke_api_token(&state.db, user, id.0).await?;
        Ok(RevokeTokenResponse::Revoked)
    }
}
