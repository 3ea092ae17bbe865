// The Slither step of `npm run security` (see docs/security.md).
//
// Slither runs from a project-local Python virtual environment with a pinned version, on Hardhat's
// build-info: the machines have no internet beyond package registries, so Slither cannot fetch a solc of
// its own and must not compile. Every High or Medium finding in `contracts/` (test doubles in
// `contracts/test/` excluded) must either be fixed or listed, with a reason, in
// `security/slither-triage.json`; lower impacts are only counted.
import { spawnSync } from "node:child_process";
import type { SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The Slither release the triage was written against; bump it together with a fresh triage. */
export const SLITHER_VERSION = "0.11.6";
/** crytic-compile reads Hardhat's build-info; pinned with Slither so findings do not move between machines. */
export const CRYTIC_COMPILE_VERSION = "0.4.2";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** Under node_modules so that eslint, prettier, tsc and git already ignore it, and `npm ci` renews it. */
export const DEFAULT_VENV_DIR = path.join(REPO_ROOT, "node_modules", ".cache", "parsec-security", "venv");
export const DEFAULT_TRIAGE_FILE = path.join(REPO_ROOT, "security", "slither-triage.json");

/** Slither's `impact` values, in order of severity. */
export const IMPACTS = ["High", "Medium", "Low", "Informational", "Optimization"] as const;
export type Impact = (typeof IMPACTS)[number];

/** Impacts that fail the command unless triaged. */
const FAILING_IMPACTS: ReadonlySet<Impact> = new Set<Impact>(["High", "Medium"]);

export interface SlitherCounts {
  high: number;
  medium: number;
  low: number;
  informational: number;
  optimization: number;
  /** Findings of any impact that a triage entry accepts. */
  triaged: number;
  /** High and Medium findings that no triage entry accepts: each one fails the command. */
  untriaged: number;
}

/** One accepted finding in the triage file. Matched by names, never by line numbers. */
export interface TriageEntry {
  /** Slither's detector id (`check`), e.g. `incorrect-equality`. */
  detector: string;
  /** The contract or library the finding is in. */
  contract: string;
  /** The function or modifier, by name without parameters; omitted: any element of the contract. */
  function?: string;
  /** A substring of Slither's description (e.g. the flagged expression) to pin one finding of several. */
  match?: string;
  /** Why the finding is not exploitable here, written for the next reviewer. */
  reason: string;
}

/** A finding in the form this script reports and matches it. */
export interface SlitherFinding {
  id: string;
  detector: string;
  impact: Impact;
  confidence: string;
  contract: string;
  /** Function or modifier name, or undefined for a finding on a contract-level element. */
  function: string | undefined;
  /** `contracts/X.sol#12-20`, for humans only. */
  location: string;
  file: string;
  description: string;
}

export interface SlitherOptions {
  root?: string;
  /** Default: $PARSEC_SECURITY_VENV, else DEFAULT_VENV_DIR. */
  venvDir?: string;
  triageFile?: string;
  /** Skip `npx hardhat compile` (the build-info must be current). */
  skipCompile?: boolean;
  /** Where progress and findings are written; the final JSON line goes elsewhere. */
  log?: (line: string) => void;
}

// ---------------------------------------------------------------- Slither's JSON (the parts read here)

interface SlitherParent {
  type: string;
  name: string;
  type_specific_fields?: { parent?: SlitherParent };
}

interface SlitherElement extends SlitherParent {
  source_mapping?: { filename_relative?: string; lines?: number[] };
}

interface SlitherResult {
  id: string;
  check: string;
  impact: string;
  confidence: string;
  description: string;
  elements: SlitherElement[];
}

interface SlitherOutput {
  success: boolean;
  error: string | null;
  results?: { detectors?: SlitherResult[] };
}

// ---------------------------------------------------------------- pure parts (parsing and matching)

/** Parses `slither --json -` output; throws with Slither's own error when the run failed. */
export function parseSlitherJson(text: string): SlitherResult[] {
  let output: SlitherOutput;
  try {
    output = JSON.parse(text) as SlitherOutput;
  } catch {
    throw new Error(`Slither printed no JSON (first 500 characters of its output):\n${text.slice(0, 500)}`);
  }
  if (!output.success) throw new Error(`Slither failed: ${output.error ?? "no error message"}`);
  return output.results?.detectors ?? [];
}

function isImpact(value: string): value is Impact {
  return (IMPACTS as readonly string[]).includes(value);
}

/** The contract and function a result is about, from its first element and that element's parents. */
export function locateFinding(result: SlitherResult): SlitherFinding {
  if (!isImpact(result.impact)) throw new Error(`Slither reported an unknown impact "${result.impact}"`);
  const primary = result.elements[0];
  let contract: string | undefined;
  let fn: string | undefined;
  for (let node: SlitherParent | undefined = primary; node; node = node.type_specific_fields?.parent) {
    if (fn === undefined && (node.type === "function" || node.type === "modifier")) fn = node.name;
    if (contract === undefined && node.type === "contract") contract = node.name;
  }
  const file = primary?.source_mapping?.filename_relative ?? "";
  const lines = primary?.source_mapping?.lines ?? [];
  const span =
    lines.length === 0 ? "" : `#${lines[0]}${lines.length > 1 ? `-${lines[lines.length - 1]}` : ""}`;
  return {
    id: result.id,
    detector: result.check,
    impact: result.impact,
    confidence: result.confidence,
    contract: contract ?? "(file level)",
    function: fn,
    location: `${file}${span}`,
    file,
    description: result.description.trim(),
  };
}

/** Only the project's own contracts: not `contracts/test/`, not dependencies. */
export function isProjectFinding(finding: SlitherFinding): boolean {
  const file = finding.file.replace(/\\/g, "/");
  return file.startsWith("contracts/") && !file.startsWith("contracts/test/");
}

export function triageMatches(entry: TriageEntry, finding: SlitherFinding): boolean {
  return (
    entry.detector === finding.detector &&
    entry.contract === finding.contract &&
    (entry.function === undefined || entry.function === finding.function) &&
    (entry.match === undefined || finding.description.includes(entry.match))
  );
}

const ENTRY_KEYS = new Set(["detector", "contract", "function", "match", "reason"]);

/** Reads and checks the triage file; a bad entry is an error that names the entry and the fix. */
export function loadTriage(file: string): TriageEntry[] {
  if (!fs.existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const accepted = (parsed as { accepted?: unknown } | null)?.accepted;
  if (!Array.isArray(accepted)) throw new Error(`${file} needs an "accepted" array of triage entries`);
  return accepted.map((raw: unknown, i: number): TriageEntry => {
    const where = `${file}, accepted[${i}]`;
    if (typeof raw !== "object" || raw === null) throw new Error(`${where} must be an object`);
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.has(key)) {
        throw new Error(`${where} has an unknown key "${key}" (allowed: ${[...ENTRY_KEYS].join(", ")})`);
      }
    }
    for (const key of ["detector", "contract", "reason"]) {
      if (typeof entry[key] !== "string" || (entry[key] as string).trim() === "") {
        throw new Error(`${where} needs a non-empty string "${key}"`);
      }
    }
    for (const key of ["function", "match"]) {
      if (entry[key] !== undefined && (typeof entry[key] !== "string" || entry[key] === "")) {
        throw new Error(`${where}: "${key}" must be a non-empty string when present`);
      }
    }
    const reason = (entry.reason as string).trim();
    if (reason.length < 20 || /^(todo|tbd|fixme|<)/i.test(reason)) {
      throw new Error(`${where} needs a real reason: say why the finding is not exploitable in this code`);
    }
    return {
      detector: entry.detector as string,
      contract: entry.contract as string,
      function: entry.function as string | undefined,
      match: entry.match as string | undefined,
      reason,
    };
  });
}

export interface TriageOutcome {
  counts: SlitherCounts;
  /** High and Medium findings without a triage entry. */
  untriaged: SlitherFinding[];
  /** Triage entries that matched nothing: the code they excused changed or is gone. */
  unused: TriageEntry[];
}

/** Counts findings by impact and sorts them into triaged and failing. */
export function applyTriage(findings: SlitherFinding[], triage: TriageEntry[]): TriageOutcome {
  const counts: SlitherCounts = {
    high: 0,
    medium: 0,
    low: 0,
    informational: 0,
    optimization: 0,
    triaged: 0,
    untriaged: 0,
  };
  const used = new Set<TriageEntry>();
  const untriaged: SlitherFinding[] = [];
  for (const finding of findings) {
    counts[finding.impact.toLowerCase() as Lowercase<Impact>] += 1;
    const entry = triage.find((e) => triageMatches(e, finding));
    if (entry) {
      used.add(entry);
      counts.triaged += 1;
    } else if (FAILING_IMPACTS.has(finding.impact)) {
      untriaged.push(finding);
    }
  }
  counts.untriaged = untriaged.length;
  return { counts, untriaged, unused: triage.filter((e) => !used.has(e)) };
}

/** What to print for a finding that fails the command: where it is, what Slither says, what to do. */
export function describeUntriaged(finding: SlitherFinding, triageFile: string): string {
  const suggestion: TriageEntry = {
    detector: finding.detector,
    contract: finding.contract,
    ...(finding.function === undefined ? {} : { function: finding.function }),
    reason: "<why this is not exploitable here>",
  };
  const where = finding.function ? `${finding.contract}.${finding.function}` : finding.contract;
  return [
    `UNTRIAGED ${finding.impact} (confidence ${finding.confidence}) ${finding.detector} in ${where} at ${finding.location}`,
    ...finding.description.split("\n").map((line) => `    ${line}`),
    `  Fix the contract, or, if it is not exploitable, add this to "accepted" in ${path.relative(REPO_ROOT, triageFile)}`,
    `  with the reason written out (add "match": "<part of the description>" if the function has several):`,
    `    ${JSON.stringify(suggestion)}`,
  ].join("\n");
}

// ---------------------------------------------------------------- the environment

/** A path relative to `from` when it lies inside it, else absolute. */
function shown(from: string, target: string): string {
  const rel = path.relative(from, target);
  return rel.startsWith("..") || path.isAbsolute(rel) ? target : rel;
}

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
}

function venvBin(venvDir: string, name: string): string {
  return process.platform === "win32"
    ? path.join(venvDir, "Scripts", `${name}.exe`)
    : path.join(venvDir, "bin", name);
}

function installedVersions(python: string, cwd: string): string | undefined {
  const res = run(
    python,
    [
      "-c",
      "import importlib.metadata as m; print(m.version('slither-analyzer'), m.version('crytic-compile'))",
    ],
    cwd,
  );
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/**
 * Makes sure the virtual environment exists and holds the pinned Slither; returns the `slither` path.
 * Fast when it already does: one Python start-up to read two package versions.
 */
export function ensureSlither(venvDir: string, cwd: string, log: (line: string) => void): string {
  const venvPython = venvBin(venvDir, "python");
  const wanted = `${SLITHER_VERSION} ${CRYTIC_COMPILE_VERSION}`;
  if (fs.existsSync(venvPython) && installedVersions(venvPython, cwd) === wanted) {
    return venvBin(venvDir, "slither");
  }

  if (!fs.existsSync(venvPython)) {
    const python = process.env.PYTHON ?? "python3";
    const version = run(python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], cwd);
    if (version.error || version.status !== 0) {
      throw new Error(
        `${python} was not found: install Python 3.10 or newer (Debian/Ubuntu: apt-get install python3 ` +
          `python3-venv) or point PYTHON at one, e.g. PYTHON=/usr/bin/python3.11 npm run security`,
      );
    }
    const [major, minor] = version.stdout.trim().split(".").map(Number);
    if (major < 3 || (major === 3 && minor < 10)) {
      throw new Error(
        `${python} is Python ${version.stdout.trim()}; Slither ${SLITHER_VERSION} needs 3.10 or newer. ` +
          `Install a newer Python and point PYTHON at it.`,
      );
    }
    log(`security: creating the Python virtual environment ${shown(cwd, venvDir)}`);
    fs.mkdirSync(path.dirname(venvDir), { recursive: true });
    const venv = run(python, ["-m", "venv", venvDir], cwd);
    if (venv.status !== 0) {
      fs.rmSync(venvDir, { recursive: true, force: true });
      throw new Error(
        `${python} -m venv failed: ${(venv.stderr || venv.stdout).trim()}\n` +
          `Install the venv module (Debian/Ubuntu: apt-get install python3-venv) and run again.`,
      );
    }
  }

  log(`security: installing slither-analyzer==${SLITHER_VERSION} into ${shown(cwd, venvDir)}`);
  const pip = run(
    venvPython,
    [
      "-m",
      "pip",
      "install",
      "--quiet",
      "--disable-pip-version-check",
      `slither-analyzer==${SLITHER_VERSION}`,
      `crytic-compile==${CRYTIC_COMPILE_VERSION}`,
    ],
    cwd,
  );
  if (pip.status !== 0) {
    throw new Error(
      `pip could not install slither-analyzer==${SLITHER_VERSION}: ${(pip.stderr || pip.stdout).trim()}\n` +
        `It needs PyPI (or a mirror set with PIP_INDEX_URL). To start over, delete ${venvDir}.`,
    );
  }
  if (installedVersions(venvPython, cwd) !== wanted) {
    throw new Error(
      `the virtual environment ${venvDir} does not hold ${wanted} after pip; delete it and rerun`,
    );
  }
  return venvBin(venvDir, "slither");
}

function hardhatCompile(cwd: string, force: boolean): void {
  const args = ["hardhat", "compile", "--quiet", ...(force ? ["--force"] : [])];
  const res = spawnSync("npx", args, { cwd, stdio: ["ignore", process.stderr, process.stderr] });
  if (res.error) throw new Error(`could not run npx hardhat compile: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(
      `npx ${args.join(" ")} failed (exit ${res.status}): fix the compiler errors above; Slither analyses ` +
        `Hardhat's build-info, so the contracts must compile first`,
    );
  }
}

/**
 * The files under contracts/ whose text in some artifacts/build-info file differs from the file on disk.
 * An incremental compile leaves older build-info files behind for the artifacts it did not redo, with
 * older copies of shared sources; Slither would report findings in code that no longer exists.
 */
export function staleBuildInfoSources(root: string): string[] {
  const dir = path.join(root, "artifacts", "build-info");
  if (!fs.existsSync(dir)) return ["(no artifacts/build-info)"];
  const stale = new Set<string>();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !f.endsWith(".output.json"));
  if (files.length === 0) return ["(empty artifacts/build-info)"];
  for (const file of files) {
    const info = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as {
      input?: { sources?: Record<string, { content?: string }> };
    };
    for (const [source, { content }] of Object.entries(info.input?.sources ?? {})) {
      if (!source.startsWith("contracts/")) continue;
      const onDisk = path.join(root, source);
      if (!fs.existsSync(onDisk) || fs.readFileSync(onDisk, "utf8") !== content) stale.add(source);
    }
  }
  return [...stale];
}

/**
 * `npx hardhat compile`, then `--force` if build-info still holds stale copies of contracts/ files, so
 * that Slither sees exactly the contracts on disk. Slither reads artifacts/build-info.
 */
export function compileContracts(cwd: string, log: (line: string) => void): void {
  log("security: npx hardhat compile");
  hardhatCompile(cwd, false);
  if (staleBuildInfoSources(cwd).length === 0) return;
  log("security: artifacts/build-info holds older copies of some contracts; npx hardhat compile --force");
  hardhatCompile(cwd, true);
  const stale = staleBuildInfoSources(cwd);
  if (stale.length > 0) {
    throw new Error(`contracts changed while compiling (${stale.join(", ")}); run npm run security again`);
  }
}

/** Runs Slither on the Hardhat build-info and returns every project finding. */
export function slitherFindings(slither: string, cwd: string): SlitherFinding[] {
  const res = run(
    slither,
    [
      ".",
      "--hardhat-ignore-compile",
      // A result is dropped when ANY of its elements matches --filter-paths, so node_modules is not
      // filtered there (a finding in our code that touches SafeERC20 would vanish); dependencies are
      // dropped below by the file of the finding's primary element instead.
      "--filter-paths",
      "contracts/test/",
      "--exclude-dependencies",
      // Inline `slither-disable` comments do not hide findings: the triage file is the one list.
      "--show-ignored-findings",
      "--fail-none",
      "--json",
      "-",
    ],
    cwd,
  );
  if (res.error) throw new Error(`could not run ${slither}: ${res.error.message}`);
  if (res.stdout.trim() === "") {
    throw new Error(`Slither exited ${res.status} with no JSON output:\n${res.stderr.trim()}`);
  }
  // Several build-info files (compilation units) can report the same result; Slither's id is its hash.
  const byId = new Map(parseSlitherJson(res.stdout).map((r) => [r.id, r]));
  return [...byId.values()].map(locateFinding).filter(isProjectFinding);
}

/**
 * The Slither step: compile, analyse, triage. Prints every untriaged High or Medium finding with what to
 * do about it and returns the counts; the caller fails when `untriaged` is not 0. Throws when Slither
 * cannot run at all (no Python, no PyPI, contracts that do not compile, a malformed triage file).
 */
export async function runSlither(options: SlitherOptions = {}): Promise<SlitherCounts> {
  const root = options.root ?? REPO_ROOT;
  const log = options.log ?? ((line: string) => console.error(line));
  const triageFile = options.triageFile ?? DEFAULT_TRIAGE_FILE;
  const triage = loadTriage(triageFile);
  const venvDir = options.venvDir ?? process.env.PARSEC_SECURITY_VENV ?? DEFAULT_VENV_DIR;
  const slither = ensureSlither(path.resolve(root, venvDir), root, log);
  if (!options.skipCompile) {
    compileContracts(root, log);
  } else {
    const stale = staleBuildInfoSources(root);
    if (stale.length > 0) {
      throw new Error(
        `artifacts/build-info does not match contracts/ (${stale.join(", ")}); run without --no-compile`,
      );
    }
  }
  log(`security: slither ${SLITHER_VERSION} on contracts/ (without contracts/test/)`);
  const { counts, untriaged, unused } = applyTriage(slitherFindings(slither, root), triage);

  for (const entry of unused) {
    const where = entry.function ? `${entry.contract}.${entry.function}` : entry.contract;
    log(
      `security: note: triage entry ${entry.detector} in ${where}${entry.match ? ` ("${entry.match}")` : ""} ` +
        `matched no finding; remove it from ${path.relative(root, triageFile)} if that code is gone`,
    );
  }
  for (const finding of untriaged) log(describeUntriaged(finding, triageFile));
  log(
    `security: slither: ${counts.high} high, ${counts.medium} medium, ${counts.low} low, ` +
      `${counts.informational} informational, ${counts.optimization} optimization; ` +
      `${counts.triaged} triaged, ${counts.untriaged} untriaged High/Medium`,
  );
  return counts;
}
