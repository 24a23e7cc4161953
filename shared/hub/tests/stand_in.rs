//! The Hub client against the stand-in Hub (`testkit::hub`): every fixture repository
//! and every failure, without the internet.

use std::time::Duration;

use hub::{Endpoint, Hub, HubError};
use testkit::hub::{
    values_stored, weights_in_headers, StandInHub, API_BUSY, API_NO_COUNT, API_OVERSIZED, AWQ,
    BIN_ONLY, COMMIT, DENSE, DISABLED, ELSEWHERE, FP8, GATED, GATED_ON_STORAGE_HOST, GATED_TOKEN,
    HUGE, MALFORMED, MANY_SHARDS, MISSING, MOE, NO_COMMIT, NO_CONFIG, ON_STORAGE_HOST, PR_REVISION,
    RENAMED_ON_STORAGE_HOST, SLOW,
};

fn hub_at(stand_in: &StandInHub) -> Hub {
    Hub::new(Endpoint::parse(stand_in.url()).unwrap(), None)
}

/// Weights in a summary: all values but scales and zero points, packed int32 as 8.
fn weights(summary: &hub::safetensors::TensorSummary) -> u64 {
    summary
        .values_by_suffix
        .iter()
        .map(|(suffix, n)| match suffix.as_str() {
            "qweight" => n * 8,
            "qzeros" | "scales" | "weight_scale_inv" => 0,
            _ => *n,
        })
        .sum()
}

#[tokio::test]
async fn checkpoints_are_read_from_their_headers() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    for (id, shards) in [(DENSE, 4), (MOE, 16), (AWQ, 9), (FP8, 16)] {
        let repo = hub.repo(id, "main").await.unwrap();
        assert_eq!(repo.commit.as_deref(), Some(COMMIT), "{id}");
        assert!(repo.notes.is_empty(), "{id}: {:?}", repo.notes);
        let checkpoint = repo.checkpoint.as_ref().unwrap();
        assert_eq!(checkpoint.files.len(), shards, "{id}");
        assert_eq!(repo.files.len(), 2 + shards, "{id}: config, index, shards");
        let headers = checkpoint.headers.as_ref().unwrap();
        assert_eq!(weights(headers), weights_in_headers(id), "{id}");
        assert_eq!(
            checkpoint.index_total_size,
            Some(headers.tensor_bytes),
            "{id}"
        );
    }
    // Qwen2-7B-Instruct: 7,615,616,512 parameters, all bf16.
    let dense = hub.repo(DENSE, "main").await.unwrap();
    let headers = dense.checkpoint.as_ref().unwrap().headers.clone().unwrap();
    assert_eq!(headers.values(), 7_615_616_512);
    assert_eq!(headers.values_by_dtype.keys().collect::<Vec<_>>(), ["BF16"]);
    let fp8 = hub.repo(FP8, "main").await.unwrap();
    let dtypes = &fp8
        .checkpoint
        .as_ref()
        .unwrap()
        .headers
        .as_ref()
        .unwrap()
        .values_by_dtype;
    assert!(
        dtypes.contains_key("F8_E4M3") && dtypes.contains_key("BF16") && dtypes.contains_key("F32")
    );
}

#[tokio::test]
async fn files_on_another_host_are_counted_by_the_hubs_api() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    let repo = hub.repo(ON_STORAGE_HOST, "main").await.unwrap();
    assert_eq!(repo.commit.as_deref(), Some(COMMIT));
    let checkpoint = repo.checkpoint.as_ref().unwrap();
    assert!(checkpoint.headers.is_none());
    let count = checkpoint.hub_count.as_ref().unwrap();
    assert_eq!(count.total, values_stored(ON_STORAGE_HOST));
    assert_eq!(count.total, 7_615_616_512, "Qwen2-7B-Instruct, all bf16");
    assert_eq!(count.values_by_dtype.keys().collect::<Vec<_>>(), ["BF16"]);
    assert!(
        repo.notes.len() == 1 && repo.notes[0].contains("storage.invalid"),
        "{:?}",
        repo.notes
    );
    assert_eq!(
        repo.files,
        [
            "config.json",
            "model.safetensors.index.json",
            "api/models (safetensors)"
        ]
    );
    assert_eq!(hub.cached(), 1, "an answer the Hub gave in full is kept");
}

#[tokio::test]
async fn the_hubs_count_is_read_at_the_revision_through_renames_and_with_the_token() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    let total = |repo: &hub::HubRepo| {
        repo.checkpoint
            .as_ref()?
            .hub_count
            .as_ref()
            .map(|c| c.total)
    };
    // No commit from the Hub: the model API is asked for the revision itself, escaped.
    let pr = hub.repo(NO_COMMIT, PR_REVISION).await.unwrap();
    assert_eq!(pr.commit, None);
    assert_eq!(total(&pr), Some(values_stored(NO_COMMIT)), "{:?}", pr.notes);
    // A renamed repository's model API redirects on the Hub's own host.
    let moved = hub.repo(RENAMED_ON_STORAGE_HOST, "main").await.unwrap();
    assert_eq!(total(&moved), Some(values_stored(ON_STORAGE_HOST)));
    // The token opens a gated repository's model API as it opens its files.
    let endpoint = Endpoint::parse(stand_in.url()).unwrap();
    let opened = Hub::new(endpoint, Some(GATED_TOKEN.into()));
    let gated = opened.repo(GATED_ON_STORAGE_HOST, "main").await.unwrap();
    assert_eq!(total(&gated), Some(values_stored(GATED_ON_STORAGE_HOST)));
}

#[tokio::test]
async fn a_model_api_that_does_not_count_leaves_a_note() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    for (id, says) in [
        (API_BUSY, "503"),
        (API_OVERSIZED, "64 KiB"),
        (API_NO_COUNT, "no safetensors count"),
    ] {
        let repo = hub.repo(id, "main").await.unwrap();
        let checkpoint = repo.checkpoint.as_ref().unwrap();
        assert!(checkpoint.headers.is_none() && checkpoint.hub_count.is_none());
        assert_eq!(repo.notes.len(), 2, "{id}: {:?}", repo.notes);
        assert!(repo.notes[1].contains(says), "{id}: {:?}", repo.notes);
    }
    // The busy Hub's answer is given but not kept; the other two are.
    assert_eq!(hub.cached(), 2);
}

#[tokio::test]
async fn more_shards_than_are_read_are_counted_by_the_hubs_api() {
    let stand_in = StandInHub::start().await;
    let repo = hub_at(&stand_in).repo(MANY_SHARDS, "main").await.unwrap();
    let checkpoint = repo.checkpoint.as_ref().unwrap();
    assert_eq!(checkpoint.file_count, hub::MAX_SHARDS + 1);
    assert!(checkpoint.files.is_empty() && checkpoint.headers.is_none());
    let count = checkpoint.hub_count.as_ref().unwrap();
    assert_eq!(count.total, values_stored(MANY_SHARDS));
    assert_eq!(count.total, weights_in_headers(MANY_SHARDS), "bf16 only");
    assert!(repo.notes[0].contains("more than 64"), "{:?}", repo.notes);
}

#[tokio::test]
async fn a_commit_is_read_like_its_branch_and_kept() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    let at_commit = hub.repo(DENSE, COMMIT).await.unwrap();
    assert_eq!(at_commit.commit.as_deref(), Some(COMMIT));
    assert_eq!(hub.cached(), 1);
    drop(stand_in);
    // The Hub is gone; the container still knows the commit.
    assert!(hub.repo(DENSE, COMMIT).await.is_ok());
    assert!(matches!(
        hub.repo(MOE, "main").await,
        Err(HubError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn weights_that_are_not_safetensors_leave_a_note() {
    let stand_in = StandInHub::start().await;
    let repo = hub_at(&stand_in).repo(BIN_ONLY, "main").await.unwrap();
    assert!(repo.checkpoint.is_none(), "{repo:?}");
    assert!(
        repo.notes[0].contains("no safetensors weights"),
        "{:?}",
        repo.notes
    );
}

#[tokio::test]
async fn every_failure_is_named() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in).with_timeout(Duration::from_secs(1));
    let err = |e: Result<_, HubError>| e.map(|_| ()).unwrap_err();
    assert_eq!(
        err(hub.repo(MISSING, "main").await),
        HubError::RepoNotFound {
            repo: MISSING.into()
        }
    );
    assert_eq!(
        err(hub.repo(GATED, "main").await),
        HubError::Denied {
            repo: GATED.into(),
            with_token: false
        }
    );
    assert_eq!(
        err(hub.repo(NO_CONFIG, "main").await),
        HubError::NoConfig {
            repo: NO_CONFIG.into()
        }
    );
    assert_eq!(
        err(hub.repo(DENSE, "v9").await),
        HubError::RevisionNotFound {
            repo: DENSE.into(),
            revision: "v9".into()
        }
    );
    assert!(matches!(
        err(hub.repo(HUGE, "main").await),
        HubError::TooLarge { limit, .. } if limit == hub::CONFIG_LIMIT
    ));
    assert!(matches!(
        err(hub.repo(MALFORMED, "main").await),
        HubError::Malformed { .. }
    ));
    assert_eq!(
        err(hub.repo(DISABLED, "main").await),
        HubError::Disabled {
            repo: DISABLED.into()
        }
    );
    assert_eq!(
        err(hub.repo(ELSEWHERE, "main").await),
        HubError::OffHost {
            file: "config.json".into(),
            host: "elsewhere.invalid".into()
        }
    );
    let started = std::time::Instant::now();
    assert!(matches!(
        err(hub.repo(SLOW, "main").await),
        HubError::Timeout { .. }
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Names the Hub would refuse never become a request.
    for bad in ["../../etc/passwd", "a/b/c", "gpt2", "x/y?z"] {
        assert_eq!(
            err(hub.repo(bad, "main").await),
            HubError::RepoNotFound { repo: bad.into() }
        );
    }
    assert!(matches!(
        err(hub.repo(DENSE, "../main").await),
        HubError::RevisionNotFound { .. }
    ));
    assert_eq!(hub.cached(), 0, "failures are not kept");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_connection_error() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let hub = Hub::new(Endpoint::parse(&url).unwrap(), None);
    assert!(matches!(
        hub.repo(DENSE, "main").await,
        Err(HubError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn a_token_opens_a_gated_repository() {
    let stand_in = StandInHub::start().await;
    let endpoint = Endpoint::parse(stand_in.url()).unwrap();
    let opened = Hub::new(endpoint.clone(), Some(testkit::hub::GATED_TOKEN.into()));
    let repo = opened.repo(GATED, "main").await.unwrap();
    assert_eq!(repo.checkpoint.as_ref().unwrap().files.len(), 4);
    // A token the Hub rejects is dropped: public repositories still read, a gated
    // one is refused as without a token.
    let wrong = Hub::new(endpoint, Some("hf_other".into()));
    assert!(wrong.repo(DENSE, "main").await.is_ok());
    assert_eq!(
        wrong.repo(GATED, "main").await.map(|_| ()).unwrap_err(),
        HubError::Denied {
            repo: GATED.into(),
            with_token: false
        }
    );
}

#[tokio::test]
async fn renamed_repositories_and_pull_requests_resolve() {
    let stand_in = StandInHub::start().await;
    let hub = hub_at(&stand_in);
    let moved = hub.repo(testkit::hub::RENAMED, "main").await.unwrap();
    assert_eq!(moved.checkpoint.as_ref().unwrap().files.len(), 4);
    let pr = hub.repo(DENSE, testkit::hub::PR_REVISION).await.unwrap();
    assert_eq!(pr.commit.as_deref(), Some(COMMIT));
}
