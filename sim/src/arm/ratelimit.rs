//! ARM's token buckets per operation type, reported in `x-ms-ratelimit-remaining-*` headers and
//! enforced with 429 when empty (reads 250 refilled 25/s, writes and deletes 200 refilled 10/s).

use std::time::Instant;

struct Bucket {
    capacity: f64,
    refill_per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: f64, refill_per_sec: f64) -> Self {
        Self {
            capacity,
            refill_per_sec,
            tokens: capacity,
            at: Instant::now(),
        }
    }

    /// Takes one token; `Err(seconds to wait)` when empty.
    fn take(&mut self) -> Result<u64, u64> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens as u64)
        } else {
            Err(((1.0 - self.tokens) / self.refill_per_sec).ceil().max(1.0) as u64)
        }
    }
}

pub(crate) struct RateLimits {
    reads: Bucket,
    writes: Bucket,
    deletes: Bucket,
}

/// Outcome of charging one request: the header to send, or a throttle.
pub(crate) enum Charge {
    Ok {
        header: &'static str,
        remaining: u64,
    },
    Throttled {
        retry_after: u64,
    },
}

impl RateLimits {
    pub fn new() -> Self {
        Self {
            reads: Bucket::new(250.0, 25.0),
            writes: Bucket::new(200.0, 10.0),
            deletes: Bucket::new(200.0, 10.0),
        }
    }

    /// Takes a token for the request; with `enforce` off an empty bucket still lets it through.
    pub fn charge(&mut self, method: &hyper::Method, enforce: bool) -> Charge {
        let (bucket, header) = match *method {
            hyper::Method::GET | hyper::Method::HEAD => (
                &mut self.reads,
                "x-ms-ratelimit-remaining-subscription-reads",
            ),
            hyper::Method::DELETE => (
                &mut self.deletes,
                "x-ms-ratelimit-remaining-subscription-deletes",
            ),
            _ => (
                &mut self.writes,
                "x-ms-ratelimit-remaining-subscription-writes",
            ),
        };
        match bucket.take() {
            Ok(remaining) => Charge::Ok { header, remaining },
            Err(retry_after) if enforce => Charge::Throttled { retry_after },
            Err(_) => Charge::Ok {
                header,
                remaining: 0,
            },
        }
    }
}

/// One Compute throttling policy: its 3-minute and 30-minute allowances.
struct PolicyWindow {
    start_3min: Instant,
    used_3min: u32,
    start_30min: Instant,
    used_30min: u32,
}

/// Compute's per-policy counters behind `x-ms-ratelimit-remaining-resource`. Reported only:
/// the sim does not throttle on them (use a `throttle` fault for that).
#[derive(Default)]
pub(crate) struct ComputeLimits {
    windows: std::collections::HashMap<&'static str, PolicyWindow>,
}

/// (policy, 3-minute allowance, 30-minute allowance) for a Compute request. The gallery and
/// operation-status figures come from recorded traffic; the others are typical published values.
fn compute_policy(method: &hyper::Method, path: &str) -> Option<(&'static str, u32, u32)> {
    let p = path.to_ascii_lowercase();
    if !p.contains("/providers/microsoft.compute/") {
        return None;
    }
    let get = *method == hyper::Method::GET;
    let delete = *method == hyper::Method::DELETE;
    let write = matches!(*method, hyper::Method::PUT | hyper::Method::PATCH);
    type Policy = (&'static str, u32, u32);
    let by_verb = |w: Policy, d: Policy, g: Policy| {
        if write {
            w
        } else if delete {
            d
        } else {
            g
        }
    };
    let status_poll = ["/operations/", "/diskoperations/", "/capsoperations/"]
        .iter()
        .any(|s| p.contains(s));
    Some(if status_poll && get {
        ("GetOperationStatus", 1200, 4200)
    } else if p.contains("/galleries/") && p.contains("/versions/") {
        by_verb(
            ("CreateUpdateGalleryImageVersion", 375, 1200),
            ("DeleteGalleryImageVersion", 150, 750),
            ("GetGalleryImageVersion", 2000, 10000),
        )
    } else if p.contains("/galleries/") && p.contains("/images/") {
        by_verb(
            ("CreateUpdateGalleryImage", 150, 750),
            ("DeleteGalleryImage", 150, 750),
            ("GetGalleryImage", 2000, 10000),
        )
    } else if p.contains("/galleries/") {
        by_verb(
            ("CreateUpdateGallery", 150, 750),
            ("DeleteGallery", 150, 750),
            ("GetGallery", 2000, 10000),
        )
    } else if p.contains("/disks/") || p.contains("/snapshots/") {
        by_verb(
            ("CreateUpdateDisks", 1000, 8000),
            ("DeleteDisks", 1000, 8000),
            ("GetDisk", 15000, 120000),
        )
    } else if p.contains("/virtualmachines/") {
        by_verb(
            ("PutVM", 240, 1200),
            ("DeleteVM", 240, 1200),
            if get {
                ("LowCostGet", 4000, 32000)
            } else {
                ("VMPostOperations", 240, 1200)
            },
        )
    } else if get {
        ("LowCostGet", 4000, 32000)
    } else {
        return None;
    })
}

impl ComputeLimits {
    /// The `x-ms-ratelimit-remaining-resource` value for this request, if Compute sends one.
    pub fn charge(&mut self, method: &hyper::Method, path: &str) -> Option<String> {
        let (policy, cap3, cap30) = compute_policy(method, path)?;
        let now = Instant::now();
        let w = self.windows.entry(policy).or_insert(PolicyWindow {
            start_3min: now,
            used_3min: 0,
            start_30min: now,
            used_30min: 0,
        });
        if now.duration_since(w.start_3min).as_secs() >= 180 {
            w.start_3min = now;
            w.used_3min = 0;
        }
        if now.duration_since(w.start_30min).as_secs() >= 1800 {
            w.start_30min = now;
            w.used_30min = 0;
        }
        w.used_3min += 1;
        w.used_30min += 1;
        Some(format!(
            "Microsoft.Compute/{policy}3Min;{},Microsoft.Compute/{policy}30Min;{}",
            cap3.saturating_sub(w.used_3min),
            cap30.saturating_sub(w.used_30min)
        ))
    }
}
