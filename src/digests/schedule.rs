//! When digests fall due, and sending each exactly once. A digest belongs to
//! a period (`2026-11-21` for a daily one, `2026-W47` for a weekly one) and
//! is enqueued under `digest:{user}:{period}`: the board member's row is
//! locked while the period is marked, and the outbox key is unique, so a
//! restart or a second process finds the period already taken.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use entity::{digest_subscriptions, users};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use tokio::sync::watch;

use super::content::{self, Digest};
use super::render::{self, Rendered};
use super::settings::{self, DigestSettings, Frequency};
use crate::app_state::AppState;
use crate::error::AppError;

const TICK: Duration = Duration::from_secs(60);

/// The period a digest under `settings` belongs to at `now`, if one is due
/// (its day and hour have come, UK time). A weekly digest missed on its day
/// (the service was down) is still due later that week.
pub fn due_period(settings: &DigestSettings, now: DateTime<Utc>) -> Option<String> {
    let local = crate::uk_time::local(now);
    let hour_reached = local.hour() as i16 >= settings.send_hour;
    match settings.frequency {
        Frequency::Off => None,
        Frequency::Daily => hour_reached.then(|| local.format("%Y-%m-%d").to_string()),
        Frequency::Weekly => {
            let today = local.weekday().number_from_monday() as i16;
            let due = today > settings.weekday || (today == settings.weekday && hour_reached);
            due.then(|| week_of(now))
        }
    }
}

/// The period it is now, due or not (what an operator's "send now" fills).
pub fn current_period(settings: &DigestSettings, now: DateTime<Utc>) -> String {
    match settings.frequency {
        Frequency::Weekly => week_of(now),
        _ => crate::uk_time::local(now).format("%Y-%m-%d").to_string(),
    }
}

fn week_of(now: DateTime<Utc>) -> String {
    let week = crate::uk_time::local(now).iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The first digest covers the last day or week.
fn first_since(settings: &DigestSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    match settings.frequency {
        Frequency::Weekly => now - chrono::Duration::days(7),
        _ => now - chrono::Duration::days(1),
    }
}

/// What happened to one board member's digest.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Enqueued for sending.
    Sent { period: String, rendered: Rendered },
    /// Due, but nothing was new: nothing sent, the period marked.
    NothingNew { period: String },
    /// Not due yet (or digests are off).
    NotDue,
    /// This period's digest was already sent (by this or another process).
    AlreadySent { period: String },
    /// What would be sent (nothing was written).
    Preview {
        period: String,
        digest: Digest,
        rendered: Rendered,
    },
}

/// How a digest is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// By the scheduler: only when due.
    Scheduled,
    /// By an operator: now, as this period's digest.
    Now,
    /// By an operator: show it, send nothing.
    DryRun,
}

/// Builds and (unless previewing) enqueues one board member's digest.
pub async fn send_one(
    state: &AppState,
    user: &users::Model,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Outcome, AppError> {
    let stored = settings::row(&state.db, user.id).await?;
    let chosen = stored.as_ref().map(DigestSettings::of).unwrap_or_default();
    // An unsubscribe is honoured whoever asks.
    if chosen.frequency == Frequency::Off && mode != Mode::DryRun {
        return Ok(Outcome::NotDue);
    }
    let period = match mode {
        Mode::Scheduled => match due_period(&chosen, now) {
            Some(period) => period,
            None => return Ok(Outcome::NotDue),
        },
        Mode::Now | Mode::DryRun => current_period(&chosen, now),
    };
    let last_period = stored.as_ref().and_then(|r| r.last_period.clone());
    if mode != Mode::DryRun && last_period.as_deref() == Some(period.as_str()) {
        return Ok(Outcome::AlreadySent { period });
    }
    let covered_until = stored.as_ref().and_then(|r| r.covered_until);
    let since = covered_until.unwrap_or_else(|| first_since(&chosen, now));
    let digest = content::build(state, user, &chosen, since, now).await?;
    let rendered = render::render(&state.settings, &state.key, user.id, &chosen, &digest)?;
    if mode == Mode::DryRun {
        return Ok(Outcome::Preview {
            period,
            digest,
            rendered,
        });
    }

    let txn = crate::db::begin_write(&state.db).await?;
    settings::ensure_row(&txn, user.id).await?;
    let row = crate::db::locked(&txn, digest_subscriptions::Entity::find_by_id(user.id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("digest row vanished")))?;
    // Unsubscribed while the digest was being built: honoured.
    if DigestSettings::of(&row).frequency == Frequency::Off {
        return Ok(Outcome::NotDue);
    }
    // Another process took this period, or sent a digest, since we looked.
    if row.last_period.as_deref() == Some(period.as_str()) || row.covered_until != covered_until {
        return Ok(Outcome::AlreadySent { period });
    }
    let news = digest.has_news();
    if news {
        let key = format!("digest:{}:{period}", user.id);
        let email = render::email(&state.settings, &state.key, &user.email, user.id, &rendered);
        if !crate::email::enqueue(&txn, &key, email).await? {
            return Ok(Outcome::AlreadySent { period });
        }
    }
    let mut active: digest_subscriptions::ActiveModel = row.into();
    active.last_period = Set(Some(period.clone()));
    active.covered_until = Set(Some(now));
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    txn.commit().await?;
    if news {
        state.outbox_ready.notify_one();
        Ok(Outcome::Sent { period, rendered })
    } else {
        Ok(Outcome::NothingNew { period })
    }
}

/// What `user`'s digest would say now, as (period, digest, rendered),
/// sending nothing.
pub async fn preview(
    state: &AppState,
    user: &users::Model,
    now: DateTime<Utc>,
) -> Result<(String, Digest, Rendered), AppError> {
    match send_one(state, user, now, Mode::DryRun).await? {
        Outcome::Preview {
            period,
            digest,
            rendered,
        } => Ok((period, digest, rendered)),
        _ => Err(AppError::internal(anyhow::anyhow!(
            "a dry run sent a digest"
        ))),
    }
}

/// What one pass of the scheduler did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub sent: usize,
    pub nothing_new: usize,
    pub already_sent: usize,
}

/// One pass: every board member whose digest is due at `now`.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Tally, AppError> {
    let mut tally = Tally::default();
    for user in crate::triage::inbox::assignable(&state.db).await? {
        match send_one(state, &user, now, Mode::Scheduled).await {
            Ok(Outcome::Sent { .. }) => tally.sent += 1,
            Ok(Outcome::NothingNew { .. }) => tally.nothing_new += 1,
            Ok(Outcome::AlreadySent { .. }) => tally.already_sent += 1,
            Ok(Outcome::NotDue | Outcome::Preview { .. }) => {}
            // One board member's failure must not stop the others' digests.
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "digest failed; retried next pass")
            }
        }
    }
    Ok(tally)
}

/// The scheduler: a pass every minute until shutdown.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    tracing::info!("digest scheduler started");
    loop {
        match tick(&state, Utc::now()).await {
            Ok(tally) if tally.sent > 0 => {
                tracing::info!(sent = tally.sent, "digests enqueued")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "digest scheduler could not run"),
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    tracing::info!("digest scheduler stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_daily_digest_is_due_from_its_hour_in_uk_time() {
        let daily = DigestSettings::default();
        // 21 November: GMT, so UK time is UTC.
        assert_eq!(due_period(&daily, at(2026, 11, 21, 7)), None);
        assert_eq!(
            due_period(&daily, at(2026, 11, 21, 8)).as_deref(),
            Some("2026-11-21")
        );
        // 1 July: BST, so 07:00 UTC is 08:00 in the UK.
        assert_eq!(
            due_period(&daily, at(2026, 7, 1, 7)).as_deref(),
            Some("2026-07-01")
        );
    }

    #[test]
    fn a_weekly_digest_is_due_on_its_day_or_later_that_week() {
        let weekly = DigestSettings {
            frequency: Frequency::Weekly,
            weekday: 3,
            ..DigestSettings::default()
        };
        // 2026-11-16 is a Monday (ISO week 47).
        assert_eq!(due_period(&weekly, at(2026, 11, 17, 12)), None);
        assert_eq!(due_period(&weekly, at(2026, 11, 18, 7)), None);
        assert_eq!(
            due_period(&weekly, at(2026, 11, 18, 8)).as_deref(),
            Some("2026-W47")
        );
        assert_eq!(
            due_period(&weekly, at(2026, 11, 21, 6)).as_deref(),
            Some("2026-W47")
        );
        let off = DigestSettings {
            frequency: Frequency::Off,
            ..DigestSettings::default()
        };
        assert_eq!(due_period(&off, at(2026, 11, 21, 12)), None);
    }
}
