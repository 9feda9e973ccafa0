use hub::auth::domain::Role;
use serde_json::Value;

use crate::helpers::spawn_app;

async fn problem(resp: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["type"], format!("/problems/{kind}"));
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

#[tokio::test]
async fn unknown_api_paths_and_bad_tokens_get_problem_json() {
    let app = spawn_app().await;
    problem(app.get("/api/v1/nothing-here").await, 404, "not-found").await;
    let bad = app.api_get("/api/v1/me", "hth_forged").await;
    problem(bad, 401, "unauthorized").await;
    let not_uuid = app.api_delete("/api/v1/tokens/not-a-uuid", "x").await;
    assert_eq!(not_uuid.status(), 401, "authentication is checked first");
    app.stop().await;
}

#[tokio::test]
async fn a_method_a_path_does_not_take_gets_405_with_the_methods_it_does() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("methods@example.com", Role::Contributor)
        .await;
    let ask = |method: &str, path: &str| {
        app.client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("a method"),
                app.url(path),
            )
            .bearer_auth(&token)
            .header("x-csrf-token", "not needed with a token")
            .send()
    };
    for (method, path, allow) in [
        ("PATCH", "/api/v1/ideas", "GET, HEAD, POST"),
        ("TRACE", "/api/v1/me", "GET, HEAD, DELETE"),
        ("DELETE", "/api/v1/ideas/similar", "GET, HEAD"),
    ] {
        let resp = ask(method, path).await.expect("a response");
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        problem(resp, 405, "method-not-allowed").await;
    }
    // The header lists only methods that are answered.
    let head = ask("HEAD", "/api/v1/ideas").await.expect("HEAD");
    assert_eq!(head.status(), 200);
    // A signed-in form posted to a page that takes none: the NHS error
    // page, 405 (signed out, the missing form token is refused first).
    app.sign_in_as("methods-page@example.com", Role::Contributor)
        .await;
    let page = app.post_form("/ideas", "/ideas/new", &[]).await;
    assert_eq!(page.status(), 405);
    assert!(
        page.text()
            .await
            .expect("a page")
            .contains("That method is not allowed here")
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_and_missing_fields_get_a_400_problem() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("json@example.com", Role::Contributor)
        .await;
    let broken = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("POST");
    problem(broken, 400, "bad-request").await;
    let missing = app
        .api_post(
            "/api/v1/tokens",
            &token,
            &serde_json::json!({ "label": "x" }),
        )
        .await;
    problem(missing, 400, "bad-request").await;
    app.stop().await;
}

/// The fields a validation problem names, with their messages.
fn named_fields(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_owned();
            (text("field"), text("message"))
        })
        .collect()
}

#[tokio::test]
async fn a_value_of_a_type_the_document_does_not_give_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.api_token_for("types@example.com", Role::Admin).await;
    // A boolean where the document says text: refused, not stored as "false".
    let theme = app
        .api_post(
            "/api/v1/themes",
            &admin,
            &serde_json::json!({ "name": false }),
        )
        .await;
    let body = problem(theme, 400, "bad-request").await;
    assert_eq!(
        named_fields(&body),
        [("name".to_owned(), "name must be text in quotes".to_owned())]
    );
    let themes: Value = app.api_json("/api/v1/themes", &admin).await;
    assert!(
        !themes.to_string().contains("\"false\""),
        "nothing was stored: {themes}"
    );
    // The fields a digest settings body is refused for, sorted.
    let digest_problems = async |body: Value, status: u16, kind: &str| {
        let resp = app
            .api_send(
                reqwest::Method::PUT,
                "/api/v1/me/digest",
                &admin,
                &[],
                Some(&body),
            )
            .await;
        let mut named = named_fields(&problem(resp, status, kind).await);
        named.sort();
        named
    };
    // null where the document does not allow it, and a number for text in
    // a list: all named at once, as a request that cannot be read.
    let named = digest_problems(
        serde_json::json!({
            "frequency": null, "send_hour": 7, "sections": ["ideas", 7]
        }),
        400,
        "bad-request",
    )
    .await;
    assert_eq!(
        named,
        [
            ("frequency", "frequency must be text in quotes, not null"),
            ("sections[1]", "sections[1] must be text in quotes"),
        ]
        .map(|(f, m)| (f.to_owned(), m.to_owned()))
    );
    // Numbers out of their documented bounds are read, and answered with
    // the service's own messages beside the other problems.
    let named = digest_problems(
        serde_json::json!({
            "frequency": "hourly", "weekday": 53433, "send_hour": -4
        }),
        422,
        "validation",
    )
    .await;
    let fields: Vec<&str> = named.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(fields, ["frequency", "send_hour", "weekday"]);
    // A body of the documented types is taken.
    let theme = app
        .api_post(
            "/api/v1/themes",
            &admin,
            &serde_json::json!({ "name": "Data sharing" }),
        )
        .await;
    assert_eq!(theme.status(), 201);
    app.stop().await;
}

#[tokio::test]
async fn a_page_size_out_of_range_is_answered_with_its_bounds() {
    let app = spawn_app().await;
    let token = app.api_token_for("limits@example.com", Role::Board).await;
    for path in [
        "/api/v1/ideas?limit=-5",
        "/api/v1/reports?limit=0",
        "/api/v1/ideas?limit=101",
    ] {
        let body = problem(app.api_get(path, &token).await, 422, "validation").await;
        assert_eq!(
            named_fields(&body),
            [(
                "limit".to_owned(),
                "limit must be between 1 and 100".to_owned()
            )],
            "{path}"
        );
    }
    let spec: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("spec");
    let limit = spec["paths"]["/v1/ideas"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
        .expect("the limit parameter");
    assert_eq!(limit["schema"]["minimum"], 1.0);
    assert_eq!(limit["schema"]["maximum"], 100.0);
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_on_the_api_and_on_pages() {
    let app = spawn_app().await;
    let token = app
        .api_token_for("big@example.com", Role::Contributor)
        .await;
    let huge = format!(
        "{{\"name\": \"{}\"}}",
        "x".repeat(hub::web::body::MAX_BODY_BYTES + 10)
    );
    let resp = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .expect("POST");
    problem(resp, 413, "payload-too-large").await;
    let page = app
        .client
        .post(app.url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .expect("POST");
    assert_eq!(page.status(), 413);
    assert!(page.text().await.expect("body").contains("too large"));
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_and_docs_are_served() {
    let app = spawn_app().await;
    let spec: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    assert!(spec["paths"]["/v1/me"]["get"].is_object());
    assert!(spec["paths"]["/v1/tokens"]["post"]["responses"]["422"]["content"]["application/problem+json"].is_object());
    // Only validation problems carry `errors`; optional fields sent as null say so.
    let problem_required = spec["components"]["schemas"]["Problem"]["required"].to_string();
    assert!(problem_required.contains("\"detail\"") && !problem_required.contains("\"errors\""));
    let last_used = &spec["components"]["schemas"]["ApiTokenSummary"]["properties"]["last_used_at"];
    assert_eq!(last_used["nullable"], true);
    let docs = app.get("/api/docs").await;
    assert_eq!(docs.status(), 200);
    let problem_page = app.get_html("/problems/validation").await;
    assert!(problem_page.contains("Validation failed"));
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_get_the_nhs_404_page() {
    let app = spawn_app().await;
    let resp = app.get("/no/such/page").await;
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.expect("body");
    assert!(html.contains("<h1>Page not found</h1>"));
    assert!(html.contains("Page not found – HealthTech Hub"));
    app.stop().await;
}
