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
