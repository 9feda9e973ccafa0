//! The ways an email leaves: SMTP (production), `.eml` files (the default for
//! running locally) and memory (tests only).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::settings::{Settings, SmtpUrl};

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Memory(Arc<Mutex<Vec<Message>>>),
}

impl Mailer {
    /// SMTP when `HUB_SMTP_URL` is set, otherwise files under `<data dir>/mail`.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.smtp_url {
            Some(url) if url.0.scheme() == "memory" => {
                anyhow::bail!(
                    "HUB_SMTP_URL: the memory email backend is for tests only and cannot be used to run the service"
                )
            }
            Some(url) => Ok(Mailer::Smtp(smtp(url)?)),
            None => {
                let dir = settings.data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(|e| {
                    anyhow::anyhow!("cannot create mail directory {}: {e}", dir.display())
                })?;
                Ok(Mailer::File(AsyncFileTransport::new(&dir), dir))
            }
        }
    }

    pub fn memory() -> (Self, Arc<Mutex<Vec<Message>>>) {
        let store = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(store.clone()), store)
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP".to_owned(),
            Mailer::File(_, dir) => format!("files in {}", dir.display()),
            Mailer::Memory(_) => "memory".to_owned(),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
            Mailer::File(t, _) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
            Mailer::Memory(store) => {
                store
                    .lock()
                    .map_err(|_| "memory mailbox poisoned".to_owned())?
                    .push(message);
                Ok(())
            }
        }
    }
}

/// `smtp://` requires STARTTLS; `smtps://` is implicit TLS. A relay on this
/// machine or a test server may opt out with `?tls=none`.
fn smtp(url: &SmtpUrl) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = &url.0;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("HUB_SMTP_URL names no host"))?;
    let tls_mode = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let mut builder = match (url.scheme(), tls_mode.as_deref()) {
        ("smtps", _) => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        ("smtp", None | Some("required")) => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
        }
        ("smtp", Some("opportunistic")) => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .tls(Tls::Opportunistic(TlsParameters::new(host.to_owned())?))
        }
        ("smtp", Some("none")) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        (_, Some(other)) => {
            anyhow::bail!("HUB_SMTP_URL: tls={other} must be required, opportunistic or none")
        }
        (scheme, None) => anyhow::bail!("HUB_SMTP_URL: unsupported scheme {scheme}"),
    };
    if let Some(port) = url.port() {
        builder = builder.port(port);
    }
    if !url.username().is_empty() {
        let user = percent_decode(url.username());
        let pass = percent_decode(url.password().unwrap_or_default());
        builder = builder.credentials(Credentials::new(user, pass));
    }
    Ok(builder
        .timeout(Some(Duration::from_secs(20)))
        .pool_config(
            PoolConfig::new()
                .max_size(4)
                .idle_timeout(Duration::from_secs(60)),
        )
        .build())
}

fn percent_decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("x={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
