//! Accounts, sessions, tokens, audit, change log, email outbox, idempotency and rate limits.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table carries these two columns.
fn stamped(mut table: TableCreateStatement) -> TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"));
    table
}

fn fk(
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(stamped(
                Table::create()
                    .table("organisations")
                    .col(pk_uuid("id"))
                    .col(string_len("name", 300))
                    .col(string_len("kind", 40))
                    .col(string_len_null("ods_code", 20).unique_key())
                    .col(text_null("note"))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("email", 320))
                    .col(string_len_null("display_name", 200))
                    .col(string_len("role", 20))
                    .col(string_len_null("respondent_type", 40))
                    .col(uuid_null("organisation_id"))
                    .col(string_len_null("organisation_name", 300))
                    .col(string_len_null("job_title", 200))
                    .col(timestamp_with_time_zone_null("profile_completed_at"))
                    .col(timestamp_with_time_zone_null("last_signed_in_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_organisation")
                            .from("users", "organisation_id")
                            .to("organisations", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("login_tokens")
                    .col(pk_uuid("id"))
                    .col(string_len("email", 320))
                    .col(string_len_uniq("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("sessions")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .foreign_key(&mut fk(
                        "fk_sessions_user",
                        ("sessions", "user_id"),
                        "users",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("api_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string_len("name", 100))
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len("prefix", 16))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk(
                        "fk_api_tokens_user",
                        ("api_tokens", "user_id"),
                        "users",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("audit_events")
                    .col(pk_uuid("id"))
                    .col(uuid_null("actor_user_id"))
                    .col(string_len("action", 100))
                    .col(string_len("subject_type", 50))
                    .col(uuid_null("subject_id"))
                    .col(json_null("before"))
                    .col(json_null("after"))
                    .col(string_len_null("request_id", 64))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("change_log")
                    .col(big_pk_auto("seq"))
                    .col(string_len("entity_type", 50))
                    .col(uuid("entity_id"))
                    .col(string_len("op", 10))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("email_outbox")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("idempotency_key", 200))
                    .col(string_len("to_address", 320))
                    .col(text("subject"))
                    .col(text("text_body"))
                    .col(text_null("html_body"))
                    .col(json_null("headers"))
                    .col(string_len("status", 10))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("idempotency_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string_len("key", 200))
                    .col(string_len("request_hash", 64))
                    .col(integer("response_status"))
                    .col(text("response_body"))
                    .foreign_key(&mut fk(
                        "fk_idempotency_keys_user",
                        ("idempotency_keys", "user_id"),
                        "users",
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("rate_limits")
                    .col(string_len("bucket", 400))
                    .col(big_integer("window_start"))
                    .col(integer("hits"))
                    .primary_key(Index::create().col("bucket").col("window_start"))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(stamped(
                Table::create()
                    .table("server_keys")
                    .col(string_len("name", 100).primary_key())
                    .col(text("value"))
                    .to_owned(),
            ))
            .await?;

        for (name, table, columns) in [
            ("idx_login_tokens_email", "login_tokens", &["email"][..]),
            ("idx_sessions_user", "sessions", &["user_id"][..]),
            ("idx_api_tokens_user", "api_tokens", &["user_id"][..]),
            (
                "idx_audit_events_subject",
                "audit_events",
                &["subject_type", "subject_id"][..],
            ),
            (
                "idx_email_outbox_due",
                "email_outbox",
                &["status", "next_attempt_at"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("uq_idempotency_keys_user_key")
                    .table("idempotency_keys")
                    .col("user_id")
                    .col("key")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "server_keys",
            "rate_limits",
            "idempotency_keys",
            "email_outbox",
            "change_log",
            "audit_events",
            "api_tokens",
            "sessions",
            "login_tokens",
            "users",
            "organisations",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
