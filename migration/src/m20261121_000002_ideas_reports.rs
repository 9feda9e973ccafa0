//! Ideas, themes, supports, comments, status history, best-practice reports
//! and organisation imports.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn stamped(mut table: TableCreateStatement) -> TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"));
    table
}

/// A reference that disappears with its parent.
fn owned_by(
    name: &str,
    from: (&'static str, &'static str),
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A reference to a person: their submissions outlive their account, anonymised.
fn written_by(name: &str, from: (&'static str, &'static str)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to("users", "id")
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(stamped(
                Table::create()
                    .table("themes")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("slug", 80))
                    .col(string_len("name", 100))
                    .col(boolean("active").default(true))
                    .col(integer("position").default(0))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("ideas")
                    .col(pk_uuid("id"))
                    .col(uuid_null("author_id"))
                    .col(text("title"))
                    .col(text("description"))
                    .col(string_len("beneficiaries", 100))
                    .col(text("expected_impact"))
                    .col(string_len("status", 30))
                    .col(uuid_null("duplicate_of"))
                    .col(integer("support_count").default(0))
                    .col(integer("comment_count").default(0))
                    .col(integer("version").default(1))
                    .foreign_key(&mut written_by("fk_ideas_author", ("ideas", "author_id")))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ideas_duplicate_of")
                            .from("ideas", "duplicate_of")
                            .to("ideas", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idea_themes")
                    .col(uuid("idea_id"))
                    .col(uuid("theme_id"))
                    .primary_key(Index::create().col("idea_id").col("theme_id"))
                    .foreign_key(&mut owned_by(
                        "fk_idea_themes_idea",
                        ("idea_themes", "idea_id"),
                        "ideas",
                    ))
                    .foreign_key(&mut owned_by(
                        "fk_idea_themes_theme",
                        ("idea_themes", "theme_id"),
                        "themes",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("idea_supports")
                    .col(uuid("idea_id"))
                    .col(uuid("user_id"))
                    .col(boolean("notify").default(false))
                    .primary_key(Index::create().col("idea_id").col("user_id"))
                    .foreign_key(&mut owned_by(
                        "fk_idea_supports_idea",
                        ("idea_supports", "idea_id"),
                        "ideas",
                    ))
                    .foreign_key(&mut owned_by(
                        "fk_idea_supports_user",
                        ("idea_supports", "user_id"),
                        "users",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("status_changes")
                    .col(pk_uuid("id"))
                    .col(string_len("subject_type", 30))
                    .col(uuid("subject_id"))
                    .col(string_len_null("from_status", 30))
                    .col(string_len("to_status", 30))
                    .col(text("note"))
                    .col(uuid_null("actor_id"))
                    .foreign_key(&mut written_by(
                        "fk_status_changes_actor",
                        ("status_changes", "actor_id"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("comments")
                    .col(pk_uuid("id"))
                    .col(string_len("subject_type", 30))
                    .col(uuid("subject_id"))
                    .col(uuid_null("author_id"))
                    .col(text("body"))
                    .col(string_len("visibility", 20).default("public"))
                    .col(timestamp_with_time_zone_null("edited_at"))
                    .col(timestamp_with_time_zone_null("hidden_at"))
                    .col(text_null("hidden_reason"))
                    .col(uuid_null("hidden_by"))
                    .foreign_key(&mut written_by(
                        "fk_comments_author",
                        ("comments", "author_id"),
                    ))
                    .foreign_key(&mut written_by(
                        "fk_comments_hidden_by",
                        ("comments", "hidden_by"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("reports")
                    .col(pk_uuid("id"))
                    .col(uuid_null("reporter_id"))
                    .col(uuid("organisation_id"))
                    .col(text("system_name"))
                    .col(text_null("supplier_name"))
                    .col(string_len("category", 40))
                    .col(text_null("standard_reference"))
                    .col(string_len("severity", 20))
                    .col(text("patient_impact"))
                    .col(text("staff_impact"))
                    .col(text("evidence"))
                    .col(boolean("confidential").default(false))
                    .col(string_len("status", 30))
                    .col(integer("version").default(1))
                    .foreign_key(&mut written_by(
                        "fk_reports_reporter",
                        ("reports", "reporter_id"),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reports_organisation")
                            .from("reports", "organisation_id")
                            .to("organisations", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("organisation_imports")
                    .col(pk_uuid("id"))
                    .col(uuid_null("created_by"))
                    .col(string_len("file_name", 300))
                    .col(text("source"))
                    .col(string_len("status", 20))
                    .col(integer("total_rows").default(0))
                    .col(integer("processed_rows").default(0))
                    .col(integer("created_count").default(0))
                    .col(integer("updated_count").default(0))
                    .col(integer("rejected_count").default(0))
                    .col(json_null("rejected"))
                    .col(text_null("error"))
                    .foreign_key(&mut written_by(
                        "fk_organisation_imports_by",
                        ("organisation_imports", "created_by"),
                    ))
                    .to_owned(),
            ))
            .await?;

        for (name, table, columns) in [
            ("idx_ideas_author", "ideas", &["author_id"][..]),
            ("idx_ideas_status", "ideas", &["status"][..]),
            ("idx_ideas_created", "ideas", &["created_at"][..]),
            ("idx_ideas_updated", "ideas", &["updated_at"][..]),
            ("idx_ideas_support", "ideas", &["support_count"][..]),
            ("idx_idea_themes_theme", "idea_themes", &["theme_id"][..]),
            ("idx_idea_supports_user", "idea_supports", &["user_id"][..]),
            (
                "idx_status_changes_subject",
                "status_changes",
                &["subject_type", "subject_id"][..],
            ),
            (
                "idx_comments_subject",
                "comments",
                &["subject_type", "subject_id"][..],
            ),
            ("idx_comments_author", "comments", &["author_id"][..]),
            ("idx_reports_reporter", "reports", &["reporter_id"][..]),
            ("idx_reports_status", "reports", &["status"][..]),
            (
                "idx_reports_organisation",
                "reports",
                &["organisation_id"][..],
            ),
            ("idx_organisations_name", "organisations", &["name"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_organisations_name")
                    .table("organisations")
                    .to_owned(),
            )
            .await?;
        for table in [
            "organisation_imports",
            "reports",
            "comments",
            "status_changes",
            "idea_supports",
            "idea_themes",
            "ideas",
            "themes",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
