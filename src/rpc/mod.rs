//! The wire protocol: the request on stdin, its call decoded, and the response on stdout.

mod decode;
mod request;
mod response;

pub(crate) use decode::decode;
pub(crate) use request::Request;
// Parsed with the request, but part of what a call is: it lives in `crate::call`.
pub use response::{Response, WireError};
