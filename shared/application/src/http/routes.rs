//! Routes: which function answers which method and path, and how a path matches a
//! route. The table itself is `endpoint::ROUTES`, one route per endpoint module; the
//! SAM template and the `cargo lambda watch` router must list the same routes (a
//! workspace test checks both against it).

/// One route of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern; `{name}` matches one path segment, a last `{name+}` (API
    /// Gateway's greedy parameter) one or more.
    pub path: &'static str,
    /// Crate (and binary) name of the function that answers it.
    pub function: &'static str,
}

impl Route {
    /// A route.
    pub const fn new(method: &'static str, path: &'static str, function: &'static str) -> Route {
        Route {
            method,
            path,
            function,
        }
    }

    /// API Gateway's route key, `GET /health` (`$default` for the catch-all).
    pub fn key(&self) -> String {
        if self.method == "*" {
            self.path.to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }

    /// The methods it answers: its own, and `HEAD` after a `GET`.
    pub fn methods(&self) -> Vec<&'static str> {
        match self.method {
            "GET" => vec!["GET", "HEAD"],
            other => vec![other],
        }
    }
}

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
                if a.ends_with("+}") {
                    // The rest of the path, with no empty segment (`a//b`, `a/`).
                    return q.all(|s| !s.is_empty());
                }
            }
            _ => return false,
        }
    }
}

/// Methods `routes` accept for `path`, in table order, with `HEAD` after `GET` (a
/// `GET` route answers `HEAD` too); empty when no route matches.
pub fn allowed_methods(routes: &[Route], path: &str) -> Vec<&'static str> {
    routes
        .iter()
        .filter(|r| matches(r.path, path))
        .flat_map(Route::methods)
        .collect()
}

/// The route path `path` means when it only differs by trailing slashes
/// (`/health/` → `/health`); `None` when it is already canonical or matches nothing.
pub fn canonical<'p>(routes: &[Route], path: &'p str) -> Option<&'p str> {
    let trimmed = path.trim_end_matches('/');
    (trimmed.len() < path.len()
        && !trimmed.is_empty()
        && routes.iter().any(|r| matches(r.path, trimmed)))
    .then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [Route; 3] = [
        Route::new("GET", "/health", "health"),
        Route::new("GET", "/api/models/{model_name+}", "get-model"),
        Route::new("POST", "/api/memory/inference", "memory-inference"),
    ];

    #[test]
    fn matches_static_and_parameter_segments() {
        assert!(matches("/health", "/health"));
        assert!(!matches("/health", "/health/"));
        assert_eq!(canonical(&TABLE, "/health/"), Some("/health"));
        assert_eq!(
            canonical(&TABLE, "/api/models/Qwen3-8B//"),
            Some("/api/models/Qwen3-8B")
        );
        assert_eq!(canonical(&TABLE, "/health"), None);
        assert_eq!(canonical(&TABLE, "/nothing/"), None);
        assert_eq!(canonical(&TABLE, "/"), None);
        assert!(matches("/api/models/{model_name}", "/api/models/Qwen3-8B"));
        assert!(!matches("/api/models/{model_name}", "/api/models/"));
        assert!(!matches("/api/models/{model_name}", "/api/models/a/b"));
        // A greedy parameter takes the rest of the path, one segment or more.
        let greedy = "/api/models/{model_name+}";
        assert!(matches(greedy, "/api/models/Qwen3-8B"));
        assert!(matches(greedy, "/api/models/meta-llama/Llama-3.1-70B"));
        assert!(!matches(greedy, "/api/models/"));
        assert!(!matches(greedy, "/api/models/a//b"));
        assert!(!matches(greedy, "/api/models/a/"));
        assert!(!matches("/api/models", "/api/model"));
    }

    #[test]
    fn allowed_methods_for_known_paths() {
        assert_eq!(
            allowed_methods(&TABLE, "/api/memory/inference"),
            vec!["POST"]
        );
        assert_eq!(
            allowed_methods(&TABLE, "/api/models/x"),
            vec!["GET", "HEAD"]
        );
        assert!(allowed_methods(&TABLE, "/nope").is_empty());
        assert_eq!(TABLE[0].key(), "GET /health");
        assert_eq!(Route::new("*", "$default", "not-found").key(), "$default");
    }
}
