//! Hostile input for the property tests of the parts that read what people
//! type (the Markdown renderer, the search query parser, the CSV import):
//! a seeded generator, so that a failure names the case that caused it.

/// Pieces that have broken parsers and sanitizers before: markup, scripts,
/// event handlers, odd schemes, entities, quotes, operators and Unicode.
const FRAGMENTS: &[&str] = &[
    "<script>alert(1)</script>",
    "<scr<script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=//evil.example>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox)",
    "![i](http://evil.example/i.png)",
    "<style>*{}</style>",
    "<div style=\"background:url(x)\">",
    "<math><mi xlink:href=\"javascript:alert(1)\">",
    "&lt;script&gt;",
    "&#x6A;avascript:",
    "\"><script>",
    "'\"`",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "**",
    "_",
    "`",
    "```",
    "# ",
    "> ",
    "- ",
    "1. ",
    "|a|b|\n|-|-|\n",
    "\n",
    "\n\n",
    "\\",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\"",
    "AND",
    "OR",
    "NOT",
    "+",
    "-",
    "*",
    "~2",
    "^3",
    "title:",
    "kind:idea",
    "é",
    "ß",
    "😀",
    "\u{202e}",
    "\u{0}",
    "\t",
    "ward",
    "handover",
    " ",
    "=SUM(A1)",
    "@cmd",
    ",",
    "\r\n",
];

/// A seeded xorshift generator of hostile strings.
pub struct Hostile(u64);

impl Hostile {
    pub fn new(seed: u64) -> Self {
        Hostile(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Up to `max_pieces` fragments and random characters joined together.
    pub fn text(&mut self, max_pieces: usize) -> String {
        let pieces = (self.next() as usize) % (max_pieces + 1);
        let mut out = String::new();
        for _ in 0..pieces {
            if self.next().is_multiple_of(5) {
                // Any character, control characters included.
                let c = char::from_u32((self.next() % 0x2_FFFF) as u32).unwrap_or('?');
                out.push(c);
            } else {
                out.push_str(FRAGMENTS[(self.next() as usize) % FRAGMENTS.len()]);
            }
        }
        out
    }
}
