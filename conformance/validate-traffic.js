#!/usr/bin/env node
// Checks azure-sim traffic files (one ARM request/response pair each, written in conformance
// mode) against Azure's REST API specs with oav's live validator, the engine behind
// `oav validate-traffic`.
//
// Why not the bare command: it only logs traffic whose operation it cannot match (unknown
// path, method or api-version) and still exits 0. Here such a file is a failure, like a
// validation error, and so is an empty traffic directory.
//
// With --responses-only (for the sim's own tests, whose clients send bad requests on purpose)
// request issues are not counted, and a request the sim refused with 400 that matches no
// operation (an unknown api-version, say) is counted as refused, not unmatched.
//
// Usage: node validate-traffic.js <traffic-dir> <specs-dir> [--json-report FILE] [--responses-only]
// Exit status: 0 when every file matched an operation and validated, 1 otherwise, 2 on bad use.
"use strict";

const fs = require("fs");
const path = require("path");
const { LiveValidator, Constants } = require("oav");

function usage(message) {
  console.error(`validate-traffic: ${message}`);
  console.error("usage: node validate-traffic.js <traffic-dir> <specs-dir> [--json-report FILE] [--responses-only]");
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  let jsonReport;
  let responsesOnly = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--responses-only") {
      responsesOnly = true;
    } else if (argv[i] === "--json-report") {
      jsonReport = argv[++i];
      if (!jsonReport) usage("--json-report needs a file");
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 2) usage("expected a traffic directory and a specs directory");
  return { trafficDir: path.resolve(positional[0]), specsDir: path.resolve(positional[1]), jsonReport, responsesOnly };
}

function readTraffic(trafficDir) {
  if (!fs.existsSync(trafficDir) || !fs.statSync(trafficDir).isDirectory()) {
    usage(`traffic directory ${trafficDir} does not exist`);
  }
  return fs
    .readdirSync(trafficDir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const file = path.join(trafficDir, name);
      try {
        return { name, payload: JSON.parse(fs.readFileSync(file, "utf8")) };
      } catch (e) {
        return { name, unreadable: `not JSON: ${e.message}` };
      }
    });
}

// The provider namespace ARM routes a URL to: the segment after the last `providers`, or
// Microsoft.Resources for resource groups and the subscription-level resource list.
function namespaceOf(url) {
  const segments = new URL(url, "https://management.azure.com").pathname.split("/").filter(Boolean);
  const at = segments.map((s) => s.toLowerCase()).lastIndexOf("providers");
  return at >= 0 && at + 1 < segments.length ? segments[at + 1] : "Microsoft.Resources";
}

function apiVersionOf(url) {
  return new URL(url, "https://management.azure.com").searchParams.get("api-version");
}

// Spec files to load: only the namespaces and api-versions the traffic uses, so a full
// checkout of azure-rest-api-specs loads in seconds. Directory names are matched without
// regard to case, as ARM matches namespaces.
function specPatterns(specsDir, files) {
  const providerDirs = new Map();
  const specRoot = path.join(specsDir, "specification");
  if (!fs.existsSync(specRoot)) usage(`${specsDir} has no specification/ directory`);
  for (const service of fs.readdirSync(specRoot)) {
    const rm = path.join(specRoot, service, "resource-manager");
    if (!fs.existsSync(rm) || !fs.statSync(rm).isDirectory()) continue;
    for (const ns of fs.readdirSync(rm)) {
      const key = ns.toLowerCase();
      if (!providerDirs.has(key)) providerDirs.set(key, []);
      providerDirs.get(key).push(`specification/${service}/resource-manager/${ns}`);
    }
  }
  const patterns = new Set();
  for (const f of files) {
    if (!f.payload || !f.payload.liveRequest || typeof f.payload.liveRequest.url !== "string") continue;
    const version = apiVersionOf(f.payload.liveRequest.url);
    if (!version) continue;
    for (const dir of providerDirs.get(namespaceOf(f.payload.liveRequest.url).toLowerCase()) || []) {
      patterns.add(`${dir}/**/${version}/*.json`);
    }
  }
  return [...patterns].sort();
}

function describeIssue(issue, source) {
  const where = issue.jsonPathsInPayload && issue.jsonPathsInPayload.length ? ` at ${issue.jsonPathsInPayload[0]}` : "";
  return `${source} ${issue.code}${where}: ${issue.message}`;
}

async function main() {
  const { trafficDir, specsDir, jsonReport, responsesOnly } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const files = readTraffic(trafficDir);
  const patterns = specPatterns(specsDir, files);
  // Keep oav's own logging off the console: this script reports what matters.
  const quiet = () => {};
  const validator = new LiveValidator(
    {
      directory: specsDir,
      swaggerPathsPattern: patterns.length ? patterns : ["specification/no-spec-needed/none.json"],
      excludedSwaggerPathsPattern: Constants.DefaultConfig.ExcludedExamplesAndCommonFiles,
      git: { shouldClone: false },
      loadValidatorInBackground: false,
      // ARM's rules too (e.g. LRO answers need Azure-AsyncOperation or Location).
      isArmCall: true,
    },
    quiet,
  );
  await validator.initialize();

  const operations = new Map(); // "apiVersion operationId" -> count
  const unmatched = [];
  const undescribedErrors = new Map(); // "apiVersion operationId status" -> count
  let requestIssuesIgnored = 0;
  let refusedUnmatched = 0;
  const failures = []; // { name, operation, issues[] }
  for (const f of files) {
    if (f.unreadable) {
      failures.push({ name: f.name, operation: "?", issues: [f.unreadable] });
      continue;
    }
    const request = f.payload.liveRequest || {};
    const label = `${request.method} ${request.url}`;
    const result = await validator.validateLiveRequestResponse(f.payload);
    if (result.runtimeException) {
      failures.push({ name: f.name, operation: label, issues: [`${result.runtimeException.code}: ${result.runtimeException.message}`] });
      continue;
    }
    const req = result.requestValidationResult;
    const res = result.responseValidationResult;
    const notFound = [req, res].find(
      (r) => r.runtimeException && /^OPERATION_NOT_FOUND/.test(String(r.runtimeException.code)),
    );
    const status = Number(f.payload.liveResponse && f.payload.liveResponse.statusCode);
    if (notFound && responsesOnly && status === 400) {
      refusedUnmatched++;
      continue;
    }
    if (notFound) {
      const { code, message } = notFound.runtimeException;
      unmatched.push({ name: f.name, operation: label, code, reason: message });
      continue;
    }
    const operation = `${req.operationInfo.apiVersion} ${req.operationInfo.operationId}`;
    operations.set(operation, (operations.get(operation) || 0) + 1);
    const issues = [];
    for (const [r, source] of [[req, "request"], [res, "response"]]) {
      if (r.runtimeException) issues.push(`${source} ${r.runtimeException.code}: ${r.runtimeException.message}`);
      for (const issue of r.errors || []) {
        if (responsesOnly && source === "request") {
          requestIssuesIgnored++;
          continue;
        }
        // Some specs (DiskRP) define no `default` response, so an error answer, which ARM
        // sends for any operation, has no schema to check. Counted and shown, not failed;
        // an undefined success code is still an error.
        if (source === "response" && issue.code === "INVALID_RESPONSE_CODE" && status >= 400) {
          const key = `${operation} ${status}`;
          undescribedErrors.set(key, (undescribedErrors.get(key) || 0) + 1);
          continue;
        }
        issues.push(describeIssue(issue, source));
      }
    }
    if (issues.length) {
      failures.push({ name: f.name, operation, status: f.payload.liveResponse && f.payload.liveResponse.statusCode, issues });
    }
  }

  // Group identical issues so a repeated operation reports once, with its count.
  const grouped = new Map();
  for (const failure of failures) {
    for (const issue of failure.issues) {
      const key = `${failure.operation} [${failure.status || "?"}] ${issue}`;
      if (!grouped.has(key)) grouped.set(key, []);
      grouped.get(key).push(failure.name);
    }
  }
  for (const [key, names] of grouped) {
    console.log(`ERROR ${key}\n      in ${names.length} file(s), e.g. ${names[0]}`);
  }
  const unmatchedGrouped = new Map();
  for (const u of unmatched) {
    // The host (a loopback port) differs per run; the rest names the operation.
    const key = `${u.code} ${u.operation.replace(/\/\/[^/]+/, "//HOST")}`;
    if (!unmatchedGrouped.has(key)) unmatchedGrouped.set(key, { reason: u.reason, names: [] });
    unmatchedGrouped.get(key).names.push(u.name);
  }
  for (const [key, { reason, names }] of unmatchedGrouped) {
    console.log(`UNMATCHED ${key}\n      ${reason}\n      in ${names.length} file(s), e.g. ${names[0]}`);
  }

  const summary = {
    trafficFiles: files.length,
    specFiles: validator.swaggerList.length,
    matchedFiles: files.length - unmatched.length - refusedUnmatched - failures.filter((f) => f.operation === "?").length,
    operationsCovered: [...operations.keys()].sort(),
    filesWithErrors: failures.length,
    errors: failures.reduce((n, f) => n + f.issues.length, 0),
    unmatchedFiles: unmatched.length,
    errorAnswersWithoutSpecSchema: Object.fromEntries(undescribedErrors),
    responsesOnly,
    requestIssuesIgnored,
    refusedUnmatched,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  if (jsonReport) {
    fs.writeFileSync(jsonReport, JSON.stringify({ ...summary, failures, unmatched }, null, 2));
  }
  console.log(
    `conformance: ${summary.trafficFiles} traffic files, ${summary.specFiles} spec files loaded, ` +
      `${summary.matchedFiles} matched ${operations.size} distinct operations, ` +
      `${summary.errors} errors in ${summary.filesWithErrors} files, ${summary.unmatchedFiles} unmatched (${summary.seconds}s)`,
  );
  for (const op of summary.operationsCovered) console.log(`  covered: ${op} x${operations.get(op)}`);
  if (responsesOnly) {
    console.log(
      `  responses only: ${requestIssuesIgnored} request issues not counted, ` +
        `${refusedUnmatched} unmatched requests the sim refused with 400 not counted`,
    );
  }
  for (const [key, n] of undescribedErrors) {
    console.log(`  not checked (the spec defines no error response): ${key} x${n}`);
  }
  const ok = files.length > 0 && failures.length === 0 && unmatched.length === 0;
  if (files.length === 0) console.log("conformance: FAILED: no traffic files");
  // Last, in the plain form CI reads as a test result: files passed / failed.
  const failed = failures.length + unmatched.length;
  console.log(`conformance: ${files.length - failed} passed, ${failed} failed`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`validate-traffic: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
