//! The one place that decides who may do what. Handlers ask; they never check
//! roles themselves.

use entity::users;

use super::caller::Caller;
use super::domain::Role;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See and edit one's own profile.
    ManageOwnAccount,
    /// Create, list and revoke one's own API tokens.
    ManageOwnTokens,
    /// See every account and change roles.
    ManageUsers,
    /// See failed emails and other operational state.
    ViewOperations,
    /// Import organisations into the register.
    ManageOrganisations,
    /// Submit ideas and reports, support ideas, comment.
    Contribute,
    /// Change an idea's or a report's status, hide comments, see every report.
    Triage,
    /// Add, rename and retire the themes ideas are filed under.
    ManageThemes,
    /// Save searches and hear about their new matches.
    SaveSearches,
    /// Write, publish and analyse consultations, and publish their outcomes.
    ManageConsultations,
}

pub fn role_of(user: &users::Model) -> Role {
    Role::parse(&user.role).unwrap_or(Role::Contributor)
}

pub fn allows(role: Role, permission: Permission) -> bool {
    match permission {
        Permission::ManageOwnAccount | Permission::ManageOwnTokens | Permission::Contribute => true,
        Permission::Triage
        | Permission::ManageThemes
        | Permission::SaveSearches
        | Permission::ManageConsultations => {
            matches!(role, Role::Board | Role::Admin)
        }
        Permission::ManageUsers | Permission::ViewOperations | Permission::ManageOrganisations => {
            role == Role::Admin
        }
    }
}

/// The signed-in user when they hold `permission`; 401 when nobody is signed
/// in, 403 when they are but may not.
pub fn require(caller: &Caller, permission: Permission) -> Result<&users::Model, AppError> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthorized)?;
    if allows(role_of(user), permission) {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Whether the signed-in caller holds `permission` (false when signed out).
pub fn allows_caller(caller: &Caller, permission: Permission) -> bool {
    require(caller, permission).is_ok()
}

/// Whether the caller may see an item of another person's that is not public.
pub fn can_see_board_content(caller: &Caller) -> bool {
    caller
        .user
        .as_ref()
        .is_some_and(|u| matches!(role_of(u), Role::Board | Role::Admin))
}

/// Whether the caller may see a best-practice report: board members and the
/// person who reported it, nobody else.
pub fn can_see_report(caller: &Caller, report: &entity::reports::Model) -> bool {
    can_see_board_content(caller)
        || caller
            .user
            .as_ref()
            .is_some_and(|u| report.reporter_id == Some(u.id))
}

/// Whether the caller may learn who made a report: for a confidential
/// report, board members only (and the reporter, who knows).
pub fn can_see_reporter(caller: &Caller, report: &entity::reports::Model) -> bool {
    can_see_board_content(caller)
        || caller
            .user
            .as_ref()
            .is_some_and(|u| report.reporter_id == Some(u.id))
        || (!report.confidential && can_see_report(caller, report))
}

/// What a search may show the caller: board members everything; anyone
/// else public items and their own.
pub fn search_audience(caller: &Caller) -> crate::search::query::Audience {
    if can_see_board_content(caller) {
        crate::search::query::Audience::Everything
    } else {
        crate::search::query::Audience::Public(caller.user_id())
    }
}

/// What a person may find when a search runs on their behalf (a saved
/// search in their digest), decided by their role now.
pub fn search_audience_of(user: &users::Model) -> crate::search::query::Audience {
    if matches!(role_of(user), Role::Board | Role::Admin) {
        crate::search::query::Audience::Everything
    } else {
        crate::search::query::Audience::Public(Some(user.id))
    }
}

/// Whether the caller may see a consultation: drafts are the board's alone.
pub fn can_see_consultation(caller: &Caller, consultation: &entity::consultations::Model) -> bool {
    consultation.status != "draft" || can_see_board_content(caller)
}

/// Whether a consultation response may be shown to people outside the
/// board: submitted, its respondent consented, and the outcome published.
pub fn response_is_public(
    consultation: &entity::consultations::Model,
    response: &entity::consultation_responses::Model,
) -> bool {
    consultation.status == "outcome_published"
        && response.status == "submitted"
        && matches!(response.consent.as_str(), "named" | "anonymous")
}

/// Whether the caller may see a consultation response in full: board
/// members and its respondent.
pub fn can_see_response(caller: &Caller, response: &entity::consultation_responses::Model) -> bool {
    can_see_board_content(caller)
        || caller
            .user
            .as_ref()
            .is_some_and(|u| response.respondent_id == Some(u.id))
}

/// Whether the caller may edit a comment: its author, within the edit window.
pub fn can_edit_comment(
    caller: &Caller,
    comment: &entity::comments::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    caller
        .user
        .as_ref()
        .is_some_and(|u| comment.author_id == Some(u.id))
        && comment.hidden_at.is_none()
        && now - comment.created_at <= COMMENT_EDIT_WINDOW
}

/// How long an author may edit their comment.
pub const COMMENT_EDIT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_users() {
        assert!(allows(Role::Admin, Permission::ManageUsers));
        assert!(!allows(Role::Board, Permission::ManageUsers));
        assert!(!allows(Role::Contributor, Permission::ManageUsers));
    }

    #[test]
    fn everyone_signed_in_manages_their_own_account_and_tokens() {
        for role in Role::ALL {
            assert!(allows(role, Permission::ManageOwnAccount));
            assert!(allows(role, Permission::ManageOwnTokens));
        }
    }

    #[test]
    fn only_the_board_triages_and_only_admins_import_organisations() {
        assert!(allows(Role::Board, Permission::Triage));
        assert!(allows(Role::Admin, Permission::Triage));
        assert!(!allows(Role::Contributor, Permission::Triage));
        assert!(allows(Role::Board, Permission::ManageThemes));
        assert!(!allows(Role::Board, Permission::ManageOrganisations));
        assert!(allows(Role::Admin, Permission::ManageOrganisations));
        assert!(allows(Role::Contributor, Permission::Contribute));
    }

    #[test]
    fn signed_out_callers_are_asked_to_sign_in() {
        let caller = Caller::anonymous(None);
        assert!(matches!(
            require(&caller, Permission::ManageOwnAccount),
            Err(AppError::Unauthorized)
        ));
        assert!(!can_see_board_content(&caller));
    }
}
