//! Validated account values. Each `parse` returns the message a person sees.

use std::fmt;

pub const MAX_EMAIL_LEN: usize = 320;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("Enter your email address");
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err("Email address must be 320 characters or fewer");
        }
        let lowered = trimmed.to_lowercase();
        let valid = lowered.parse::<lettre::Address>().is_ok()
            && lowered.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !valid {
            return Err("Enter an email address in the correct format, like name@example.nhs.uk");
        }
        Ok(Self(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Contributor,
    Board,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Contributor, Role::Board, Role::Admin];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "contributor" => Some(Role::Contributor),
            "board" => Some(Role::Board),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contributor => "contributor",
            Role::Board => "board",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Contributor => "Contributor",
            Role::Board => "Board member",
            Role::Admin => "Administrator",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespondentType {
    NhsStaff,
    Supplier,
    Expert,
    PatientOrPublic,
    Other,
}

impl RespondentType {
    pub const ALL: [RespondentType; 5] = [
        RespondentType::NhsStaff,
        RespondentType::Supplier,
        RespondentType::Expert,
        RespondentType::PatientOrPublic,
        RespondentType::Other,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RespondentType::NhsStaff => "nhs_staff",
            RespondentType::Supplier => "supplier",
            RespondentType::Expert => "expert",
            RespondentType::PatientOrPublic => "patient_or_public",
            RespondentType::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RespondentType::NhsStaff => "NHS staff",
            RespondentType::Supplier => "Supplier",
            RespondentType::Expert => "Technology expert",
            RespondentType::PatientOrPublic => "Patient or member of the public",
            RespondentType::Other => "Other",
        }
    }
}

/// Free text of bounded length with no control characters.
pub fn bounded_text(
    raw: &str,
    max_chars: usize,
    required: Option<&'static str>,
) -> Result<Option<String>, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return match required {
            Some(message) => Err(message.to_owned()),
            None => Ok(None),
        };
    }
    if trimmed.chars().count() > max_chars {
        return Err(format!("Must be {max_chars} characters or fewer"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("Must not contain control characters".to_owned());
    }
    Ok(Some(trimmed.to_owned()))
}

/// NHS Organisation Data Service codes: 3 to 10 letters and digits.
pub fn ods_code(raw: &str) -> Result<Option<String>, &'static str> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    if !(3..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("ODS code must be 3 to 10 letters and numbers, like RTH");
    }
    Ok(Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_trimmed_and_lower_cased() {
        assert_eq!(
            EmailAddress::parse("  Jo.Bloggs@NHS.net ").map(|e| e.0),
            Ok("jo.bloggs@nhs.net".into())
        );
    }

    #[test]
    fn malformed_email_addresses_are_refused_with_a_message() {
        for bad in [
            "",
            "jo",
            "jo@",
            "@nhs.net",
            "jo@nhs",
            "jo @nhs.net",
            "jo@nhs.net.",
            &"a".repeat(400),
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn roles_and_respondent_types_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for t in RespondentType::ALL {
            assert_eq!(RespondentType::parse(t.as_str()), Some(t));
        }
        assert_eq!(Role::parse("superuser"), None);
    }

    #[test]
    fn bounded_text_enforces_length_and_requiredness() {
        assert_eq!(bounded_text("  ", 5, None), Ok(None));
        assert!(bounded_text("", 5, Some("Enter your name")).is_err());
        assert!(bounded_text("abcdef", 5, None).is_err());
        assert!(bounded_text("a\u{0007}b", 5, None).is_err());
        assert_eq!(bounded_text(" Jo ", 5, None), Ok(Some("Jo".into())));
    }

    #[test]
    fn ods_codes_are_upper_cased_and_checked() {
        assert_eq!(ods_code(" rth "), Ok(Some("RTH".into())));
        assert!(ods_code("R-TH").is_err());
        assert_eq!(ods_code(""), Ok(None));
    }
}
