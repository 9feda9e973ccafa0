//! The methods each path of the API takes, read from its own OpenAPI
//! document, for the `Allow` header that a 405 must carry (RFC 9110 §15.5.6).

use serde_json::Value;

use super::paths::PathTable;

const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

/// Path templates (`/api/v1/ideas/{id}`) with their methods.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    paths: PathTable<String>,
}

impl AllowedMethods {
    /// Reads the `paths` of an OpenAPI document served under `prefix`.
    pub fn from_spec(spec: &Value, prefix: &str) -> Self {
        let paths = PathTable::from_spec(spec, prefix, |item| {
            let mut methods: Vec<String> = METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(|m| m.to_ascii_uppercase())
                .collect();
            // The router answers HEAD wherever it answers GET.
            if item.contains_key("get") && !item.contains_key("head") {
                methods.insert(1, "HEAD".to_owned());
            }
            Some(methods.join(", "))
        });
        Self { paths }
    }

    /// The `Allow` value for a request path, if the API has that path.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.paths.find(path).map(String::as_str)
    }
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
        assert_eq!(table.for_path("/api/v1/ideas/"), None);
    }
}
