//! The order in which one room's messages reach this instance's members.
//!
//! Messages arrive from three places: this instance's own sends (stored by the chat
//! server), other instances (through the Redis bridge), and the database (a resume, or a
//! gap being filled). They can arrive out of order (another instance's message 7 can come
//! over Redis after this instance stored 8) or twice (a gap filled from the database, then
//! the same message from Redis). A [`Sequencer`] turns that into one stream that goes up by
//! exactly one each time: it holds back what comes early, drops what it has already
//! delivered, and says which range is missing so the chat server can read it from the
//! database. Deleted messages leave holes that the database cannot fill: the chat server
//! then skips past them ([`Sequencer::skip_to`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::services::chat::ChatMessage;

/// Recently delivered messages kept for joins that read the database just before they were
/// delivered (see [`Sequencer::delivered_after`]).
const RECENT: usize = 1024;

#[derive(Default)]
pub struct Sequencer {
    /// The seq of the newest message delivered; `None` until the first join tells where the
    /// room stood.
    delivered: Option<i64>,
    /// Arrived early, waiting for the messages before them.
    pending: BTreeMap<i64, Arc<ChatMessage>>,
    recent: VecDeque<Arc<ChatMessage>>,
}

impl Sequencer {
    pub fn delivered(&self) -> Option<i64> {
        self.delivered
    }

    /// Sets where the room stands (the first join's `last_seq`), unless known already;
    /// returns what is deliverable now.
    pub fn start(&mut self, last_seq: i64) -> Vec<Arc<ChatMessage>> {
        if self.delivered.is_none() {
            self.delivered = Some(last_seq);
            self.pending = self.pending.split_off(&(last_seq + 1));
        }
        self.drain()
    }

    /// Takes messages in any order; returns those now deliverable, in seq order, each once.
    pub fn offer(
        &mut self,
        messages: impl IntoIterator<Item = Arc<ChatMessage>>,
    ) -> Vec<Arc<ChatMessage>> {
        let floor = self.delivered.unwrap_or(i64::MIN);
        for message in messages {
            if message.seq > floor {
                self.pending.entry(message.seq).or_insert(message);
            }
        }
        self.drain()
    }

    /// Treats every seq up to `upto` as delivered (the database had nothing more for
    /// them: deleted messages); returns what that releases.
    pub fn skip_to(&mut self, upto: i64) -> Vec<Arc<ChatMessage>> {
        if let Some(delivered) = self.delivered.as_mut() {
            if *delivered < upto {
                *delivered = upto;
                self.pending = self.pending.split_off(&(upto + 1));
            }
        }
        self.drain()
    }

    /// The seqs missing before the earliest held-back message, if any.
    pub fn gap(&self) -> Option<(i64, i64)> {
        let delivered = self.delivered?;
        let (&first, _) = self.pending.first_key_value()?;
        (first > delivered + 1).then_some((delivered + 1, first - 1))
    }

    /// The delivered messages after `seq`, oldest first, or `None` if they are no longer
    /// all held (never the case for a join that read the database moments ago).
    pub fn delivered_after(&self, seq: i64) -> Option<Vec<Arc<ChatMessage>>> {
        let delivered = self.delivered?;
        if delivered <= seq {
            return Some(Vec::new());
        }
        let tail: Vec<Arc<ChatMessage>> = self
            .recent
            .iter()
            .filter(|m| m.seq > seq)
            .cloned()
            .collect();
        let reaches_back = self.recent.front().is_some_and(|m| m.seq <= seq + 1);
        reaches_back.then_some(tail)
    }

    /// A moderator deleted this message.
    pub fn forget(&mut self, id: i32) {
        self.recent.retain(|m| m.id != id);
        self.pending.retain(|_, m| m.id != id);
    }

    fn drain(&mut self) -> Vec<Arc<ChatMessage>> {
        let Some(mut delivered) = self.delivered else {
            return Vec::new();
        };
        let mut ready = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != delivered + 1 {
                break;
            }
            delivered += 1;
            let message = entry.remove();
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(message.clone());
            ready.push(message);
        }
        self.delivered = Some(delivered);
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::events::UserRef;

    fn msg(seq: i64) -> Arc<ChatMessage> {
        Arc::new(ChatMessage {
            id: seq as i32 + 100,
            seq,
            room: "r".to_owned(),
            user: UserRef {
                id: 1,
                name: "a".to_owned(),
            },
            body: format!("m{seq}"),
            sent_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        })
    }

    fn seqs(messages: &[Arc<ChatMessage>]) -> Vec<i64> {
        messages.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn delivers_in_order_once_holding_back_what_comes_early() {
        let mut s = Sequencer::default();
        assert!(
            s.offer([msg(4)]).is_empty(),
            "nothing before the first join"
        );
        assert_eq!(seqs(&s.start(3)), vec![4]);
        assert!(s.offer([msg(6), msg(7)]).is_empty());
        assert_eq!(s.gap(), Some((5, 5)));
        assert_eq!(seqs(&s.offer([msg(5), msg(4), msg(6)])), vec![5, 6, 7]);
        assert!(
            s.offer([msg(7), msg(2)]).is_empty(),
            "duplicates are dropped"
        );
        assert_eq!(s.gap(), None);
        assert_eq!(s.delivered(), Some(7));
    }

    #[test]
    fn skipping_past_deleted_messages_releases_what_waited() {
        let mut s = Sequencer::default();
        s.start(0);
        s.offer([msg(1)]);
        assert!(s.offer([msg(4)]).is_empty());
        assert_eq!(s.gap(), Some((2, 3)));
        assert_eq!(seqs(&s.offer([msg(2)])), vec![2]);
        assert_eq!(seqs(&s.skip_to(3)), vec![4]);
        assert_eq!(s.delivered(), Some(4));
    }

    #[test]
    fn recent_messages_complete_a_join_that_read_the_database_early() {
        let mut s = Sequencer::default();
        s.start(10);
        s.offer([msg(11), msg(12), msg(13)]);
        assert_eq!(seqs(&s.delivered_after(11).unwrap()), vec![12, 13]);
        assert_eq!(s.delivered_after(13).unwrap().len(), 0);
        assert!(
            s.delivered_after(5).is_none(),
            "seq 6 to 10 were never held here"
        );
        s.forget(112);
        assert_eq!(seqs(&s.delivered_after(10).unwrap()), vec![11, 13]);
        assert!(
            s.start(0).is_empty(),
            "a later start does not move the room back"
        );
        assert_eq!(s.delivered(), Some(13));
    }
}
