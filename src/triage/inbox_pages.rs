//! The inbox page: filters, counts, the items with a checkbox each, and
//! assignment of the ticked items with a result for each.

use askama::Template;
use chrono::Utc;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};

use super::inbox::{self, InboxKind, InboxPage, InboxSort, Outcome};
use super::inbox_params::{RawFilter, parse_item};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::ideas::domain::IdeaStatus;
use crate::reports::domain::{Category, ReportStatus, Severity};
use crate::web::forms::{Choice, Errors, Fields, choices};
use crate::web::page::{PageContext, link_with_query, render_with_status};

/// What happened to one ticked item.
pub struct ResultLine {
    pub title: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "triage/inbox.html")]
struct InboxTemplate {
    page: PageContext,
    found: Option<InboxPage>,
    errors: Errors,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
    assignees: Vec<Choice>,
    themes: Vec<Choice>,
    tags: Vec<Choice>,
    categories: Vec<Choice>,
    severities: Vec<Choice>,
    consultations: Vec<Choice>,
    sorts: Vec<Choice>,
    people: Vec<Choice>,
    raw: RawFilter,
    results: Vec<ResultLine>,
    next_page: Option<String>,
    /// The inbox's own address with its filters, to come back to after acting.
    here: String,
}

fn raw_of(fields: &Fields) -> RawFilter {
    RawFilter {
        kind: fields.all("kind"),
        status: fields.get("status").to_owned(),
        assignee: fields.get("assignee").to_owned(),
        theme: fields.get("theme").to_owned(),
        tag: fields.get("tag").to_owned(),
        category: fields.get("category").to_owned(),
        severity: fields.get("severity").to_owned(),
        organisation: fields.get("organisation").to_owned(),
        consultation: fields.get("consultation").to_owned(),
        older_than_days: fields.get("older_than_days").to_owned(),
        sort: fields.get("sort").to_owned(),
        offset: fields.get("offset").to_owned(),
        limit: String::new(),
    }
}

fn link_of(raw: &RawFilter, offset: Option<u64>) -> String {
    let offset = offset.map(|o| o.to_string()).unwrap_or_default();
    let mut pairs: Vec<(&str, &str)> = raw.kind.iter().map(|k| ("kind", k.as_str())).collect();
    pairs.extend([
        ("status", raw.status.as_str()),
        ("assignee", raw.assignee.as_str()),
        ("theme", raw.theme.as_str()),
        ("tag", raw.tag.as_str()),
        ("category", raw.category.as_str()),
        ("severity", raw.severity.as_str()),
        ("organisation", raw.organisation.as_str()),
        ("consultation", raw.consultation.as_str()),
        ("older_than_days", raw.older_than_days.as_str()),
        ("sort", raw.sort.as_str()),
        ("offset", offset.as_str()),
    ]);
    link_with_query("/board/inbox", pairs)
}

async fn inbox_template(
    state: &AppState,
    caller: &Caller,
    raw: RawFilter,
    results: Vec<ResultLine>,
) -> Result<(InboxTemplate, StatusCode), AppError> {
    let user = policy::require(caller, Permission::Triage)?;
    let (found, errors, status) = match raw.check(user.id) {
        Ok(filter) => {
            let page = inbox::inbox(&state.db, &filter, Utc::now()).await?;
            (Some((page, filter)), Errors::default(), StatusCode::OK)
        }
        Err(AppError::Validation(errors)) => {
            (None, errors.into(), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => return Err(other),
    };
    let next_page = found.as_ref().and_then(|(page, f)| {
        let shown = f.offset + page.items.len() as u64;
        (shown < page.total && shown < inbox::MAX_OFFSET).then(|| link_of(&raw, Some(shown)))
    });
    let people = inbox::assignable(&state.db).await?;
    let person_options: Vec<(String, String)> = people
        .iter()
        .map(|u| (u.id.to_string(), crate::auth::people::Person::from(u).name))
        .collect();
    let mut assignee_options = vec![
        ("me".to_owned(), "Me".to_owned()),
        ("unassigned".to_owned(), "Unassigned".to_owned()),
    ];
    assignee_options.extend(person_options.iter().cloned());
    let all_themes = crate::ideas::themes::list(&state.db, false).await?;
    let all_consultations = entity::consultations::Entity::find().all(&state.db).await?;
    let all_tags = super::tags::all(&state.db).await?;
    let mut statuses: Vec<(String, String)> = IdeaStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), format!("Idea: {}", s.label())))
        .collect();
    statuses.extend(
        ReportStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), format!("Report: {}", s.label()))),
    );
    statuses.dedup_by(|a, b| a.0 == b.0);
    let pick = |options: &[(String, String)], selected: &str| {
        choices(
            options.iter().map(|(v, l)| (v.as_str(), l.as_str())),
            std::slice::from_ref(&selected.to_owned()),
        )
    };
    use sea_orm::EntityTrait;
    Ok((
        InboxTemplate {
            page: PageContext::new(caller, &state.key),
            kinds: choices(
                InboxKind::ALL.iter().map(|k| (k.as_str(), k.label())),
                &raw.kind,
            ),
            statuses: pick(&statuses, &raw.status),
            assignees: pick(&assignee_options, &raw.assignee),
            themes: pick(
                &all_themes
                    .iter()
                    .map(|t| (t.slug.clone(), t.name.clone()))
                    .collect::<Vec<_>>(),
                &raw.theme,
            ),
            tags: pick(
                &all_tags
                    .iter()
                    .map(|t| (t.slug.clone(), t.label.clone()))
                    .collect::<Vec<_>>(),
                &raw.tag,
            ),
            categories: choices(
                Category::ALL.iter().map(|c| (c.as_str(), c.label())),
                std::slice::from_ref(&raw.category),
            ),
            severities: choices(
                Severity::ALL.iter().map(|c| (c.as_str(), c.label())),
                std::slice::from_ref(&raw.severity),
            ),
            consultations: pick(
                &all_consultations
                    .iter()
                    .map(|c| (c.slug.clone(), c.title.clone()))
                    .collect::<Vec<_>>(),
                &raw.consultation,
            ),
            sorts: choices(
                InboxSort::ALL.iter().map(|s| (s.as_str(), s.label())),
                std::slice::from_ref(&raw.sort),
            ),
            people: pick(&person_options, ""),
            here: link_of(&raw, None),
            found: found.map(|(page, _)| page),
            errors,
            raw,
            results,
            next_page,
        },
        status,
    ))
}

#[handler]
pub async fn inbox_page(
    req: &Request,
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Response, AppError> {
    let fields = Fields::parse(req.uri().query().unwrap_or("").as_bytes());
    let (template, status) = inbox_template(&state, &caller, raw_of(&fields), Vec::new()).await?;
    render_with_status(&template, status)
}

/// Assigns (or unassigns) every ticked item, each at the version the page
/// showed; the inbox comes back with what happened to each.
#[handler]
pub async fn inbox_assign(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let assignee = match fields.get("action") {
        "me" => Some(user.id),
        "unassign" => None,
        _ => match uuid::Uuid::parse_str(fields.get("person")) {
            Ok(id) => Some(id),
            Err(_) => {
                return Err(AppError::BadRequest(
                    "Choose whom to assign the items to".to_owned(),
                ));
            }
        },
    };
    let back = back_of(&fields);
    let mut results = Vec::new();
    let assignee = match inbox::check_assignee(&state.db, assignee).await {
        Ok(checked) => checked,
        Err(AppError::Validation(errors)) => {
            let message = errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            results.push(ResultLine {
                title: "Nothing was changed".to_owned(),
                message,
            });
            let (template, _) = inbox_template(&state, &caller, raw_of(&back), results).await?;
            return Ok(crate::web::page::render(&template)?.into_response());
        }
        Err(other) => return Err(other),
    };
    let ticked = fields.all("item");
    if ticked.is_empty() {
        results.push(ResultLine {
            title: "Nothing was changed".to_owned(),
            message: "Tick the items to assign first.".to_owned(),
        });
    }
    for raw in ticked.iter().take(inbox::MAX_LIMIT as usize) {
        let Some((kind, id, version)) = parse_item(raw) else {
            continue;
        };
        let message = match inbox::assign(&state.db, &user, kind, id, assignee, Some(version)).await
        {
            Ok(Outcome::Done { .. }) if assignee.id().is_some() => "Assigned.".to_owned(),
            Ok(Outcome::Done { .. }) => "Unassigned.".to_owned(),
            Ok(Outcome::Stale { current_version }) => format!(
                "Not changed: someone changed it after you loaded the page ({}, version {current_version}). Check it and try again.",
                inbox::now_reads(&state.db, kind, id).await?
            ),
            Ok(Outcome::NotFound) => "Not changed: it no longer exists.".to_owned(),
            Err(other) => return Err(other),
        };
        results.push(ResultLine {
            title: title_of(&fields, id),
            message,
        });
    }
    let (template, _) = inbox_template(&state, &caller, raw_of(&back), results).await?;
    Ok(crate::web::page::render(&template)?.into_response())
}

/// Moves every ticked item to the chosen status with one public note, each
/// at the version the page showed and within its own workflow.
#[handler]
pub async fn inbox_status(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let back = back_of(&fields);
    let ticked = fields.all("item");
    let mut results = Vec::new();
    if ticked.is_empty() {
        results.push(ResultLine {
            title: "Nothing was changed".to_owned(),
            message: "Tick the items to change first.".to_owned(),
        });
    }
    for raw in ticked.iter().take(inbox::MAX_LIMIT as usize) {
        let Some((kind, id, version)) = parse_item(raw) else {
            continue;
        };
        let outcome = inbox::change_status(
            &state,
            &user,
            kind,
            id,
            Some(version),
            fields.get("status-to"),
            fields.get("note"),
        )
        .await?;
        let message = match outcome {
            inbox::StatusOutcome::Changed { .. } => "Status changed.".to_owned(),
            inbox::StatusOutcome::Refused(why) => format!("Not changed: {why}."),
            inbox::StatusOutcome::Stale(why) => format!(
                "Not changed: {why} ({}).",
                inbox::now_reads(&state.db, kind, id).await?
            ),
            inbox::StatusOutcome::NotFound => "Not changed: it no longer exists.".to_owned(),
        };
        results.push(ResultLine {
            title: title_of(&fields, id),
            message,
        });
    }
    let (template, _) = inbox_template(&state, &caller, raw_of(&back), results).await?;
    Ok(crate::web::page::render(&template)?.into_response())
}

/// Tags every ticked item, with a result for each. Tagging takes no
/// version: adding a tag never overwrites anyone else's change.
#[handler]
pub async fn inbox_tag(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let back = back_of(&fields);
    let ticked = fields.all("item");
    let mut results = Vec::new();
    let label = match super::tags::check_label(fields.get("new_tag")) {
        Ok(label) => Some(label),
        Err(AppError::Validation(errors)) => {
            results.push(ResultLine {
                title: "Nothing was tagged".to_owned(),
                message: errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
            });
            None
        }
        Err(other) => return Err(other),
    };
    if label.is_some() && ticked.is_empty() {
        results.push(ResultLine {
            title: "Nothing was tagged".to_owned(),
            message: "Tick the items to tag first.".to_owned(),
        });
    }
    if let Some((label, slug)) = label {
        for raw in ticked.iter().take(inbox::MAX_LIMIT as usize) {
            let Some((kind, id, _)) = parse_item(raw) else {
                continue;
            };
            let message = match super::tags::add(&state.db, &user, kind, id, &label, &slug).await {
                Ok(super::tags::Added::Tagged) => format!("Tagged {label}."),
                Ok(super::tags::Added::AlreadyTagged) => format!("Already tagged {label}."),
                Ok(super::tags::Added::NotFound) => "Not tagged: it no longer exists.".to_owned(),
                Err(AppError::Validation(errors)) => format!(
                    "Not tagged: {}.",
                    errors
                        .first()
                        .map(|e| e.message.as_str())
                        .unwrap_or_default()
                ),
                Err(other) => return Err(other),
            };
            results.push(ResultLine {
                title: title_of(&fields, id),
                message,
            });
        }
    }
    let (template, _) = inbox_template(&state, &caller, raw_of(&back), results).await?;
    Ok(crate::web::page::render(&template)?.into_response())
}

/// The filters the inbox was showing when the form was sent.
fn back_of(fields: &Fields) -> Fields {
    Fields::parse(
        fields
            .get("back")
            .trim_start_matches("/board/inbox")
            .trim_start_matches('?')
            .as_bytes(),
    )
}

/// The title the page showed for a ticked item.
fn title_of(fields: &Fields, id: uuid::Uuid) -> String {
    let title = fields.get(&format!("title-{id}"));
    if title.is_empty() {
        id.to_string()
    } else {
        title.to_owned()
    }
}

#[derive(Template)]
#[template(path = "triage/notes.html")]
struct NotesPage {
    page: PageContext,
    notes: super::notes::NotesView,
    label: &'static str,
    visibilities: Vec<Choice>,
    notice: Option<&'static str>,
}

fn notes_page(
    caller: &Caller,
    state: &AppState,
    notes: super::notes::NotesView,
    kind: InboxKind,
    chosen: &str,
    notice: Option<&'static str>,
) -> NotesPage {
    NotesPage {
        page: PageContext::new(caller, &state.key),
        label: kind.label(),
        visibilities: choices(
            [
                (super::notes::INTERNAL, "Internal note: board members only"),
                (
                    super::notes::REPLY,
                    "Reply to the person who sent it (they are emailed)",
                ),
            ]
            .into_iter(),
            &[chosen],
        ),
        notes,
        notice,
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NotesParams {
    added: Option<String>,
}

#[handler]
pub async fn notes_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    poem::web::Path((kind, id)): poem::web::Path<(String, uuid::Uuid)>,
    poem::web::Query(params): poem::web::Query<NotesParams>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let kind = InboxKind::parse(&kind).ok_or(AppError::NotFound)?;
    let notes = super::notes::view(&state.db, &caller, kind, id, String::new()).await?;
    let notice = params.added.is_some().then_some("The note has been added.");
    render_with_status(
        &notes_page(&caller, &state, notes, kind, super::notes::INTERNAL, notice),
        StatusCode::OK,
    )
}

#[handler]
pub async fn notes_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    poem::web::Path((kind_raw, id)): poem::web::Path<(String, uuid::Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let kind = InboxKind::parse(&kind_raw).ok_or(AppError::NotFound)?;
    let visibility = fields.get("visibility");
    match super::notes::add(&state, &user, kind, id, visibility, fields.get("note")).await {
        Ok(_) => Ok(crate::web::page::see_other(&format!(
            "/board/notes/{kind_raw}/{id}?added=1#notes"
        ))),
        Err(AppError::Validation(errors)) => {
            let mut notes = super::notes::view(&state.db, &caller, kind, id, String::new()).await?;
            notes.errors = errors.into();
            notes.typed = fields.get("note").to_owned();
            render_with_status(
                &notes_page(&caller, &state, notes, kind, visibility, None),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other),
    }
}
