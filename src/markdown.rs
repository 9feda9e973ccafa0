//! Every user-written text is Markdown: rendered with pulldown-cmark, then
//! sanitized with ammonia so that no script, style or outside image survives.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    // Images would load from other hosts (tracking readers, breaking the
    // Content-Security-Policy); links to them stay.
    builder.rm_tags(["img"]);
    builder.link_rel(Some("nofollow noopener noreferrer"));
    builder.url_schemes(HashSet::from(["http", "https", "mailto"]));
    builder
});

/// Renders Markdown to safe HTML. Headings are moved down two levels so that
/// a writer's `#` never competes with the page's own `h1` and `h2`.
pub fn render(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut unsafe_html, parser);
    SANITIZER.clean(&unsafe_html).to_string()
}

fn demote(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel::*;
    match level {
        H1 => H3,
        H2 => H4,
        H3 => H5,
        _ => H6,
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_becomes_html() {
        let html = render("**Bold** and [a link](https://example.nhs.uk)");
        assert!(html.contains("<strong>Bold</strong>"));
        assert!(html.contains("href=\"https://example.nhs.uk\""));
        assert!(html.contains("rel=\"nofollow noopener noreferrer\""));
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_do_not_survive() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div onclick=\"alert(1)\">x</div>",
            "<style>body{display:none}</style>",
            "<svg><script>alert(1)</script></svg>",
        ] {
            let html = render(hostile).to_lowercase();
            assert!(!html.contains("<script"), "{hostile} -> {html}");
            assert!(!html.contains("javascript:"), "{hostile} -> {html}");
            assert!(!html.contains("onerror"), "{hostile} -> {html}");
            assert!(!html.contains("onclick"), "{hostile} -> {html}");
            assert!(!html.contains("<iframe"), "{hostile} -> {html}");
            assert!(!html.contains("<style"), "{hostile} -> {html}");
            assert!(!html.contains("<img"), "{hostile} -> {html}");
        }
    }

    #[test]
    fn headings_sit_below_the_page_headings() {
        let html = render("# Top\n\n## Next");
        assert!(html.contains("<h3>Top</h3>"), "{html}");
        assert!(html.contains("<h4>Next</h4>"), "{html}");
    }
}
