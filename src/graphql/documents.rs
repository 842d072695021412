//! Parsed documents, kept by query text. async-graphql parses every request's query with a
//! pest grammar, which was 17 % of the server's CPU for the seed query
//! (`user(id) { name posts { title } }`, docs/PERFORMANCE.md change 10), while clients send
//! the same few texts over and over. A hit hands the executor a copy of the parsed tree.
//! Each entry also remembers whether the text passed every validation rule once (without
//! variables): such a text runs on the schema that only checks depth and complexity
//! ([`super::KnownValid`]).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// How many distinct query texts are kept; the least recently used goes first.
const ENTRIES: usize = 512;
/// Longer texts are parsed every time: they are rarely repeated, and the cap bounds the
/// cache's memory (at most `ENTRIES × QUERY_BYTES` of text and the trees parsed from it).
const QUERY_BYTES: usize = 8 * 1024;

/// A query text's parsed tree, and whether the text passed every validation rule.
pub struct Parsed {
    doc: ExecutableDocument,
    valid: AtomicBool,
}

impl Parsed {
    pub fn document(&self) -> &ExecutableDocument {
        &self.doc
    }

    /// Whether the text passed every rule once, so that with no variables it passes again.
    pub fn known_valid(&self) -> bool {
        self.valid.load(Ordering::Relaxed)
    }

    /// Records that the text, run without variables, passed every rule.
    pub fn passed_validation(&self) {
        self.valid.store(true, Ordering::Relaxed);
    }
}

pub struct Documents(Mutex<LruCache<String, Arc<Parsed>>>);

impl Default for Documents {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(
            NonZeroUsize::new(ENTRIES).expect("non-zero"),
        )))
    }
}

impl Documents {
    /// The parsed document of `query`, from the cache or parsed now (and then kept). `None`
    /// where the text does not parse: async-graphql then parses it again and reports the
    /// error the way it always does.
    pub fn get(&self, query: &str) -> Option<Arc<Parsed>> {
        if let Some(doc) = self.lock().get(query) {
            return Some(doc.clone());
        }
        let doc = Arc::new(Parsed {
            doc: async_graphql::parser::parse_query(query).ok()?,
            valid: AtomicBool::new(false),
        });
        if query.len() <= QUERY_BYTES {
            self.lock().put(query.to_owned(), doc.clone());
        }
        Some(doc)
    }

    /// Puts the parsed document on `request`, so that the executor does not parse it again;
    /// the cache's entry, to record its validation in.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Option<Arc<Parsed>> {
        let parsed = self.get(&request.query)?;
        request.set_parsed_query(parsed.doc.clone());
        Some(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Parsed>>> {
        // The cache holds no invariant a panic could break half-way: use it as it is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_text_is_parsed_once_and_a_bad_one_never_kept() {
        let docs = Documents::default();
        let first = docs.get("{ users { totalCount } }").expect("parses");
        let second = docs.get("{ users { totalCount } }").expect("parses");
        assert!(Arc::ptr_eq(&first, &second));
        // Validation is remembered on the shared entry.
        assert!(!second.known_valid());
        first.passed_validation();
        assert!(docs.get("{ users { totalCount } }").unwrap().known_valid());
        assert!(docs.get("{ users {").is_none());
        assert_eq!(docs.lock().len(), 1);
    }

    #[test]
    fn long_texts_are_not_kept() {
        let docs = Documents::default();
        let long = format!("{{ users {{ totalCount }} }}{}", " ".repeat(QUERY_BYTES));
        assert!(docs.get(&long).is_some());
        assert_eq!(docs.lock().len(), 0);
    }
}
