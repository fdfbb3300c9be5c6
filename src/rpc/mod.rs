//! The wire protocol: the request on stdin, its call decoded, and the response on stdout.

mod decode;
mod request;
mod response;

pub use decode::decode;
pub use request::Request;
// Parsed here, but what a call is: actions read it from `crate::call`.
pub use crate::call::ApiVersion;
pub use response::{Response, WireError};
