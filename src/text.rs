//! Validation of the free text people write: length limits, no control
//! characters, and the patient-data guard, with messages that name the field.

use crate::error::FieldError;
use crate::patient_data;

/// One free-text field of a submission.
pub struct TextField<'a> {
    /// The form and JSON name, used to point the error at the field.
    pub name: &'a str,
    /// How the field is called on the page, used in messages.
    pub label: &'a str,
    pub max_chars: usize,
    /// Markdown and other long text may span lines.
    pub multiline: bool,
    /// The message when it is left empty; None when it is optional.
    pub required: Option<&'a str>,
}

impl TextField<'_> {
    /// The trimmed text (None when empty and optional), or an error added to `errors`.
    pub fn check(&self, raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            if let Some(message) = self.required {
                errors.push(FieldError::new(self.name, message));
            }
            return None;
        }
        let count = trimmed.chars().count();
        if count > self.max_chars {
            errors.push(FieldError::new(
                self.name,
                format!(
                    "{} must be {} characters or fewer (it has {count})",
                    self.label,
                    group_thousands(self.max_chars as u64)
                ),
            ));
            return None;
        }
        let allowed = |c: char| self.multiline && matches!(c, '\n' | '\r' | '\t');
        if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
            errors.push(FieldError::new(
                self.name,
                format!("{} must not contain control characters", self.label),
            ));
            return None;
        }
        let found = patient_data::check(&[(self.name, self.label, trimmed)]);
        if !found.is_empty() {
            errors.extend(found);
            return None;
        }
        Some(trimmed.to_owned())
    }
}

/// A stable, readable identifier from a name: "Data and AI" becomes
/// "data-and-ai" (ASCII letters and digits, single hyphens between words).
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// The text of a snippet of HTML this service wrote (search highlights):
/// tags dropped, the five escaped characters restored.
pub fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// A CSV cell a spreadsheet would run as a formula is prefixed with `'`,
/// so that it is shown as text (CSV injection).
pub fn defuse_csv_cell(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// A wait in seconds as people say it, rounded up: "1 minute", "42 minutes".
pub fn minutes_from_seconds(secs: u64) -> String {
    match secs.div_ceil(60).max(1) {
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

/// 20000 as "20,000".
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn waits_are_told_in_whole_minutes_rounded_up() {
        assert_eq!(super::minutes_from_seconds(1), "1 minute");
        assert_eq!(super::minutes_from_seconds(60), "1 minute");
        assert_eq!(super::minutes_from_seconds(61), "2 minutes");
        assert_eq!(super::minutes_from_seconds(3_600), "60 minutes");
    }

    #[test]
    fn no_cell_leaves_as_a_formula_whatever_it_holds() {
        let mut hostile = crate::hostile::Hostile::new(3);
        for case in 0..5_000 {
            let cell = hostile.text(4);
            let out = defuse_csv_cell(&cell);
            assert!(
                !out.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "case {case}: {cell:?} -> {out:?}"
            );
            assert!(out.ends_with(&cell), "nothing is lost: {cell:?} -> {out:?}");
        }
    }

    use super::*;

    const TITLE: TextField<'static> = TextField {
        name: "title",
        label: "Title",
        max_chars: 5,
        multiline: false,
        required: Some("Enter a title"),
    };

    #[test]
    fn required_length_control_and_patient_data_are_checked() {
        let mut errors = Vec::new();
        assert_eq!(TITLE.check("  ok ", &mut errors), Some("ok".into()));
        assert!(errors.is_empty());
        assert_eq!(TITLE.check("   ", &mut errors), None);
        assert_eq!(errors[0].message, "Enter a title");
        assert_eq!(TITLE.check("too long", &mut errors), None);
        assert_eq!(
            errors[1].message,
            "Title must be 5 characters or fewer (it has 8)"
        );
        assert_eq!(TITLE.check("a\nb", &mut errors), None);
        assert!(errors[2].message.contains("control characters"));
        let long = TextField {
            max_chars: 100,
            ..TITLE
        };
        assert_eq!(long.check("pt 943 476 5919", &mut errors), None);
        assert!(errors[3].message.contains("NHS number"));
    }

    #[test]
    fn formulas_are_shown_as_text_in_csv_cells() {
        assert_eq!(defuse_csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse_csv_cell("+1"), "'+1");
        assert_eq!(defuse_csv_cell("plain"), "plain");
        assert_eq!(
            slug("  Workforce & productivity! "),
            "workforce-productivity"
        );
    }

    #[test]
    fn multiline_text_keeps_its_line_breaks() {
        let mut errors = Vec::new();
        let body = TextField {
            multiline: true,
            ..TITLE
        };
        assert_eq!(body.check("a\nb", &mut errors), Some("a\nb".into()));
        assert_eq!(group_thousands(20000), "20,000");
    }
}
