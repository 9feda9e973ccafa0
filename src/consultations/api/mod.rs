//! `/api/v1/consultations`: reading, writing and responding
//! (`ConsultationsApi`), and the board's analysis and outcome
//! (`ConsultationAnalysisApi`).

pub mod analysis;
pub mod consultations;

pub use analysis::ConsultationAnalysisApi;
pub use consultations::ConsultationsApi;
