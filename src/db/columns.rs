//! Domain enums stored as text columns. Reading a value the enum does not know fails the
//! query (a server error, logged) instead of turning it into some default: an unknown role
//! must never quietly become a plain user, nor an unknown status a pending order.

use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

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
}
