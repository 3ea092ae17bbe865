/**
 * The deployment file, `deployments/<network>.json`: its one type, its one reader and its one writer.
 * `scripts/deploy.ts` (via `tasks/lib/deploy.ts`) writes it at the project root; the node reads it for
 * `PARSEC_DEPLOYMENT`. Plain Node (fs, path, ethers): no Hardhat, so the compiled node can load it.
 *
 * The block to index from is `blockNumber` (the block of the `ParsecChannels` deployment; the dapp
 * reads the same field). Files that name it `startBlock` (hand-written for older nodes) still read.
 */
import fs from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import type { Address } from "../../sdk";

export interface Deployment {
  readonly chainId: number;
  readonly ParsecChannels: Address;
  /** Written by every deploy; the node does not need it. */
  readonly HashedTimelock?: Address;
  /** Deployed on local networks only, for demos. */
  readonly TestToken?: Address;
  /** The block of the `ParsecChannels` deployment: where event scans start (0 when the file has none). */
  readonly blockNumber: number;
}

/** The folder, under the project root or the working directory, that holds `<network>.json`. */
export const DEPLOYMENTS_DIR = "deployments";

function deployHint(name = "<name>"): string {
  return `deploy with \`npx hardhat run scripts/deploy.ts --network ${name}\` (writes deployments/${name}.json at the project root)`;
}

/** A deployment file that cannot be found, read, or holds a wrong value. */
export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeploymentError";
  }
}

function address(source: string, raw: Record<string, unknown>, key: string): Address {
  const value = raw[key];
  try {
    if (typeof value === "string") return getAddress(value) as Address;
  } catch {
    // reported below
  }
  throw new DeploymentError(
    `${source}: ${key} must be an address, got ${JSON.stringify(value)}; ${deployHint()}`,
  );
}

function integer(source: string, raw: Record<string, unknown>, key: string): number {
  const value = raw[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new DeploymentError(
      `${source}: ${key} must be a non-negative integer, got ${JSON.stringify(value)}; ${deployHint()}`,
    );
  }
  return value;
}

/** Checks parsed JSON and returns a `Deployment` (reads `startBlock` when `blockNumber` is absent). */
export function parseDeployment(raw: unknown, source = "deployment"): Deployment {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new DeploymentError(`${source}: must hold a JSON object; ${deployHint()}`);
  const r = raw as Record<string, unknown>;
  const blockKey =
    r.blockNumber !== undefined ? "blockNumber" : r.startBlock !== undefined ? "startBlock" : null;
  return {
    chainId: integer(source, r, "chainId"),
    ParsecChannels: address(source, r, "ParsecChannels"),
    ...(r.HashedTimelock === undefined ? {} : { HashedTimelock: address(source, r, "HashedTimelock") }),
    ...(r.TestToken === undefined ? {} : { TestToken: address(source, r, "TestToken") }),
    blockNumber: blockKey === null ? 0 : integer(source, r, blockKey),
  };
}

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
 * Reads a deployment by network name or by path (see `deploymentCandidates`). Throws `DeploymentError`
 * naming every file tried and what to do.
 */
export function readDeployment(
  ref: string,
  opts: ResolveOptions = {},
): Deployment & { readonly file: string } {
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
  return { ...parseDeployment(raw, file), file };
}

/** Writes a deployment as JSON (the one field set above), creating the folder. */
export function writeDeployment(file: string, deployment: Deployment): void {
  const out: Deployment = {
    chainId: deployment.chainId,
    ParsecChannels: deployment.ParsecChannels,
    ...(deployment.HashedTimelock ? { HashedTimelock: deployment.HashedTimelock } : {}),
    ...(deployment.TestToken ? { TestToken: deployment.TestToken } : {}),
    blockNumber: deployment.blockNumber,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
}
