use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::columns::StoredTime;
use crate::db::schema::posts;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = posts)]
pub struct Post {
    pub id: i32,
    pub author_id: i32,
    pub title: String,
    pub body: String,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = StoredTime)]
    pub updated_at: NaiveDateTime,
}

/// The columns a list of post titles needs: the GraphQL lists that ask for nothing more
/// read these instead of whole rows (the body and two timestamps were most of the cost of
/// reading 250 posts, docs/PERFORMANCE.md).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts)]
pub struct PostHeadline {
    pub id: i32,
    pub author_id: i32,
    pub title: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = posts)]
pub struct NewPost<'a> {
    pub author_id: i32,
    pub title: &'a str,
    pub body: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = posts)]
pub struct PostChanges<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub updated_at: NaiveDateTime,
}
