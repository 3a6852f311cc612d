// Copies the JSON Schemas fluxo ships (the repository's schemas/) into the extension, so the
// packaged extension validates and completes flows, integrations and tests offline.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const from = path.join(__dirname, "..", "..", "..", "schemas");
const to = path.join(__dirname, "..", "schemas");
fs.mkdirSync(to, { recursive: true });
for (const name of ["flow.schema.json", "integrations.schema.json", "test.schema.json"]) {
  fs.copyFileSync(path.join(from, name), path.join(to, name));
}
fs.copyFileSync(path.join(__dirname, "..", "..", "..", "LICENSE"), path.join(__dirname, "..", "LICENSE"));
