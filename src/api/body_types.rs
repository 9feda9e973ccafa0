//! JSON request bodies are held to the types the API's own OpenAPI document
//! gives them, before an operation reads them.
//!
//! The operations read their bodies leniently on purpose, so that every rule
//! a request breaks is answered at once with a message per field: a missing
//! text reads as empty and is then reported as "Enter a title". But the
//! parser underneath would also take `false` or `42` where the document says
//! text (as the text "false" or "42"), and `null` where it does not say
//! nullable (as absent). Those are a client's mistakes the document rules
//! out, and taking them silently would store what nobody typed. This check
//! refuses them with a validation problem naming each field. Rules about
//! what the values say (lengths, bounds, known kinds) stay with the
//! operations, which report every one broken at once.

use std::collections::HashMap;

use poem::http::Method;
use serde_json::{Map, Value};

use super::paths::PathTable;
use crate::error::{AppError, FieldError};

/// Each path's request body schemas by method, and the document's named
/// schemas they refer to.
#[derive(Debug, Clone, Default)]
pub struct RequestBodies {
    paths: PathTable<HashMap<Method, Value>>,
    schemas: Map<String, Value>,
}

/// How many wrong fields one answer lists: enough to mend a request, never
/// an answer as large as a hostile body.
const MAX_ERRORS: usize = 20;

impl RequestBodies {
    /// Reads the JSON request bodies of an OpenAPI document served under `prefix`.
    pub fn from_spec(spec: &Value, prefix: &str) -> Self {
        let paths = PathTable::from_spec(spec, prefix, |item| {
            let bodies: HashMap<Method, Value> = item
                .iter()
                .filter_map(|(method, operation)| {
                    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                    let schema = operation
                        .pointer("/requestBody/content")?
                        .as_object()?
                        .iter()
                        .find(|(media_type, _)| media_type.starts_with("application/json"))?
                        .1
                        .get("schema")?;
                    Some((method, schema.clone()))
                })
                .collect();
            (!bodies.is_empty()).then_some(bodies)
        });
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Self { paths, schemas }
    }

    /// Refuses a JSON body with a value of the wrong type, or null where the
    /// document does not allow it. Bodies that are not JSON, or do not
    /// parse, are left to the operation, which refuses them in its own words.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), AppError> {
        if !content_type.is_some_and(|c| c.trim_start().starts_with("application/json")) {
            return Ok(());
        }
        let Some(schema) = self.paths.find(path).and_then(|bodies| bodies.get(method)) else {
            return Ok(());
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        self.check_value(&value, schema, "body", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            errors.truncate(MAX_ERRORS);
            Err(AppError::Validation(errors))
        }
    }

    fn check_value(
        &self,
        value: &Value,
        schema: &Value,
        field: &str,
        errors: &mut Vec<FieldError>,
    ) {
        if errors.len() >= MAX_ERRORS {
            return;
        }
        let schema = self.resolve(schema);
        // poem-openapi describes a referenced type that carries its own
        // description as `allOf: [{$ref}]`.
        if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
            let nullable = is_nullable(schema);
            for part in all_of {
                if !(value.is_null() && nullable) {
                    self.check_value(value, part, field, errors);
                }
            }
            return;
        }
        let Some(expected) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        if value.is_null() {
            if !is_nullable(schema) {
                errors.push(FieldError::new(
                    field,
                    format!("{field} must be {}, not null", described(expected)),
                ));
            }
            return;
        }
        let fits = match expected {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !fits {
            errors.push(FieldError::new(
                field,
                format!("{field} must be {}", described(expected)),
            ));
            return;
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(item, item_schema, &format!("{field}[{i}]"), errors);
                    }
                }
            }
            Value::Object(members) => self.check_members(members, schema, field, errors),
            _ => {}
        }
    }

    fn check_members(
        &self,
        members: &Map<String, Value>,
        schema: &Value,
        field: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|s| s.is_object());
        // The top level's fields are named as they are sent; deeper ones with
        // the path to them, as `items[0].kind`.
        let name = |key: &str| {
            if field == "body" {
                key.to_owned()
            } else {
                format!("{field}.{key}")
            }
        };
        for (key, member) in members {
            match (properties.and_then(|p| p.get(key)), additional) {
                (Some(member_schema), _) | (None, Some(member_schema)) => {
                    self.check_value(member, member_schema, &name(key), errors);
                }
                // A field the document does not name is ignored, as the
                // operation ignores it.
                (None, None) => {}
            }
        }
    }

    /// A `$ref` to one of the document's schemas, followed.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        // A bounded walk: a document whose references loop cannot hang a request.
        for _ in 0..8 {
            let Some(name) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            else {
                break;
            };
            match self.schemas.get(name) {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

fn described(json_type: &str) -> &'static str {
    match json_type {
        "string" => "text in quotes",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "an object",
        _ => "of the documented type",
    }
}

#[cfg(test)]
mod tests;
