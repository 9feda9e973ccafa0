//! The patient-data guard: free text must not carry NHS numbers. A number is
//! treated as an NHS number when it has 10 digits (written together or
//! split by single spaces or dashes) and a valid Modulus 11 check digit.

use crate::error::FieldError;

/// Whether `text` contains something that is a valid NHS number.
pub fn contains_nhs_number(text: &str) -> bool {
    digit_runs(text).iter().any(|groups| {
        // A run like "12 943 476 5919" holds an NHS number in its last three
        // groups: try every span of whole groups that adds up to ten digits.
        (0..groups.len()).any(|start| {
            let mut digits = String::new();
            for group in &groups[start..] {
                digits.push_str(group);
                if digits.len() >= 10 {
                    break;
                }
            }
            digits.len() == 10 && valid_check_digit(&digits)
        })
    })
}

/// Groups of digits joined by a single space or dash, not touching other digits.
fn digit_runs(text: &str) -> Vec<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(&text[start..i]);
            let joined = i + 1 < bytes.len()
                && matches!(bytes[i], b' ' | b'-')
                && bytes[i + 1].is_ascii_digit();
            if joined {
                i += 1;
                continue;
            }
            runs.push(std::mem::take(&mut groups));
        } else {
            i += 1;
        }
    }
    runs
}

fn valid_check_digit(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(digit, weight)| digit * weight)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == d[9]
}

/// One error per field that contains an NHS number.
pub fn check(fields: &[(&str, &str, &str)]) -> Vec<FieldError> {
    fields
        .iter()
        .filter(|(_, _, text)| contains_nhs_number(text))
        .map(|(field, label, _)| {
            FieldError::new(
                *field,
                format!(
                    "{label} contains what looks like an NHS number. Remove it: do not include information that could identify a patient"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_nhs_numbers_are_found_however_they_are_written() {
        for text in [
            "9434765919",
            "patient 943 476 5919 was affected",
            "ref 943-476-5919.",
            "(4010232137)",
            "seen 12 943 476 5919",
        ] {
            assert!(contains_nhs_number(text), "{text}");
        }
    }

    #[test]
    fn numbers_with_a_wrong_check_digit_or_length_pass() {
        for text in [
            "9434765918",
            "943 476 5910",
            "94347659190",
            "phone 020 7946 0958",
            "ward 10, bed 3",
            "2026-11-21",
            "",
        ] {
            assert!(!contains_nhs_number(text), "{text}");
        }
    }

    #[test]
    fn a_check_digit_of_ten_is_never_valid() {
        // Weighted sum 1 (mod 11) gives a check value of 10.
        assert!(!valid_check_digit("1000000010"));
    }

    #[test]
    fn errors_name_the_field() {
        let errors = check(&[
            ("title", "Title", "fine"),
            ("description", "Description", "NHS no 943 476 5919"),
        ]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "description");
        assert!(errors[0].message.starts_with("Description contains"));
    }
}
