//! The consultations list, a consultation with its document, and earlier
//! versions of the document.

use askama::Template;
use entity::{consultation_versions, consultations};
use poem::handler;
use poem::web::{Data, Html, Path, Query};
use serde::Deserialize;

use super::{SectionView, sections};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::consultations::authoring::{self, ConsultationView};
use crate::consultations::domain::Phase;
use crate::consultations::responding;
use crate::error::AppError;
use crate::uk_time;
use crate::web::page::{PageContext, render};

pub struct Listed {
    pub consultation: consultations::Model,
    pub phase: Phase,
    pub closes: String,
    pub opens: String,
}

#[derive(Template)]
#[template(path = "consultations/list.html")]
struct ListPage {
    page: PageContext,
    consultations: Vec<Listed>,
    can_manage: bool,
}

#[handler]
pub async fn list(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Html<String>, AppError> {
    let found = authoring::list(&state.db, &caller).await?;
    render(&ListPage {
        page: PageContext::new(&caller, &state.key),
        can_manage: policy::allows_caller(&caller, Permission::ManageConsultations),
        consultations: found
            .into_iter()
            .map(|(c, phase)| Listed {
                closes: uk_time::display(c.closes_at),
                opens: uk_time::display(c.opens_at),
                consultation: c,
                phase,
            })
            .collect(),
    })
}

/// Whether the caller may respond, or why not, in words.
pub enum Respond {
    /// Signed out: sign in first.
    SignIn,
    Yes {
        started: bool,
        submitted: bool,
    },
    NotInAudience(String),
    CompleteProfile,
    NotOpen,
}

#[derive(Template)]
#[template(path = "consultations/show.html")]
struct ShowPage {
    page: PageContext,
    view: ConsultationView,
    sections: Vec<SectionView>,
    opens: String,
    closes: String,
    respond: Respond,
    can_manage: bool,
    versions: Vec<consultation_versions::Model>,
    /// The anchors the caller has commented on in this version.
    commented: Vec<String>,
    notice: Option<String>,
}

impl ShowPage {
    fn has_commented(&self, anchor: &str) -> bool {
        self.commented.iter().any(|a| a == anchor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowParams {
    commented: String,
}

pub async fn respond_state(
    state: &AppState,
    caller: &Caller,
    view: &ConsultationView,
) -> Result<(Respond, Vec<String>), AppError> {
    let Some(user) = caller.user.as_ref() else {
        return Ok((
            if view.phase == Phase::Open {
                Respond::SignIn
            } else {
                Respond::NotOpen
            },
            Vec::new(),
        ));
    };
    let mine = responding::mine(&state.db, view.consultation.id, user.id).await?;
    let commented = mine
        .as_ref()
        .map(|d| {
            d.comments
                .iter()
                .filter(|c| c.version_number == view.document.number)
                .map(|c| c.anchor.clone())
                .collect()
        })
        .unwrap_or_default();
    let respond = if view.phase != Phase::Open {
        Respond::NotOpen
    } else if user.respondent_type.is_none() {
        Respond::CompleteProfile
    } else if !view.audience.admits(user.respondent_type.as_deref()) {
        Respond::NotInAudience(view.audience.label())
    } else {
        Respond::Yes {
            started: mine.is_some(),
            submitted: mine
                .as_ref()
                .is_some_and(|d| d.response.status == "submitted"),
        }
    };
    Ok((respond, commented))
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    Query(params): Query<ShowParams>,
) -> Result<Html<String>, AppError> {
    let found = authoring::visible(&state.db, &caller, &slug).await?;
    let view = authoring::view(&state.db, found, None).await?;
    let (respond, commented) = respond_state(&state, &caller, &view).await?;
    let notice = view.section(&params.commented).map(|s| {
        let submitted = matches!(respond, Respond::Yes { submitted: true, .. });
        if submitted {
            format!("Your comment on \"{}\" has been saved in your submitted response. We have emailed you an updated copy.", s.title)
        } else {
            format!("Your comment on \"{}\" has been saved in your draft response. Submit your response before the consultation closes.", s.title)
        }
    });
    let versions = authoring::versions(&state.db, view.consultation.id)
        .await?
        .into_iter()
        .filter(|v| v.published_at.is_some())
        .collect();
    render(&ShowPage {
        page: PageContext::new(&caller, &state.key),
        sections: sections(&view),
        opens: uk_time::display(view.consultation.opens_at),
        closes: uk_time::display(view.consultation.closes_at),
        can_manage: policy::allows_caller(&caller, Permission::ManageConsultations),
        respond,
        versions,
        commented,
        notice,
        view,
    })
}

#[derive(Template)]
#[template(path = "consultations/version.html")]
struct VersionPage {
    page: PageContext,
    view: ConsultationView,
    sections: Vec<SectionView>,
    published: String,
}

#[handler]
pub async fn version(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, number)): Path<(String, i32)>,
) -> Result<Html<String>, AppError> {
    let found = authoring::visible(&state.db, &caller, &slug).await?;
    let view = authoring::view(&state.db, found, Some(number)).await?;
    let Some(published) = view.document.published_at else {
        return Err(AppError::NotFound);
    };
    render(&VersionPage {
        page: PageContext::new(&caller, &state.key),
        sections: sections(&view),
        published: uk_time::display(published),
        view,
    })
}

/// Where a response found in search is read: the board's analysis page, the
/// respondent's own response, or the published outcome; nowhere for anyone else.
#[handler]
pub async fn response_link(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, uuid::Uuid)>,
) -> Result<poem::Response, AppError> {
    let found = authoring::visible(&state.db, &caller, &slug).await?;
    let response = crate::consultations::analysis::find_submitted(&state.db, found.id, id).await?;
    let target = if policy::allows_caller(&caller, Permission::ManageConsultations) {
        format!("/consultations/{slug}/analysis/responses/{id}")
    } else if caller.user_id().is_some() && response.respondent_id == caller.user_id() {
        format!("/consultations/{slug}/response")
    } else if policy::response_is_public(&found, &response) {
        format!("/consultations/{slug}/outcome")
    } else {
        return Err(AppError::NotFound);
    };
    Ok(crate::web::page::see_other(&target))
}
