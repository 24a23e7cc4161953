//! The repositories one function container has read, most recently used last: a
//! commit's files never change, a branch's are read again after [`BRANCH_TTL`]. Held
//! to [`CAPACITY`] repositories and [`BUDGET_BYTES`] (a config.json may be 1 MiB).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::repo_id::is_commit;
use crate::HubRepo;

/// Repositories kept per container (most are a few KiB: a config.json and counts).
pub const CAPACITY: usize = 64;

/// Bytes the kept repositories may hold together ([`HubRepo::size`]): well inside the
/// smallest function's 128 MB.
pub const BUDGET_BYTES: usize = 16 << 20;

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
        let size = value.size();
        if size > BUDGET_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| !(e.repo == repo && e.revision == revision));
        let held = |entries: &[Entry]| entries.iter().map(|e| e.value.size()).sum::<usize>();
        while !entries.is_empty()
            && (entries.len() >= CAPACITY || held(&entries) + size > BUDGET_BYTES)
        {
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
            config: b"{}".to_vec(),
            files: vec![],
            checkpoint: None,
            notes: vec![],
            cacheable: true,
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

    #[test]
    fn large_configs_are_held_to_the_byte_budget() {
        let cache = Cache::default();
        let t0 = Instant::now();
        let big = |id: &str| {
            let mut r = (*repo(id)).clone();
            r.config = vec![b' '; 1 << 20];
            Arc::new(r)
        };
        for i in 0..40 {
            cache.put(&format!("o/b{i}"), "main", big("x"), t0);
        }
        assert!(cache.len() <= BUDGET_BYTES / (1 << 20));
        assert!(cache.get("o/b39", "main", t0).is_some());
        assert!(cache.get("o/b0", "main", t0).is_none());
    }

    #[test]
    fn a_checkpoints_names_count_toward_its_size() {
        // A crafted header can give every tensor its own name ending.
        let mut summary = crate::safetensors::TensorSummary::default();
        for i in 0..10_000 {
            summary.values_by_suffix.insert(format!("suffix{i}"), 1);
        }
        let mut r = (*repo("o/n")).clone();
        let bare = r.size();
        r.checkpoint = Some(crate::Checkpoint {
            files: vec![],
            file_count: 1,
            headers: Some(summary),
            hub_count: None,
            index_total_size: None,
        });
        assert!(
            r.size() >= bare + 10_000 * "suffix0000".len(),
            "{}",
            r.size()
        );
    }
}
