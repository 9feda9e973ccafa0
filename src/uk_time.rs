//! UK local time (GMT in winter, BST in summer) for what people type and
//! read; everything stored is UTC. The rule is fixed by law: BST runs from
//! 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
//! October.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_of_next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    Some(last - Duration::days(i64::from(back)))
}

/// When BST starts and ends in `year`, as UTC instants.
fn summer_time(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let one_am = NaiveTime::from_hms_opt(1, 0, 0)?;
    let start = last_sunday(year, 3)?.and_time(one_am).and_utc();
    let end = last_sunday(year, 10)?.and_time(one_am).and_utc();
    Some((start, end))
}

/// The UK offset from UTC at an instant: one hour in summer, none in winter.
pub fn offset_at(at: DateTime<Utc>) -> Duration {
    match summer_time(at.year()) {
        Some((start, end)) if at >= start && at < end => Duration::hours(1),
        _ => Duration::zero(),
    }
}

/// The UK wall-clock time at an instant.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + offset_at(at)
}

/// The instant a UK wall-clock time names. In the autumn's repeated hour the
/// earlier instant is meant; the spring's missing hour is refused.
pub fn from_local(wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    [Duration::hours(1), Duration::zero()]
        .into_iter()
        .map(|offset| Utc.from_utc_datetime(&(wall - offset)))
        .find(|at| local(*at) == wall)
}

/// Parses a date (`2026-12-01`) and a time (`17:00`, default midnight) typed
/// on a page as UK time.
pub fn parse(date: &str, time: &str) -> Result<DateTime<Utc>, &'static str> {
    let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| "Enter a real date, for example 2026-12-01")?;
    let time = match time.trim() {
        "" => NaiveTime::MIN,
        raw => NaiveTime::parse_from_str(raw, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
            .map_err(|_| "Enter a real time on the 24-hour clock, for example 17:00")?,
    };
    from_local(date.and_time(time))
        .ok_or("That time does not exist in the UK (the clocks go forward). Choose another")
}

/// "1 December 2026 at 5:00pm", as NHS content guidance writes times.
pub fn display(at: DateTime<Utc>) -> String {
    let wall = local(at);
    let hour = wall.format("%-I:%M").to_string();
    let meridiem = if wall.format("%p").to_string() == "AM" {
        "am"
    } else {
        "pm"
    };
    format!("{} at {hour}{meridiem}", wall.format("%-d %B %Y"))
}

/// The date part of a UK time, for a date input.
pub fn date_value(at: DateTime<Utc>) -> String {
    local(at).format("%Y-%m-%d").to_string()
}

/// The time part of a UK time, for a time input.
pub fn time_value(at: DateTime<Utc>) -> String {
    local(at).format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_last_sundays_at_one_utc() {
        assert_eq!(offset_at(utc("2026-03-29T00:59:59Z")), Duration::zero());
        assert_eq!(offset_at(utc("2026-03-29T01:00:00Z")), Duration::hours(1));
        assert_eq!(offset_at(utc("2026-10-25T00:59:59Z")), Duration::hours(1));
        assert_eq!(offset_at(utc("2026-10-25T01:00:00Z")), Duration::zero());
    }

    #[test]
    fn typed_uk_times_become_utc() {
        assert_eq!(
            parse("2026-12-01", "17:00"),
            Ok(utc("2026-12-01T17:00:00Z"))
        );
        assert_eq!(
            parse("2026-07-01", "17:00"),
            Ok(utc("2026-07-01T16:00:00Z"))
        );
        assert_eq!(parse("2026-07-01", ""), Ok(utc("2026-06-30T23:00:00Z")));
        // 01:30 on 25 October 2026 happens twice: the first (BST) is meant.
        assert_eq!(
            parse("2026-10-25", "01:30"),
            Ok(utc("2026-10-25T00:30:00Z"))
        );
        assert!(parse("2026-03-29", "01:30").is_err());
        assert!(parse("2026-02-30", "10:00").is_err());
        assert!(parse("2026-12-01", "25:00").is_err());
    }

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(
            display(utc("2026-07-01T16:00:00Z")),
            "1 July 2026 at 5:00pm"
        );
        assert_eq!(
            display(utc("2026-12-01T09:30:00Z")),
            "1 December 2026 at 9:30am"
        );
        assert_eq!(date_value(utc("2026-06-30T23:00:00Z")), "2026-07-01");
        assert_eq!(time_value(utc("2026-06-30T23:00:00Z")), "00:00");
    }
}
