use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub::email::transport::Mailer;
use hub::settings::Settings;
use hub::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::oneshot;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub client: reqwest::Client,
    pub mailbox: Option<Arc<Mutex<Vec<lettre::Message>>>>,
    pub state: hub::app_state::AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("HUB_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("hub_test_{}", Uuid::now_v7().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to HUB_TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.expect("close admin connection");
            let mut url = url::Url::parse(&admin_url).expect("HUB_TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("hub.db").display()),
    }
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-test-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[derive(Default)]
pub struct Options {
    pub env: Vec<(String, String)>,
    /// None: the in-memory mailbox; Some: mail goes through `HUB_SMTP_URL` or files.
    pub real_mailer: bool,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let data_dir = options.data_dir.unwrap_or_else(temp_dir);
    let database_url = match options.database_url {
        Some(url) => url,
        None => fresh_database_url(&data_dir).await,
    };
    let mut env = vec![
        ("HUB_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("HUB_DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("HUB_DATABASE_URL".to_owned(), database_url.clone()),
        // Digests fall due by the clock; tests that want them turn them on.
        ("HUB_DIGESTS".to_owned(), "off".to_owned()),
        (
            "HUB_ASSETS_DIR".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/frontend/dist").to_owned(),
        ),
    ];
    env.extend(options.env);
    let settings = Settings::load_from(None, env).expect("test settings are valid");
    let (mailer, mailbox) = if options.real_mailer {
        (Mailer::from_settings(&settings).expect("mailer"), None)
    } else {
        let (mailer, store) = Mailer::memory();
        (mailer, Some(store))
    };
    let app = Application::build(settings, mailer)
        .await
        .expect("application builds");
    let port = app.port();
    let state = app.state().clone();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db: state.db.clone(),
        client,
        mailbox,
        state,
        stop: Some(stop_tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    pub async fn api_get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn api_delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE")
    }

    pub async fn api_post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// Sends a JSON request with a bearer token and optional extra headers.
    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("API request")
    }

    /// Posts a form the way a browser would, with the CSRF token from `page`.
    pub async fn post_form(
        &self,
        path: &str,
        page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = self.get_html(page).await;
        let token = csrf_token(&html).unwrap_or_default();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Emails sent to `address` so far, as decoded text.
    pub fn emails_to(&self, address: &str) -> Vec<String> {
        let store = self
            .mailbox
            .as_ref()
            .expect("this app uses the memory mailbox");
        let messages = store.lock().expect("mailbox");
        messages
            .iter()
            .filter(|m| m.envelope().to().iter().any(|a| a.to_string() == address))
            .map(|m| decode_quoted_printable(&String::from_utf8_lossy(&m.formatted())))
            .collect()
    }

    /// Waits for the worker to deliver an email to `address`, and returns the newest.
    pub async fn wait_for_email(&self, address: &str, count: usize) -> String {
        for _ in 0..100 {
            let emails = self.emails_to(address);
            if emails.len() >= count {
                return emails.last().cloned().expect("an email");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email #{count} arrived for {address}");
    }

    /// Signs in through the real journey: sign-in form, emailed link, confirm.
    pub async fn sign_in(&self, address: &str) {
        let before = self.emails_to(address).len();
        let resp = self
            .post_form("/sign-in", "/sign-in", &[("email", address)])
            .await;
        assert_eq!(resp.status(), 303, "sign-in request accepted");
        let link = self.new_sign_in_link(address, before).await;
        self.follow_sign_in_link(&link).await;
    }

    /// The sign-in link in an email to `address` after the first `before`
    /// of them. Other emails to the same address (a reply, a receipt) may
    /// arrive meanwhile: the new one that carries a sign-in link is taken.
    pub async fn new_sign_in_link(&self, address: &str, before: usize) -> String {
        for _ in 0..100 {
            let link = self.emails_to(address)[before..]
                .iter()
                .rev()
                .find_map(|email| sign_in_link(email));
            if let Some(link) = link {
                return link;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email with a sign-in link reached {address}")
    }

    pub async fn follow_sign_in_link(&self, link: &str) -> reqwest::Response {
        let page = self
            .client
            .get(link)
            .send()
            .await
            .expect("GET link")
            .text()
            .await
            .expect("body");
        let token = hidden_value(&page, "token").expect("the link page has a sign-in button");
        let csrf = csrf_token(&page).expect("csrf");
        let resp = self
            .client
            .post(self.url("/sign-in/link"))
            .form(&[("token", token.as_str()), ("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("POST link");
        assert_eq!(resp.status(), 303, "sign-in link accepted");
        resp
    }

    /// Creates an account with `role` directly, then signs in as it.
    pub async fn sign_in_as(&self, address: &str, role: hub::auth::domain::Role) {
        let email = hub::auth::domain::EmailAddress::parse(address).expect("valid address");
        hub::auth::service::upsert_user(&self.db, &email, role, Some("Test Person".into()))
            .await
            .expect("user");
        self.sign_in(address).await;
    }

    /// A new API token for `address` (who must exist).
    pub async fn api_token_for(&self, address: &str, role: hub::auth::domain::Role) -> String {
        let email = hub::auth::domain::EmailAddress::parse(address).expect("valid address");
        let user = hub::auth::service::upsert_user(&self.db, &email, role, None)
            .await
            .expect("user");
        hub::auth::service::create_api_token(&self.db, &user, "tests")
            .await
            .expect("token")
            .token
    }

    /// GETs `path` with a bearer token and reads the JSON answer.
    pub async fn api_json(&self, path: &str, token: &str) -> serde_json::Value {
        let resp = self.api_get(path, token).await;
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// POSTs JSON with a bearer token and reads the JSON answer.
    pub async fn api_post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let resp = self.api_post(path, token, body).await;
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// Waits until the indexer has caught up with everything written so far.
    pub async fn indexed(&self) {
        use sea_orm::{EntityTrait, QueryOrder};
        let last = entity::change_log::Entity::find()
            .order_by_desc(entity::change_log::Column::Seq)
            .one(&self.db)
            .await
            .expect("query")
            .map(|r| r.seq)
            .unwrap_or(0);
        for _ in 0..200 {
            if self.state.search.applied() >= last {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the search index did not catch up with change {last}");
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The `id` of an API answer, as a string.
pub fn id_of(value: &serde_json::Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {value}"))
        .to_owned()
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

pub fn csrf_token(html: &str) -> Option<String> {
    hidden_value(html, "csrf_token")
}

pub fn sign_in_link(email: &str) -> Option<String> {
    let start = email.find("http://")?;
    let rest = &email[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(rest.len());
    let link = &rest[..end];
    link.contains("/sign-in/link?token=")
        .then(|| link.to_owned())
}

/// Undoes quoted-printable encoding (soft line breaks and =XX escapes).
pub fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
