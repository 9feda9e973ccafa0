//! Consultations on proposed standards: the document and its versions, the
//! questions, responses with their answers and section comments, and themes
//! attached to any item (responses and comments here, triage later).

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

/// A reference to a person: what they wrote outlives their account, anonymised.
fn written_by(name: &str, from: (&'static str, &'static str)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to("users", "id")
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

fn unique(name: &str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(*col);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(stamped(
                Table::create()
                    .table("consultations")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("slug", 80))
                    .col(text("title"))
                    .col(text("summary"))
                    // Comma-separated: everyone, or any of nhs_staff, supplier, expert.
                    .col(string_len("audience", 100))
                    .col(timestamp_with_time_zone("opens_at"))
                    .col(timestamp_with_time_zone("closes_at"))
                    // draft | published | outcome_published; open and closed
                    // follow from the times once published.
                    .col(string_len("status", 30))
                    .col(integer("current_version").default(1))
                    .col(text("outcome_summary").default(""))
                    .col(timestamp_with_time_zone_null("outcome_published_at"))
                    .col(uuid_null("created_by"))
                    .col(integer("version").default(1))
                    .foreign_key(&mut written_by(
                        "fk_consultations_created_by",
                        ("consultations", "created_by"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("consultation_versions")
                    .col(pk_uuid("id"))
                    .col(uuid("consultation_id"))
                    .col(integer("number"))
                    .col(text("document"))
                    .col(text("change_summary"))
                    .col(timestamp_with_time_zone_null("published_at"))
                    .foreign_key(&mut owned_by(
                        "fk_consultation_versions_consultation",
                        ("consultation_versions", "consultation_id"),
                        "consultations",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_consultation_versions_number",
                "consultation_versions",
                &["consultation_id", "number"],
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("consultation_questions")
                    .col(pk_uuid("id"))
                    .col(uuid("consultation_id"))
                    .col(integer("position"))
                    // free_text | single_choice | multi_choice | agreement_scale
                    .col(string_len("kind", 30))
                    .col(text("prompt"))
                    .col(text("help_text"))
                    .col(boolean("required").default(false))
                    // The choices, as a JSON array of strings.
                    .col(text("options"))
                    .foreign_key(&mut owned_by(
                        "fk_consultation_questions_consultation",
                        ("consultation_questions", "consultation_id"),
                        "consultations",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("consultation_responses")
                    .col(pk_uuid("id"))
                    .col(uuid("consultation_id"))
                    .col(uuid_null("respondent_id"))
                    // For responses imported from elsewhere, who sent them.
                    .col(text_null("respondent_name"))
                    .col(text_null("respondent_email"))
                    .col(string_len("respondent_type", 30))
                    // individual | organisation
                    .col(string_len("capacity", 20))
                    .col(text_null("organisation_name"))
                    // None until the respondent says whether they have interests to declare.
                    .col(boolean_null("interests_declared"))
                    .col(text("products_affected"))
                    .col(text("commercial_interest"))
                    // named | anonymous | private
                    .col(string_len("consent", 20))
                    // draft | submitted
                    .col(string_len("status", 20))
                    .col(timestamp_with_time_zone_null("submitted_at"))
                    // web | import
                    .col(string_len("source", 20))
                    .col(text_null("redaction_reason"))
                    .col(uuid_null("redacted_by"))
                    .col(timestamp_with_time_zone_null("redacted_at"))
                    .col(integer("version").default(1))
                    .foreign_key(&mut owned_by(
                        "fk_consultation_responses_consultation",
                        ("consultation_responses", "consultation_id"),
                        "consultations",
                    ))
                    .foreign_key(&mut written_by(
                        "fk_consultation_responses_respondent",
                        ("consultation_responses", "respondent_id"),
                    ))
                    .foreign_key(&mut written_by(
                        "fk_consultation_responses_redacted_by",
                        ("consultation_responses", "redacted_by"),
                    ))
                    .to_owned(),
            ))
            .await?;
        // One response per person per consultation (imports have no person).
        manager
            .create_index(unique(
                "ux_consultation_responses_respondent",
                "consultation_responses",
                &["consultation_id", "respondent_id"],
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("consultation_answers")
                    .col(pk_uuid("id"))
                    .col(uuid("response_id"))
                    .col(uuid("question_id"))
                    // Free text, the chosen option, a JSON array of options,
                    // or the agreement level 1 to 5.
                    .col(text("value"))
                    .col(text_null("redacted_value"))
                    .foreign_key(&mut owned_by(
                        "fk_consultation_answers_response",
                        ("consultation_answers", "response_id"),
                        "consultation_responses",
                    ))
                    .foreign_key(&mut owned_by(
                        "fk_consultation_answers_question",
                        ("consultation_answers", "question_id"),
                        "consultation_questions",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_consultation_answers_question",
                "consultation_answers",
                &["response_id", "question_id"],
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("section_comments")
                    .col(pk_uuid("id"))
                    .col(uuid("response_id"))
                    .col(uuid("consultation_id"))
                    .col(integer("version_number"))
                    .col(string_len("anchor", 200))
                    .col(text("section_title"))
                    .col(text("body"))
                    .col(text_null("redacted_body"))
                    // The HL7 ballot disposition: accepted,
                    // accepted_with_modification, deferred, not_accepted,
                    // not_related, previously_considered, noted.
                    .col(string_len_null("disposition", 40))
                    .col(text("rationale").default(""))
                    .col(uuid_null("decided_by"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .foreign_key(&mut owned_by(
                        "fk_section_comments_response",
                        ("section_comments", "response_id"),
                        "consultation_responses",
                    ))
                    .foreign_key(&mut written_by(
                        "fk_section_comments_decided_by",
                        ("section_comments", "decided_by"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_section_comments_section",
                "section_comments",
                &["response_id", "version_number", "anchor"],
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_section_comments_consultation")
                    .table("section_comments")
                    .col("consultation_id")
                    .col("anchor")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("item_themes")
                    .col(string_len("subject_type", 30))
                    .col(uuid("subject_id"))
                    .col(uuid("theme_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(
                        Index::create()
                            .col("subject_type")
                            .col("subject_id")
                            .col("theme_id"),
                    )
                    .foreign_key(&mut owned_by(
                        "fk_item_themes_theme",
                        ("item_themes", "theme_id"),
                        "themes",
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "item_themes",
            "section_comments",
            "consultation_answers",
            "consultation_responses",
            "consultation_questions",
            "consultation_versions",
            "consultations",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
