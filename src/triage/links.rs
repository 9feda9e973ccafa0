//! Links the board makes between items: an idea to the report of the same
//! problem, a report to the section of a proposed standard it bears on.
//! A link reads the same from both ends and is board-only (a report's
//! existence is never shown to those who cannot see it).

use chrono::Utc;
use entity::{consultations, item_links, users};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::inbox::InboxKind;
use crate::audit::{self, AuditEvent};
use crate::error::{AppError, FieldError};

pub const SECTION: &str = "consultation_section";
/// Past this an item's links stop being a help.
pub const MAX_PER_ITEM: u64 = 50;

/// What an item can be linked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Item(InboxKind, Uuid),
    Section { consultation: Uuid, anchor: String },
}

impl Target {
    fn parts(&self) -> (&str, Uuid, &str) {
        match self {
            Target::Item(kind, id) => (kind.as_str(), *id, ""),
            Target::Section {
                consultation,
                anchor,
            } => (SECTION, *consultation, anchor.as_str()),
        }
    }
}

/// A link as an item's page shows it, from that item's side.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub id: Uuid,
    /// "Idea", "Report", "Consultation response", "Consultation section"
    pub kind_label: &'static str,
    pub title: String,
    pub href: String,
    /// The other end's kind and id (its consultation's for a section).
    pub other_type: String,
    pub other_id: Uuid,
    pub anchor: Option<String>,
}

fn target_error(message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new("target", message)])
}

const ADDRESS_HELP: &str = "Enter the address of an idea, a report, a consultation response or a consultation section, for example /ideas/… or /consultations/…/sections/…";

/// The target named by an address the board copied from the service (with
/// or without scheme and host): an idea's, a report's, a response's in the
/// analysis, or a consultation section's page.
pub async fn parse_address(conn: &impl ConnectionTrait, raw: &str) -> Result<Target, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(target_error(
            "Enter the address of the item or section to link to",
        ));
    }
    if raw.len() > 500 {
        return Err(target_error("The address must be 500 characters or fewer"));
    }
    let path = match raw.find("://") {
        Some(at) => {
            let rest = &raw[at + 3..];
            rest.find('/').map_or("", |slash| &rest[slash..])
        }
        None => raw,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let uuid = |s: &str| Uuid::parse_str(s).map_err(|_| target_error(ADDRESS_HELP));
    let target = match parts.as_slice() {
        ["ideas", id] => Target::Item(InboxKind::Idea, uuid(id)?),
        ["reports", id] => Target::Item(InboxKind::Report, uuid(id)?),
        ["consultations", _, "analysis", "responses", id]
        | ["consultations", _, "responses", id] => Target::Item(InboxKind::Response, uuid(id)?),
        ["consultations", slug, "sections", anchor] => {
            let found = crate::consultations::authoring::find_by_slug(conn, slug)
                .await
                .map_err(|_| target_error("There is no consultation at that address"))?;
            Target::Section {
                consultation: found.id,
                anchor: (*anchor).to_owned(),
            }
        }
        _ => return Err(target_error(ADDRESS_HELP)),
    };
    Ok(target)
}

/// The target named by the API's kind, id and (for a section) anchor.
pub fn target_of(kind: &str, id: Uuid, anchor: Option<&str>) -> Result<Target, AppError> {
    if kind == SECTION {
        let anchor = anchor.map(str::trim).unwrap_or_default();
        if anchor.is_empty() {
            return Err(AppError::Validation(vec![FieldError::new(
                "anchor",
                "Name the section by its anchor",
            )]));
        }
        return Ok(Target::Section {
            consultation: id,
            anchor: anchor.to_owned(),
        });
    }
    match InboxKind::parse(kind) {
        Some(kind) => Ok(Target::Item(kind, id)),
        None => Err(AppError::Validation(vec![FieldError::new(
            "kind",
            "Kind must be idea, report, consultation_response or consultation_section",
        )])),
    }
}

/// What the other end is called and where it is read, or None when it has
/// gone (or is a draft, which is its respondent's alone).
async fn describe(
    conn: &impl ConnectionTrait,
    kind: &str,
    id: Uuid,
    anchor: &str,
) -> Result<Option<(&'static str, String, String)>, AppError> {
    if let Some(item_kind) = InboxKind::parse(kind) {
        return match super::notes::item(conn, item_kind, id).await {
            Ok(found) => {
                let (title, href) = found.board_title_and_link();
                Ok(Some((item_kind.singular(), title, href)))
            }
            Err(AppError::NotFound) => Ok(None),
            Err(other) => Err(other),
        };
    }
    Ok(match kind {
        SECTION => {
            let Some(c) = consultations::Entity::find_by_id(id).one(conn).await? else {
                return Ok(None);
            };
            let slug = c.slug.clone();
            let view = crate::consultations::authoring::view(conn, c, None).await?;
            let title = view
                .section(anchor)
                .map(|s| s.title.clone())
                // A later version may have dropped the heading: keep the link.
                .unwrap_or_else(|| anchor.to_owned());
            Some((
                "Consultation section",
                format!("{} – {title}", view.consultation.title),
                format!("/consultations/{slug}/sections/{anchor}"),
            ))
        }
        _ => None,
    })
}

/// The item's links, from its side, oldest first.
pub async fn of_item(
    conn: &impl ConnectionTrait,
    kind: InboxKind,
    id: Uuid,
) -> Result<Vec<LinkView>, AppError> {
    let rows = item_links::Entity::find()
        .filter(touching(kind, id))
        .order_by_asc(item_links::Column::Id)
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let mine = row.from_type == kind.as_str() && row.from_id == id;
        let (other_type, other_id, anchor) = if mine {
            (row.to_type.clone(), row.to_id, row.to_anchor.clone())
        } else {
            (row.from_type.clone(), row.from_id, String::new())
        };
        if let Some((kind_label, title, href)) =
            describe(conn, &other_type, other_id, &anchor).await?
        {
            out.push(LinkView {
                id: row.id,
                kind_label,
                title,
                href,
                other_type,
                other_id,
                anchor: (!anchor.is_empty()).then_some(anchor),
            });
        }
    }
    Ok(out)
}

fn touching(kind: InboxKind, id: Uuid) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(item_links::Column::FromType.eq(kind.as_str()))
                .add(item_links::Column::FromId.eq(id)),
        )
        .add(
            Condition::all()
                .add(item_links::Column::ToType.eq(kind.as_str()))
                .add(item_links::Column::ToId.eq(id)),
        )
}

/// What adding a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linked {
    Linked(Uuid),
    /// The two were already linked (either way round).
    AlreadyLinked(Uuid),
}

/// Links an item to a target; both must exist (a section in the
/// consultation's current document).
pub async fn add(
    db: &DatabaseConnection,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    target: &Target,
) -> Result<Linked, AppError> {
    let txn = crate::db::begin_write(db).await?;
    super::notes::item(&txn, kind, id).await?;
    let (to_type, to_id, to_anchor) = target.parts();
    if to_type == kind.as_str() && to_id == id {
        return Err(target_error("An item cannot be linked to itself"));
    }
    let exists = match target {
        Target::Section {
            consultation,
            anchor,
        } => match consultations::Entity::find_by_id(*consultation)
            .one(&txn)
            .await?
        {
            Some(c) => crate::consultations::authoring::view(&txn, c, None)
                .await?
                .section(anchor)
                .is_some(),
            None => false,
        },
        Target::Item(other, other_id) => match super::notes::item(&txn, *other, *other_id).await {
            Ok(_) => true,
            Err(AppError::NotFound) => false,
            Err(err) => return Err(err),
        },
    };
    if !exists {
        return Err(target_error("There is nothing at that address to link to"));
    }
    // Either way round counts as the same link.
    let existing = item_links::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(item_links::Column::FromType.eq(kind.as_str()))
                        .add(item_links::Column::FromId.eq(id))
                        .add(item_links::Column::ToType.eq(to_type))
                        .add(item_links::Column::ToId.eq(to_id))
                        .add(item_links::Column::ToAnchor.eq(to_anchor)),
                )
                .add(
                    Condition::all()
                        .add(item_links::Column::FromType.eq(to_type))
                        .add(item_links::Column::FromId.eq(to_id))
                        .add(item_links::Column::ToType.eq(kind.as_str()))
                        .add(item_links::Column::ToId.eq(id)),
                ),
        )
        .one(&txn)
        .await?;
    if let Some(link) = existing {
        return Ok(Linked::AlreadyLinked(link.id));
    }
    let count = item_links::Entity::find()
        .filter(touching(kind, id))
        .count(&txn)
        .await?;
    if count >= MAX_PER_ITEM {
        return Err(target_error(&format!(
            "An item can have at most {MAX_PER_ITEM} links: remove one first"
        )));
    }
    let link_id = Uuid::now_v7();
    let inserted = item_links::Entity::insert(item_links::ActiveModel {
        id: Set(link_id),
        from_type: Set(kind.as_str().to_owned()),
        from_id: Set(id),
        to_type: Set(to_type.to_owned()),
        to_id: Set(to_id),
        to_anchor: Set(to_anchor.to_owned()),
        created_by: Set(Some(actor.id)),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            item_links::Column::FromType,
            item_links::Column::FromId,
            item_links::Column::ToType,
            item_links::Column::ToId,
            item_links::Column::ToAnchor,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Err(AppError::Conflict(
            "Someone linked these two at the same moment".to_owned(),
        ));
    }
    let detail =
        json!({ "link": link_id, "from": [kind.as_str(), id], "to": [to_type, to_id, to_anchor] });
    record_both(
        &txn,
        actor,
        "triage.linked",
        (kind.as_str(), id),
        target,
        None,
        Some(detail),
    )
    .await?;
    txn.commit().await?;
    Ok(Linked::Linked(link_id))
}

/// Audits a link change on the item and, when the target is an item too,
/// on the target: each timeline shows it.
async fn record_both(
    conn: &crate::db::WriteTransaction,
    actor: &users::Model,
    action: &str,
    from: (&str, Uuid),
    target: &Target,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AppError> {
    let mut subjects = vec![from];
    if let Target::Item(kind, id) = target {
        subjects.push((kind.as_str(), *id));
    }
    for (subject_type, subject_id) in subjects {
        audit::record(
            conn,
            AuditEvent {
                actor: Some(actor.id),
                action,
                subject_type,
                subject_id: Some(subject_id),
                before: before.clone(),
                after: after.clone(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Removes one of the item's links (from either end).
pub async fn remove(
    db: &DatabaseConnection,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    link_id: Uuid,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let link = item_links::Entity::find_by_id(link_id)
        .filter(touching(kind, id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    item_links::Entity::delete_by_id(link.id).exec(&txn).await?;
    let detail = json!({ "link": link.id, "from": [link.from_type, link.from_id], "to": [link.to_type, link.to_id, link.to_anchor] });
    let from_kind = InboxKind::parse(&link.from_type).ok_or(AppError::NotFound)?;
    let target = target_of(&link.to_type, link.to_id, Some(&link.to_anchor))?;
    record_both(
        &txn,
        actor,
        "triage.unlinked",
        (from_kind.as_str(), link.from_id),
        &target,
        Some(detail),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_needs_its_anchor() {
        assert!(target_of(SECTION, Uuid::nil(), Some(" ")).is_err());
        assert_eq!(
            target_of(SECTION, Uuid::nil(), Some("scope")).expect("valid"),
            Target::Section {
                consultation: Uuid::nil(),
                anchor: "scope".to_owned()
            }
        );
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        assert!(target_of("consultation", Uuid::nil(), None).is_err());
        assert_eq!(
            target_of("report", Uuid::nil(), None).expect("valid"),
            Target::Item(InboxKind::Report, Uuid::nil())
        );
    }
}
