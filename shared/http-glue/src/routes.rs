//! The route table of the API: which function answers which method and path. The SAM
//! template and the `cargo lambda watch` router must list the same routes (a workspace
//! test checks both against this table).

/// One route of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern; `{name}` matches one path segment.
    pub path: &'static str,
    /// Crate (and binary) name of the function that answers it.
    pub function: &'static str,
}

const fn route(method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        method,
        path,
        function,
    }
}

/// `GET /health`
pub const HEALTH: Route = route("GET", "/health", "health");
/// `GET /api/models`
pub const LIST_MODELS: Route = route("GET", "/api/models", "list-models");
/// `GET /api/models/{model_name}`
pub const GET_MODEL: Route = route("GET", "/api/models/{model_name}", "get-model");
/// `POST /api/memory/inference`
pub const MEMORY_INFERENCE: Route = route("POST", "/api/memory/inference", "memory-inference");
/// `POST /api/memory/training`
pub const MEMORY_TRAINING: Route = route("POST", "/api/memory/training", "memory-training");
/// `POST /api/memory/compare`
pub const MEMORY_COMPARE: Route = route("POST", "/api/memory/compare", "memory-compare");
/// `GET /api/config/options`
pub const CONFIG_OPTIONS: Route = route("GET", "/api/config/options", "config-options");
/// `POST /api/plan`
pub const PLAN: Route = route("POST", "/api/plan", "plan");
/// `GET /api/gpus`
pub const LIST_GPUS: Route = route("GET", "/api/gpus", "list-gpus");
/// `GET /api/openapi.json`
pub const OPENAPI: Route = route("GET", "/api/openapi.json", "openapi");
/// The `$default` route: anything no other route matches.
pub const NOT_FOUND: Route = route("*", "$default", "not-found");

/// Every route except the `$default` catch-all answered by `not-found`.
pub const ROUTES: [Route; 10] = [
    HEALTH,
    LIST_MODELS,
    GET_MODEL,
    MEMORY_INFERENCE,
    MEMORY_TRAINING,
    MEMORY_COMPARE,
    CONFIG_OPTIONS,
    PLAN,
    LIST_GPUS,
    OPENAPI,
];

/// Whether `path` matches `pattern` segment by segment (exactly: `/health/` is not
/// `/health`, see [`canonical`]).
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut q = path.split('/');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = a.starts_with('{') && a.ends_with('}');
                if (param && b.is_empty()) || (!param && a != b) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Methods accepted for `path`, in table order, with `HEAD` after `GET` (a `GET` route
/// answers `HEAD` too); empty when no route matches.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| matches(r.path, path))
        .flat_map(|r| match r.method {
            "GET" => vec!["GET", "HEAD"],
            other => vec![other],
        })
        .collect()
}

/// The route path `path` means when it only differs by trailing slashes
/// (`/health/` → `/health`); `None` when it is already canonical or matches nothing.
pub fn canonical(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches('/');
    (trimmed.len() < path.len()
        && !trimmed.is_empty()
        && ROUTES.iter().any(|r| matches(r.path, trimmed)))
    .then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_static_and_parameter_segments() {
        assert!(matches("/health", "/health"));
        assert!(!matches("/health", "/health/"));
        assert_eq!(canonical("/health/"), Some("/health"));
        assert_eq!(
            canonical("/api/models/Qwen3-8B//"),
            Some("/api/models/Qwen3-8B")
        );
        assert_eq!(canonical("/health"), None);
        assert_eq!(canonical("/nothing/"), None);
        assert_eq!(canonical("/"), None);
        assert!(matches("/api/models/{model_name}", "/api/models/Qwen3-8B"));
        assert!(!matches("/api/models/{model_name}", "/api/models/"));
        assert!(!matches("/api/models/{model_name}", "/api/models/a/b"));
        assert!(!matches("/api/models", "/api/model"));
    }

    #[test]
    fn allowed_methods_for_known_paths() {
        assert_eq!(allowed_methods("/api/memory/inference"), vec!["POST"]);
        assert_eq!(allowed_methods("/api/models/x"), vec!["GET", "HEAD"]);
        assert!(allowed_methods("/nope").is_empty());
    }
}
