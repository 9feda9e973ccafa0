//! The API's path templates (`/api/v1/ideas/{id}`), read from its own
//! OpenAPI document, each with what the service keeps about it, and the
//! template a request path falls under.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// Path templates with a value each.
#[derive(Debug, Clone)]
pub struct PathTable<T> {
    paths: Vec<(Vec<Segment>, T)>,
}

impl<T> Default for PathTable<T> {
    fn default() -> Self {
        Self { paths: Vec::new() }
    }
}

impl<T> PathTable<T> {
    /// Reads the `paths` of an OpenAPI document served under `prefix`,
    /// keeping what `keep` makes of each path item (its methods' object).
    pub fn from_spec(
        spec: &Value,
        prefix: &str,
        keep: impl Fn(&Map<String, Value>) -> Option<T>,
    ) -> Self {
        let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
            return Self::default();
        };
        let paths = paths
            .iter()
            .filter_map(|(template, item)| {
                let kept = keep(item.as_object()?)?;
                let segments = segments(&format!("{prefix}{template}"))
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                Some((segments, kept))
            })
            .collect();
        Self { paths }
    }

    /// The value of the template a request path falls under, if any. Where
    /// templates overlap (`/ideas/similar`, `/ideas/{id}`), a literal
    /// segment wins over a parameter, as in the router.
    pub fn find(&self, path: &str) -> Option<&T> {
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
            .map(|(_, kept)| kept)
    }
}

/// A path's segments; a trailing slash leaves an empty last one, so that
/// `/ideas/` matches no template, as it matches no route.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').skip(1)
}
