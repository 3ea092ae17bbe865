/**
 * Finding, reading and writing the deployment file, `deployments/<network>.json`. Its one type and its one
 * parser are the SDK's (`sdk/src/deployment.ts`, pure, also bundled by the dapp); this module adds what
 * needs Node: where the file is, reading it, writing it. `scripts/deploy.ts` (via `tasks/lib/deploy.ts`)
 * writes it at the project root; the node reads it for `PARSEC_DEPLOYMENT`, the tasks for `--network`.
 * Plain Node (fs, path): no Hardhat, so the compiled node can load it.
 */
import fs from "node:fs";
import path from "node:path";
import {
  deployHint,
  DeploymentError,
  parseDeployment,
  serializeDeployment,
  type Deployment,
  type DeploymentWith,
  type OptionalContract,
} from "../../sdk/src/deployment";

export {
  deployHint,
  DeploymentError,
  parseDeployment,
  serializeDeployment,
  type Deployment,
  type DeploymentWith,
  type OptionalContract,
} from "../../sdk/src/deployment";

/** The folder, under the project root or the working directory, that holds `<network>.json`. */
export const DEPLOYMENTS_DIR = "deployments";

/** `<root>/deployments/<name>.json`: where a deploy writes the deployment of network `name`. */
export function deploymentPath(root: string, name: string): string {
  return path.join(root, DEPLOYMENTS_DIR, `${name}.json`);
}

/** A bare network name (`sepolia`), as opposed to a path (`./x.json`, `/etc/parsec/sepolia.json`). */
export function isDeploymentName(ref: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(ref) && !ref.endsWith(".json");
}

/** The project root: the nearest folder above this module with a package.json (dist/ has none). */
function projectRoot(): string | null {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

export interface ResolveOptions {
  /** Base of relative paths and of `deployments/<name>.json`; default `process.cwd()`. */
  readonly cwd?: string;
  /** Also look for a bare name under `<projectRoot>/deployments/`; default: the project of this module. */
  readonly projectRoot?: string | null;
}

/**
 * The files a reference may mean, in order: a path (absolute, or relative to `cwd`) is taken as given;
 * a bare name is `<cwd>/deployments/<name>.json`, then `<project root>/deployments/<name>.json`.
 */
export function deploymentCandidates(ref: string, opts: ResolveOptions = {}): string[] {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  if (!isDeploymentName(ref)) return [path.resolve(cwd, ref)];
  const root = opts.projectRoot === undefined ? projectRoot() : opts.projectRoot;
  const files = [deploymentPath(cwd, ref)];
  if (root) files.push(deploymentPath(path.resolve(root), ref));
  return [...new Set(files)];
}

/**
 * Reads a deployment by network name or by path (see `deploymentCandidates`), requiring the optional
 * contracts in `require` (the tasks need the `HashedTimelock`, the node does not). Throws `DeploymentError`
 * naming every file tried and what to do.
 */
export function readDeployment<K extends OptionalContract = never>(
  ref: string,
  opts: ResolveOptions & { readonly require?: readonly K[] } = {},
): DeploymentWith<K> & { readonly file: string } {
  const tried = deploymentCandidates(ref, opts);
  const file = tried.find((f) => fs.existsSync(f));
  if (!file) {
    const fix = isDeploymentName(ref)
      ? `${deployHint(ref)}, run the node from the folder that holds ` +
        `deployments/ (the project root), or give the file's path (absolute, or relative to ${path.resolve(opts.cwd ?? process.cwd())})`
      : "check the path (relative paths are taken from the working directory) or give a network name";
    throw new DeploymentError(`no deployment ${JSON.stringify(ref)}: tried ${tried.join(", ")}; ${fix}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new DeploymentError(
      `${file} cannot be read as JSON (${e instanceof Error ? e.message : String(e)}); fix or redeploy it`,
    );
  }
  return { ...parseDeployment(raw, file, { require: opts.require }), file };
}

/** Writes a deployment as JSON (`serializeDeployment`: the one field set), creating the folder. */
export function writeDeployment(file: string, deployment: Deployment): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, serializeDeployment(deployment));
}
