//! A board member's digest settings: how often (daily, weekly on a chosen
//! day, off), from what hour (UK time), and which sections.

use chrono::Utc;
use entity::{digest_subscriptions, users};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::error::{AppError, FieldError};
use crate::ideas::domain::labelled_enum;

labelled_enum!(
    /// How often a digest is sent.
    Frequency {
        Daily => ("daily", "Every day"),
        Weekly => ("weekly", "Once a week"),
        Off => ("off", "Never: no digests"),
    }
);

labelled_enum!(
    /// The parts of a digest, decisions first.
    Section {
        Assigned => ("assigned", "Items assigned to you awaiting action"),
        Reports => ("reports", "New critical and high-severity reports"),
        Ideas => ("ideas", "New ideas, most supported first"),
        Responses => ("responses", "New responses to open consultations"),
        Closing => ("closing", "Consultations closing within 7 days"),
        SavedSearches => ("saved_searches", "New matches of your saved searches"),
    }
);

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The earliest and latest hours offered: a digest in the small hours is
/// read with the next morning's anyway.
pub const FIRST_HOUR: i16 = 5;
pub const LAST_HOUR: i16 = 22;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSettings {
    pub frequency: Frequency,
    /// 1 is Monday ... 7 is Sunday (weekly digests).
    pub weekday: i16,
    /// UK time.
    pub send_hour: i16,
    /// In the order the digest shows them.
    pub sections: Vec<Section>,
}

impl Default for DigestSettings {
    /// Every morning at 8, everything: what a new board member would expect.
    fn default() -> Self {
        DigestSettings {
            frequency: Frequency::Daily,
            weekday: 1,
            send_hour: 8,
            sections: Section::ALL.to_vec(),
        }
    }
}

impl DigestSettings {
    pub fn of(row: &digest_subscriptions::Model) -> Self {
        let chosen: Vec<&str> = row.sections.split(',').map(str::trim).collect();
        DigestSettings {
            frequency: Frequency::parse(&row.frequency).unwrap_or(Frequency::Off),
            weekday: row.weekday.clamp(1, 7),
            send_hour: row.send_hour.clamp(0, 23),
            sections: Section::ALL
                .iter()
                .copied()
                .filter(|s| chosen.contains(&s.as_str()))
                .collect(),
        }
    }

    pub fn wants(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    pub fn weekday_name(&self) -> &'static str {
        WEEKDAYS[(self.weekday.clamp(1, 7) - 1) as usize]
    }

    fn sections_column(&self) -> String {
        self.sections
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Settings as typed (on the page or in the API), checked, with a
    /// message per field.
    pub fn check(
        frequency: &str,
        weekday: &str,
        send_hour: &str,
        sections: &[String],
    ) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let frequency = Frequency::parse(frequency).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "frequency",
                "Choose how often to receive a digest",
            ));
            Frequency::Off
        });
        let weekday = match weekday.trim() {
            "" if frequency != Frequency::Weekly => 1,
            raw => match raw.parse::<i16>() {
                Ok(day @ 1..=7) => day,
                _ => {
                    errors.push(FieldError::new(
                        "weekday",
                        "Choose the day of the week for your digest",
                    ));
                    1
                }
            },
        };
        let send_hour = match send_hour.trim().parse::<i16>() {
            Ok(hour) if (FIRST_HOUR..=LAST_HOUR).contains(&hour) => hour,
            _ => {
                errors.push(FieldError::new(
                    "send_hour",
                    format!(
                        "Choose an hour from {FIRST_HOUR}:00 to {LAST_HOUR}:00 for your digest"
                    ),
                ));
                8
            }
        };
        let mut chosen = Vec::new();
        for raw in sections.iter().filter(|s| !s.trim().is_empty()) {
            match Section::parse(raw) {
                Some(section) if !chosen.contains(&section) => chosen.push(section),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "sections",
                    format!("There is no digest section called {}", raw.trim()),
                )),
            }
        }
        if frequency != Frequency::Off && chosen.is_empty() && errors.is_empty() {
            errors.push(FieldError::new(
                "sections",
                "Choose at least one section, or choose never to receive digests",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(DigestSettings {
            frequency,
            weekday,
            send_hour,
            sections: Section::ALL
                .iter()
                .copied()
                .filter(|s| chosen.contains(s))
                .collect(),
        })
    }
}

/// The board member's settings and what was last sent (None: never saved).
pub async fn row(
    conn: &impl ConnectionTrait,
    user: Uuid,
) -> Result<Option<digest_subscriptions::Model>, AppError> {
    Ok(digest_subscriptions::Entity::find_by_id(user)
        .one(conn)
        .await?)
}

pub async fn load(conn: &impl ConnectionTrait, user: Uuid) -> Result<DigestSettings, AppError> {
    Ok(row(conn, user)
        .await?
        .map(|r| DigestSettings::of(&r))
        .unwrap_or_default())
}

/// Makes sure the board member has a row (with the defaults), so that it
/// can be locked and marked.
pub async fn ensure_row(conn: &impl ConnectionTrait, user: Uuid) -> Result<(), AppError> {
    let now = Utc::now();
    let defaults = DigestSettings::default();
    digest_subscriptions::Entity::insert(digest_subscriptions::ActiveModel {
        user_id: Set(user),
        frequency: Set(defaults.frequency.as_str().to_owned()),
        weekday: Set(defaults.weekday),
        send_hour: Set(defaults.send_hour),
        sections: Set(defaults.sections_column()),
        last_period: Set(None),
        covered_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(digest_subscriptions::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

fn described(s: &DigestSettings) -> serde_json::Value {
    json!({
        "frequency": s.frequency.as_str(),
        "weekday": s.weekday,
        "send_hour": s.send_hour,
        "sections": s.sections.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
    })
}

/// Saves the settings (audited as the board member's own change, or as an
/// unsubscribe when `action` says so).
pub async fn save(
    db: &sea_orm::DatabaseConnection,
    user: Uuid,
    settings: &DigestSettings,
    action: &str,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    ensure_row(&txn, user).await?;
    let current = row(&txn, user)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("digest row vanished")))?;
    let before = DigestSettings::of(&current);
    if &before == settings {
        return Ok(());
    }
    let mut active: digest_subscriptions::ActiveModel = current.into();
    active.frequency = Set(settings.frequency.as_str().to_owned());
    active.weekday = Set(settings.weekday);
    active.send_hour = Set(settings.send_hour);
    active.sections = Set(settings.sections_column());
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user),
            action,
            subject_type: "digest_subscription",
            subject_id: Some(user),
            before: Some(described(&before)),
            after: Some(described(settings)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Turns the board member's digests off (the one-click unsubscribe),
/// keeping their other choices; not found when the account has gone.
pub async fn unsubscribe(db: &sea_orm::DatabaseConnection, user: Uuid) -> Result<(), AppError> {
    if users::Entity::find_by_id(user).one(db).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let mut current = load(db, user).await?;
    current.frequency = Frequency::Off;
    save(db, user, &current, "digest.unsubscribed").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_with_a_message_per_field() {
        let ok = DigestSettings::check("weekly", "3", "9", &["ideas".into(), "assigned".into()])
            .expect("valid");
        assert_eq!(ok.weekday_name(), "Wednesday");
        assert_eq!(
            ok.sections,
            [Section::Assigned, Section::Ideas],
            "digest order"
        );
        let Err(AppError::Validation(errors)) =
            DigestSettings::check("hourly", "9", "3", &["gossip".into()])
        else {
            panic!("expected errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["frequency", "weekday", "send_hour", "sections"]);
    }

    #[test]
    fn a_digest_needs_a_section_unless_it_is_off() {
        assert!(DigestSettings::check("daily", "", "8", &[]).is_err());
        let off = DigestSettings::check("off", "", "8", &[]).expect("valid");
        assert_eq!(off.frequency, Frequency::Off);
    }
}
