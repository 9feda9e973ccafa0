//! Settings: built-in defaults, then an optional `hub.toml`, then `HUB_*`
//! environment variables. The names are a contract with operators: an unknown
//! name or a bad value stops start-up with a message naming it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// Environment variables with this prefix belong to the test suite, not the service.
const TEST_PREFIX: &str = "HUB_TEST_";

#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Base for links in emails, and whether cookies are marked Secure.
    pub public_url: Url,
    pub smtp_url: Option<SmtpUrl>,
    pub mail_from: lettre::message::Mailbox,
    /// Where the built front-end (`frontend/dist`) is served from.
    pub assets_dir: PathBuf,
    /// First delay before an email is retried; doubles with every failure.
    pub email_retry_base: Duration,
    pub email_max_attempts: i32,
    /// Whether this process sends board members' digests when they fall due
    /// (`HUB_DIGESTS=off` leaves it to another process or to `hub digests send`).
    pub digests: bool,
    /// Ideas, reports and consultation responses one account may submit per
    /// hour (`HUB_SUBMISSIONS_PER_HOUR`, default 60).
    pub submissions_per_hour: i32,
}

/// An SMTP URL kept whole for the transport but never shown with its password.
#[derive(Clone)]
pub struct SmtpUrl(pub Url);

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("********"));
        }
        write!(f, "{shown}")
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url.as_str())
            .field("smtp_url", &self.smtp_url)
            .field("mail_from", &self.mail_from.to_string())
            .field("assets_dir", &self.assets_dir)
            .finish()
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("********"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown setting {0}; known settings are listed in the README")]
    Unknown(String),
    #[error("setting {name} has a bad value: {reason}")]
    Invalid { name: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

/// The raw values, every one optional, as they come from a file or the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    assets_dir: Option<String>,
    email_retry_base_seconds: Option<u64>,
    email_max_attempts: Option<i32>,
    digests: Option<String>,
    submissions_per_hour: Option<i32>,
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "smtp_url",
    "mail_from",
    "assets_dir",
    "email_retry_base_seconds",
    "email_max_attempts",
    "digests",
    "submissions_per_hour",
];

impl Settings {
    /// Loads from `config` (when given, it must exist; otherwise `hub.toml` if present)
    /// and from the process environment.
    pub fn load(config: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(config, std::env::vars())
    }

    pub fn load_from(
        config: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let file_layer = match config {
            Some(path) => read_file(path)?,
            None if Path::new("hub.toml").exists() => read_file(Path::new("hub.toml"))?,
            None => Layer::default(),
        };
        let env_layer = env_layer(env)?;
        Self::resolve(file_layer, env_layer)
    }

    fn resolve(file: Layer, env: Layer) -> Result<Self, SettingsError> {
        let pick = |e: Option<String>, f: Option<String>| e.or(f).filter(|v| !v.is_empty());

        let listen_raw = pick(env.listen, file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            invalid(
                "HUB_LISTEN",
                format!("{listen_raw:?} is not an address and port such as 127.0.0.1:8080"),
            )
        })?;

        let data_dir =
            PathBuf::from(pick(env.data_dir, file.data_dir).unwrap_or_else(|| "./data".into()));

        let database_url = match pick(env.database_url, file.database_url) {
            Some(url)
                if url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:") =>
            {
                url
            }
            Some(other) => {
                return Err(invalid(
                    "HUB_DATABASE_URL",
                    format!(
                        "{:?} must start with postgres:// or sqlite:",
                        redact_url(&other)
                    ),
                ));
            }
            None => format!("sqlite://{}?mode=rwc", data_dir.join("hub.db").display()),
        };

        let public_url = match pick(env.public_url, file.public_url) {
            Some(raw) => {
                let url = Url::parse(&raw)
                    .map_err(|e| invalid("HUB_PUBLIC_URL", format!("{raw:?}: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(invalid(
                        "HUB_PUBLIC_URL",
                        format!("{raw:?} must be an http or https URL"),
                    ));
                }
                url
            }
            None => Url::parse(&format!("http://{listen}/"))
                .map_err(|e| invalid("HUB_LISTEN", e.to_string()))?,
        };

        let smtp_url = match pick(env.smtp_url, file.smtp_url) {
            Some(raw) => {
                let url = Url::parse(&raw).map_err(|_| {
                    invalid(
                        "HUB_SMTP_URL",
                        "is not a URL such as smtp://user:pass@host:587".into(),
                    )
                })?;
                if !matches!(url.scheme(), "smtp" | "smtps" | "memory") {
                    return Err(invalid(
                        "HUB_SMTP_URL",
                        format!("scheme {:?} must be smtp or smtps", url.scheme()),
                    ));
                }
                if url.scheme() != "memory" && url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("HUB_SMTP_URL", "names no host".into()));
                }
                Some(SmtpUrl(url))
            }
            None => None,
        };

        let from_raw = pick(env.mail_from, file.mail_from)
            .unwrap_or_else(|| "HealthTech Hub <no-reply@healthtech-hub.localhost>".into());
        let mail_from = from_raw.parse().map_err(|_| {
            invalid(
                "HUB_MAIL_FROM",
                format!("{from_raw:?} is not an email address"),
            )
        })?;

        let assets_dir = PathBuf::from(
            pick(env.assets_dir, file.assets_dir).unwrap_or_else(|| "frontend/dist".into()),
        );

        let retry_secs = env
            .email_retry_base_seconds
            .or(file.email_retry_base_seconds)
            .unwrap_or(30);
        if retry_secs == 0 || retry_secs > 86_400 {
            return Err(invalid(
                "HUB_EMAIL_RETRY_BASE_SECONDS",
                "must be between 1 and 86400".into(),
            ));
        }
        let email_max_attempts = env
            .email_max_attempts
            .or(file.email_max_attempts)
            .unwrap_or(8);
        if !(1..=30).contains(&email_max_attempts) {
            return Err(invalid(
                "HUB_EMAIL_MAX_ATTEMPTS",
                "must be between 1 and 30".into(),
            ));
        }

        let digests = match pick(env.digests, file.digests).as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(invalid(
                    "HUB_DIGESTS",
                    format!("{other:?} must be on or off"),
                ));
            }
        };

        let submissions_per_hour = env
            .submissions_per_hour
            .or(file.submissions_per_hour)
            .unwrap_or(60);
        if !(1..=1_000_000).contains(&submissions_per_hour) {
            return Err(invalid(
                "HUB_SUBMISSIONS_PER_HOUR",
                "must be between 1 and 1000000".into(),
            ));
        }

        Ok(Settings {
            listen,
            data_dir,
            database_url,
            public_url,
            smtp_url,
            mail_from,
            assets_dir,
            email_retry_base: Duration::from_secs(retry_secs),
            email_max_attempts,
            digests,
            submissions_per_hour,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Cookies get the Secure flag when people reach the service over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute link for emails, from a path such as `/sign-in/link`.
    pub fn link(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path_and_query}")
    }
}

fn invalid(name: &str, reason: String) -> SettingsError {
    SettingsError::Invalid {
        name: name.into(),
        reason,
    }
}

fn read_file(path: &Path) -> Result<Layer, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| SettingsError::File {
        path: path.display().to_string(),
        reason: e.message().to_owned(),
    })?;
    if let Some(unknown) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(SettingsError::Unknown(format!(
            "{unknown:?} in {}",
            path.display()
        )));
    }
    Layer::deserialize(toml::Value::Table(table)).map_err(|e| SettingsError::Invalid {
        name: path.display().to_string(),
        reason: e.message().to_owned(),
    })
}

fn env_layer(env: impl IntoIterator<Item = (String, String)>) -> Result<Layer, SettingsError> {
    let mut values = BTreeMap::new();
    for (name, value) in env {
        let Some(key) = name.strip_prefix("HUB_") else {
            continue;
        };
        if name.starts_with(TEST_PREFIX) {
            continue;
        }
        let key = key.to_ascii_lowercase();
        if !KEYS.contains(&key.as_str()) {
            return Err(SettingsError::Unknown(name));
        }
        values.insert(key, (name, value));
    }
    let mut layer = Layer::default();
    for (key, (name, value)) in values {
        match key.as_str() {
            "listen" => layer.listen = Some(value),
            "data_dir" => layer.data_dir = Some(value),
            "database_url" => layer.database_url = Some(value),
            "public_url" => layer.public_url = Some(value),
            "smtp_url" => layer.smtp_url = Some(value),
            "mail_from" => layer.mail_from = Some(value),
            "assets_dir" => layer.assets_dir = Some(value),
            "digests" => layer.digests = Some(value),
            "email_retry_base_seconds" => {
                layer.email_retry_base_seconds = Some(value.parse().map_err(|_| {
                    invalid(&name, format!("{value:?} is not a whole number of seconds"))
                })?)
            }
            "submissions_per_hour" => {
                layer.submissions_per_hour = Some(
                    value
                        .parse()
                        .map_err(|_| invalid(&name, format!("{value:?} is not a whole number")))?,
                )
            }
            "email_max_attempts" => {
                layer.email_max_attempts = Some(
                    value
                        .parse()
                        .map_err(|_| invalid(&name, format!("{value:?} is not a whole number")))?,
                )
            }
            _ => return Err(SettingsError::Unknown(name)),
        }
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_listen_on_loopback_8080_with_sqlite_in_the_data_dir() {
        let s = Settings::load_from(None, env(&[])).expect("defaults are valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.starts_with("sqlite://./data/hub.db"));
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(s.smtp_url.is_none());
        assert!(!s.secure_cookies());
    }

    #[test]
    fn environment_overrides_and_an_https_public_url_makes_cookies_secure() {
        let s = Settings::load_from(
            None,
            env(&[
                ("HUB_PUBLIC_URL", "https://hub.example.nhs.uk"),
                ("HUB_LISTEN", "0.0.0.0:9000"),
            ]),
        )
        .expect("valid");
        assert!(s.secure_cookies());
        assert_eq!(s.link("/sign-in"), "https://hub.example.nhs.uk/sign-in");
        assert_eq!(s.listen.port(), 9000);
    }

    #[test]
    fn an_unknown_environment_setting_is_named_in_the_error() {
        let err = Settings::load_from(None, env(&[("HUB_LISTN", "x")])).expect_err("refused");
        assert!(err.to_string().contains("HUB_LISTN"), "{err}");
    }

    #[test]
    fn test_suite_variables_are_not_settings() {
        assert!(
            Settings::load_from(None, env(&[("HUB_TEST_DATABASE_URL", "postgres://x")])).is_ok()
        );
    }

    #[test]
    fn a_bad_value_is_named_in_the_error() {
        for (name, value) in [
            ("HUB_LISTEN", "localhost"),
            ("HUB_DATABASE_URL", "mysql://x"),
            ("HUB_SMTP_URL", "http://mail"),
            ("HUB_MAIL_FROM", "not an address"),
            ("HUB_PUBLIC_URL", "ftp://x"),
            ("HUB_EMAIL_MAX_ATTEMPTS", "many"),
        ] {
            let err = Settings::load_from(None, env(&[(name, value)])).expect_err("refused");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn smtp_passwords_are_never_shown() {
        let s = Settings::load_from(
            None,
            env(&[("HUB_SMTP_URL", "smtp://user:s3cret@mail.example:587")]),
        )
        .expect("valid");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let dir = std::env::temp_dir().join(format!("hub-settings-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("hub.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nsmtp_host = \"x\"\n").expect("write");
        let err = Settings::load_from(Some(&path), env(&[])).expect_err("refused");
        assert!(err.to_string().contains("smtp_host"), "{err}");
        std::fs::write(&path, "listen = \"127.0.0.1:1234\"\n").expect("write");
        let s = Settings::load_from(Some(&path), env(&[])).expect("valid");
        assert_eq!(s.listen.port(), 1234);
        let _ = std::fs::remove_dir_all(dir);
    }
}
