// Child processes of the e2e and fork tests — a Hardhat node, the dapp's static server — on loopback,
// on free ports, each stopped by its own process group.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { JsonRpcProvider } from "ethers";

export const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A provider for asserting on chain state: ethers shares identical requests made within 250 ms, so a
 * balance or block number read right after a fast transaction could be the answer from before it.
 */
export function freshProvider(url: string): JsonRpcProvider {
  return new JsonRpcProvider(url, undefined, { pollingInterval: 100, cacheTimeout: -1 });
}

export interface Service {
  readonly url: string;
  /** What the process printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

function start(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: () => string } {
  // detached: its own process group, so stop() ends npx/vite children too.
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, output: () => log };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.pid === undefined) return resolve();
      child.once("exit", () => resolve());
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 5_000).unref();
    });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  output: () => string,
  timeoutMs: number,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${output()}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms:\n${output()}`);
}

/** JSON-RPC over HTTP. */
export async function rpc<T = unknown>(
  url: string,
  method: string,
  params: readonly unknown[] = [],
): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** `hardhat node` on 127.0.0.1 (its 20 funded, unlocked accounts). */
export async function startHardhatNode(port?: number): Promise<Service> {
  const p = port ?? (await freePort());
  const url = `http://127.0.0.1:${p}`;
  const { child, output } = start(path.join(BIN, "hardhat"), [
    "node",
    "--hostname",
    "127.0.0.1",
    "--port",
    String(p),
  ]);
  await waitFor(
    "hardhat node",
    async () => (await rpc<string>(url, "eth_chainId")) !== undefined,
    output,
    90_000,
    child,
  );
  return { url, output, stop: stopper(child) };
}

/** Builds the dapp (`vite build`) and serves the build with `vite preview` on 127.0.0.1. */
export async function startDapp(): Promise<Service> {
  const config = path.join("app", "vite.config.ts");
  const build = start(path.join(BIN, "vite"), ["build", "--config", config, "--logLevel", "warn"]);
  const code = await new Promise<number | null>((resolve) => build.child.once("exit", resolve));
  if (code !== 0) throw new Error(`vite build failed (${code}):\n${build.output()}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, output } = start(path.join(BIN, "vite"), [
    "preview",
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--strictPort",
  ]);
  await waitFor("vite preview", async () => (await fetch(url)).ok, output, 60_000, child);
  return { url, output, stop: stopper(child) };
}
