//! The inbox's filters as the page and the API receive them, checked.

use uuid::Uuid;

use super::inbox::{Assignee, InboxFilter, InboxKind, InboxSort, MAX_LIMIT, MAX_OFFSET};
use crate::error::{AppError, FieldError};

/// Filters as typed: every field optional.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct RawFilter {
    pub kind: Vec<String>,
    pub status: String,
    /// "me", "unassigned" or a board member's id.
    pub assignee: String,
    pub theme: String,
    /// A board tag's slug.
    pub tag: String,
    pub category: String,
    pub severity: String,
    pub organisation: String,
    pub consultation: String,
    pub older_than_days: String,
    pub sort: String,
    pub offset: String,
    pub limit: String,
}

fn some(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.chars().take(200).collect())
}

impl RawFilter {
    pub fn check(&self, me: Uuid) -> Result<InboxFilter, AppError> {
        let mut errors = Vec::new();
        let mut kinds = Vec::new();
        for k in self.kind.iter().filter(|k| !k.trim().is_empty()) {
            match InboxKind::parse(k) {
                Some(kind) => kinds.push(kind),
                None => errors.push(FieldError::new(
                    "kind",
                    "Kind must be idea, report or consultation_response",
                )),
            }
        }
        let assignee = match self.assignee.trim() {
            "" | "anyone" => Assignee::Anyone,
            "me" => Assignee::Person(me),
            "unassigned" => Assignee::Unassigned,
            raw => match Uuid::parse_str(raw) {
                Ok(id) => Assignee::Person(id),
                Err(_) => {
                    errors.push(FieldError::new(
                        "assignee",
                        "Assignee must be me, unassigned or a board member",
                    ));
                    Assignee::Anyone
                }
            },
        };
        let number =
            |field: &str, raw: &str, max: u64, errors: &mut Vec<FieldError>| -> Option<u64> {
                match raw.trim() {
                    "" => None,
                    text => match text.parse::<u64>() {
                        Ok(n) if n <= max => Some(n),
                        _ => {
                            errors.push(FieldError::new(
                                field,
                                format!("{field} must be a whole number from 0 to {max}"),
                            ));
                            None
                        }
                    },
                }
            };
        let older_than_days =
            number("older_than_days", &self.older_than_days, 3650, &mut errors).map(|n| n as i64);
        let offset = number("offset", &self.offset, MAX_OFFSET, &mut errors).unwrap_or(0);
        let limit = number("limit", &self.limit, MAX_LIMIT, &mut errors)
            .filter(|n| *n > 0)
            .unwrap_or(50);
        let sort = match self.sort.trim() {
            "" => InboxSort::Oldest,
            raw => InboxSort::parse(raw).unwrap_or_else(|| {
                errors.push(FieldError::new("sort", "Sort must be oldest or newest"));
                InboxSort::Oldest
            }),
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(InboxFilter {
            kinds,
            status: some(&self.status),
            assignee,
            theme: some(&self.theme),
            tag: some(&self.tag),
            awaiting: false,
            category: some(&self.category),
            severity: some(&self.severity),
            organisation: some(&self.organisation),
            consultation: some(&self.consultation),
            older_than_days,
            sort,
            offset,
            limit,
        })
    }
}

/// "idea:ID:VERSION" from a checkbox: which item, at which version.
pub fn parse_item(raw: &str) -> Option<(InboxKind, Uuid, i32)> {
    let mut parts = raw.split(':');
    let kind = InboxKind::parse(parts.next()?)?;
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let version = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((kind, id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_bounded() {
        let me = Uuid::now_v7();
        let f = RawFilter {
            assignee: "me".into(),
            kind: vec!["report".into()],
            ..Default::default()
        }
        .check(me)
        .unwrap();
        assert_eq!(f.assignee, Assignee::Person(me));
        assert_eq!(f.kinds, vec![InboxKind::Report]);
        assert_eq!(f.limit, 50);
        let err = RawFilter {
            limit: "1000".into(),
            assignee: "bob".into(),
            kind: vec!["x".into()],
            ..Default::default()
        }
        .check(me)
        .unwrap_err();
        let fields: Vec<String> = err.field_errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["kind", "assignee", "limit"]);
    }

    #[test]
    fn checkbox_values_name_an_item_and_its_version() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_item(&format!("idea:{id}:3")),
            Some((InboxKind::Idea, id, 3))
        );
        assert_eq!(parse_item(&format!("idea:{id}")), None);
        assert_eq!(parse_item(&format!("martian:{id}:3")), None);
        assert_eq!(parse_item(&format!("idea:{id}:3:extra")), None);
    }
}
