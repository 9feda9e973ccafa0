//! The baseline: PostgreSQL full-text search over the same items, done the
//! way a team would without a search engine: a generated tsvector column
//! (title weighted above body), a GIN index, `websearch_to_tsquery`,
//! `ts_rank`, the top 20 and facet counts.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const BUILD: &[&str] = &[
    "DROP TABLE IF EXISTS bench_fts",
    "CREATE TABLE bench_fts (
        id uuid PRIMARY KEY, kind text NOT NULL, status text NOT NULL,
        category text, severity text, organisation text,
        created_at timestamptz NOT NULL, support integer NOT NULL,
        title text NOT NULL, body text NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A') ||
            setweight(to_tsvector('english', body), 'B')) STORED)",
    "INSERT INTO bench_fts (id, kind, status, category, severity, organisation, created_at, support, title, body)
        SELECT i.id, 'idea', i.status, NULL, NULL, u.organisation_name, i.created_at, i.support_count,
               i.title, i.description || ' ' || i.expected_impact
        FROM ideas i LEFT JOIN users u ON u.id = i.author_id",
    "INSERT INTO bench_fts (id, kind, status, category, severity, organisation, created_at, support, title, body)
        SELECT r.id, 'report', r.status, r.category, r.severity, o.name, r.created_at, 0,
               r.system_name, coalesce(r.supplier_name, '') || ' ' || r.evidence || ' ' || r.patient_impact || ' ' || r.staff_impact
        FROM reports r JOIN organisations o ON o.id = r.organisation_id",
    "INSERT INTO bench_fts (id, kind, status, category, severity, organisation, created_at, support, title, body)
        SELECT c.id, 'comment', i.status, NULL, NULL, u.organisation_name, c.created_at, 0,
               'Comment on: ' || i.title, c.body
        FROM comments c JOIN ideas i ON i.id = c.subject_id LEFT JOIN users u ON u.id = c.author_id",
    "INSERT INTO bench_fts (id, kind, status, category, severity, organisation, created_at, support, title, body)
        SELECT r.id, 'consultation_response', r.status, NULL, NULL, r.organisation_name, coalesce(r.submitted_at, r.created_at), 0,
               'Response to ' || c.title,
               coalesce((SELECT string_agg(a.value, ' ') FROM consultation_answers a WHERE a.response_id = r.id), '') || ' ' ||
               coalesce((SELECT string_agg(s.body, ' ') FROM section_comments s WHERE s.response_id = r.id), '')
        FROM consultation_responses r JOIN consultations c ON c.id = r.consultation_id",
    "CREATE INDEX bench_fts_tsv ON bench_fts USING gin (tsv)",
    "ANALYZE bench_fts",
];

const TOP: &str = "SELECT id, ts_rank(tsv, q) AS rank
    FROM bench_fts, websearch_to_tsquery('english', $1) q
    WHERE tsv @@ q ORDER BY rank DESC LIMIT 20";

const FACETS: &str = "SELECT kind, status, category, severity, organisation, count(*),
        GROUPING(kind, status, category, severity, organisation) AS grouped
    FROM bench_fts, websearch_to_tsquery('english', $1) q
    WHERE tsv @@ q
    GROUP BY GROUPING SETS ((), (kind), (status), (category), (severity), (organisation))";

/// Builds the table and its index from the hub's tables.
pub async fn build(db: &DatabaseConnection) -> anyhow::Result<()> {
    for sql in BUILD {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// One search as a page needs it: the top 20 by rank, and the total with
/// facet counts. Returns the total.
pub async fn search(db: &DatabaseConnection, q: &str) -> anyhow::Result<i64> {
    let backend = db.get_database_backend();
    let top = Statement::from_sql_and_values(backend, TOP, [q.into()]);
    db.query_all_raw(top).await?;
    let facets = Statement::from_sql_and_values(backend, FACETS, [q.into()]);
    let mut total = 0;
    for row in db.query_all_raw(facets).await? {
        // The grand total is the grouping set with every column rolled up.
        let grouped: i32 = row.try_get("", "grouped")?;
        if grouped == 0b11111 {
            total = row.try_get("", "count")?;
        }
    }
    Ok(total)
}
