//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fluxo::lint::{lint_bytes, FileReport, LintOptions};
use std::path::{Path, PathBuf};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project, when present. Tests that need it print a visible skip
/// message and return early when it is absent (a user's clone has no `../shared`).
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    if p.join("corpus/watson").is_dir() {
        Some(p)
    } else {
        // Written to stderr directly: libtest captures `eprintln!` of passing tests, and this
        // message must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: ../shared is not beside the project; this test needs ../shared/corpus/watson"
        );
        None
    }
}

/// Lints a fixture, with the `integrations.json` of its directory when there is one.
pub fn lint_fixture(path: &Path) -> FileReport {
    let mut opts = LintOptions::default();
    let integ = path.with_file_name("integrations.json");
    if integ.exists() && integ != path {
        let text = std::fs::read_to_string(&integ).expect("integrations fixture");
        opts.integrations = Some(serde_json::from_str(&text).expect("valid integrations fixture"));
    }
    let bytes = std::fs::read(path).expect("fixture");
    let rel = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    lint_bytes(&rel, &bytes, &opts)
}

/// A scratch directory of the test, removed when it goes out of scope.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new, empty directory named after `tag` (and the process, so parallel runs differ).
    pub fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fluxo-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `contents` to `name` inside the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&p, contents).expect("write");
        p
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A vendor's OpenAPI document (JSON or YAML) from `../shared/vendor-specs/`, or `None` (after
/// a visible `SKIPPED`) when the shared directory is absent.
#[allow(dead_code)]
pub fn vendor_spec(relative: &str) -> Option<serde_json::Value> {
    let Some(shared) = shared() else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: vendor contract {relative}: ../shared is absent"
        );
        return None;
    };
    let text = std::fs::read_to_string(shared.join("vendor-specs").join(relative)).ok()?;
    if relative.ends_with(".json") {
        serde_json::from_str(&text).ok()
    } else {
        serde_saphyr::from_str(&text).ok()
    }
}

/// A JSON Schema validator for an OpenAPI 3.0 schema (`{"$ref": "#/components/schemas/X"}` or
/// inline): the document's component schemas become `definitions`, and OpenAPI-only keywords
/// are left for the validator to ignore.
#[allow(dead_code)]
pub fn openapi_validator(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
) -> jsonschema::Validator {
    fn rewrite(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                // OpenAPI's `discriminator` picks one branch of a `oneOf` by a property's value;
                // plain JSON Schema would try every branch (and loose ones overlap).
                let mapping = m.get("discriminator").and_then(|d| {
                    Some((
                        d.get("propertyName")?.as_str()?.to_owned(),
                        d.get("mapping")?.as_object()?.clone(),
                    ))
                });
                if let (Some((prop, mapping)), true) = (mapping, m.contains_key("oneOf")) {
                    m.remove("oneOf");
                    m.remove("discriminator");
                    let branches: Vec<serde_json::Value> = mapping
                        .iter()
                        .map(|(value, target)| {
                            serde_json::json!({
                                "if": { "properties": { prop.clone(): { "const": value } }, "required": [prop.clone()] },
                                "then": { "$ref": target }
                            })
                        })
                        .collect();
                    let values: Vec<&String> = mapping.keys().collect();
                    m.insert("allOf".into(), serde_json::Value::Array(branches));
                    m.insert("required".into(), serde_json::json!([prop.clone()]));
                    m.insert(
                        "properties".into(),
                        serde_json::json!({ prop.clone(): { "enum": values } }),
                    );
                }
                if let Some(serde_json::Value::String(r)) = m.get_mut("$ref") {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        *r = format!("#/definitions/{name}");
                    }
                }
                for x in m.values_mut() {
                    rewrite(x);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(rewrite),
            _ => {}
        }
    }
    /// The component names `v` refers to.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(name) = m
                    .get("$ref")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|r| r.strip_prefix("#/definitions/"))
                {
                    out.push(name.to_owned());
                }
                m.values().for_each(|x| refs(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or_default();
    rewrite(&mut all);
    let mut root = schema.clone();
    rewrite(&mut root);
    // Only the components the schema reaches: a large document (Webex's) holds patterns in
    // unrelated schemas that the validator's regex engine does not compile.
    let mut defs = serde_json::Map::new();
    let mut todo = Vec::new();
    refs(&root, &mut todo);
    while let Some(name) = todo.pop() {
        if defs.contains_key(&name) {
            continue;
        }
        if let Some(d) = all.get(&name) {
            refs(d, &mut todo);
            defs.insert(name, d.clone());
        }
    }
    let defs = serde_json::Value::Object(defs);
    if let serde_json::Value::Object(m) = &mut root {
        m.insert("definitions".into(), defs);
    }
    jsonschema::draft7::new(&root).expect("the vendor schema compiles")
}

/// The request body schema of `method` on `path` of an OpenAPI document.
#[allow(dead_code)]
pub fn request_schema<'a>(
    doc: &'a serde_json::Value,
    path: &str,
    method: &str,
) -> Option<&'a serde_json::Value> {
    doc.get("paths")?
        .get(path)?
        .get(method)?
        .pointer("/requestBody/content/application~1json/schema")
}

/// A validator for a JSON Schema file of `../shared/vendor-specs/` whose relative `$ref`s name
/// other files beside it (LivePerson's schemas), or `None` (after a visible `SKIPPED`).
#[allow(dead_code)]
pub fn vendor_file_validator(relative: &str) -> Option<jsonschema::Validator> {
    struct Files;
    impl jsonschema::Retrieve for Files {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
            let text = std::fs::read_to_string(uri.path().as_str())?;
            let mut v: serde_json::Value = serde_json::from_str(&text)?;
            draft3_any(&mut v);
            Ok(v)
        }
    }
    /// A few of LivePerson's files still say `"type": "any"` (draft 3), which later drafts
    /// spell by leaving `type` out; one says `"type": "Long"` (a Java type) for a timestamp,
    /// which JSON Schema spells `integer`.
    fn draft3_any(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                match m.get("type").and_then(serde_json::Value::as_str) {
                    Some("any") => {
                        m.remove("type");
                    }
                    Some("Long") => {
                        m.insert("type".into(), "integer".into());
                    }
                    _ => {}
                }
                m.values_mut().for_each(draft3_any);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(draft3_any),
            _ => {}
        }
    }
    let Some(shared) = shared() else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: vendor contract {relative}: ../shared is absent"
        );
        return None;
    };
    let path = shared
        .join("vendor-specs")
        .join(relative)
        .canonicalize()
        .ok()?;
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    draft3_any(&mut schema);
    Some(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .with_base_uri(format!("file://{}", path.display()))
            .with_retriever(Files)
            .build(&schema)
            .expect("the vendor schema compiles"),
    )
}

/// Where a `fluxo serve` child says it listens: the `host:port` of the first line of its
/// standard error with ` on http://`. The rest of the stream is read on a thread to its end,
/// so the child never blocks on a full pipe. Panics, naming `what`, after 60 s without it.
pub fn listen_address(stderr: std::process::ChildStderr, what: &str) -> String {
    use std::io::{BufRead, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" on http://").nth(1) {
                let _ = tx.send(rest.split(' ').next().unwrap_or("").to_owned());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} says where it listens"))
}
