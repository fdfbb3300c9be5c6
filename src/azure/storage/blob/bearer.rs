//! The bearer-token policy of Entra ID blob requests, in place of the SDK's: it asks the CPI's
//! credential for every try (its cache is ours, so a token storage refused can be dropped from
//! it), and when storage answers 401 to a token (expired early, revoked) it drops that token,
//! so the retry loop's one repeat of the request ([`crate::azure::sdk_retry`]) carries a fresh
//! one, as ARM's 401 handling does.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::headers::AUTHORIZATION;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request, StatusCode};

use crate::azure::auth::AudienceCredential;

#[derive(Debug, Clone)]
pub(super) struct StorageBearerPolicy {
    credential: AudienceCredential,
}

impl StorageBearerPolicy {
    pub(super) fn new(credential: AudienceCredential) -> Self {
        Self { credential }
    }
}

#[async_trait]
impl Policy for StorageBearerPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        // A bearer token never travels in clear.
        if request.url().scheme() != "https" {
            return Err(azure_core::Error::with_message(
                ErrorKind::Other,
                "Microsoft Entra ID tokens are sent over https only",
            ));
        }
        let token = self.credential.bearer().await.map_err(|e| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                format!("no token for blob storage: {e}"),
            )
        })?;
        request.insert_header(AUTHORIZATION, format!("Bearer {}", token.secret()));
        let response = next[0].send(ctx, request, &next[1..]).await?;
        if response.status() == StatusCode::Unauthorized {
            self.credential.reject(&token).await;
        }
        Ok(response)
    }
}
