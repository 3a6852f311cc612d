//! A typed HTTP request: what a provider receives, built once and sent as is.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value as Json};

/// HTTP methods the providers' APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A header value: text, or a credential the driver fills in when it sends the request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderValue {
    /// Sent as written.
    Text(String),
    /// A credential the driver knows how to obtain, shown as `prefix<name>`
    /// (`Bearer <access_token>`); sent as the prefix followed by the credential.
    Credential {
        /// Text sent before the credential (`Bearer `), possibly empty.
        prefix: String,
        /// What the credential is, as the driver names it.
        name: String,
    },
}

/// One HTTP request, exactly as a driver sends it (credentials aside).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// JSON body (`null`: none).
    pub body: Json,
}

impl HttpRequest {
    /// A request with a JSON body.
    pub fn json(method: Method, url: impl Into<String>, body: Json) -> HttpRequest {
        HttpRequest {
            method,
            url: url.into(),
            headers: vec![(
                "Content-Type".into(),
                HeaderValue::Text("application/json".into()),
            )],
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers
            .push((name.to_owned(), HeaderValue::Text(value.into())));
        self
    }

    /// Adds a header whose value is `prefix` followed by a credential the driver fills in.
    pub fn credential(mut self, name: &str, prefix: &str, credential: &str) -> HttpRequest {
        self.headers.push((
            name.to_owned(),
            HeaderValue::Credential {
                prefix: prefix.to_owned(),
                name: credential.to_owned(),
            },
        ));
        self
    }

    /// The header named `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl Serialize for HttpRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut headers = Map::new();
        for (k, v) in &self.headers {
            let text = match v {
                HeaderValue::Text(t) => t.clone(),
                HeaderValue::Credential { prefix, name } => format!("{prefix}<{name}>"),
            };
            headers.insert(k.clone(), Json::String(text));
        }
        json!({
            "method": self.method,
            "url": self.url,
            "headers": headers,
            "body": self.body,
        })
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for HttpRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            method: Method,
            url: String,
            #[serde(default)]
            headers: Map<String, Json>,
            #[serde(default)]
            body: Json,
        }
        let r = Raw::deserialize(d)?;
        let headers =
            r.headers
                .into_iter()
                .map(|(k, v)| {
                    let t = v.as_str().unwrap_or_default().to_owned();
                    let credential = t.strip_suffix('>').and_then(|x| x.split_once('<')).map(
                        |(prefix, name)| HeaderValue::Credential {
                            prefix: prefix.to_owned(),
                            name: name.to_owned(),
                        },
                    );
                    let value = credential.unwrap_or(HeaderValue::Text(t));
                    (k, value)
                })
                .collect();
        Ok(HttpRequest {
            method: r.method,
            url: r.url,
            headers,
            body: r.body,
        })
    }
}
