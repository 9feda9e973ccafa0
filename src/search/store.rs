//! Where the index lives on disk. `search/CURRENT` names the generation in
//! use; each generation is a directory of its own. A rebuild writes a new
//! generation beside the one being served and then points `CURRENT` at
//! it; the running service notices, switches over and removes the old one,
//! so searches are answered throughout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use sea_orm::ConnectionTrait;

use super::schema::{SearchIndex, WriterSize};

const POINTER: &str = "CURRENT";
const GENERATION: &str = "g-";
const BUILDING: &str = "building-";

/// The index in use, switchable while the service runs.
pub struct Search {
    dir: PathBuf,
    current: RwLock<(String, Arc<SearchIndex>)>,
    /// Generations switched away from, removed once no search holds them.
    retired: Mutex<Vec<(PathBuf, Arc<SearchIndex>)>>,
    /// Set when the generation was created empty and must be filled from
    /// the tables (a first start, or a changed schema).
    needs_fill: AtomicBool,
}

fn read_pointer(dir: &Path) -> Option<String> {
    let name = std::fs::read_to_string(dir.join(POINTER)).ok()?;
    let name = name.trim();
    // Only a plain generation name: the pointer never leads outside `dir`.
    (name.starts_with(GENERATION) && !name.contains(['/', '\\', '.'])).then(|| name.to_owned())
}

/// Points `CURRENT` at `name` atomically (write beside it, then rename).
fn write_pointer(dir: &Path, name: &str) -> anyhow::Result<()> {
    let temporary = dir.join(format!("{POINTER}.new"));
    std::fs::write(&temporary, name)?;
    std::fs::rename(&temporary, dir.join(POINTER))?;
    Ok(())
}

fn new_name(prefix: &str) -> String {
    format!("{prefix}{}", chrono::Utc::now().timestamp_micros())
}

/// The creation time, in microseconds, a generation's name carries.
fn stamp(name: &str) -> Option<i64> {
    name.strip_prefix(GENERATION)
        .or_else(|| name.strip_prefix(BUILDING))
        .and_then(|n| n.parse().ok())
}

/// A build directory this old was left by an interrupted `hub reindex`.
const ABANDONED_AFTER_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Removes what is not the generation in use: older generations, builds
/// abandoned a day ago, and an index written directly in `dir` by versions
/// before generations. Newer generations are left alone: a `hub reindex`
/// may have just finished one and be about to point `CURRENT` at it.
fn remove_others(dir: &Path, keep: &str) -> anyhow::Result<()> {
    let kept = stamp(keep).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().timestamp_micros();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = if name == keep || name == POINTER {
            false
        } else if name.starts_with(BUILDING) {
            stamp(&name).is_some_and(|at| now - at > ABANDONED_AFTER_MICROS)
        } else if name.starts_with(GENERATION) {
            stamp(&name).is_none_or(|at| at < kept)
        } else {
            true
        };
        if !stale {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

impl Search {
    /// Opens the generation `CURRENT` names, or creates an empty one (to
    /// be filled by the indexer) when there is none or its schema changed.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let (name, index, fresh) = match read_pointer(dir) {
            Some(name) if SearchIndex::is_current(&dir.join(&name)) => {
                let index = SearchIndex::open(&dir.join(&name)).context(
                    "the search index is in use by another process (is `hub serve` already running?)",
                )?;
                (name, index, false)
            }
            pointed => {
                if pointed.is_some() {
                    tracing::warn!(dir = %dir.display(), "the search index schema changed: rebuilding it from the database");
                } else {
                    tracing::info!(dir = %dir.display(), "creating the search index");
                }
                let name = new_name(GENERATION);
                let index = SearchIndex::create(&dir.join(&name), WriterSize::Service)?;
                write_pointer(dir, &name)?;
                (name, index, true)
            }
        };
        remove_others(dir, &name)?;
        let fresh = fresh || index.partial;
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new((name, Arc::new(index))),
            retired: Mutex::new(Vec::new()),
            needs_fill: AtomicBool::new(fresh),
        })
    }

    /// Opens the generation in use for searching only, next to the process
    /// that keeps it current.
    pub fn open_read_only(dir: &Path) -> anyhow::Result<Self> {
        let name = read_pointer(dir)
            .filter(|name| SearchIndex::is_current(&dir.join(name)))
            .context(
                "there is no search index yet: start `hub serve` or run `hub reindex` first",
            )?;
        let index = SearchIndex::open_read_only(&dir.join(&name))?;
        let partial = index.partial;
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new((name, Arc::new(index))),
            retired: Mutex::new(Vec::new()),
            needs_fill: AtomicBool::new(partial),
        })
    }

    pub fn current(&self) -> Arc<SearchIndex> {
        match self.current.read() {
            Ok(current) => current.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// The name of the generation in use.
    pub fn generation(&self) -> String {
        match self.current.read() {
            Ok(current) => current.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// The change-log sequence number the index in use has applied up to.
    pub fn applied(&self) -> i64 {
        self.current().applied()
    }

    pub fn needs_fill(&self) -> bool {
        self.needs_fill.load(Ordering::SeqCst)
    }

    pub(crate) fn filled(&self) {
        self.needs_fill.store(false, Ordering::SeqCst);
    }

    /// Switches to the generation `CURRENT` names when a rebuild changed
    /// it. Returns whether it switched.
    pub fn follow_pointer(&self) -> anyhow::Result<bool> {
        let Some(pointed) = read_pointer(&self.dir) else {
            return Ok(false);
        };
        if pointed == self.generation() {
            return Ok(false);
        }
        let path = self.dir.join(&pointed);
        if !SearchIndex::is_current(&path) {
            anyhow::bail!("CURRENT names {pointed}, which is not a complete index of this version");
        }
        let index = Arc::new(SearchIndex::open(&path)?);
        // A complete rebuild needs no filling, whatever the old one needed.
        self.needs_fill.store(index.partial, Ordering::SeqCst);
        let previous = {
            let mut current = self
                .current
                .write()
                .map_err(|_| anyhow::anyhow!("the search index switch lock is poisoned"))?;
            std::mem::replace(&mut *current, (pointed.clone(), index))
        };
        tracing::info!(generation = %pointed, "switched to the rebuilt search index");
        if let Ok(mut retired) = self.retired.lock() {
            retired.push((self.dir.join(previous.0), previous.1));
        }
        Ok(true)
    }

    /// Removes retired generations that no search is reading any more.
    pub fn release_retired(&self) {
        let Ok(mut retired) = self.retired.lock() else {
            return;
        };
        let (unused, in_use): (Vec<_>, Vec<_>) = retired
            .drain(..)
            .partition(|(_, index)| Arc::strong_count(index) == 1);
        *retired = in_use;
        drop(retired);
        for (path, index) in unused {
            // Its writer stops (and its merges finish) before the files go.
            if let Ok(index) = Arc::try_unwrap(index) {
                index.finish();
            }
            if let Err(err) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %err, "cannot remove an old search index");
            }
        }
    }
}

/// Builds a new generation from the database beside the one in use and
/// makes it current, reporting `(done, total)` as it goes. A running
/// service switches to it within a poll and applies what was written
/// meanwhile; a stopped one opens it on start. Returns the items indexed.
pub async fn rebuild_generation(
    dir: &Path,
    db: &impl ConnectionTrait,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let building = dir.join(new_name(BUILDING));
    let index = SearchIndex::create(&building, WriterSize::Rebuild)?;
    let built = super::indexer::rebuild(db, &index, progress).await;
    // Finishing releases its writer, so the service can open it, once
    // background merges have stopped writing into the directory.
    index.finish();
    let total = match built {
        Ok(total) => total,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(anyhow::anyhow!("{err}"));
        }
    };
    let name = new_name(GENERATION);
    std::fs::rename(&building, dir.join(&name))?;
    write_pointer(dir, &name)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_older_generations_abandoned_builds_and_old_layouts_are_removed() {
        let dir = std::env::temp_dir().join(format!("hub-store-{}", uuid::Uuid::now_v7()));
        let now = chrono::Utc::now().timestamp_micros();
        let recent_build = format!("{BUILDING}{now}");
        let abandoned_build = format!("{BUILDING}{}", now - 2 * ABANDONED_AFTER_MICROS);
        for name in ["g-100", "g-50", "g-200", &recent_build, &abandoned_build] {
            std::fs::create_dir_all(dir.join(name)).expect("create");
        }
        std::fs::write(dir.join("meta.json"), "{}").expect("write");
        std::fs::write(dir.join(POINTER), "g-100").expect("write");

        remove_others(&dir, "g-100").expect("cleaned");
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            POINTER.to_owned(),
            "g-100".to_owned(),
            "g-200".to_owned(),
            recent_build,
        ];
        expected.sort();
        assert_eq!(left, expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_pointer_never_leads_outside_the_index_directory() {
        let dir = std::env::temp_dir().join(format!("hub-store-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("create");
        for bad in ["../g-1", "g-1/../../etc", "/tmp/g-1", "other"] {
            std::fs::write(dir.join(POINTER), bad).expect("write");
            assert_eq!(read_pointer(&dir), None, "{bad}");
        }
        std::fs::write(dir.join(POINTER), "g-123\n").expect("write");
        assert_eq!(read_pointer(&dir).as_deref(), Some("g-123"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
