//! Charts drawn on the server as SVG: they need no JavaScript, print, and
//! carry their own text alternative. Every chart is shown with a table of
//! the same numbers beside it for people who would rather read.

/// One bar: its label and value.
pub struct Bar {
    pub label: String,
    pub value: u64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const WIDTH: u64 = 640;
const LABEL_WIDTH: u64 = 230;
const ROW: u64 = 34;
const BAR: u64 = 22;

/// A horizontal bar chart with each value written at the end of its bar.
/// `title` names the chart for assistive technology.
pub fn bars(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let plot = WIDTH - LABEL_WIDTH - 60;
    let height = ROW * bars.len() as u64 + 8;
    let summary: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect();
    let mut svg = format!(
        r#"<svg class="app-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{}" focusable="false"><title>{}</title><desc>{}</desc>"#,
        escape(title),
        escape(title),
        escape(&summary.join("; "))
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 4 + ROW * i as u64;
        let length = bar.value * plot / max;
        let label: String = bar.label.chars().take(32).collect();
        svg.push_str(&format!(
            r##"<text x="{}" y="{}" text-anchor="end" font-size="15" fill="#212b32">{}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR}" fill="#005eb8"/><text x="{}" y="{}" font-size="15" fill="#212b32">{}</text>"##,
            LABEL_WIDTH - 8,
            y + 16,
            escape(&label),
            LABEL_WIDTH + length + 6,
            y + 16,
            bar.value
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "Agreement <script>",
            &[
                Bar {
                    label: "Agree & more".into(),
                    value: 4,
                },
                Bar {
                    label: "Disagree".into(),
                    value: 2,
                },
            ],
        );
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("Agree &amp; more"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(r#"width="350""#), "{svg}");
        assert!(svg.contains(r#"width="175""#), "{svg}");
        assert!(svg.contains("<desc>Agree &amp; more: 4; Disagree: 2</desc>"));
    }
}
