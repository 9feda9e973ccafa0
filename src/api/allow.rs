//! The methods each path of the API takes, read from its own OpenAPI
//! document, for the `Allow` header that a 405 must carry (RFC 9110 §15.5.6).

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// Path templates (`/api/v1/ideas/{id}`) with their methods.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    paths: Vec<(Vec<Segment>, String)>,
}

impl AllowedMethods {
    /// Reads the `paths` of an OpenAPI document served under `prefix`.
    pub fn from_spec(spec: &Value, prefix: &str) -> Self {
        let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
            return Self::default();
        };
        let paths = paths
            .iter()
            .filter_map(|(template, item)| {
                let item = item.as_object()?;
                let mut methods: Vec<String> = METHODS
                    .iter()
                    .filter(|m| item.contains_key(**m))
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                // The router answers HEAD wherever it answers GET.
                if item.contains_key("get") && !item.contains_key("head") {
                    methods.insert(1, "HEAD".to_owned());
                }
                let segments = segments(&format!("{prefix}{template}"))
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                Some((segments, methods.join(", ")))
            })
            .collect();
        Self { paths }
    }

    /// The `Allow` value for a request path, if the API has that path. Where
    /// templates overlap (`/ideas/similar`, `/ideas/{id}`), a literal segment
    /// wins over a parameter, as in the router.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        let asked: Vec<&str> = segments(path).collect();
        self.paths
            .iter()
            .filter(|(template, _)| {
                template.len() == asked.len()
                    && template.iter().zip(&asked).all(|(t, a)| match t {
                        Segment::Literal(l) => l == a,
                        Segment::Parameter => !a.is_empty(),
                    })
            })
            .max_by_key(|(template, _)| {
                template
                    .iter()
                    .map(|t| matches!(t, Segment::Literal(_)))
                    .collect::<Vec<bool>>()
            })
            .map(|(_, allow)| allow.as_str())
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').skip(1)
}

#[cfg(test)]
mod tests {
    use super::AllowedMethods;
    use serde_json::json;

    fn table() -> AllowedMethods {
        AllowedMethods::from_spec(
            &json!({ "paths": {
                "/ideas": { "get": {}, "post": {} },
                "/ideas/{id}": { "get": {}, "put": {}, "delete": {} },
                "/ideas/similar": { "post": {} },
            }}),
            "/api/v1",
        )
    }

    #[test]
    fn a_path_gets_the_methods_of_its_template_with_head_beside_get() {
        let table = table();
        assert_eq!(table.for_path("/api/v1/ideas"), Some("GET, HEAD, POST"));
        assert_eq!(
            table.for_path("/api/v1/ideas/0190c3e2-0000-7000-8000-000000000000"),
            Some("GET, HEAD, PUT, DELETE")
        );
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        assert_eq!(table().for_path("/api/v1/ideas/similar"), Some("POST"));
    }

    #[test]
    fn a_path_the_api_does_not_have_gets_nothing() {
        let table = table();
        assert_eq!(table.for_path("/api/v1/nothing"), None);
        assert_eq!(table.for_path("/api/v1/ideas/1/2"), None);
        assert_eq!(table.for_path("/ideas"), None);
    }
}
