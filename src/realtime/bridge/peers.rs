//! What this instance knows of the others: who is present in which room, and who has a chat
//! connection open, per instance. The chat server keeps it. Envelopes from peers update it
//! at once; the snapshot read from Redis every heartbeat corrects it (a lost envelope, a
//! crashed peer), without undoing anything an envelope said after the snapshot was taken.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actix::Message;

use super::{InstanceId, Payload};
use crate::domain::RoomName;
use crate::services::events::UserRef;

/// An envelope from another instance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromPeer {
    pub origin: InstanceId,
    pub payload: Payload,
}

/// The other live instances' presence and online users, as Redis held them at `taken_at`.
#[derive(Message, Debug, Default)]
#[rtype(result = "()")]
pub struct PeerSnapshot {
    pub taken_at: Option<Instant>,
    pub presence: Vec<(InstanceId, String, UserRef)>,
    pub online: Vec<(InstanceId, i32)>,
}

/// How an instance's presence is stored in its Redis set: `[room, user id, user name]`.
pub fn presence_member(room: &str, user: &UserRef) -> String {
    serde_json::to_string(&(room, user.id, &user.name)).expect("tuples serialize")
}

pub fn parse_presence_member(member: &str) -> Option<(String, UserRef)> {
    let (room, id, name): (String, i32, String) = serde_json::from_str(member).ok()?;
    Some((room, UserRef { id, name }))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Fact {
    Presence(RoomName, i32, InstanceId),
    Online(i32, InstanceId),
}

/// A user's presence on other instances of a room began (`true`) or ended.
pub type Flip = (RoomName, UserRef, bool);

#[derive(Default)]
pub struct Peers {
    presence: HashMap<RoomName, HashMap<i32, (UserRef, HashSet<InstanceId>)>>,
    online: HashMap<i32, HashSet<InstanceId>>,
    /// When an envelope last set each fact, so an older snapshot does not undo it.
    touched: HashMap<Fact, Instant>,
}

impl Peers {
    pub fn is_present(&self, room: &RoomName, user_id: i32) -> bool {
        self.presence
            .get(room)
            .is_some_and(|users| users.contains_key(&user_id))
    }

    /// Users present in `room` on other instances.
    pub fn present(&self, room: &RoomName) -> impl Iterator<Item = &UserRef> {
        self.presence
            .get(room)
            .into_iter()
            .flat_map(|users| users.values().map(|(user, _)| user))
    }

    pub fn is_online(&self, user_id: i32) -> bool {
        self.online.contains_key(&user_id)
    }

    /// Records one instance's presence fact; returns the flip it causes, if any.
    fn put_presence(
        &mut self,
        room: &RoomName,
        user: &UserRef,
        instance: &InstanceId,
        present: bool,
    ) -> Option<Flip> {
        if present {
            let users = self.presence.entry(room.clone()).or_default();
            let (_, instances) = users
                .entry(user.id)
                .or_insert_with(|| (user.clone(), HashSet::new()));
            let first = instances.is_empty();
            instances.insert(instance.clone());
            first.then(|| (room.clone(), user.clone(), true))
        } else {
            let users = self.presence.get_mut(room)?;
            let (_, instances) = users.get_mut(&user.id)?;
            if !instances.remove(instance) || !instances.is_empty() {
                return None;
            }
            let (user, _) = users.remove(&user.id)?;
            if users.is_empty() {
                self.presence.remove(room);
            }
            Some((room.clone(), user, false))
        }
    }

    fn put_online(&mut self, user_id: i32, instance: &InstanceId, online: bool) {
        if online {
            self.online
                .entry(user_id)
                .or_default()
                .insert(instance.clone());
        } else if let Some(instances) = self.online.get_mut(&user_id) {
            instances.remove(instance);
            if instances.is_empty() {
                self.online.remove(&user_id);
            }
        }
    }

    /// A presence envelope from `instance`.
    pub fn presence_changed(
        &mut self,
        room: &RoomName,
        user: &UserRef,
        instance: &InstanceId,
        present: bool,
    ) -> Option<Flip> {
        let fact = Fact::Presence(room.clone(), user.id, instance.clone());
        self.touched.insert(fact, Instant::now());
        self.put_presence(room, user, instance, present)
    }

    /// An online envelope from `instance`.
    pub fn online_changed(&mut self, user_id: i32, instance: &InstanceId, online: bool) {
        self.touched
            .insert(Fact::Online(user_id, instance.clone()), Instant::now());
        self.put_online(user_id, instance, online);
    }

    /// `instance` said goodbye: everything it held ends now.
    pub fn forget(&mut self, instance: &InstanceId) -> Vec<Flip> {
        let held: Vec<(RoomName, UserRef)> = self
            .presence
            .iter()
            .flat_map(|(room, users)| {
                users
                    .values()
                    .filter(|(_, instances)| instances.contains(instance))
                    .map(move |(user, _)| (room.clone(), user.clone()))
            })
            .collect();
        let now = Instant::now();
        let mut flips = Vec::new();
        for (room, user) in held {
            self.touched
                .insert(Fact::Presence(room.clone(), user.id, instance.clone()), now);
            flips.extend(self.put_presence(&room, &user, instance, false));
        }
        let online: Vec<i32> = self
            .online
            .iter()
            .filter(|(_, instances)| instances.contains(instance))
            .map(|(&user_id, _)| user_id)
            .collect();
        for user_id in online {
            self.online_changed(user_id, instance, false);
        }
        flips
    }

    /// Makes this view equal to the snapshot, except for facts an envelope set after it
    /// was taken.
    pub fn apply(&mut self, snapshot: PeerSnapshot) -> Vec<Flip> {
        let taken_at = snapshot.taken_at.unwrap_or_else(Instant::now);
        let newer = |touched: &HashMap<Fact, Instant>, fact: &Fact| {
            touched.get(fact).is_some_and(|&at| at > taken_at)
        };
        let mut flips = Vec::new();

        let mut wanted: HashMap<Fact, UserRef> = HashMap::new();
        for (instance, room, user) in snapshot.presence {
            if let Ok(room) = RoomName::parse("room", &room) {
                wanted.insert(Fact::Presence(room, user.id, instance), user);
            }
        }
        let mut current = Vec::new();
        for (room, users) in &self.presence {
            for (user, instances) in users.values() {
                for instance in instances {
                    current.push((
                        Fact::Presence(room.clone(), user.id, instance.clone()),
                        user.clone(),
                    ));
                }
            }
        }
        for (fact, user) in current {
            if !wanted.contains_key(&fact) && !newer(&self.touched, &fact) {
                if let Fact::Presence(room, _, instance) = &fact {
                    flips.extend(self.put_presence(room, &user, instance, false));
                }
            }
        }
        for (fact, user) in wanted {
            if !newer(&self.touched, &fact) {
                if let Fact::Presence(room, _, instance) = &fact {
                    flips.extend(self.put_presence(room, &user, instance, true));
                }
            }
        }

        let wanted: HashSet<Fact> = snapshot
            .online
            .into_iter()
            .map(|(instance, user_id)| Fact::Online(user_id, instance))
            .collect();
        let current: Vec<Fact> = self
            .online
            .iter()
            .flat_map(|(&user_id, instances)| {
                instances
                    .iter()
                    .map(move |instance| Fact::Online(user_id, instance.clone()))
            })
            .collect();
        for fact in current {
            if !wanted.contains(&fact) && !newer(&self.touched, &fact) {
                if let Fact::Online(user_id, instance) = &fact {
                    self.put_online(*user_id, instance, false);
                }
            }
        }
        for fact in wanted {
            if !newer(&self.touched, &fact) {
                if let Fact::Online(user_id, instance) = &fact {
                    self.put_online(*user_id, instance, true);
                }
            }
        }

        // Envelopes older than any snapshot still to come no longer matter.
        let horizon = taken_at.checked_sub(Duration::from_secs(60));
        self.touched
            .retain(|_, at| horizon.is_none_or(|horizon| *at > horizon));
        flips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32) -> UserRef {
        UserRef {
            id,
            name: format!("u{id}"),
        }
    }

    fn room() -> RoomName {
        RoomName::parse("room", "lobby").unwrap()
    }

    #[test]
    fn a_user_on_two_instances_is_one_member_until_both_leave() {
        let (a, b): (InstanceId, InstanceId) = ("a".into(), "b".into());
        let mut peers = Peers::default();
        assert!(peers
            .presence_changed(&room(), &user(1), &a, true)
            .is_some());
        assert!(peers
            .presence_changed(&room(), &user(1), &b, true)
            .is_none());
        assert_eq!(peers.present(&room()).count(), 1);
        assert!(peers
            .presence_changed(&room(), &user(1), &a, false)
            .is_none());
        let flip = peers.presence_changed(&room(), &user(1), &b, false);
        assert_eq!(flip, Some((room(), user(1), false)));
        assert!(!peers.is_present(&room(), 1));
    }

    #[test]
    fn snapshots_add_and_expire_but_never_undo_newer_envelopes() {
        let (a, b): (InstanceId, InstanceId) = ("a".into(), "b".into());
        let mut peers = Peers::default();
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        peers.presence_changed(&room(), &user(2), &b, true);
        let flips = peers.apply(PeerSnapshot {
            taken_at: Some(before),
            presence: vec![(a.clone(), "lobby".into(), user(1))],
            online: vec![(a.clone(), 1)],
        });
        assert_eq!(flips, vec![(room(), user(1), true)]);
        assert!(peers.is_present(&room(), 2), "newer envelope kept");
        assert!(peers.is_online(1));
        // A later snapshot without instance a (it crashed): its user is gone.
        let flips = peers.apply(PeerSnapshot {
            taken_at: Some(Instant::now()),
            presence: vec![(b.clone(), "lobby".into(), user(2))],
            online: Vec::new(),
        });
        assert_eq!(flips, vec![(room(), user(1), false)]);
        assert!(!peers.is_online(1));
    }

    #[test]
    fn goodbye_ends_everything_the_instance_held() {
        let a: InstanceId = "a".into();
        let mut peers = Peers::default();
        peers.presence_changed(&room(), &user(1), &a, true);
        peers.online_changed(1, &a, true);
        assert_eq!(peers.forget(&a), vec![(room(), user(1), false)]);
        assert!(!peers.is_online(1));
    }

    #[test]
    fn presence_members_round_trip_with_any_name() {
        let user = UserRef {
            id: 7,
            name: "Zoë \"the\" [admin]".into(),
        };
        let member = presence_member("lobby", &user);
        assert_eq!(parse_presence_member(&member), Some(("lobby".into(), user)));
        assert_eq!(parse_presence_member("garbage"), None);
    }
}
