//! The repositories one function container has read, most recently used last: a
//! commit's files never change, a branch's are read again after [`BRANCH_TTL`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::repo_id::is_commit;
use crate::HubRepo;

/// Repositories kept per container (each a config.json and a few counts: a few KiB).
pub const CAPACITY: usize = 64;

/// How long a branch's or tag's answer is reused: a push to `main` shows within this.
pub const BRANCH_TTL: Duration = Duration::from_secs(600);

struct Entry {
    repo: String,
    revision: String,
    value: Arc<HubRepo>,
    read_at: Instant,
}

/// A least-recently-used map of (repository, revision) to what was read.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<Vec<Entry>>,
}

impl Cache {
    /// The entry for `repo` at `revision`, unless absent or stale.
    pub fn get(&self, repo: &str, revision: &str, now: Instant) -> Option<Arc<HubRepo>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let i = entries
            .iter()
            .position(|e| e.repo == repo && e.revision == revision)?;
        let fresh = is_commit(revision) || now.duration_since(entries[i].read_at) < BRANCH_TTL;
        let entry = entries.remove(i);
        if !fresh {
            return None;
        }
        let value = entry.value.clone();
        entries.push(entry);
        Some(value)
    }

    /// Keeps `value` as read at `now`, dropping the least recently used entry when full.
    pub fn put(&self, repo: &str, revision: &str, value: Arc<HubRepo>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| !(e.repo == repo && e.revision == revision));
        if entries.len() >= CAPACITY {
            entries.remove(0);
        }
        entries.push(Entry {
            repo: repo.to_owned(),
            revision: revision.to_owned(),
            value,
            read_at: now,
        });
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: &str) -> Arc<HubRepo> {
        Arc::new(HubRepo {
            id: id.to_owned(),
            revision: "main".into(),
            commit: None,
            config: serde_json::json!({}),
            files: vec![],
            checkpoint: None,
            notes: vec![],
        })
    }

    #[test]
    fn branches_expire_commits_do_not_and_the_oldest_goes_first() {
        let cache = Cache::default();
        let t0 = Instant::now();
        let commit = "a".repeat(40);
        cache.put("a/b", "main", repo("a/b"), t0);
        cache.put("a/b", &commit, repo("a/b"), t0);
        let later = t0 + BRANCH_TTL + Duration::from_secs(1);
        assert!(cache.get("a/b", "main", t0).is_some());
        assert!(cache.get("a/b", "main", later).is_none());
        assert!(cache.get("a/b", &commit, later).is_some());
        for i in 0..CAPACITY {
            cache.put(&format!("o/m{i}"), "main", repo("x"), t0);
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(
            cache.get("a/b", &commit, t0).is_none(),
            "least recently used"
        );
        assert!(cache
            .get(&format!("o/m{}", CAPACITY - 1), "main", t0)
            .is_some());
    }
}
