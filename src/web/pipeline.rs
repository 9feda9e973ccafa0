//! The one path every request takes: request id, caller, body limit,
//! CSRF check, then the handler; errors become an error page or
//! problem+json; security headers and an access log line on the way out.

use std::sync::Arc;
use std::time::Instant;

use poem::http::{HeaderValue, Method, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use uuid::Uuid;

use crate::api::allow::AllowedMethods;
use crate::api::body_types::RequestBodies;
use crate::api::problem;
use crate::app_state::AppState;
use crate::auth::caller::{self, Caller};
use crate::error::AppError;
use crate::telemetry;
use crate::web::{body, cookies, csrf, headers, page};

pub struct Pipeline {
    pub state: AppState,
    pub page_csp: String,
    pub docs_csp: String,
    /// The API's methods per path, for the `Allow` header of a 405.
    pub api_methods: AllowedMethods,
    /// The API's JSON request body schemas, to hold bodies to their types.
    pub api_bodies: Arc<RequestBodies>,
}

impl<E: Endpoint + 'static> Middleware<E> for Pipeline {
    type Output = PipelineEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        PipelineEndpoint {
            inner,
            state: self.state.clone(),
            page_csp: self.page_csp.clone(),
            docs_csp: self.docs_csp.clone(),
            api_methods: self.api_methods.clone(),
            api_bodies: self.api_bodies.clone(),
        }
    }
}

pub struct PipelineEndpoint<E> {
    inner: E,
    state: AppState,
    page_csp: String,
    docs_csp: String,
    api_methods: AllowedMethods,
    api_bodies: Arc<RequestBodies>,
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string())
}

impl<E: Endpoint> Endpoint for PipelineEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().clone();
        // The path only: query strings can carry sign-in tokens.
        let path = req.uri().path().to_owned();
        let is_api = path.starts_with("/api/");
        let state = &self.state;

        let (caller, outcome) = telemetry::with_request_id(id.clone(), async {
            let mut caller = None;
            let outcome: Result<Response, AppError> = async {
                // The caller first: the body limit depends on who is asking.
                let resolved = caller::resolve(&req, state).await?;
                caller = Some(resolved.clone());
                let body = if csrf::is_unsafe(&method) {
                    body::buffer(&mut req, body::limit_for(&path, &resolved)).await?
                } else {
                    bytes::Bytes::new()
                };
                if !csrf::SIGNED_LINK_PATHS.contains(&path.as_str()) {
                    csrf::check(&req, &body, &resolved, &state.key, is_api).await?;
                }
                if is_api && !body.is_empty() {
                    let content_type = req
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok());
                    self.api_bodies.check(&method, &path, content_type, &body)?;
                }
                req.extensions_mut().insert(resolved);
                match self.inner.call(req).await {
                    Ok(resp) => Ok(resp.into_response()),
                    // An operation's own error response (problem+json) is kept as it is.
                    Err(err) if err.is_from_response() => Ok(err.into_response()),
                    Err(err) => Err(AppError::from_poem(err)),
                }
            }
            .await;
            (caller, outcome)
        })
        .await;

        let caller = caller.unwrap_or_else(|| Caller::anonymous(None));
        let mut resp = match outcome {
            Ok(resp) => resp,
            Err(err) => {
                if let AppError::Internal(source) = &err {
                    tracing::error!(request_id = %id, %method, %path, error = ?source, "request failed");
                }
                let retry_after = match &err {
                    AppError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
                    _ => None,
                };
                let mut resp = if is_api {
                    problem::response(&err, &format!("urn:request:{id}"))
                } else {
                    page::error_page(&err, &page::PageContext::new(&caller, &state.key))
                };
                if let Some(secs) = retry_after
                    && let Ok(v) = HeaderValue::from_str(&secs.to_string())
                {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                // Pages are only ever asked with GET and POST by browsers;
                // the API's methods are known from its document.
                if matches!(err, AppError::MethodNotAllowed)
                    && let Some(allow) = self.api_methods.for_path(&path)
                    && let Ok(v) = HeaderValue::from_str(allow)
                {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
                resp
            }
        };

        let https = state.settings.secure_cookies();
        if let Some(anon) = &caller.new_anon_cookie
            && !is_api
            && let Ok(v) = HeaderValue::from_str(&cookies::set(
                cookies::ANON,
                anon,
                60 * 60 * 24 * 365,
                https,
            ))
        {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        if caller.stale_session_cookie
            && let Ok(v) = HeaderValue::from_str(&cookies::clear(cookies::SESSION, https))
        {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        let csp = if path == "/api/docs" {
            &self.docs_csp
        } else {
            &self.page_csp
        };
        headers::apply(&mut resp, csp, https);
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        if !is_api && !path.starts_with("/assets/") {
            // Pages show personal data: never keep them in shared caches.
            resp.headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
        }

        let status = resp.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if method != Method::HEAD && !path.starts_with("/assets/") {
            tracing::info!(request_id = %id, %method, %path, status, elapsed_ms, "request");
        }
        Ok(resp)
    }
}
