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

/// Renders Markdown this service composed (an email's template, with
/// everyone's text escaped by [`escape`]) to safe HTML, headings as written.
pub fn render_document(markdown: &str) -> String {
    let mut unsafe_html = String::new();
    html::push_html(
        &mut unsafe_html,
        Parser::new_ext(markdown, Options::ENABLE_TABLES),
    );
    SANITIZER.clean(&unsafe_html).to_string()
}

/// Text made safe to place in Markdown: every character Markdown gives a
/// meaning is escaped, so a title can never become a link or a heading.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '<' | '>' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Plain text from Markdown this service composed: headings underlined,
/// list items with a dash, links followed by their address.
pub fn to_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut link: Option<String> = None;
    let mut heading_start: Option<usize> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading_start = Some(out.len()),
            Event::End(TagEnd::Heading(level)) => {
                let width = heading_start
                    .take()
                    .map_or(0, |start| out[start..].chars().count());
                let rule = if level == pulldown_cmark::HeadingLevel::H1 {
                    '='
                } else {
                    '-'
                };
                out.push('\n');
                out.extend(std::iter::repeat_n(rule, width));
                out.push_str("\n\n");
            }
            Event::Start(Tag::Item) => out.push_str("- "),
            Event::End(TagEnd::Item) => out.push('\n'),
            Event::End(TagEnd::List(_)) => out.push('\n'),
            Event::End(TagEnd::Paragraph) if !out.ends_with('\n') => out.push_str("\n\n"),
            Event::Start(Tag::Link { dest_url, .. }) => link = Some(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link.take() {
                    out.push_str(&format!(" <{url}>"));
                }
            }
            Event::Rule => out.push_str("----\n\n"),
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            _ => {}
        }
    }
    out.trim_end().to_owned() + "\n"
}

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

/// A part of a document that can be linked to and commented on: a heading
/// and the text up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Derived from the heading's text, so it stays the same across versions
    /// while the heading does; repeats get `-2`, `-3`.
    pub anchor: String,
    pub title: String,
    /// 1 for `#`, 2 for `##`...
    pub level: u8,
    /// The Markdown below the heading, up to the next one.
    pub body: String,
}

/// The anchor given to text before the first heading.
pub const PREAMBLE: &str = "introduction";

/// Splits a document into sections at every heading. Text before the first
/// heading becomes an "Introduction" section.
pub fn sections(markdown: &str) -> Vec<Section> {
    let mut headings: Vec<(std::ops::Range<usize>, u8, String)> = Vec::new();
    let mut current: Option<(usize, u8, String)> = None;
    for (event, range) in Parser::new_ext(markdown, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((range.start, level as u8, String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, _, title)) = current.as_mut() {
                    title.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((start, level, title)) = current.take() {
                    headings.push((start..range.end, level, title.trim().to_owned()));
                }
            }
            _ => {}
        }
    }
    let mut used: HashSet<String> = HashSet::new();
    let mut unique_anchor = |title: &str| {
        let base = anchor_of(title);
        let mut anchor = base.clone();
        let mut n = 2;
        while !used.insert(anchor.clone()) {
            anchor = format!("{base}-{n}");
            n += 1;
        }
        anchor
    };
    let mut out = Vec::new();
    let preamble_end = headings.first().map_or(markdown.len(), |h| h.0.start);
    let preamble = markdown[..preamble_end].trim();
    if !preamble.is_empty() {
        out.push(Section {
            anchor: unique_anchor("Introduction"),
            title: "Introduction".to_owned(),
            // Level with the document's top headings.
            level: headings.iter().map(|h| h.1).min().unwrap_or(1),
            body: preamble.to_owned(),
        });
    }
    for (i, (range, level, title)) in headings.iter().enumerate() {
        let end = headings.get(i + 1).map_or(markdown.len(), |h| h.0.start);
        let title = if title.is_empty() {
            "Untitled section"
        } else {
            title
        };
        out.push(Section {
            anchor: unique_anchor(title),
            title: title.to_owned(),
            level: *level,
            body: markdown[range.end..end].trim().to_owned(),
        });
    }
    out
}

/// "3.1 Access tokens & scopes" becomes "3-1-access-tokens-scopes": a slug
/// (ASCII only, as anchors go into links and CSV column names as they are),
/// at most 80 characters.
pub fn anchor_of(title: &str) -> String {
    let slug: String = crate::text::slug(title).chars().take(80).collect();
    match slug.trim_end_matches('-') {
        "" => "section".to_owned(),
        trimmed => trimmed.to_owned(),
    }
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
    use super::{render, render_document};

    /// The tags and attributes in sanitized HTML, read as a browser would:
    /// every `<` in the output starts a tag (text has it escaped), and an
    /// attribute's quoted value may hold anything.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
                .collect();
            rest = &rest[name.len()..];
            let mut attributes = Vec::new();
            loop {
                rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
                    break;
                }
                let attr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '=' && *c != '>')
                    .collect();
                rest = &rest[attr.len()..];
                let mut value = String::new();
                if let Some(after) = rest.strip_prefix("=\"") {
                    let end = after.find('"').unwrap_or(after.len());
                    value = after[..end].to_owned();
                    rest = &after[(end + 1).min(after.len())..];
                }
                if attr.is_empty() {
                    rest = &rest[rest.chars().next().map_or(0, char::len_utf8)..];
                } else {
                    attributes.push((attr.to_lowercase(), value));
                }
            }
            found.push((name.to_lowercase(), attributes));
        }
        found
    }

    /// Elements that run code, load from elsewhere or restyle the page.
    const FORBIDDEN: &[&str] = &[
        "script", "iframe", "frame", "frameset", "style", "img", "svg", "math", "object", "embed",
        "form", "input", "button", "textarea", "link", "meta", "base", "audio", "video", "source",
        "template", "!--",
    ];

    #[test]
    fn no_script_survives_any_mix_of_hostile_markdown() {
        let mut hostile = crate::hostile::Hostile::new(20_261_121);
        for case in 0..3_000 {
            let input = hostile.text(12);
            for html in [render(&input), render_document(&input)] {
                for (name, attributes) in tags(&html) {
                    let bare = name.trim_start_matches('/');
                    assert!(
                        !FORBIDDEN.contains(&bare),
                        "case {case}: <{name}> from {input:?} -> {html}"
                    );
                    for (attr, value) in attributes {
                        assert!(
                            !attr.starts_with("on") && attr != "style" && attr != "src",
                            "case {case}: {attr} on <{name}> from {input:?} -> {html}"
                        );
                        if attr == "href" {
                            let v = value.trim().to_lowercase();
                            let scheme = v.split_once(':').map(|(s, _)| s);
                            assert!(
                                scheme.is_none_or(|s| {
                                    ["http", "https", "mailto"].contains(&s) || s.contains('/')
                                }),
                                "case {case}: href {value:?} from {input:?} -> {html}"
                            );
                        }
                    }
                }
            }
        }
    }

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

    #[test]
    fn sections_split_at_headings_with_stable_unique_anchors() {
        let doc = "Opening words.\n\n# Scope\n\nWho it applies to.\n\n## 2.1 Access tokens & scopes\n\nTokens **expire**.\n\n# Scope\n\nAgain.";
        let found = super::sections(doc);
        let anchors: Vec<&str> = found.iter().map(|s| s.anchor.as_str()).collect();
        assert_eq!(
            anchors,
            [
                "introduction",
                "scope",
                "2-1-access-tokens-scopes",
                "scope-2"
            ]
        );
        assert_eq!(found[0].body, "Opening words.");
        assert_eq!(found[2].title, "2.1 Access tokens & scopes");
        assert_eq!(found[2].level, 2);
        assert_eq!(found[2].body, "Tokens **expire**.");
        assert_eq!(
            super::sections("# Scope\n\nChanged text.")[0].anchor,
            "scope"
        );
        assert_eq!(super::anchor_of("!!!"), "section");
        assert_eq!(
            super::anchor_of("Données personnelles"),
            "donn-es-personnelles"
        );
    }
}
