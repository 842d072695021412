//! How column values become Rust values where diesel's own conversion does not fit.
//!
//! Domain enums are stored as text. Reading a value the enum does not know fails the query
//! (a server error, logged) instead of turning it into some default: an unknown role must
//! never quietly become a plain user, nor an unknown status a pending order.
//!
//! Timestamps read from SQLite (stored as text) go through [`StoredTime`].

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::pool::{MultiBackend, MultiRawValue};
use crate::domain::{OrderStatus, Role};

/// Reads the column's text and parses it with the enum's `FromStr`.
fn parse<T, DB>(bytes: DB::RawValue<'_>) -> deserialize::Result<T>
where
    DB: Backend,
    String: FromSql<Text, DB>,
    T: FromStr<Err = String>,
{
    let text = String::from_sql(bytes)?;
    T::from_str(&text).map_err(|why| format!("stored value {text:?}: {why}").into())
}

macro_rules! text_column {
    ($ty:ty) => {
        impl<DB> FromSql<Text, DB> for $ty
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                parse::<Self, DB>(bytes)
            }
        }

        impl<DB> ToSql<Text, DB> for $ty
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }
    };
}

text_column!(Role);
text_column!(OrderStatus);

/// A `Timestamp` column read the quick way: a model field declared
/// `#[diesel(deserialize_as = StoredTime)]` is still a `NaiveDateTime`.
///
/// diesel reads a SQLite timestamp by trying chrono's `parse_from_str` with one format
/// string after another, interpreting the format each time: 13 % of the server's CPU in a
/// profile of the GraphQL 50-users query (600 timestamps an answer). Everything this server
/// writes has diesel's one layout, `YYYY-MM-DD HH:MM:SS[.fraction]` (SQL's
/// `CURRENT_TIMESTAMP` too), which is read here digit by digit; any other text still goes
/// to diesel's conversion. PostgreSQL sends timestamps as binary numbers and is left alone.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct StoredTime(NaiveDateTime);

impl From<StoredTime> for NaiveDateTime {
    fn from(t: StoredTime) -> Self {
        t.0
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        // Borrowed from SQLite's row: no String per timestamp.
        let text = value.read_text();
        match parse_stored(text) {
            Some(time) => Ok(Self(time)),
            None => slow_parse(text).map(Self),
        }
    }
}

impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `YYYY-MM-DD HH:MM:SS`, then optionally `.` and 1 to 9 digits of a second.
fn parse_stored(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20..b.len())? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
    Some(date.and_time(time))
}

/// Any other layout diesel itself accepts: through a text value of diesel's own.
fn slow_parse(text: &str) -> deserialize::Result<NaiveDateTime> {
    const LAYOUTS: [&str; 4] = ["%F %T%.f", "%FT%T%.f", "%F %R", "%FT%R"];
    LAYOUTS
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.naive_utc())
        })
        .ok_or_else(|| format!("stored timestamp {text:?} has an unknown layout").into())
}

#[cfg(test)]
mod tests {
    use diesel::dsl::sql;
    use diesel::prelude::*;

    use super::*;

    #[test]
    fn a_stored_value_the_enum_does_not_know_is_an_error_not_a_default() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        let read = |conn: &mut diesel::SqliteConnection, text: &str| {
            diesel::select(sql::<Text>(&format!("'{text}'"))).get_result::<Role>(conn)
        };
        assert_eq!(read(&mut conn, "admin").unwrap(), Role::Admin);
        let unknown = read(&mut conn, "superuser").unwrap_err().to_string();
        assert!(unknown.contains("superuser"), "{unknown}");
        let status = diesel::select(sql::<Text>("'shipped'"))
            .get_result::<OrderStatus>(&mut conn)
            .unwrap();
        assert_eq!(status, OrderStatus::Shipped);
    }

    #[test]
    fn stored_timestamps_read_the_same_as_with_chrono() {
        for text in [
            "2026-12-01 10:20:30",
            "2026-12-01 10:20:30.5",
            "2026-12-01 10:20:30.123456",
            "2024-02-29 23:59:59.999999999",
        ] {
            let chrono = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(parse_stored(text), Some(chrono), "{text}");
        }
        for odd in [
            "2026-12-01T10:20:30",
            "2026-02-30 10:20:30",
            "2026-12-01 10:20:3x",
            "2026-12-01 10:20:30.",
            "2026-12-01 10:20:30.1234567890",
            "2026-12-01 25:00:00",
            "",
        ] {
            assert_eq!(parse_stored(odd), None, "{odd}");
        }
        assert_eq!(
            slow_parse("2026-12-01T10:20:30").unwrap(),
            parse_stored("2026-12-01 10:20:30").unwrap()
        );
        assert!(slow_parse("yesterday").is_err());
    }
}
