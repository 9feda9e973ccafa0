//! `/api/v1/me/digest`: a board member's digest settings and a preview of
//! their next digest.

use chrono::Utc;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::schedule;
use super::settings::{self, DigestSettings, FIRST_HOUR, LAST_HOUR};
use crate::api::ApiTags;
use crate::api::bounded::Bounded;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};

pub struct DigestApi;

#[derive(Debug, Object)]
pub struct DigestSettingsBody {
    /// daily, weekly or off
    #[oai(default)]
    pub frequency: String,
    /// For weekly digests: 1 (Monday) to 7 (Sunday)
    pub weekday: Option<Bounded<1, 7>>,
    /// The hour (UK time) the digest is sent from, 5 to 22
    pub send_hour: Option<Bounded<{ FIRST_HOUR as i64 }, { LAST_HOUR as i64 }>>,
    /// Any of assigned, reports, ideas, responses, closing, saved_searches
    #[oai(default)]
    pub sections: Vec<String>,
}

#[derive(Debug, Object)]
pub struct DigestSettingsOut {
    pub frequency: String,
    pub weekday: i16,
    pub send_hour: i16,
    pub sections: Vec<String>,
}

impl From<DigestSettings> for DigestSettingsOut {
    fn from(s: DigestSettings) -> Self {
        DigestSettingsOut {
            frequency: s.frequency.as_str().to_owned(),
            weekday: s.weekday,
            send_hour: s.send_hour,
            sections: s.sections.iter().map(|x| x.as_str().to_owned()).collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct DigestPreviewOut {
    /// Whether anything is new: when not, no digest would be sent.
    pub has_news: bool,
    pub period: String,
    pub subject: String,
    /// The Markdown the email is rendered from.
    pub markdown: String,
    pub text: String,
    pub html: String,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Triage")]
impl DigestApi {
    /// Your digest settings (board)
    #[oai(
        path = "/me/digest",
        method = "get",
        operation_id = "getDigestSettings"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<DigestSettingsOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        Ok(Json(settings::load(&state.db, user.id).await?.into()))
    }

    /// Change your digest settings (board)
    #[oai(
        path = "/me/digest",
        method = "put",
        operation_id = "setDigestSettings"
    )]
    async fn put(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<DigestSettingsBody>,
    ) -> Result<Json<DigestSettingsOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let chosen = DigestSettings::check(
            &body.frequency,
            &body
                .weekday
                .map(|d| d.get().to_string())
                .unwrap_or_default(),
            &body
                .send_hour
                .map(|h| h.get().to_string())
                .unwrap_or_default(),
            &body.sections,
        )?;
        settings::save(&state.db, user.id, &chosen, "digest.settings_changed").await?;
        Ok(Json(chosen.into()))
    }

    /// What your next digest would say now; nothing is sent (board)
    #[oai(
        path = "/me/digest/preview",
        method = "get",
        operation_id = "previewDigest"
    )]
    async fn preview(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<DigestPreviewOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let (period, digest, rendered) = schedule::preview(&state, &user, Utc::now()).await?;
        Ok(Json(DigestPreviewOut {
            has_news: digest.has_news(),
            period,
            subject: rendered.subject,
            markdown: rendered.markdown,
            text: rendered.text,
            html: rendered.html,
        }))
    }
}
