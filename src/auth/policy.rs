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
}

pub fn role_of(user: &users::Model) -> Role {
    Role::parse(&user.role).unwrap_or(Role::Contributor)
}

pub fn allows(role: Role, permission: Permission) -> bool {
    match permission {
        Permission::ManageOwnAccount | Permission::ManageOwnTokens => true,
        Permission::ManageUsers | Permission::ViewOperations => role == Role::Admin,
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

/// Whether the caller may see an item of another person's that is not public.
pub fn can_see_board_content(caller: &Caller) -> bool {
    caller
        .user
        .as_ref()
        .is_some_and(|u| matches!(role_of(u), Role::Board | Role::Admin))
}

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
    fn signed_out_callers_are_asked_to_sign_in() {
        let caller = Caller::anonymous(None);
        assert!(matches!(
            require(&caller, Permission::ManageOwnAccount),
            Err(AppError::Unauthorized)
        ));
        assert!(!can_see_board_content(&caller));
    }
}
