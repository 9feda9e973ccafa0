//! The permission matrix: every operation of the JSON API, read from the
//! API's own OpenAPI document, and every page route, read from the `.at(...)`
//! route tables in `src/`, is called as each kind of caller (signed out, the
//! contributor who owns the fixtures, another contributor, a board member
//! and an administrator; through an API token, and through a browser session
//! for pages and the API's reads), and the class of each answer is checked
//! against the tables below. An operation or a page without a row here, or a
//! row for one that no longer exists, fails the test.
//!
//! Write operations are sent an empty body (`{}`, or an empty CSV) or one
//! the row gives that fails validation: a caller who is let through gets a
//! validation problem (or a conflict) and nothing changes, while a refused
//! caller must be refused before the body is looked at, so the same request
//! tells the two apart. Pages that take a POST are posted to without a CSRF
//! token (refused), and with one by each caller the row refuses.
//!
//! Every answer to a caller who is not on the board is also searched for
//! words that are not theirs to see: a confidential report, the board's tags
//! and internal notes, a hidden comment and a draft consultation.

use std::collections::{BTreeMap, BTreeSet};

use hub::auth::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::consultations::{at, close, consultation_body, open_consultation, respond, respondent};
use crate::helpers::{TestApp, csrf_token, hidden_value, id_of, spawn_app};
use crate::ideas::idea_body;
use crate::organisations::{api_import, finished, multipart};
use crate::reports::report_body;

/// The kinds of caller, in the order of an `Access` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    SignedOut,
    /// A contributor who made the idea, the comment, the report, the
    /// consultation response and the spare API token.
    Owner,
    /// Another contributor.
    Other,
    /// A board member, who saved the search and made the tags and links.
    Board,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::SignedOut,
    Who::Owner,
    Who::Other,
    Who::Board,
    Who::Admin,
];

/// What a caller must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Let through: neither 401, 403 nor 404, nor a server error (a
    /// validation problem or a conflict for the empty body is fine). On pages,
    /// not sent to sign in either.
    Allowed,
    /// Asked to sign in: 401 (pages: the 401 page, or a 303 to
    /// `/sign-in?next=...`).
    SignIn,
    /// 403.
    Forbidden,
    /// 404: the service does not say whether the thing exists.
    Hidden,
}

use Expect::{Allowed, Forbidden, Hidden, SignIn};

/// One `Expect` per kind of caller, in the order of `EVERYONE`.
type Access = [Expect; 5];

/// Anyone, signed in or not.
const PUBLIC: Access = [Allowed; 5];
/// Anyone signed in.
const SIGNED_IN: Access = [SignIn, Allowed, Allowed, Allowed, Allowed];
/// Board members and administrators.
const BOARD: Access = [SignIn, Forbidden, Forbidden, Allowed, Allowed];
/// Administrators only.
const ADMIN: Access = [SignIn, Forbidden, Forbidden, Forbidden, Allowed];
/// A report: its reporter and the board; another contributor is told it
/// does not exist.
const REPORTER_OR_BOARD: Access = [SignIn, Allowed, Hidden, Allowed, Allowed];
/// The replies to an item: the board and the item's author; anyone else,
/// signed in or not, is told there is nothing there.
const AUTHOR_OR_BOARD: Access = [Hidden, Allowed, Hidden, Allowed, Allowed];
/// The caller's own (API tokens, a consultation response): nobody else's,
/// whatever their role; another's, or none, is "not found".
const OWN: Access = [SignIn, Allowed, Hidden, Hidden, Hidden];
/// A comment: edited by its author only; anyone else is refused with 403.
const AUTHOR: Access = [SignIn, Allowed, Forbidden, Forbidden, Forbidden];
/// A saved search: board members save searches, each their own; another
/// board member's is "not found".
const BOARD_MEMBER_OWN: Access = [SignIn, Forbidden, Forbidden, Allowed, Hidden];

/// A row of the API table.
#[derive(Clone, Copy)]
struct Op {
    id: &'static str,
    access: Access,
    /// A body other than the empty one.
    body: Option<&'static str>,
    /// A query string, with `{fixture}` placeholders.
    query: &'static str,
    /// Called after every other operation: it deletes the caller.
    last: bool,
}

const fn op(id: &'static str, access: Access) -> Op {
    Op {
        id,
        access,
        body: None,
        query: "",
        last: false,
    }
}

impl Op {
    const fn query(self, query: &'static str) -> Op {
        Op { query, ..self }
    }

    /// A body that passes the permission gate's parsing but not validation,
    /// where the empty one would not be parsed or would change something.
    const fn body(self, body: &'static str) -> Op {
        Op {
            body: Some(body),
            ..self
        }
    }

    const fn last(self) -> Op {
        Op { last: true, ..self }
    }
}

/// A valid NHS number: the patient-data guard refuses any text holding one.
const WITH_NHS_NUMBER: &str = r#"{ "comment": "Patient 943 476 5919 was affected" }"#;

/// Who may call each operation of the API, by operationId.
const API: &[Op] = &[
    // Account
    op("getMe", SIGNED_IN),
    op("exportMyData", SIGNED_IN),
    // Everyone may leave (the only administrator is refused with 409).
    op("deleteMyAccount", SIGNED_IN).last(),
    op("listTokens", SIGNED_IN),
    op("createToken", SIGNED_IN).body(r#"{ "name": "" }"#),
    op("revokeToken", OWN),
    op("mySubmissions", SIGNED_IN),
    // Ideas, comments and themes
    op("listThemes", PUBLIC),
    op("createTheme", BOARD),
    op("updateTheme", BOARD),
    op("listIdeas", PUBLIC),
    op("createIdea", SIGNED_IN),
    op("similarIdeas", PUBLIC).query("?q=shared+care"),
    op("getIdea", PUBLIC),
    op("changeIdeaStatus", BOARD),
    op("supportIdea", SIGNED_IN),
    op("withdrawSupport", SIGNED_IN),
    op("listComments", PUBLIC),
    op("createComment", SIGNED_IN),
    op("editComment", AUTHOR),
    op("hideComment", BOARD),
    // Reports
    op("listReports", SIGNED_IN),
    op("createReport", SIGNED_IN),
    op("getReport", REPORTER_OR_BOARD),
    op("changeReportStatus", BOARD),
    // Organisations
    op("listOrganisations", PUBLIC),
    op("startOrganisationImport", ADMIN).query("?file_name=matrix.csv&kind=trust"),
    op("getOrganisationImport", ADMIN),
    // Consultations
    op("listConsultations", PUBLIC),
    op("createConsultation", BOARD),
    op("getConsultation", PUBLIC),
    op("updateConsultation", BOARD),
    op("getConsultationVersion", PUBLIC),
    op("createConsultationVersion", BOARD),
    op("publishConsultation", BOARD),
    op("createConsultationQuestion", BOARD),
    op("updateConsultationQuestion", BOARD),
    op("deleteConsultationQuestion", BOARD),
    op("getMyConsultationResponse", OWN),
    op("saveMyConsultationResponse", SIGNED_IN).body(r#"{ "capacity": "neither" }"#),
    op("saveMySectionComment", SIGNED_IN).body(WITH_NHS_NUMBER),
    op("emailMyConsultationResumeLink", OWN),
    op("submitMyConsultationResponse", SIGNED_IN),
    op("listConsultationResponses", BOARD),
    op("getConsultationSummary", BOARD),
    op("setConsultationResponseThemes", BOARD),
    op("setSectionCommentThemes", BOARD),
    op("decideSectionComment", BOARD),
    op("redactConsultationResponse", BOARD),
    op("exportConsultationResponsesCsv", BOARD),
    op("importConsultationResponses", BOARD),
    op("getConsultationOutcome", PUBLIC),
    op("publishConsultationOutcome", BOARD),
    op("getConsultationOutcomeMarkdown", PUBLIC),
    op("getConsultationOutcomeCsv", PUBLIC),
    // Search and saved searches
    op("search", PUBLIC).query("?q=matrix"),
    op("similarToItem", PUBLIC).query("?item_kind=idea&item_id={idea}"),
    op("similarToDraft", PUBLIC),
    op("listSavedSearches", BOARD),
    op("saveSearch", BOARD).body(r#"{ "name": "", "q": "" }"#),
    op("getSavedSearch", BOARD_MEMBER_OWN),
    op("updateSavedSearch", BOARD_MEMBER_OWN),
    op("deleteSavedSearch", BOARD_MEMBER_OWN),
    op("savedSearchNewMatches", BOARD_MEMBER_OWN),
    // Triage: the inbox, notes, tags, links, dashboard, report, audit
    op("getInbox", BOARD),
    op("assignInboxItems", BOARD),
    op("changeInboxItemsStatus", BOARD),
    op("listItemNotes", AUTHOR_OR_BOARD),
    op("createItemNote", BOARD),
    op("setInboxItemAssignee", BOARD),
    op("listTags", BOARD),
    op("tagInboxItems", BOARD),
    op("listItemTags", BOARD),
    op("tagItem", BOARD),
    op("untagItem", BOARD),
    op("listItemLinks", BOARD),
    op("linkItem", BOARD).body(r#"{ "kind": "", "id": "00000000-0000-0000-0000-000000000000" }"#),
    op("unlinkItem", BOARD),
    op("getDashboard", BOARD),
    op("getBoardReport", BOARD),
    op("getItemAudit", BOARD),
    // Digests
    op("getDigestSettings", BOARD),
    op("setDigestSettings", BOARD),
    op("previewDigest", BOARD),
];

/// A row of the page table: who may GET the page and who may POST to it
/// (`None` when the route does not answer that method).
#[derive(Clone, Copy)]
struct Page {
    path: &'static str,
    get: Option<Access>,
    post: Option<Access>,
    /// A query string for GET, with `{fixture}` placeholders.
    query: &'static str,
    /// Form fields for POST, so that a refused caller is refused for who
    /// they are rather than for a missing field.
    form: &'static [(&'static str, &'static str)],
    /// POST as `multipart/form-data` (an upload form).
    multipart: bool,
    /// Another fixture for a parameter: (parameter's fixture, replacement).
    fixture: Option<(&'static str, &'static str)>,
}

const fn get(path: &'static str, access: Access) -> Page {
    Page {
        path,
        get: Some(access),
        post: None,
        query: "",
        form: &[],
        multipart: false,
        fixture: None,
    }
}

const fn post(path: &'static str, access: Access) -> Page {
    Page {
        path,
        get: None,
        post: Some(access),
        query: "",
        form: &[],
        multipart: false,
        fixture: None,
    }
}

const fn both(path: &'static str, get: Access, post: Access) -> Page {
    Page {
        path,
        get: Some(get),
        post: Some(post),
        query: "",
        form: &[],
        multipart: false,
        fixture: None,
    }
}

impl Page {
    const fn query(self, query: &'static str) -> Page {
        Page { query, ..self }
    }

    const fn form(self, form: &'static [(&'static str, &'static str)]) -> Page {
        Page { form, ..self }
    }

    const fn multipart(self) -> Page {
        Page {
            multipart: true,
            ..self
        }
    }

    /// Fills the parameter that `from` would fill with the fixture `to`.
    const fn using(self, from: &'static str, to: &'static str) -> Page {
        Page {
            fixture: Some((from, to)),
            ..self
        }
    }
}

/// Who may see each page and post to it, by route.
const PAGES: &[Page] = &[
    get("/", PUBLIC),
    get("/ideas", PUBLIC),
    both("/ideas/new", SIGNED_IN, SIGNED_IN),
    get("/ideas/:id", PUBLIC),
    post("/ideas/:id/support", SIGNED_IN),
    post("/ideas/:id/support/withdraw", SIGNED_IN),
    post("/ideas/:id/comments", SIGNED_IN),
    both("/ideas/:id/status", BOARD, BOARD),
    both("/comments/:id/edit", AUTHOR, AUTHOR),
    both("/comments/:id/hide", BOARD, BOARD),
    both("/board/themes", BOARD, BOARD),
    post("/board/themes/:id", BOARD),
    get("/board/dashboard", BOARD),
    get("/board/inbox", BOARD),
    post("/board/inbox/assign", BOARD),
    post("/board/inbox/status", BOARD),
    post("/board/inbox/tag", BOARD),
    get("/board/items/:kind/:id", BOARD),
    post("/board/items/:kind/:id/tags", BOARD),
    post("/board/items/:kind/:id/tags/remove", BOARD),
    post("/board/items/:kind/:id/links", BOARD),
    post("/board/items/:kind/:id/links/remove", BOARD),
    both("/board/notes/:kind/:id", BOARD, BOARD),
    both("/board/digest", BOARD, BOARD),
    get("/board/digest/preview", BOARD),
    // The signed link carries its own authority: anyone holding it.
    both("/digests/unsubscribe", PUBLIC, PUBLIC).query("?{unsubscribe}"),
    get("/board/report", BOARD),
    get("/board/report.md", BOARD),
    get("/board/report.html", BOARD),
    get("/board/audit/:subject_type/:subject_id", BOARD),
    get("/board/audit/:subject_type/:subject_id/csv", BOARD),
    // Contributors find their own reports under "My submissions".
    get("/reports", BOARD),
    both("/reports/new", SIGNED_IN, SIGNED_IN),
    get("/reports/:id", REPORTER_OR_BOARD),
    both("/reports/:id/status", BOARD, BOARD),
    get("/my-submissions", SIGNED_IN),
    get("/search", PUBLIC).query("?q=matrix"),
    get("/search/save", BOARD).query("?q=matrix"),
    both("/search/saved", BOARD, BOARD),
    get("/search/saved/:id", BOARD_MEMBER_OWN),
    post("/search/saved/:id/seen", BOARD_MEMBER_OWN),
    post("/search/saved/:id/notify", BOARD_MEMBER_OWN).form(&[("notify", "yes")]),
    post("/search/saved/:id/delete", BOARD_MEMBER_OWN),
    both("/sign-in", PUBLIC, PUBLIC),
    get("/sign-in/check-email", PUBLIC),
    both("/sign-in/link", PUBLIC, PUBLIC),
    // Signing out when signed out is harmless.
    post("/sign-out", PUBLIC),
    get("/signed-out", PUBLIC),
    both("/profile", SIGNED_IN, SIGNED_IN),
    get("/account/data", SIGNED_IN),
    both("/account/delete", SIGNED_IN, SIGNED_IN),
    get("/account/deleted", PUBLIC),
    both("/account/tokens", SIGNED_IN, SIGNED_IN),
    post("/account/tokens/:id/revoke", OWN),
    get("/admin/users", ADMIN),
    post("/admin/users/:id/role", ADMIN),
    get("/admin/emails", ADMIN),
    get("/admin/organisations", ADMIN),
    post("/admin/organisations/imports", ADMIN).multipart(),
    get("/admin/organisations/imports/:id", ADMIN),
    get("/admin/organisations/imports/:id/rejected.csv", ADMIN),
    get("/accessibility", PUBLIC),
    get("/privacy", PUBLIC),
    get("/problems/:slug", PUBLIC),
    get("/health/live", PUBLIC),
    get("/health/ready", PUBLIC),
    get("/api/v1/openapi.json", PUBLIC),
    // Consultations (src/consultations/pages/mod.rs)
    get("/consultations", PUBLIC),
    both("/consultations/new", BOARD, BOARD),
    get("/consultations/:slug", PUBLIC),
    both("/consultations/:slug/edit", BOARD, BOARD),
    post("/consultations/:slug/publish", BOARD),
    post("/consultations/:slug/questions", BOARD),
    both("/consultations/:slug/questions/:id", BOARD, BOARD),
    post("/consultations/:slug/questions/:id/edit", BOARD),
    // A new version is for a consultation still open.
    both("/consultations/:slug/versions/new", BOARD, BOARD).using("slug", "open_slug"),
    get("/consultations/:slug/versions/:number", PUBLIC),
    both(
        "/consultations/:slug/sections/:anchor",
        SIGNED_IN,
        SIGNED_IN,
    ),
    get("/consultations/:slug/responses/:id", PUBLIC),
    both("/consultations/:slug/response", SIGNED_IN, SIGNED_IN),
    get("/consultations/:slug/analysis", BOARD),
    get("/consultations/:slug/analysis/responses", BOARD),
    get("/consultations/:slug/analysis/responses.csv", BOARD),
    get("/consultations/:slug/analysis/responses.json", BOARD),
    get("/consultations/:slug/analysis/responses/:id", BOARD),
    post("/consultations/:slug/analysis/responses/:id/themes", BOARD),
    post("/consultations/:slug/analysis/responses/:id/redact", BOARD),
    get(
        "/consultations/:slug/analysis/sections/:version/:anchor",
        BOARD,
    ),
    post(
        "/consultations/:slug/analysis/comments/:id/disposition",
        BOARD,
    ),
    post("/consultations/:slug/analysis/comments/:id/themes", BOARD),
    both("/consultations/:slug/outcome", PUBLIC, BOARD),
    get("/consultations/:slug/outcome.md", PUBLIC),
    get("/consultations/:slug/outcome.csv", PUBLIC),
    get("/consultations/:slug/outcome.json", PUBLIC),
];

/// Paths whose POST carries its own authority instead of a CSRF token.
const SIGNED_LINK_PATHS: &[&str] = &["/digests/unsubscribe"];

/// Words only the board and their owner (the report's reporter, the hidden
/// comment's author) may ever see: no answer to anyone else may hold them.
const REPORT_SYSTEM: &str = "Matrix pathology viewer";
const TAG: &str = "Matrix tag for the board";
const NOTE: &str = "Matrix internal note for the board";
const HIDDEN_COMMENT: &str = "Matrix words the board hid";
const DRAFT_TITLE: &str = "Matrix draft standard";

/// Everything the requests are filled in with.
struct Fixtures {
    /// API tokens (none when signed out).
    tokens: [Option<String>; 5],
    /// Browsers: signed in, each with its session cookie; signed out, with
    /// only the anonymous cookie that CSRF tokens are bound to before sign-in.
    browsers: [reqwest::Client; 5],
    /// Each browser's CSRF token.
    csrf: [String; 5],
    /// A browser with no cookies at all.
    cookieless: reqwest::Client,
    /// name -> value, for `{name}` placeholders.
    values: BTreeMap<&'static str, String>,
    /// The same for the administrator, where the board member's would be
    /// gone already (deletions).
    admin_values: BTreeMap<&'static str, String>,
}

impl Fixtures {
    fn value(&self, name: &str, who: Who) -> String {
        if who == Who::Admin
            && let Some(v) = self.admin_values.get(name)
        {
            return v.clone();
        }
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no fixture named `{name}`"))
    }

    /// Replaces each `{name}` (API) or `:name` (pages) of `template` with a
    /// fixture chosen by the path around it, or by `using` (a fixture
    /// replaced by another).
    fn fill(&self, template: &str, who: Who, using: Option<(&str, &str)>) -> String {
        let segments: Vec<&str> = template.split('/').collect();
        let mut out = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let param = segment
                .strip_prefix(':')
                .or_else(|| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
            match param {
                Some(param) => {
                    let before = if i > 0 { segments[i - 1] } else { "" };
                    let name = match (fixture_for(template, before, param), using) {
                        (name, Some((from, to))) if name == from => to,
                        (name, _) => name,
                    };
                    out.push(self.value(name, who));
                }
                None => out.push((*segment).to_owned()),
            }
        }
        out.join("/")
    }

    /// Replaces `{name}` placeholders in a query string.
    fn fill_query(&self, query: &str, who: Who) -> String {
        let mut out = query.to_owned();
        while let Some(start) = out.find('{') {
            let end = start + out[start..].find('}').expect("a closing brace");
            let value = self.value(&out[start + 1..end], who);
            out.replace_range(start..=end, &value);
        }
        out
    }
}

/// Which fixture fills the path parameter `param`, which follows the segment `before`.
fn fixture_for(template: &str, before: &str, param: &str) -> &'static str {
    let in_consultation = template.contains("/consultations/");
    match (before, param) {
        ("tokens", "id") => "token",
        ("themes", "id") => "theme",
        ("ideas", "id") => "idea",
        ("comments", "id") if in_consultation => "section_comment",
        ("comments", "id") => "comment",
        ("comments" | "sections" | ":version", "anchor") => "anchor",
        ("reports", "id") => "report",
        ("imports", "id") => "import",
        ("users", "id") => "owner_id",
        ("problems", "slug") => "problem",
        ("consultations", "slug") => "slug",
        ("questions", "id") => "question",
        ("versions", "number") | ("sections", "version") => "version",
        ("responses", "id") => "response",
        ("saved-searches" | "saved", "id") => "saved_search",
        ("inbox" | "audit" | "items" | "notes", "kind") | ("audit", "subject_type") => "kind",
        ("{kind}" | ":kind", "id") | (":subject_type", "subject_id") => "report",
        ("tags", "slug") => "tag",
        ("links", "link_id") => "link",
        _ => panic!(
            "no fixture for the parameter `{param}` (after `{before}`) in {template}: \
             add one to fixture_for in tests/api/permissions.rs"
        ),
    }
}

/// An answer, read.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await.unwrap_or_default();
    Answer {
        status,
        location,
        body,
    }
}

impl Answer {
    /// Whether the answer meets `expect`; `page` for HTML pages, which may
    /// ask a signed-out caller to sign in with a redirect.
    fn meets(&self, expect: Expect, page: bool) -> bool {
        let status = self.status;
        let to_sign_in = page
            && status == StatusCode::SEE_OTHER
            && self
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/sign-in?next="));
        match expect {
            Allowed => {
                !matches!(status.as_u16(), 401 | 403 | 404)
                    && !status.is_server_error()
                    && !to_sign_in
            }
            SignIn => status == StatusCode::UNAUTHORIZED || to_sign_in,
            Forbidden => status == StatusCode::FORBIDDEN,
            Hidden => status == StatusCode::NOT_FOUND,
        }
    }
}

/// What was found, kept so that every wrong answer is reported at once.
struct Findings {
    problems: Vec<String>,
    /// Words, with whose they are: only they and the board may see them.
    secrets: Vec<(Who, String)>,
    calls: usize,
}

impl Findings {
    /// Checks an answer against `expect`, and that it shows no one else's
    /// secret to a caller who is not on the board.
    fn check(&mut self, what: &str, who: Who, expect: Expect, answer: &Answer, page: bool) {
        self.calls += 1;
        if !answer.meets(expect, page) {
            let start: String = answer.body.chars().take(300).collect();
            self.problems.push(format!(
                "{what} as {who:?}: expected {expect:?}, got {} {}: {start}",
                answer.status,
                answer.location.as_deref().unwrap_or("")
            ));
        }
        for (whose, secret) in &self.secrets {
            let may_see = matches!(who, Who::Board | Who::Admin) || who == *whose;
            if !may_see && answer.body.contains(secret.as_str()) {
                self.problems.push(format!(
                    "{what} as {who:?} shows `{secret}`, which is not theirs to see"
                ));
            }
        }
    }
}

/// An operation of the OpenAPI document.
struct Operation {
    method: Method,
    /// The path as the server is called, with `{params}`.
    path: String,
    id: String,
    /// The request body's content type, when the operation takes one.
    content_type: Option<String>,
}

async fn operations(app: &TestApp) -> Vec<Operation> {
    let spec: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    let server = spec["servers"][0]["url"].as_str().unwrap_or("");
    let mut found = Vec::new();
    for (path, methods) in spec["paths"].as_object().expect("the document has paths") {
        for (method, operation) in methods.as_object().expect("a path's methods") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            let content_type = operation["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.keys().next().cloned());
            found.push(Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method"),
                path: format!("{server}{path}"),
                id: id.to_owned(),
                content_type,
            });
        }
    }
    found
}

/// A page route registered with `.at("/path", ...)` in `src/`.
#[derive(Debug)]
struct Route {
    path: String,
    file: String,
    get: bool,
    post: bool,
}

/// Reads every route table under `src/`: the string literal after each
/// `.at(`, and the methods (`get(`, `post(`) named in the endpoint that
/// follows it, up to the next route.
fn page_routes() -> Vec<Route> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut routes = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read a source file");
        let name = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let starts: Vec<usize> = source.match_indices(".at(").map(|(i, _)| i).collect();
        for (n, &start) in starts.iter().enumerate() {
            let rest = &source[start + 4..];
            let spaces = rest.len() - rest.trim_start().len();
            let Some(literal) = rest[spaces..].strip_prefix('"') else {
                continue;
            };
            let path = &literal[..literal.find('"').expect("the literal ends")];
            if !path.starts_with('/') {
                continue;
            }
            // The endpoint: after the literal, up to the next route, nesting
            // or middleware.
            let after = start + 4 + spaces + path.len() + 2;
            let mut end = starts.get(n + 1).copied().unwrap_or(source.len());
            for marker in [".nest(", ".with(", "\n}"] {
                if let Some(i) = source[after..end].find(marker) {
                    end = end.min(after + i);
                }
            }
            let endpoint = &source[after..end];
            let names = |method: &str| {
                endpoint.match_indices(&format!("{method}(")).any(|(i, _)| {
                    !endpoint[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            };
            for other in ["put", "patch", "delete"] {
                assert!(
                    !names(other),
                    "{name}: the page route {path} answers {other}, which this test does not call"
                );
            }
            let (get, post) = (names("get"), names("post"));
            routes.push(Route {
                path: path.to_owned(),
                file: name.clone(),
                // An endpoint with no method router (the OpenAPI document) answers GET.
                get: get || !post,
                post,
            });
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_operation_and_page_answers_each_kind_of_caller_as_the_tables_say() {
    let app = spawn_app().await;
    let routes = page_routes();
    check_page_table(&routes);
    let mut operations = operations(&app).await;
    check_api_table(&operations);

    let fixtures = fixtures(&app).await;
    let mut findings = Findings {
        problems: Vec::new(),
        secrets: vec![
            (Who::Owner, REPORT_SYSTEM.to_owned()),
            (Who::Owner, fixtures.value("report", Who::Owner)),
            (Who::Board, TAG.to_owned()),
            (Who::Board, NOTE.to_owned()),
            // Its author gets their own words back in their data export.
            (Who::Other, HIDDEN_COMMENT.to_owned()),
            (Who::Board, DRAFT_TITLE.to_owned()),
        ],
        calls: 0,
    };

    // What changes nothing, all at once: every page, the refused posts to
    // pages, and the API's reads, through an API token and through a
    // browser session.
    let mut reads = Vec::new();
    for route in &routes {
        let row = PAGES
            .iter()
            .find(|p| p.path == route.path)
            .expect("checked above");
        if let Some(access) = row.get {
            for who in EVERYONE {
                let path = format!(
                    "{}{}",
                    fixtures.fill(row.path, who, row.fixture),
                    fixtures.fill_query(row.query, who)
                );
                reads.push(Call {
                    what: format!("GET {path} (page)"),
                    who,
                    expect: access[who as usize],
                    page: true,
                    request: fixtures.browsers[who as usize].get(app.url(&path)),
                });
            }
        }
        if let Some(access) = row.post {
            reads.extend(page_posts(&app, &fixtures, row, &access));
        }
    }
    for operation in operations.iter().filter(|o| o.method == Method::GET) {
        let row = API
            .iter()
            .find(|r| r.id == operation.id)
            .expect("checked above");
        for who in EVERYONE {
            let call = api_call(&app, &fixtures, operation, row, who);
            if who != Who::SignedOut {
                let url = call
                    .request
                    .try_clone()
                    .expect("a GET")
                    .build()
                    .expect("a request");
                reads.push(Call {
                    what: format!("{} with a session cookie", call.what),
                    who,
                    expect: call.expect,
                    page: false,
                    request: fixtures.browsers[who as usize].get(url.url().clone()),
                });
            }
            reads.push(call);
        }
    }
    run(reads, 8, &mut findings).await;

    // Then the API's writes one at a time, deletions last (and last of all
    // the callers' own accounts); for each, the callers it refuses first, so
    // that an allowed deletion cannot change what a refused caller is told.
    let row_of = |o: &Operation| API.iter().find(|r| r.id == o.id).expect("checked above");
    operations.sort_by_key(|o| (o.method == Method::DELETE, row_of(o).last));
    for operation in operations.iter().filter(|o| o.method != Method::GET) {
        let row = row_of(operation);
        let mut order: Vec<Who> = EVERYONE
            .into_iter()
            .filter(|w| row.access[*w as usize] != Allowed)
            .collect();
        order.extend(
            EVERYONE
                .into_iter()
                .filter(|w| row.access[*w as usize] == Allowed),
        );
        let calls = order
            .into_iter()
            .map(|who| api_call(&app, &fixtures, operation, row, who))
            .collect();
        run(calls, 1, &mut findings).await;
    }

    assert!(
        findings.problems.is_empty(),
        "{} answers differ from the permission tables in tests/api/permissions.rs:\n{}",
        findings.problems.len(),
        findings.problems.join("\n")
    );
    println!(
        "{} API operations and {} page routes: {} answers as the tables say",
        operations.len(),
        routes.len(),
        findings.calls
    );
    app.stop().await;
}

/// A request to send, and what must come back.
struct Call {
    what: String,
    who: Who,
    expect: Expect,
    /// An HTML page (which may send a signed-out caller to sign in).
    page: bool,
    request: reqwest::RequestBuilder,
}

/// Sends `calls`, `parallel` at a time, and checks each answer (in the
/// order of `calls`, so that findings read the same every run).
async fn run(calls: Vec<Call>, parallel: usize, findings: &mut Findings) {
    let mut pending = tokio::task::JoinSet::new();
    let mut answers = Vec::with_capacity(calls.len());
    let mut checks = Vec::with_capacity(calls.len());
    for (i, call) in calls.into_iter().enumerate() {
        if pending.len() >= parallel {
            answers.push(pending.join_next().await.expect("a call").expect("sent"));
        }
        let request = call.request;
        pending.spawn(async move { (i, read(request.send().await.expect("sent")).await) });
        checks.push((call.what, call.who, call.expect, call.page));
    }
    while let Some(answer) = pending.join_next().await {
        answers.push(answer.expect("sent"));
    }
    answers.sort_by_key(|(i, _)| *i);
    for ((what, who, expect, page), (_, answer)) in checks.iter().zip(&answers) {
        findings.check(what, *who, *expect, answer, *page);
    }
}

/// An API operation called as `who`: with their API token, and for
/// operations that take a body, the row's (or the empty) one.
fn api_call(app: &TestApp, fixtures: &Fixtures, operation: &Operation, row: &Op, who: Who) -> Call {
    let path = format!(
        "{}{}",
        fixtures.fill(&operation.path, who, None),
        fixtures.fill_query(row.query, who)
    );
    let mut request = app.client.request(operation.method.clone(), app.url(&path));
    if let Some(token) = &fixtures.tokens[who as usize] {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = &operation.content_type {
        let empty = if content_type.contains("json") {
            "{}"
        } else {
            ""
        };
        request = request
            .header("content-type", content_type.as_str())
            .body(row.body.unwrap_or(empty));
    }
    Call {
        what: format!("{} {path} ({})", operation.method, operation.id),
        who,
        expect: row.access[who as usize],
        page: false,
        request,
    }
}

/// Every operation has exactly one row, and every row an operation.
fn check_api_table(operations: &[Operation]) {
    let mut in_table = BTreeSet::new();
    for row in API {
        assert!(
            in_table.insert(row.id),
            "{} has two rows in API in tests/api/permissions.rs",
            row.id
        );
    }
    let missing: Vec<String> = operations
        .iter()
        .filter(|o| !in_table.contains(o.id.as_str()))
        .map(|o| format!("{} ({} {})", o.id, o.method, o.path))
        .collect();
    assert!(
        missing.is_empty(),
        "these API operations have no row in the permission table: {missing:?}. \
         Add each to API in tests/api/permissions.rs with who may call it"
    );
    let in_spec: BTreeSet<&str> = operations.iter().map(|o| o.id.as_str()).collect();
    let unknown: Vec<&&str> = in_table.difference(&in_spec).collect();
    assert!(
        unknown.is_empty(),
        "the permission table names operations the API does not have: {unknown:?}"
    );
}

/// Every page route has exactly one row, naming the methods it answers, and
/// every row a route.
fn check_page_table(routes: &[Route]) {
    let mut in_table = BTreeSet::new();
    for row in PAGES {
        assert!(
            in_table.insert(row.path),
            "{} has two rows in PAGES in tests/api/permissions.rs",
            row.path
        );
    }
    let mut seen = BTreeSet::new();
    for route in routes {
        assert!(
            seen.insert(route.path.as_str()),
            "{} is registered twice ({})",
            route.path,
            route.file
        );
        let row = PAGES
            .iter()
            .find(|p| p.path == route.path)
            .unwrap_or_else(|| {
                panic!(
                    "the page route {} ({}) has no row in the permission table: add it to \
                     PAGES in tests/api/permissions.rs with who may see it and post to it",
                    route.path, route.file
                )
            });
        assert_eq!(
            (row.get.is_some(), row.post.is_some()),
            (route.get, route.post),
            "{} ({}): the row's methods (GET, POST) differ from the route's",
            route.path,
            route.file
        );
    }
    let unknown: Vec<&&str> = in_table.difference(&seen).collect();
    assert!(
        unknown.is_empty(),
        "the permission table names page routes that no longer exist: {unknown:?}"
    );
}

/// POSTs to a page route: signed out without a CSRF token, refused with
/// 403 (a signed link's route: "not found" without its signature); and with
/// a valid token, as each caller the row refuses, who must be refused.
/// Callers the row allows are sent nothing, so nothing changes.
fn page_posts(app: &TestApp, fixtures: &Fixtures, row: &Page, access: &Access) -> Vec<Call> {
    let path = fixtures.fill(row.path, Who::SignedOut, row.fixture);
    let mut calls = vec![Call {
        what: format!("POST {path} (page) without a CSRF token"),
        who: Who::SignedOut,
        expect: if SIGNED_LINK_PATHS.contains(&row.path) {
            Hidden
        } else {
            Forbidden
        },
        page: true,
        request: form_post(&fixtures.cookieless, app, &path, row, None),
    }];
    for who in EVERYONE {
        if access[who as usize] == Allowed {
            continue;
        }
        let path = fixtures.fill(row.path, who, row.fixture);
        let browser = &fixtures.browsers[who as usize];
        calls.push(Call {
            what: format!("POST {path} (page) with a CSRF token"),
            who,
            expect: access[who as usize],
            page: true,
            request: form_post(browser, app, &path, row, Some(&fixtures.csrf[who as usize])),
        });
    }
    calls
}

/// The row's form fields, and the CSRF token when given, posted as a
/// browser would.
fn form_post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    row: &Page,
    csrf: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut fields: Vec<(&str, &str)> = row.form.to_vec();
    if let Some(token) = csrf {
        fields.push(("csrf_token", token));
    }
    let request = client.post(app.url(path));
    if row.multipart {
        let (content_type, body) = multipart(&fields, None);
        request.header("content-type", content_type).body(body)
    } else {
        request.form(&fields)
    }
}

async fn page_csrf(app: &TestApp, client: &reqwest::Client, page: &str) -> String {
    let html = client
        .get(app.url(page))
        .send()
        .await
        .expect("GET page")
        .text()
        .await
        .expect("body");
    csrf_token(&html).unwrap_or_else(|| panic!("{page} has a CSRF token"))
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A browser signed in as `address` (who must exist), through the sign-in
/// journey: the form, the emailed link and its confirmation button.
async fn session(app: &TestApp, address: &str) -> reqwest::Client {
    let client = browser();
    let before = app.emails_to(address).len();
    let token = page_csrf(app, &client, "/sign-in").await;
    let resp = client
        .post(app.url("/sign-in"))
        .form(&[("email", address), ("csrf_token", token.as_str())])
        .send()
        .await
        .expect("POST sign-in");
    assert_eq!(resp.status(), 303, "sign-in requested for {address}");
    let link = app.new_sign_in_link(address, before).await;
    let page = client
        .get(&link)
        .send()
        .await
        .expect("GET link")
        .text()
        .await
        .expect("body");
    let link_token = hidden_value(&page, "token").expect("the link page has a sign-in button");
    let csrf = csrf_token(&page).expect("csrf");
    let resp = client
        .post(app.url("/sign-in/link"))
        .form(&[
            ("token", link_token.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .expect("POST link");
    assert_eq!(resp.status(), 303, "{address} signed in");
    client
}

/// The people, and one of everything the routes take: made by the owner
/// (a contributor) where contributors make them, by the board otherwise.
async fn fixtures(app: &TestApp) -> Fixtures {
    const OWNER: &str = "owner@example.nhs.uk";
    const OTHER: &str = "other@example.nhs.uk";
    const BOARD_MEMBER: &str = "board@example.nhs.uk";
    const ADMINISTRATOR: &str = "admin@example.nhs.uk";
    let owner = respondent(app, OWNER, "nhs_staff", "Olive Owner").await;
    let other = respondent(app, OTHER, "supplier", "Oscar Other").await;
    let board = app.api_token_for(BOARD_MEMBER, Role::Board).await;
    let admin = app.api_token_for(ADMINISTRATOR, Role::Admin).await;
    let mut values = BTreeMap::new();
    let mut admin_values = BTreeMap::new();

    let me = app.api_json("/api/v1/me", &owner).await;
    values.insert("owner_id", id_of(&me));
    let spare = app
        .api_post_json("/api/v1/tokens", &owner, &json!({ "name": "Spare" }))
        .await;
    values.insert("token", id_of(&spare));
    let themes = app.api_json("/api/v1/themes", &owner).await;
    values.insert("theme", id_of(&themes[0]));

    let idea = app
        .api_post_json(
            "/api/v1/ideas",
            &owner,
            &idea_body("Shared care records in the matrix"),
        )
        .await;
    let idea_id = id_of(&idea);
    let comment = app
        .api_post_json(
            &format!("/api/v1/ideas/{idea_id}/comments"),
            &owner,
            &json!({ "body": "Our ward would use this" }),
        )
        .await;
    values.insert("comment", id_of(&comment));
    // Another contributor's comment, hidden by the board.
    let hidden = app
        .api_post_json(
            &format!("/api/v1/ideas/{idea_id}/comments"),
            &other,
            &json!({ "body": HIDDEN_COMMENT }),
        )
        .await;
    app.api_post_json(
        &format!("/api/v1/comments/{}/hide", id_of(&hidden)),
        &board,
        &json!({ "reason": "Off topic" }),
    )
    .await;
    let second_idea = app
        .api_post_json("/api/v1/ideas", &owner, &idea_body("A second matrix idea"))
        .await;

    // The owner's confidential report, with the board's tags, links and
    // internal note on it.
    let report = app
        .api_post_json("/api/v1/reports", &owner, &report_body(REPORT_SYSTEM))
        .await;
    assert_eq!(report["confidential"], true, "{report}");
    let report_id = id_of(&report);
    let item = format!("/api/v1/inbox/report/{report_id}");
    values.insert("kind", "report".to_owned());
    // Two tags and two links, so that the board member and the
    // administrator each have one to remove.
    for (map, label) in [
        (&mut values, TAG.to_owned()),
        (&mut admin_values, format!("{TAG} too")),
    ] {
        let tags = app
            .api_post_json(&format!("{item}/tags"), &board, &json!({ "tag": label }))
            .await;
        let tag = tags
            .as_array()
            .expect("the item's tags")
            .iter()
            .find(|t| t["label"] == label)
            .unwrap_or_else(|| panic!("the tag {label} in {tags}"));
        map.insert("tag", tag["slug"].as_str().expect("a slug").to_owned());
    }
    for (map, target) in [
        (&mut values, idea_id.clone()),
        (&mut admin_values, id_of(&second_idea)),
    ] {
        let links = app
            .api_post_json(
                &format!("{item}/links"),
                &board,
                &json!({ "kind": "idea", "id": target }),
            )
            .await;
        let link = links
            .as_array()
            .expect("the item's links")
            .iter()
            .find(|l| l["target_id"] == target.as_str())
            .unwrap_or_else(|| panic!("the link to {target} in {links}"));
        map.insert("link", id_of(link));
    }
    app.api_post_json(
        &format!("{item}/notes"),
        &board,
        &json!({ "visibility": "internal", "body": NOTE }),
    )
    .await;
    values.insert("idea", idea_id);
    values.insert("report", report_id);

    let import = api_import(
        app,
        &admin,
        "ods_code,name\nRX1,NEW TRUST ONE\n",
        "?file_name=matrix.csv&kind=trust",
    )
    .await;
    assert_eq!(import.status(), 202, "import accepted");
    let import: Value = import.json().await.expect("json");
    let import_id = id_of(&import);
    finished(app, uuid::Uuid::parse_str(&import_id).expect("uuid")).await;
    values.insert("import", import_id);

    let saved = app
        .api_post_json(
            "/api/v1/me/saved-searches",
            &board,
            &json!({ "name": "Matrix", "q": "matrix" }),
        )
        .await;
    values.insert("saved_search", id_of(&saved));

    // A consultation through its whole life: the owner responds with a
    // comment on a section, then it closes and its outcome is published.
    // Another stays open.
    let slug = "matrix-standard";
    let c = open_consultation(app, &board, slug, &["everyone"]).await;
    let consultation = format!("/api/v1/consultations/{slug}");
    let detail = app.api_json(&consultation, &board).await;
    values.insert("question", id_of(&detail["questions"][0]));
    respond(
        app,
        &owner,
        &c,
        "Tokens expire during ward rounds",
        "named",
        Some("Include ward tablets"),
    )
    .await;
    let responses = app
        .api_json(&format!("{consultation}/responses"), &board)
        .await;
    let response = &responses["items"][0];
    values.insert("response", id_of(response));
    let section_comment = id_of(&response["comments"][0]);
    close(app, &board, &c).await;
    let resp = app
        .api_send(
            Method::PUT,
            &format!("{consultation}/comments/{section_comment}/disposition"),
            &board,
            &[],
            Some(&json!({ "disposition": "accepted", "rationale": "Scope widened" })),
        )
        .await;
    assert_eq!(resp.status(), 200, "comment decided");
    app.api_post_json(
        &format!("{consultation}/outcome"),
        &board,
        &json!({ "summary": "We widened the scope to shared devices." }),
    )
    .await;
    values.insert("section_comment", section_comment);
    values.insert("slug", slug.to_owned());
    open_consultation(app, &board, "matrix-open", &["everyone"]).await;
    let mut draft = consultation_body(
        "matrix-draft",
        &["everyone"],
        &at(chrono::Duration::hours(-1)),
        &at(chrono::Duration::days(1)),
    );
    draft["title"] = json!(DRAFT_TITLE);
    app.api_post_json("/api/v1/consultations", &board, &draft)
        .await;
    values.insert("open_slug", "matrix-open".to_owned());
    values.insert("version", "1".to_owned());
    values.insert("anchor", "scope".to_owned());
    values.insert("problem", "validation".to_owned());

    let board_me = app.api_json("/api/v1/me", &board).await;
    let board_id = uuid::Uuid::parse_str(&id_of(&board_me)).expect("uuid");
    let unsubscribe = hub::digests::render::unsubscribe_path(&app.state.key, board_id);
    let (_, query) = unsubscribe.split_once('?').expect("a query");
    values.insert("unsubscribe", query.to_owned());

    let browsers = [
        browser(),
        session(app, OWNER).await,
        session(app, OTHER).await,
        session(app, BOARD_MEMBER).await,
        session(app, ADMINISTRATOR).await,
    ];
    let mut csrf = Vec::new();
    for (who, browser) in EVERYONE.into_iter().zip(&browsers) {
        let page = if who == Who::SignedOut {
            "/sign-in"
        } else {
            "/profile"
        };
        csrf.push(page_csrf(app, browser, page).await);
    }
    Fixtures {
        tokens: [None, Some(owner), Some(other), Some(board), Some(admin)],
        browsers,
        csrf: csrf.try_into().expect("five tokens"),
        cookieless: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        values,
        admin_values,
    }
}
