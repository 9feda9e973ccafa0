use crate::helpers::spawn_app;

#[tokio::test]
async fn liveness_and_readiness_answer_ok_when_the_database_is_up() {
    let app = spawn_app().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_database_gives_503_on_readiness_pages_and_the_api() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("ops@example.nhs.uk", hub::auth::domain::Role::Contributor)
        .await;
    // Closing the pool makes every query fail as it would with the server gone.
    app.db.clone().close().await.expect("close pool");

    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);

    let api = app.api_get("/api/v1/me", &token).await;
    assert_eq!(api.status(), 503);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = api.json().await.expect("json");
    assert_eq!(problem["type"], "/problems/unavailable");

    let page = app
        .client
        .get(app.url("/"))
        .header("cookie", "hub_session=abc")
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), 503);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("Sorry, the service is unavailable")
    );
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let resp = app.get("/").await;
    let h = resp.headers();
    let csp = h["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("referrer-policy"));
    assert!(h.contains_key("x-request-id"));
    assert!(
        !h.contains_key("strict-transport-security"),
        "no HSTS over plain http"
    );
    app.stop().await;
}
