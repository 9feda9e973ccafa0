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
