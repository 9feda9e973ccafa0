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
//! refuses them as a bad request (400) naming each field, as the parser
//! refuses other values it cannot read. Rules about what the values say
//! (lengths, bounds, known kinds) stay with the operations, which report
//! every one broken at once (422).

use std::collections::HashMap;

use poem::http::Method;
use poem_openapi::payload::{Json, Payload};
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

/// The longest field name an answer repeats (map keys are the client's own
/// text, so a name could otherwise be as long as the body).
const MAX_NAME_CHARS: usize = 120;

/// How deep the check follows the document's schemas into a body. JSON
/// nesting itself stops at serde_json's 128 levels; this bounds the
/// document's own references as well.
const MAX_DEPTH: usize = 160;

/// The JSON types: how the messages say them, and whether a value is one.
type JsonType = (&'static str, &'static str, fn(&Value) -> bool);
const TYPES: [JsonType; 6] = [
    ("string", "text in quotes", Value::is_string),
    ("integer", "a whole number", |v| v.is_i64() || v.is_u64()),
    ("number", "a number", Value::is_number),
    ("boolean", "true or false", Value::is_boolean),
    ("array", "a list", Value::is_array),
    ("object", "an object", Value::is_object),
];

/// A JSON body is one poem-openapi reads as JSON: `application/json` or
/// any `application/*+json`, in any letter case.
fn is_json(content_type: &str) -> bool {
    <Json<Value> as Payload>::check_content_type(content_type)
}

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
                        .find(|(media_type, _)| is_json(media_type))?
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
        if !content_type.is_some_and(is_json) {
            return Ok(());
        }
        let Some(schema) = self.paths.find(path).and_then(|bodies| bodies.get(method)) else {
            return Ok(());
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        self.check_value(&value, schema, &Field::Body, 0, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::WrongTypes(errors))
        }
    }

    fn check_value(
        &self,
        value: &Value,
        schema: &Value,
        field: &Field,
        depth: usize,
        errors: &mut Vec<FieldError>,
    ) {
        if errors.len() >= MAX_ERRORS || depth > MAX_DEPTH {
            return;
        }
        let schema = self.resolve(schema);
        if value.is_null() && self.is_nullable(schema) {
            return;
        }
        // poem-openapi describes a referenced type with anything of its own
        // (a description, nullable) as `allOf: [{$ref}, {...}]`.
        if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
            for part in all_of {
                self.check_value(value, part, field, depth + 1, errors);
            }
            return;
        }
        let Some(expected) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        let Some((_, described, fits)) = TYPES.iter().find(|(name, ..)| *name == expected) else {
            return;
        };
        if value.is_null() || !fits(value) {
            let name = field.name();
            let not_null = if value.is_null() { ", not null" } else { "" };
            errors.push(FieldError::new(
                name.clone(),
                format!("{name} must be {described}{not_null}"),
            ));
            return;
        }
        match value {
            Value::Array(items) => {
                let Some(item_schema) = schema.get("items") else {
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    if errors.len() >= MAX_ERRORS {
                        return;
                    }
                    let at = Field::Item(field, i);
                    self.check_value(item, item_schema, &at, depth + 1, errors);
                }
            }
            Value::Object(members) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|s| s.is_object());
                for (key, member) in members {
                    if errors.len() >= MAX_ERRORS {
                        return;
                    }
                    // A field the document does not name is ignored, as the
                    // operation ignores it.
                    if let Some(member_schema) = properties.and_then(|p| p.get(key)).or(additional)
                    {
                        let at = Field::Member(field, key);
                        self.check_value(member, member_schema, &at, depth + 1, errors);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether null is allowed: said by the schema, or by a part of its `allOf`.
    fn is_nullable(&self, schema: &Value) -> bool {
        let says = |s: &Value| s.get("nullable").and_then(Value::as_bool) == Some(true);
        says(schema)
            || schema
                .get("allOf")
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(|p| says(self.resolve(p))))
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

/// Where a value stands in the body; its name is only built for an error.
enum Field<'a> {
    Body,
    Member(&'a Field<'a>, &'a str),
    Item(&'a Field<'a>, usize),
}

impl Field<'_> {
    /// `name`, `items[1].kind` or `answers.q1[0]`, cut short past
    /// `MAX_NAME_CHARS`; the whole body is `body`.
    fn name(&self) -> String {
        let mut name = String::new();
        self.write(&mut name);
        if name.is_empty() {
            return "body".to_owned();
        }
        match name.char_indices().nth(MAX_NAME_CHARS) {
            Some((cut, _)) => format!("{}…", &name[..cut]),
            None => name,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Field::Body => {}
            Field::Member(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Field::Item(parent, i) => {
                parent.write(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
