//! Consultation pages: reading and responding (`public`, `respond`), and the
//! board's authoring, analysis and outcome (`authoring`, `analysis`, `outcome`).

pub mod analysis;
pub mod authoring;
pub mod outcome;
pub mod public;
pub mod respond;

use poem::Route;
use poem::get;
use poem::post;

use crate::consultations::authoring::ConsultationView;
use crate::markdown::Section;

/// A section of the document as a page shows it.
pub struct SectionView {
    pub anchor: String,
    pub title: String,
    /// The heading element: sections sit below the page's `h1` and `h2`.
    pub heading: &'static str,
    pub body_html: String,
}

impl SectionView {
    /// `top` is the level of the document's top headings: they become `h3`
    /// (below the page's `h1` and `h2`), and each level below one more, so
    /// no heading level is skipped whatever levels the writer started at.
    pub fn of(section: &Section, top: u8) -> Self {
        SectionView {
            anchor: section.anchor.clone(),
            title: section.title.clone(),
            heading: match section.level.saturating_sub(top) {
                0 => "h3",
                1 => "h4",
                2 => "h5",
                _ => "h6",
            },
            body_html: crate::markdown::render(&section.body),
        }
    }
}

/// The level of a document's top headings.
pub fn top_level(view: &ConsultationView) -> u8 {
    view.sections.iter().map(|s| s.level).min().unwrap_or(1)
}

pub fn sections(view: &ConsultationView) -> Vec<SectionView> {
    let top = top_level(view);
    view.sections
        .iter()
        .map(|s| SectionView::of(s, top))
        .collect()
}

/// Every consultation page, added to the site's routes.
pub fn routes(route: Route) -> Route {
    route
        .at("/consultations", get(public::list))
        .at(
            "/consultations/new",
            get(authoring::new_form).post(authoring::new_submit),
        )
        .at("/consultations/:slug", get(public::show))
        .at(
            "/consultations/:slug/edit",
            get(authoring::edit_form).post(authoring::edit_submit),
        )
        .at(
            "/consultations/:slug/publish",
            post(authoring::publish_submit),
        )
        .at(
            "/consultations/:slug/questions",
            post(authoring::question_add),
        )
        .at(
            "/consultations/:slug/questions/:id",
            get(authoring::question_form).post(authoring::question_action),
        )
        .at(
            "/consultations/:slug/questions/:id/edit",
            post(authoring::question_submit),
        )
        .at(
            "/consultations/:slug/versions/new",
            get(authoring::version_form).post(authoring::version_submit),
        )
        .at(
            "/consultations/:slug/versions/:number",
            get(public::version),
        )
        .at(
            "/consultations/:slug/sections/:anchor",
            get(respond::section_form).post(respond::section_submit),
        )
        .at(
            "/consultations/:slug/responses/:id",
            get(public::response_link),
        )
        .at(
            "/consultations/:slug/response",
            get(respond::response_form).post(respond::response_submit),
        )
        .at("/consultations/:slug/analysis", get(analysis::overview))
        .at(
            "/consultations/:slug/analysis/responses",
            get(analysis::responses),
        )
        .at(
            "/consultations/:slug/analysis/responses.csv",
            get(analysis::export_csv),
        )
        .at(
            "/consultations/:slug/analysis/responses.json",
            get(analysis::export_json),
        )
        .at(
            "/consultations/:slug/analysis/responses/:id",
            get(analysis::response),
        )
        .at(
            "/consultations/:slug/analysis/responses/:id/themes",
            post(analysis::response_themes),
        )
        .at(
            "/consultations/:slug/analysis/responses/:id/redact",
            post(analysis::redact),
        )
        .at(
            "/consultations/:slug/analysis/sections/:version/:anchor",
            get(analysis::comments_on_section),
        )
        .at(
            "/consultations/:slug/analysis/comments/:id/disposition",
            post(analysis::decide),
        )
        .at(
            "/consultations/:slug/analysis/comments/:id/themes",
            post(analysis::comment_themes),
        )
        .at(
            "/consultations/:slug/outcome",
            get(outcome::show).post(outcome::publish),
        )
        .at("/consultations/:slug/outcome.md", get(outcome::markdown))
        .at("/consultations/:slug/outcome.csv", get(outcome::csv))
        .at("/consultations/:slug/outcome.json", get(outcome::json))
}
