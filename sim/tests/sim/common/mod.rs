//! Shared helpers for the sim's integration tests: a started sim plus a reqwest client that
//! trusts only its CA.

use bosh_azure_sim::{SimConfig, SimHandle};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const RES: &str = "2021-04-01";
pub const COMPUTE: &str = "2024-07-01";
pub const DISK: &str = "2024-03-02";
pub const GALLERY: &str = "2024-03-03";
pub const NETWORK: &str = "2024-05-01";
pub const STORAGE: &str = "2023-05-01";

pub struct TestSim {
    pub handle: SimHandle,
    pub client: reqwest::Client,
    pub token: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub fn client_for(handle: &SimHandle) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(handle.ca_pem().as_bytes()).expect("CA PEM parses");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client builds")
}

impl TestSim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let handle = bosh_azure_sim::start(config).await.expect("sim starts");
        let client = client_for(&handle);
        let c = handle.config().clone();
        let token_url = format!("{}/{}/oauth2/v2.0/token", handle.base_url(), c.tenant_id);
        let resp: Value = client
            .post(token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token JSON");
        let token = resp["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        Self {
            handle,
            client,
            token,
        }
    }

    pub fn sub(&self) -> String {
        format!("/subscriptions/{}", self.handle.config().subscription_id)
    }

    pub fn rg(&self, name: &str) -> String {
        format!("{}/resourceGroups/{name}", self.sub())
    }

    pub async fn call(&self, method: Method, path_or_url: &str, body: Option<&Value>) -> Resp {
        let url = if path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.handle.base_url(), path_or_url)
        };
        let mut rb = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Resp {
        self.call(Method::POST, path, body).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Polls an `Azure-AsyncOperation` URL until the status is terminal; returns the last body.
    pub async fn wait_async(&self, resp: &Resp) -> Value {
        let url = resp
            .header("azure-asyncoperation")
            .expect("Azure-AsyncOperation header");
        for _ in 0..20 {
            let r = self.get(&url).await;
            assert_eq!(r.status, StatusCode::OK, "poll: {:?}", r.body);
            let s = r.body["status"].as_str().unwrap_or_default().to_string();
            if s != "InProgress" {
                return r.body;
            }
        }
        panic!("operation never finished");
    }

    /// Polls a `Location` URL until it stops answering 202; returns the final response.
    pub async fn wait_location(&self, resp: &Resp) -> Resp {
        let mut url = resp.header("location").expect("Location header");
        for _ in 0..20 {
            let r = self.get(&url).await;
            if r.status != StatusCode::ACCEPTED {
                return r;
            }
            url = r.header("location").unwrap_or(url);
        }
        panic!("operation never finished");
    }

    pub async fn group(&self, name: &str) {
        let r = self
            .put(
                &format!("{}?api-version={RES}", self.rg(name)),
                &serde_json::json!({"location": "eastus"}),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
}
