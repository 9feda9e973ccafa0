//! Liveness and readiness probes for load balancers and orchestrators.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use crate::app_state::AppState;

/// The process is up and serving.
#[handler]
pub fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// The service can do its work: the database answers. 503 otherwise, so a
/// load balancer stops sending traffic until it recovers.
#[handler]
pub async fn ready(state: Data<&AppState>) -> Response {
    if crate::db::ping(&state.db).await {
        Json(json!({ "status": "ok", "database": "ok" })).into_response()
    } else {
        Json(json!({ "status": "unavailable", "database": "unreachable" }))
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}
