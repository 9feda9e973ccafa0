//! Field errors for pages: the NHS error summary at the top and the message
//! beside each field come from the same list.

use crate::error::FieldError;

#[derive(Debug, Default, Clone)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn list(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl From<Vec<FieldError>> for Errors {
    fn from(v: Vec<FieldError>) -> Self {
        Self(v)
    }
}

/// A checkbox, radio or select option as a template shows it.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// Options from `(value, label)` pairs, checked when their value is selected.
pub fn choices<'a>(
    options: impl Iterator<Item = (&'a str, &'a str)>,
    selected: &[impl AsRef<str>],
) -> Vec<Choice> {
    options
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            checked: selected.iter().any(|s| s.as_ref() == value),
        })
        .collect()
}

/// A refused form submission as errors to show on the form again, with its
/// status: field errors (422), a conflict with someone else's change (409)
/// or too many submissions (429), the last two shown against
/// `conflict_field`, so that nothing typed is lost. Anything else is not the
/// form's.
pub fn refusal(
    err: crate::error::AppError,
    conflict_field: &str,
) -> Result<(Errors, poem::http::StatusCode), crate::error::AppError> {
    use crate::error::AppError;
    use poem::http::StatusCode;
    match err {
        AppError::Validation(errors) => Ok((errors.into(), StatusCode::UNPROCESSABLE_ENTITY)),
        AppError::Conflict(message) | AppError::Closed(message) => {
            let mut errors = Errors::default();
            errors.add(conflict_field, message);
            Ok((errors, StatusCode::CONFLICT))
        }
        AppError::TooManyRequests { retry_after_secs } => {
            let mut errors = Errors::default();
            errors.add(
                conflict_field,
                format!(
                    "You have sent a lot in the last hour. To keep the service fair, you can send this again in {}. What you wrote is kept below",
                    crate::text::minutes_from_seconds(retry_after_secs)
                ),
            );
            Ok((errors, StatusCode::TOO_MANY_REQUESTS))
        }
        other => Err(other),
    }
}

/// A urlencoded form body with repeated fields kept (checkbox groups send one
/// field per ticked box, which serde's form decoding cannot hold).
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Browsers send a textarea's line breaks as CRLF: they are kept as LF,
    /// so that text typed on a page compares and stores like text sent to the API.
    pub fn parse(body: &[u8]) -> Self {
        Fields(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.replace("\r\n", "\n")))
                .collect(),
        )
    }

    /// The first value of `name`, or "" when it is absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every field in order, for forms with one field per item.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a checkbox called `name` was ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<'a> poem::FromRequest<'a> for Fields {
    async fn from_request(
        req: &'a poem::Request,
        body: &mut poem::RequestBody,
    ) -> poem::Result<Self> {
        let bytes = bytes::Bytes::from_request(req, body).await?;
        Ok(Fields::parse(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn repeated_fields_are_all_kept() {
        let fields = Fields::parse(b"themes=a&themes=b&title=Hello+world&notify=on");
        assert_eq!(fields.all("themes"), ["a", "b"]);
        assert_eq!(fields.get("title"), "Hello world");
        assert_eq!(fields.get("missing"), "");
        assert!(fields.ticked("notify"));
        assert!(!fields.ticked("other"));
    }
}
