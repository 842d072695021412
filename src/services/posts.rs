//! Posts: public to read; authors write their own. Admins may delete any post (moderation)
//! but never edit another author's words.

use diesel::prelude::*;
use serde::Deserialize;

use super::{apply_sort, users, Actor, Change, Listing, Precondition};
use crate::db::models::{NewPost, Post, PostChanges, PostHeadline};
use crate::db::schema::posts;
use crate::db::{self, on_backend, write_transaction, DbConnection};
use crate::domain::{bounded_text, Fields, Sort, TextKind, Window};
use crate::error::{AppError, FieldError};

pub const SORTABLE: &[&str] = &["id", "title", "created_at", "updated_at"];

/// The writable fields of a post: the body of `POST` and `PUT`.
/// Read from JSON here rather than in a transport because a merge patch is read the same
/// way, against the current fields (`Change::resolve`); `rest` describes it in the
/// OpenAPI document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 20000 characters of HTML, cleaned to a safe allow-list (plain text is fine).
    pub body: String,
}

impl PostInput {
    fn validate(self) -> Result<(String, String), AppError> {
        let mut f = Fields::default();
        let title = f.take(bounded_text(
            "title",
            &self.title,
            1..=200,
            TextKind::SingleLine,
        ));
        let body = f.take(
            bounded_text("body", &self.body, 1..=20_000, TextKind::MultiLine)
                .and_then(|body| sanitize_html("body", &body)),
        );
        f.finish(|| Some((title?, body?)))
    }
}

/// Post bodies are HTML: kept to ammonia's allow-list of harmless formatting (no scripts,
/// styles, event handlers or `javascript:` links; links get `rel="noopener noreferrer"`).
/// Plain text passes through with `<` and `&` escaped. A body that is nothing but
/// disallowed markup is refused rather than stored empty.
fn sanitize_html(field: &str, raw: &str) -> Result<String, FieldError> {
    let clean = ammonia::clean(raw);
    if clean.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "has no content left once unsafe HTML is removed",
        ));
    }
    Ok(clean)
}

pub fn list(
    conn: &mut DbConnection,
    author_id: Option<i32>,
    window: Window,
    sort: &Sort,
) -> Result<Listing<Post>, AppError> {
    let base = || {
        let mut q = posts::table.into_boxed();
        if let Some(author) = author_id {
            q = q.filter(posts::author_id.eq(author));
        }
        q
    };
    let total = base().count().get_result::<i64>(conn)?;
    let items = apply_sort!(base(), sort, posts::id, {
        "id" => posts::id, "title" => posts::title,
        "created_at" => posts::created_at, "updated_at" => posts::updated_at,
    })
    .limit(window.limit)
    .offset(window.offset)
    .select(Post::as_select())
    .load(conn)?;
    Ok(Listing { items, total })
}

/// A user's posts; 404 when the user does not exist (an empty list would hide a typo).
pub fn list_by_user(
    conn: &mut DbConnection,
    user_id: i32,
    window: Window,
    sort: &Sort,
) -> Result<Listing<Post>, AppError> {
    users::get(conn, user_id)?;
    list(conn, Some(user_id), window, sort)
}

/// The posts of the given authors as `$row` rows, by author and then oldest first. A batch
/// of one uses `=`: diesel keeps that statement prepared, while an `IN` list is parsed again
/// on every call because its SQL depends on the batch size. Both run on the backend's own
/// connection: rows read through diesel's multi-backend connection cost a third more.
macro_rules! by_authors_as {
    ($conn:expr, $author_ids:expr, $row:ty) => {{
        let query = posts::table.order((posts::author_id.asc(), posts::id.asc()));
        Ok(match $author_ids {
            [one] => on_backend!($conn, |c| query
                .filter(posts::author_id.eq(*one))
                .select(<$row>::as_select())
                .load(c))?,
            many => on_backend!($conn, |c| query
                .filter(posts::author_id.eq_any(many))
                .select(<$row>::as_select())
                .load(c))?,
        })
    }};
}

/// Every post of the given authors, oldest first (for batch loading).
pub fn by_authors(conn: &mut DbConnection, author_ids: &[i32]) -> Result<Vec<Post>, AppError> {
    by_authors_as!(conn, author_ids, Post)
}

/// The same posts as [`by_authors`], only their id, author and title.
pub fn headlines_by_authors(
    conn: &mut DbConnection,
    author_ids: &[i32],
) -> Result<Vec<PostHeadline>, AppError> {
    by_authors_as!(conn, author_ids, PostHeadline)
}

pub fn get(conn: &mut DbConnection, id: i32) -> Result<Post, AppError> {
    on_backend!(conn, |c| posts::table
        .find(id)
        .select(Post::as_select())
        .first(c)
        .optional())?
    .ok_or_else(|| AppError::not_found("post", id))
}

pub fn create(conn: &mut DbConnection, actor: &Actor, input: PostInput) -> Result<Post, AppError> {
    let (title, body) = input.validate()?;
    let now = db::now();
    Ok(diesel::insert_into(posts::table)
        .values(NewPost {
            author_id: actor.user_id,
            title: &title,
            body: &body,
            created_at: now,
            updated_at: now,
        })
        .returning(posts::all_columns)
        .get_result::<Post>(conn)?)
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    change: Change<PostInput>,
    precondition: impl Precondition<Post>,
) -> Result<Post, AppError> {
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Posts, id)?;
        let current = get(conn, id)?;
        if current.author_id != actor.user_id {
            return Err(AppError::Forbidden(
                "only the author may edit a post".to_owned(),
            ));
        }
        let fields = serde_json::json!({ "title": current.title, "body": current.body });
        let (title, body) = change.resolve(fields)?.validate()?;
        // Last of the checks: a request that would fail anyway answers with that failure,
        // not 412 (RFC 9110 section 13.2.1).
        precondition(&current)?;
        Ok(diesel::update(posts::table.find(id))
            .set(PostChanges {
                title: &title,
                body: &body,
                updated_at: db::now(),
            })
            .returning(posts::all_columns)
            .get_result::<Post>(conn)?)
    })
}

pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    precondition: impl Precondition<Post>,
) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Posts, id)?;
        let current = get(conn, id)?;
        if current.author_id != actor.user_id && !actor.is_admin() {
            return Err(AppError::Forbidden(
                "only the author or an admin may delete a post".to_owned(),
            ));
        }
        precondition(&current)?;
        diesel::delete(posts::table.find(id)).execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_formatting_and_lose_anything_active() {
        let clean = sanitize_html("body", r#"<p onclick="x()">Hi <b>there</b><script>alert(1)</script> <a href="javascript:alert(1)">x</a></p>"#).unwrap();
        assert_eq!(
            clean,
            r#"<p>Hi <b>there</b> <a rel="noopener noreferrer">x</a></p>"#
        );
        assert_eq!(
            sanitize_html("body", "1 < 2 & 3").unwrap(),
            "1 &lt; 2 &amp; 3"
        );
        assert!(sanitize_html("body", "<script>alert(1)</script>").is_err());
    }
}
