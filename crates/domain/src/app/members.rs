//! Project members and their roles, application permission matrices,
//! and follows.

use super::permissions::On;
use super::{App, Caller, DomainError, Result};
use crate::access::{self, Matrix, Permission, Role};
use crate::catalog::{Application, Member};
use chrono::Utc;
use slipway_core::Problem;
use std::collections::{BTreeMap, BTreeSet};

/// An application's matrix as a request sends it: role word → permission
/// words.
pub type MatrixInput = BTreeMap<String, Vec<String>>;

/// The matrix `input` names, or every problem with its path
/// (`permissions.<role>[<i>]`).
fn matrix_of(input: MatrixInput) -> Result<Matrix> {
    let mut problems = Vec::new();
    let mut matrix = Matrix::new();
    for (role_word, words) in input {
        let path = format!("permissions.{role_word}");
        let Some(role) = Role::parse(&role_word) else {
            problems.push(Problem::new(
                path,
                format!(
                    "no role `{role_word}`; expected one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                ),
            ));
            continue;
        };
        let mut set = BTreeSet::new();
        for (i, w) in words.iter().enumerate() {
            match Permission::parse(w) {
                Some(p) => {
                    set.insert(p);
                }
                None => problems.push(Problem::new(
                    format!("{path}[{i}]"),
                    format!(
                        "no permission `{w}`; expected one of {}",
                        Permission::ALL.map(Permission::as_str).join(", ")
                    ),
                )),
            }
        }
        matrix.insert(role, set);
    }
    if problems.is_empty() {
        Ok(matrix)
    } else {
        Err(DomainError::Invalid(problems))
    }
}

impl App {
    /// A project's members, for a caller who may view the project.
    pub async fn members(&self, by: &Caller, project_id: &str) -> Result<Vec<Member>> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::View,
            &project.id,
            On::Project,
            "the members of this project",
        )?;
        Ok(self.catalog.members(project_id).await?)
    }

    /// Makes a user (id or login) a member of a project with `role`, or
    /// changes their role, for a caller who may manage the project (its
    /// owners). A project keeps at least one owner.
    pub async fn put_member(
        &self,
        by: &Caller,
        project_id: &str,
        user: &str,
        role: &str,
    ) -> Result<Member> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Manage,
            &project.id,
            On::Project,
            "the members of this project",
        )?;
        let Some(role) = Role::parse(role) else {
            return Err(DomainError::Invalid(vec![Problem::new(
                "role",
                format!(
                    "no role `{role}`; expected one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                ),
            )]));
        };
        let user = self.named_user("user", user).await?;
        self.catalog
            .put_member(project_id, &user.id, role, Utc::now())
            .await?;
        self.forget_callers();
        self.catalog
            .members(project_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user.id)
            .ok_or_else(|| DomainError::not_found("member", &user.login))
    }

    /// Removes a member (id or login) from a project, for its owners; the
    /// last owner stays.
    pub async fn remove_member(&self, by: &Caller, project_id: &str, user: &str) -> Result<()> {
        let project = self.find_project(project_id).await?;
        self.check(
            by,
            Permission::Manage,
            &project.id,
            On::Project,
            "the members of this project",
        )?;
        let user = self.find_user(user).await?;
        let removed = self.catalog.remove_member(project_id, &user.id).await?;
        self.forget_callers();
        if removed {
            Ok(())
        } else {
            Err(DomainError::not_found(
                "member",
                format!("{} of project {project_id}", user.login),
            ))
        }
    }

    /// An application and the matrix in force on it (every role, its own
    /// entries or the defaults), for a caller who may view it.
    pub async fn application_matrix(
        &self,
        by: &Caller,
        app_id: &str,
    ) -> Result<(Application, Matrix)> {
        let app = self.application(by, app_id).await?;
        let effective = Role::ALL
            .into_iter()
            .map(|r| (r, access::granted(r, app.permissions.as_ref())))
            .collect();
        Ok((app, effective))
    }

    /// Sets an application's own matrix (`None`: back to the roles'
    /// defaults), for a caller with `manage` on it. Roles the matrix does
    /// not name keep their defaults.
    pub async fn set_application_matrix(
        &self,
        by: &Caller,
        app_id: &str,
        input: Option<MatrixInput>,
    ) -> Result<(Application, Matrix)> {
        let mut app = self.find_application(app_id).await?;
        self.check(
            by,
            Permission::Manage,
            &app.project_id,
            On::Application(app.permissions.as_ref()),
            "this application",
        )?;
        app.permissions = match input {
            Some(m) => Some(matrix_of(m)?),
            None => None,
        };
        app.updated_at = Utc::now();
        app.updated_by = by.actor();
        self.save_application(&app).await?;
        self.application_matrix(by, app_id).await
    }

    /// Follows an application (`follow`) or stops, for a caller who may
    /// view it; the application views' `is_care`.
    pub async fn follow_application(&self, by: &Caller, app_id: &str, follow: bool) -> Result<()> {
        let app = self.application(by, app_id).await?;
        if by.user_id.is_empty() {
            return Err(DomainError::Invalid(vec![Problem::new(
                "user",
                "only a user may follow an application",
            )]));
        }
        self.catalog
            .set_follow(&app.id, &by.user_id, follow, Utc::now())
            .await?;
        self.forget_callers();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_input_names_each_bad_word_with_its_path() {
        let input = MatrixInput::from([
            ("developer".into(), vec!["view".into(), "fly".into()]),
            ("guest".into(), vec![]),
        ]);
        let Err(DomainError::Invalid(problems)) = matrix_of(input) else {
            panic!("accepted");
        };
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["permissions.developer[1]", "permissions.guest"]);
        let ok = matrix_of(MatrixInput::from([("viewer".into(), vec!["view".into()])])).unwrap();
        assert_eq!(ok[&Role::Viewer], BTreeSet::from([Permission::View]));
    }
}
