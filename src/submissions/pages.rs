//! The "My submissions" page.

use askama::Template;
use poem::handler;
use poem::web::{Data, Html};

use super::service::{self, MySubmissions};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::web::page::{PageContext, render};

#[derive(Template)]
#[template(path = "submissions/mine.html")]
struct MinePage {
    page: PageContext,
    mine: MySubmissions,
}

#[handler]
pub async fn mine(state: Data<&AppState>, caller: Data<&Caller>) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    render(&MinePage {
        page: PageContext::new(&caller, &state.key),
        mine: service::for_caller(&state.db, &caller).await?,
    })
}
