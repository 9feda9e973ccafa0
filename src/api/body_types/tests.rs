use poem::http::Method;
use serde_json::{Value, json};

use super::RequestBodies;
use crate::error::AppError;

const JSON: Option<&str> = Some("application/json; charset=utf-8");

fn bodies() -> RequestBodies {
    RequestBodies::from_spec(
        &json!({
            "paths": {
                "/themes/{id}": {
                    "patch": { "requestBody": { "content": {
                        "application/json; charset=utf-8": {
                            "schema": { "$ref": "#/components/schemas/ThemeUpdate" }
                        }
                    }}}
                },
                "/inbox/status": {
                    "post": { "requestBody": { "content": {
                        "application/json; charset=utf-8": {
                            "schema": { "$ref": "#/components/schemas/Status" }
                        }
                    }}}
                },
                "/imports": {
                    "post": { "requestBody": { "content": {
                        "text/csv": { "schema": { "type": "string", "format": "binary" } }
                    }}}
                }
            },
            "components": { "schemas": {
                "ThemeUpdate": { "type": "object", "properties": {
                    "name": { "type": "string" },
                    "active": { "type": "boolean" },
                    "position": { "type": "integer", "format": "int32" },
                    "hour": { "type": "integer", "format": "int16", "minimum": 5, "maximum": 22 },
                    "assignee": { "type": "string", "format": "uuid", "nullable": true }
                }},
                "Status": { "type": "object", "required": ["items"], "properties": {
                    "items": { "type": "array", "items": { "$ref": "#/components/schemas/ItemRef" } },
                    "answers": { "type": "object", "additionalProperties": {
                        "type": "array", "items": { "type": "string" }
                    }},
                    "parent": { "nullable": true, "allOf": [
                        { "$ref": "#/components/schemas/ItemRef" }, { "nullable": true }
                    ]},
                    "first": { "allOf": [
                        { "$ref": "#/components/schemas/ItemRef" }, { "description": "The first." }
                    ]}
                }},
                "ItemRef": { "type": "object", "properties": {
                    "kind": { "type": "string" },
                    "id": { "type": "string", "format": "uuid" }
                }}
            }}
        }),
        "/api/v1",
    )
}

/// The fields and messages of the problem a body gets, or none.
fn problems(method: Method, path: &str, body: &Value) -> Vec<(String, String)> {
    match bodies().check(&method, path, JSON, body.to_string().as_bytes()) {
        Ok(()) => Vec::new(),
        Err(AppError::WrongTypes(errors)) => {
            errors.into_iter().map(|e| (e.field, e.message)).collect()
        }
        Err(other) => panic!("expected a wrong-types problem, got {other:?}"),
    }
}

fn fields(method: Method, path: &str, body: &Value) -> Vec<String> {
    problems(method, path, body)
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

#[test]
fn a_body_of_the_documented_types_passes() {
    let body = json!({ "name": "Data", "active": true, "position": 3, "assignee": null });
    assert!(fields(Method::PATCH, "/api/v1/themes/7", &body).is_empty());
    let body = json!({
        "items": [{ "kind": "idea", "id": "0190c3e2-0000-7000-8000-000000000000" }],
        "answers": { "q1": ["yes"] },
        "parent": null,
        "first": { "kind": "report" },
        "unknown": 12
    });
    assert!(fields(Method::POST, "/api/v1/inbox/status", &body).is_empty());
}

#[test]
fn a_number_or_boolean_for_text_is_refused_with_the_fields_named() {
    let mut found = problems(
        Method::PATCH,
        "/api/v1/themes/7",
        &json!({ "name": false, "active": "yes", "position": 1.5 }),
    );
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "active".to_owned(),
                "active must be true or false".to_owned()
            ),
            ("name".to_owned(), "name must be text in quotes".to_owned()),
            (
                "position".to_owned(),
                "position must be a whole number".to_owned()
            ),
        ]
    );
}

#[test]
fn a_number_outside_its_documented_bounds_is_left_to_the_operation() {
    // The operation reports it beside every other rule the request breaks.
    for hour in [4, 23, -111_838_069, 53_433] {
        assert!(fields(Method::PATCH, "/api/v1/themes/7", &json!({ "hour": hour })).is_empty());
    }
}

#[test]
fn null_is_refused_where_the_document_does_not_allow_it() {
    assert_eq!(
        problems(Method::PATCH, "/api/v1/themes/7", &json!({ "name": null })),
        vec![(
            "name".to_owned(),
            "name must be text in quotes, not null".to_owned()
        )]
    );
    assert_eq!(
        fields(
            Method::POST,
            "/api/v1/inbox/status",
            &json!({ "items": [], "first": null })
        ),
        vec!["first"]
    );
}

#[test]
fn nested_fields_are_named_with_their_path() {
    let body = json!({
        "items": [{ "kind": "idea" }, { "kind": 4 }, "idea"],
        "answers": { "q1": ["yes", 2], "q2": "no" },
        "first": { "id": true }
    });
    let mut found = fields(Method::POST, "/api/v1/inbox/status", &body);
    found.sort();
    assert_eq!(
        found,
        vec![
            "answers.q1[1]",
            "answers.q2",
            "first.id",
            "items[1].kind",
            "items[2]"
        ]
    );
}

#[test]
fn a_hostile_body_gets_a_bounded_answer() {
    let items: Vec<Value> = (0..500).map(|_| json!({ "kind": 1 })).collect();
    let found = fields(
        Method::POST,
        "/api/v1/inbox/status",
        &json!({ "items": items }),
    );
    assert_eq!(found.len(), super::MAX_ERRORS);
    // Map keys are the client's own text: a long one is not repeated whole.
    let key = "k".repeat(200_000);
    let wrong: Vec<Value> = (0..50).map(|_| json!(1)).collect();
    let found = problems(
        Method::POST,
        "/api/v1/inbox/status",
        &json!({ "answers": { key.as_str(): wrong } }),
    );
    assert_eq!(found.len(), super::MAX_ERRORS);
    let answer_chars: usize = found
        .iter()
        .map(|(f, m)| f.chars().count() + m.chars().count())
        .sum();
    assert!(answer_chars < 20 * 2 * 200, "{answer_chars} characters");
    assert!(
        found[0].0.starts_with("answers.kkk") && found[0].0.ends_with('…'),
        "{}",
        found[0].0
    );
}

#[test]
fn every_json_content_type_is_checked() {
    let bodies = bodies();
    let wrong = br#"{"name": false}"#;
    for content_type in [
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/merge-patch+json",
    ] {
        assert!(
            bodies
                .check(
                    &Method::PATCH,
                    "/api/v1/themes/7",
                    Some(content_type),
                    wrong
                )
                .is_err(),
            "{content_type}"
        );
    }
}

#[test]
fn bodies_it_cannot_judge_are_left_to_the_operation() {
    let bodies = bodies();
    let wrong: &[u8] = br#"{"name": false}"#;
    let themes = "/api/v1/themes/7";
    // Not JSON by its content type, not JSON at all, a path or method
    // without a JSON body, a path the API does not have (a trailing slash
    // included: the router answers 404).
    let cases: [(Method, &str, Option<&str>, &[u8]); 7] = [
        (Method::PATCH, themes, Some("text/plain"), wrong),
        (Method::PATCH, themes, None, wrong),
        (Method::PATCH, themes, JSON, b"{not json"),
        (Method::POST, "/api/v1/imports", JSON, wrong),
        (Method::PUT, themes, JSON, wrong),
        (Method::PATCH, "/api/v1/nothing", JSON, wrong),
        (Method::PATCH, "/api/v1/themes/7/", JSON, wrong),
    ];
    for (method, path, content_type, body) in cases {
        assert!(
            bodies.check(&method, path, content_type, body).is_ok(),
            "{method} {path} {content_type:?}"
        );
    }
}

#[test]
fn the_apis_own_document_holds_its_bodies_to_their_types() {
    let spec: Value = serde_json::from_str(&crate::api::service().spec()).expect("the document");
    let bodies = RequestBodies::from_spec(&spec, "/api");
    let check =
        |method: Method, path: &str, body: &str| bodies.check(&method, path, JSON, body.as_bytes());
    assert!(matches!(
        check(Method::POST, "/api/v1/themes", r#"{"name": false}"#),
        Err(AppError::WrongTypes(_))
    ));
    assert!(check(Method::POST, "/api/v1/themes", r#"{"name": "Data"}"#).is_ok());
    // Unassigning is said with null, which the document allows.
    let assignee = "/api/v1/inbox/idea/0190c3e2-0000-7000-8000-000000000000/assignee";
    assert!(check(Method::PUT, assignee, r#"{"assignee": null}"#).is_ok());
    assert!(check(Method::PUT, assignee, r#"{"assignee": 7}"#).is_err());
    // The digest hours the document gives are the ones the service keeps.
    let hour = spec
        .pointer("/components/schemas/DigestSettingsBody/properties/send_hour")
        .expect("send_hour");
    use crate::digests::settings::{FIRST_HOUR, LAST_HOUR};
    assert_eq!(hour["minimum"].as_f64(), Some(f64::from(FIRST_HOUR)));
    assert_eq!(hour["maximum"].as_f64(), Some(f64::from(LAST_HOUR)));
}
