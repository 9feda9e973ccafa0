//! What is checked in every output: HTML read with a real parser, CSV
//! cells, Markdown rendered as a viewer would, and JSON, each also for the
//! markers it should show.

use super::*;

/// What the checks found.
#[derive(Default)]
pub(super) struct Findings {
    /// Something that would run, or a formula cell.
    pub(super) unsafe_output: Vec<String>,
    /// A marker not shown where it should be.
    pub(super) missing: Vec<String>,
    pub(super) outputs: usize,
}

/// Elements that run or load something: none may come from a payload.
pub(super) const ACTIVE_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "meta",
    "link",
    "img",
    "image",
    "picture",
    "video",
    "audio",
    "source",
    "track",
    "template",
    "noscript",
    "portal",
    "foreignobject",
    "xmp",
    "plaintext",
    "marquee",
    "bgsound",
];

/// Attributes holding an address that a browser follows or loads.
pub(super) const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "cite",
    "codebase",
    "dynsrc",
    "lowsrc",
    "ping",
    "manifest",
    "longdesc",
    "srcset",
];

/// Whether a browser would run this address or show it as a document of
/// its own: browsers drop whitespace and control characters in and around
/// the scheme, and ignore its case.
pub(super) fn runs_script(url: &str) -> bool {
    let squeezed = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:", "livescript:"]
        .iter()
        .any(|scheme| squeezed.starts_with(scheme))
}

/// A style attribute that came from what someone wrote.
pub(super) fn style_from_input(style: &str) -> bool {
    let lower = style.to_ascii_lowercase();
    lower.contains(MARK)
        || [
            "expression(",
            "url(",
            "javascript:",
            "@import",
            "behavior",
            "-moz-binding",
        ]
        .iter()
        .any(|s| lower.contains(s))
}

pub(super) fn snippet(s: &str) -> String {
    s.chars().take(160).collect::<String>().replace('\n', " ")
}

/// The markers in `s`, each with the field it names.
pub(super) fn culprits(s: &str) -> Vec<String> {
    let mut found: Vec<String> = s
        .match_indices(MARK)
        .filter_map(|(at, _)| s.get(at..at + MARK.len() + 4))
        .filter(|m| {
            FIELDS
                .iter()
                .any(|f| f.code == &m[MARK.len()..MARK.len() + 2])
        })
        .map(|m| format!("{m} ({})", field_of_marker(m).name))
        .collect();
    found.sort();
    found.dedup();
    found
}

impl Findings {
    /// Walks parsed HTML: what would run goes to `unsafe_output`, and the
    /// text a reader sees (text nodes, and the values of inputs) is returned.
    pub(super) fn inspect(&mut self, output: &str, doc: &Html) -> String {
        let mut shown = String::new();
        for node in doc.tree.nodes() {
            match node.value() {
                Node::Element(element) => {
                    let name = element.name().to_ascii_lowercase();
                    let outer = || ElementRef::wrap(node).map(|e| e.html()).unwrap_or_default();
                    let mut problems = Vec::new();
                    for (attribute, value) in element.attrs() {
                        let attribute = attribute.to_ascii_lowercase();
                        if attribute.starts_with("on") {
                            problems.push(format!("an event handler `{attribute}`"));
                        }
                        if attribute == "srcdoc" {
                            problems.push("a `srcdoc` document".to_owned());
                        }
                        if URL_ATTRIBUTES.contains(&attribute.as_str()) && runs_script(value) {
                            problems.push(format!("`{attribute}` to `{}`", snippet(value)));
                        }
                        if attribute == "style" && style_from_input(value) {
                            problems.push(format!("a style `{}`", snippet(value)));
                        }
                        if name == "input" && attribute == "value" {
                            shown.push_str(value);
                            shown.push('\n');
                        }
                    }
                    if ACTIVE_ELEMENTS.contains(&name.as_str()) && outer().contains(MARK) {
                        problems.push(format!("a `<{name}>` element made from a payload"));
                    }
                    if !problems.is_empty() {
                        let outer = outer();
                        for problem in problems {
                            self.unsafe_output.push(format!(
                                "{output}: {problem} in `{}`, from {:?}",
                                snippet(&outer),
                                culprits(&outer)
                            ));
                        }
                    }
                }
                Node::Text(text) => {
                    let in_code = node
                        .parent()
                        .and_then(|p| p.value().as_element().map(|e| e.name().to_owned()))
                        .is_some_and(|n| n == "script" || n == "style");
                    if !in_code {
                        shown.push_str(text);
                    }
                }
                _ => {}
            }
        }
        shown
    }

    /// Records each of `expected` not in `shown`.
    pub(super) fn shown(&mut self, output: &str, shown: &str, expected: &[String]) {
        self.outputs += 1;
        for m in expected {
            if !shown.contains(m.as_str()) {
                self.missing.push(format!(
                    "{output}: {m} ({}) is not shown",
                    field_of_marker(m).name
                ));
            }
        }
    }

    pub(super) fn html(&mut self, output: &str, body: &str, expected: &[String]) {
        let doc = Html::parse_document(body);
        let shown = self.inspect(output, &doc);
        self.shown(output, &shown, expected);
    }

    pub(super) fn page(&mut self, output: &str, answer: &Answer, expected: &[String]) {
        assert!(
            answer.content_type.starts_with("text/html"),
            "{output} is HTML: {}",
            answer.content_type
        );
        self.html(output, &answer.body, expected);
    }

    /// A Markdown file, rendered with raw HTML passed through. Fields that
    /// are Markdown by design (`as_written`, with their markers) must be in
    /// it as written; they are then set aside, and the rest is checked.
    pub(super) fn markdown(
        &mut self,
        output: &str,
        body: &str,
        expected: &[String],
        as_written: &[(String, String)],
    ) {
        use pulldown_cmark::{Options, Parser, html};
        let mut body = body.to_owned();
        let mut set_aside = String::new();
        for (m, written) in as_written {
            match body.find(written.as_str()) {
                Some(at) => {
                    body.replace_range(at..at + written.len(), "(set aside)");
                    set_aside.push_str(m);
                }
                None => self.missing.push(format!(
                    "{output}: {m} ({}) is not there as written",
                    field_of_marker(m).name
                )),
            }
        }
        let mut rendered = String::new();
        html::push_html(
            &mut rendered,
            Parser::new_ext(
                &body,
                Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
            ),
        );
        let doc = Html::parse_document(&rendered);
        let shown = self.inspect(output, &doc) + &set_aside;
        self.shown(output, &shown, expected);
    }

    pub(super) fn csv(&mut self, output: &str, body: &str, expected: &[String]) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes());
        let mut shown = String::new();
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{output} is CSV: {e}"));
            for cell in record.iter() {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    self.unsafe_output.push(format!(
                        "{output}: the cell `{}` is a formula, from {:?}",
                        snippet(cell),
                        culprits(cell)
                    ));
                }
                shown.push_str(cell);
                shown.push('\n');
            }
        }
        self.shown(output, &shown, expected);
    }

    /// JSON: every `*_html` string is checked as HTML; every string counts
    /// as shown (JSON is data: what matters is that it is served as JSON).
    pub(super) fn json(&mut self, output: &str, answer: &Answer, expected: &[String]) {
        assert!(
            answer.content_type.starts_with("application/json"),
            "{output} is JSON: {}",
            answer.content_type
        );
        let mut shown = String::new();
        self.walk_json(output, "", &answer.json(), &mut shown);
        self.shown(output, &shown, expected);
    }

    pub(super) fn walk_json(&mut self, output: &str, key: &str, value: &Value, shown: &mut String) {
        match value {
            Value::String(s) => {
                if key.ends_with("_html") || key == "html" {
                    let doc = Html::parse_fragment(s);
                    self.inspect(&format!("{output} `{key}`"), &doc);
                }
                shown.push_str(s);
                shown.push('\n');
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_json(output, key, item, shown);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.walk_json(output, k, v, shown);
                }
            }
            _ => {}
        }
    }

    pub(super) fn merge(&mut self, other: Findings) {
        self.unsafe_output.extend(other.unsafe_output);
        self.missing.extend(other.missing);
        self.outputs += other.outputs;
    }
}

/// The outcome summary as the Markdown export carries it.
pub(super) fn outcome_summary(ctx: &Ctx, i: usize) -> Vec<(String, String)> {
    if ctx.accepted("os", i) {
        vec![(marker("os", i), text("os", i).trim().to_owned())]
    } else {
        Vec::new()
    }
}
