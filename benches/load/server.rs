//! The `hub serve` process under load: started, killed and restarted as a
//! separate process, exactly as it runs in production.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub address: String,
    child: Option<Child>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    pub fn new(bin: PathBuf, data_dir: PathBuf, database_url: String) -> anyhow::Result<Self> {
        let port = free_port()?;
        Ok(Self {
            bin,
            data_dir,
            database_url,
            address: format!("127.0.0.1:{port}"),
            child: None,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        // The run's own options are not the service's settings, and `hub`
        // refuses HUB_ variables it does not know.
        cmd.env_remove("HUB_BIN")
            .env_remove("HUB_BENCH_PG_URL")
            .env("HUB_DATA_DIR", &self.data_dir)
            .env("HUB_DATABASE_URL", &self.database_url)
            .env("HUB_LISTEN", &self.address)
            .env("HUB_DIGESTS", "off")
            // The run plays many people through a few hundred accounts, far
            // faster than any one person submits: the per-account hourly
            // limit would refuse them (it is tested on its own).
            .env("HUB_SUBMISSIONS_PER_HOUR", "1000000")
            .env("RUST_LOG", "warn");
        cmd
    }

    /// Runs the migrations (so that accounts can be made before serving).
    pub fn migrate(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        let status = self.command().arg("migrate").status()?;
        anyhow::ensure!(status.success(), "hub migrate failed: {status}");
        Ok(())
    }

    /// Starts `hub serve` and waits until `/health/ready` answers 200.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let started = Instant::now();
        let child = self
            .command()
            .arg("serve")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        self.child = Some(child);
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(resp) = client.get(self.url("/health/ready")).send().await
                && resp.status() == 200
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "hub serve was not ready within 2 minutes: see {}",
            self.log_path().display()
        )
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("server.log")
    }

    /// SIGKILL: no shutdown, no flushing, as a crash or an OOM kill.
    pub fn kill_hard(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// SIGTERM and wait: the graceful stop at the end of a run.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()?;
            anyhow::ensure!(status.success(), "kill -TERM failed");
            child.wait()?;
        }
        Ok(())
    }

    /// The most memory the running server has held, in MiB.
    pub fn peak_memory_mib(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        crate::shared::peak_memory_mib_of(&pid.to_string())
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    pub fn search_dir(&self) -> PathBuf {
        self.data_dir.join("search")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill_hard();
    }
}

/// Message-IDs of the emails in `dir` that were written more than once.
pub fn emails_sent_twice(dir: &Path) -> anyhow::Result<(usize, usize)> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut files = 0;
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let text = std::fs::read_to_string(entry?.path())?;
            files += 1;
            if let Some(id) = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            {
                *seen.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    Ok((files, seen.values().filter(|n| **n > 1).count()))
}
