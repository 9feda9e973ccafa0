//! Best-practice reports: categories, severities, the status workflow and
//! the validated input.

use crate::error::FieldError;
use crate::ideas::domain::labelled_enum;
use crate::text::TextField;

pub const SYSTEM_NAME: TextField<'static> = TextField {
    name: "system_name",
    label: "System or product",
    max_chars: 200,
    multiline: false,
    required: Some("Enter the system or product"),
};
pub const SUPPLIER_NAME: TextField<'static> = TextField {
    name: "supplier_name",
    label: "Supplier",
    max_chars: 200,
    multiline: false,
    required: None,
};
pub const STANDARD_REFERENCE: TextField<'static> = TextField {
    name: "standard_reference",
    label: "Standard or consultation section",
    max_chars: 500,
    multiline: false,
    required: None,
};
pub const PATIENT_IMPACT: TextField<'static> = TextField {
    name: "patient_impact",
    label: "Impact on patients",
    max_chars: 5_000,
    multiline: true,
    required: Some("Describe the impact on patients, or say there is none"),
};
pub const STAFF_IMPACT: TextField<'static> = TextField {
    name: "staff_impact",
    label: "Impact on staff",
    max_chars: 5_000,
    multiline: true,
    required: Some("Describe the impact on staff, or say there is none"),
};
pub const EVIDENCE: TextField<'static> = TextField {
    name: "evidence",
    label: "What happened and your evidence",
    max_chars: 20_000,
    multiline: true,
    required: Some("Describe what happened and any evidence you have"),
};
pub const STATUS_NOTE: TextField<'static> = TextField {
    name: "note",
    label: "Note",
    max_chars: 5_000,
    multiline: true,
    required: Some("Enter a note for the reporter explaining the update"),
};

labelled_enum!(
    /// What kind of failure a report describes.
    Category {
        Interoperability => ("interoperability", "Systems don't talk to each other"),
        Outage => ("outage", "Outage or crash"),
        CyberSecurity => ("cyber_security", "Cyber security"),
        Privacy => ("privacy", "Privacy or data protection"),
        Usability => ("usability", "Unusable or slow"),
        Procurement => ("procurement", "Procurement or contract"),
        DataQuality => ("data_quality", "Data quality"),
        Other => ("other", "Other"),
    }
);

labelled_enum!(
    Severity {
        Low => ("low", "Low"),
        Medium => ("medium", "Medium"),
        High => ("high", "High"),
        Critical => ("critical", "Critical"),
    }
);

impl Severity {
    pub fn tag_class(self) -> &'static str {
        match self {
            Severity::Low => "nhsuk-tag--grey",
            Severity::Medium => "nhsuk-tag--yellow",
            Severity::High => "nhsuk-tag--orange",
            Severity::Critical => "nhsuk-tag--red",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Severity::Low => "An inconvenience with a workaround",
            Severity::Medium => "Slows care or wastes staff time regularly",
            Severity::High => "Puts patient safety, data or services at risk",
            Severity::Critical => "Patients are being harmed or data is exposed now",
        }
    }
}

labelled_enum!(
    /// Where a report is in the board's process.
    ReportStatus {
        New => ("new", "New"),
        Triaged => ("triaged", "Triaged"),
        Investigating => ("investigating", "Investigating"),
        Escalated => ("escalated", "Escalated"),
        Resolved => ("resolved", "Resolved"),
        Closed => ("closed", "Closed"),
        NotActionable => ("not_actionable", "Not actionable"),
    }
);

impl ReportStatus {
    /// Where the board's work on a report is over: nothing awaits action.
    pub const DECIDED: &'static [ReportStatus] = &[
        ReportStatus::Resolved,
        ReportStatus::Closed,
        ReportStatus::NotActionable,
    ];

    /// The statuses a report may move to from this one.
    pub fn next(self) -> &'static [ReportStatus] {
        use ReportStatus::*;
        match self {
            New => &[Triaged, Investigating, NotActionable, Closed],
            Triaged => &[Investigating, Escalated, Resolved, NotActionable, Closed],
            Investigating => &[Escalated, Resolved, NotActionable, Closed],
            Escalated => &[Investigating, Resolved, Closed],
            Resolved => &[Closed, Investigating],
            Closed => &[Investigating],
            NotActionable => &[Triaged],
        }
    }

    pub fn tag_class(self) -> &'static str {
        use ReportStatus::*;
        match self {
            New => "nhsuk-tag--white",
            Triaged => "nhsuk-tag--blue",
            Investigating => "nhsuk-tag--purple",
            Escalated => "nhsuk-tag--red",
            Resolved => "nhsuk-tag--green",
            Closed => "nhsuk-tag--grey",
            NotActionable => "nhsuk-tag--grey",
        }
    }
}

/// What someone typed into the report form or sent to the API.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ReportInput {
    /// What the reporter typed to find the organisation: name or ODS code.
    pub organisation: String,
    /// The register id, once chosen from several matches (or given by the API).
    pub organisation_id: String,
    pub system_name: String,
    pub supplier_name: String,
    pub category: String,
    pub standard_reference: String,
    pub severity: String,
    pub patient_impact: String,
    pub staff_impact: String,
    pub evidence: String,
    pub confidential: bool,
}

/// A report's fields after every rule but the organisation, which needs the register.
#[derive(Debug, Clone)]
pub struct CheckedReport {
    pub system_name: String,
    pub supplier_name: Option<String>,
    pub category: Category,
    pub standard_reference: Option<String>,
    pub severity: Severity,
    pub patient_impact: String,
    pub staff_impact: String,
    pub evidence: String,
    pub confidential: bool,
}

impl ReportInput {
    pub fn validate(&self, errors: &mut Vec<FieldError>) -> Option<CheckedReport> {
        let system_name = SYSTEM_NAME.check(&self.system_name, errors);
        let supplier_name = SUPPLIER_NAME.check(&self.supplier_name, errors);
        let category = Category::parse(&self.category);
        if category.is_none() {
            errors.push(FieldError::new(
                "category",
                "Select what kind of problem it is",
            ));
        }
        let standard_reference = STANDARD_REFERENCE.check(&self.standard_reference, errors);
        let severity = Severity::parse(&self.severity);
        if severity.is_none() {
            errors.push(FieldError::new(
                "severity",
                "Select how severe the problem is",
            ));
        }
        let patient_impact = PATIENT_IMPACT.check(&self.patient_impact, errors);
        let staff_impact = STAFF_IMPACT.check(&self.staff_impact, errors);
        let evidence = EVIDENCE.check(&self.evidence, errors);
        Some(CheckedReport {
            system_name: system_name?,
            supplier_name,
            category: category?,
            standard_reference,
            severity: severity?,
            patient_impact: patient_impact?,
            staff_impact: staff_impact?,
            evidence: evidence?,
            confidential: self.confidential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_can_move_on_and_never_to_itself() {
        for status in ReportStatus::ALL {
            assert!(!status.next().is_empty());
            assert!(!status.next().contains(status));
        }
    }

    #[test]
    fn missing_choices_and_text_are_all_reported() {
        let mut errors = Vec::new();
        assert!(ReportInput::default().validate(&mut errors).is_none());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "system_name",
                "category",
                "severity",
                "patient_impact",
                "staff_impact",
                "evidence"
            ]
        );
    }
}
