// Validates custom resources with the @kubernetes-models model classes (ajv validators
// generated from the upstream CRDs / Go types). One long-lived process per test session:
// requests are JSON lines on stdin, {"id": n, "docs": [doc, ...]}; each answer is one JSON
// line on stdout, {"id": n, "results": [[error, ...], ...]} (one error list per doc, same
// order). stdout carries nothing else; diagnostics go to stderr.
//
// apiVersion/kind map to a module by convention: @kubernetes-models/<pkg>/<group>/<version>/<Kind>,
// where <pkg> is whichever installed @kubernetes-models package has a <group> directory.
import { existsSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const scope = path.join(here, "..", "..", "..", "node_modules", "@kubernetes-models"); // tests/support/validators -> repository root
const packages = existsSync(scope) ? readdirSync(scope) : [];
const models = new Map(); // "group/version/Kind" -> model class, or null if there is none

async function modelFor(apiVersion, kind) {
  const [group, version] = String(apiVersion).includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const key = `${group}/${version}/${kind}`;
  if (!models.has(key)) {
    let model = null;
    // Only names that can be module paths: a doc must not make us import anything else.
    const safe = /^[a-z0-9.-]+$/.test(group) && /^v[0-9a-z]+$/.test(version) && /^[A-Za-z0-9]+$/.test(kind);
    for (const pkg of safe ? packages : []) {
      if (!existsSync(path.join(scope, pkg, group, version, `${kind}.js`))) continue;
      const mod = await import(`@kubernetes-models/${pkg}/${group}/${version}/${kind}`);
      if (typeof mod[kind] === "function") { model = mod[kind]; break; }
    }
    models.set(key, model);
  }
  return models.get(key);
}

function describe(err) {
  // ajv errors carry the instance path and the keyword's parameters (allowed values, the
  // unexpected property...): keep them, they are what makes the message actionable.
  if (!Array.isArray(err.errors)) return [String(err.message || err)];
  return err.errors.map((e) => {
    // JSON pointer /spec/servers/0/tls -> spec.servers[0].tls, the path style of the Python side.
    const where = (e.instancePath || "").split("/").slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "") || "<root>";
    const params = e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : "";
    return `${where}: ${e.message}${params}`;
  });
}

async function validate(doc) {
  const model = await modelFor(doc.apiVersion, doc.kind);
  if (!model) return [`no validator for ${doc.apiVersion} ${doc.kind}`];
  try {
    new model(doc).validate();
    return [];
  } catch (err) {
    return describe(err);
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    const results = [];
    for (const doc of req.docs) results.push(await validate(doc));
    process.stdout.write(JSON.stringify({ id, results }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, error: String((err && err.stack) || err) }) + "\n");
  }
}
