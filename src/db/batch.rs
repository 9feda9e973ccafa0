//! Several statements sent to SQLite as one.
//!
//! Every statement on SQLite is a round trip from the request's task to the
//! connection's own thread and back, and while one transaction holds the
//! file's write turn those round trips are what the other writers wait for.
//! Inserts whose results nobody reads (an audit event, a change-log row, a
//! status history entry) therefore travel with the next statement instead
//! of making a trip each: the statements are joined into one text, which
//! SQLite runs in order. Every parameter becomes a bare `?` and the joined
//! values follow the order the parameters appear in: sqlx binds numbered
//! parameters (`?NNN`) of the second and later statements of a text wrongly,
//! bare ones in order.

use sea_orm::{DatabaseBackend, Statement, Value, Values};

/// SQLite numbers parameters up to 32,766; a batch stays well within it.
pub(super) const MAX_VALUES: usize = 8_000;

/// Joins statements into one that runs them in order.
pub(super) fn join(statements: impl IntoIterator<Item = Statement>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        let own = statement.values.map(|Values(own)| own).unwrap_or_default();
        for number in unnumber_into(&mut sql, &statement.sql) {
            // A parameter without a value is NULL to SQLite, as it would
            // have been in the statement on its own.
            let value = number.checked_sub(1).and_then(|index| own.get(index));
            values.push(value.cloned().unwrap_or(Value::Int(None)));
        }
    }
    Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
}

/// How many values a statement binds.
pub(super) fn value_count(statement: &Statement) -> usize {
    statement.values.as_ref().map_or(0, |v| v.0.len())
}

/// Copies `sql` to `out` with every parameter (`?`, `?NNN`) as a bare `?`,
/// and returns the number each one had, in order. SQLite's rule for a bare
/// `?` is "one more than the largest number so far in this statement";
/// text inside quotes and comments is copied as it is.
fn unnumber_into(out: &mut String, sql: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    let mut largest = 0usize;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                out.push(c);
                // A doubled quote inside a literal ('it''s') ends it and at
                // once opens another, which comes to the same.
                for (_, inner) in chars.by_ref() {
                    out.push(inner);
                    if inner == close {
                        break;
                    }
                }
            }
            '-' if sql[at..].starts_with("--") => {
                out.push(c);
                for (_, inner) in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if sql[at..].starts_with("/*") => {
                let end = sql[at + 2..]
                    .find("*/")
                    .map_or(sql.len(), |e| at + 2 + e + 2);
                out.push_str(&sql[at..end]);
                while chars.peek().is_some_and(|(next, _)| *next < end) {
                    chars.next();
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let number = digits.parse::<usize>().unwrap_or(largest + 1);
                largest = largest.max(number);
                numbers.push(number);
                out.push('?');
            }
            _ => out.push(c),
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unnumbered(sql: &str) -> (String, Vec<usize>) {
        let mut out = String::new();
        let numbers = unnumber_into(&mut out, sql);
        (out, numbers)
    }

    #[test]
    fn parameters_become_bare_and_remember_their_numbers() {
        assert_eq!(
            unnumbered("INSERT INTO t (a, b) VALUES (?, ?)"),
            ("INSERT INTO t (a, b) VALUES (?, ?)".to_owned(), vec![1, 2])
        );
        assert_eq!(
            unnumbered("UPDATE t SET a = ?2, b = ?1, c = ?2"),
            ("UPDATE t SET a = ?, b = ?, c = ?".to_owned(), vec![2, 1, 2])
        );
        // SQLite's rule: a bare `?` follows the largest number so far.
        assert_eq!(unnumbered("SELECT ?3, ?").1, vec![3, 4]);
    }

    #[test]
    fn question_marks_in_text_and_comments_are_not_parameters() {
        let (sql, numbers) =
            unnumbered("SELECT '?', \"a?\", [b?], `c?` -- d?\n, 'it''s ?', ?7 /* e? */ ?");
        assert_eq!(
            sql,
            "SELECT '?', \"a?\", [b?], `c?` -- d?\n, 'it''s ?', ? /* e? */ ?"
        );
        assert_eq!(numbers, vec![7, 8]);
    }

    #[test]
    fn joined_statements_keep_their_order_and_their_own_values() {
        let first = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO a (x, y) VALUES (?, ?)",
            [1.into(), "one".into()],
        );
        let second = Statement::from_string(DatabaseBackend::Sqlite, "DELETE FROM b");
        let third = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT z FROM c WHERE z = ?1 OR w = ?2 OR v = ?1",
            ["three".into(), "four".into()],
        );
        let joined = join([first, second, third]);
        assert_eq!(
            joined.sql,
            "INSERT INTO a (x, y) VALUES (?, ?);\nDELETE FROM b;\nSELECT z FROM c WHERE z = ? OR w = ? OR v = ?"
        );
        let values = joined.values.expect("values").0;
        let expected: Vec<Value> = vec![
            1.into(),
            "one".into(),
            "three".into(),
            "four".into(),
            "three".into(),
        ];
        assert_eq!(values, expected);
    }
}
