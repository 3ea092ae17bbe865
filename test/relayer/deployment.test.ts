/**
 * Issue 10, items 5 and 13: the node finds a deployment by network name in the working directory's
 * deployments/ (not under dist/), takes a path as given, explains a missing file, starts indexing at the
 * deployment's block, and reads and writes the deployment file with the same module as the deploy task.
 * It also builds the node (as `npm run relayer:build`, a few seconds) and starts the compiled one from a
 * temporary folder.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../relayer/src/config";
import { ConfigError } from "../../relayer/src/errors";
import {
  deploymentCandidates,
  DeploymentError,
  parseDeployment,
  readDeployment,
  writeDeployment,
} from "../../relayer/src/deployment";
import { deploymentFile } from "../../tasks/lib/deploy";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
const HTLC = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" as const;
const ROOT = path.resolve(__dirname, "..", "..");
const env = { KAFKA_BROKERS: "b:1", PARSEC_RPC_URL: "http://x:1" };

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "parsec-dep-"));
}

function put(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value));
}

describe("relayer: deployment file", () => {
  it("resolves a bare name from <cwd>/deployments, not from the module's folder or dist/", () => {
    const cwd = tmp();
    put(path.join(cwd, "deployments", "net-a.json"), {
      chainId: 11155111,
      ParsecChannels: CHANNELS.toLowerCase(),
      HashedTimelock: HTLC,
      blockNumber: 4242,
    });
    const tried = deploymentCandidates("net-a", { cwd, projectRoot: null });
    expect(tried).to.deep.equal([path.join(cwd, "deployments", "net-a.json")]);
    for (const f of tried) expect(f).not.to.include(`${path.sep}dist${path.sep}`);
    const dep = readDeployment("net-a", { cwd, projectRoot: null });
    expect(dep.file).to.equal(path.join(cwd, "deployments", "net-a.json"));
    expect(dep.ParsecChannels).to.equal(CHANNELS);
    expect(dep.blockNumber).to.equal(4242);

    // the module as compiled to dist/ looks up the same file: nothing is resolved from its own folder
    const fromDist = deploymentCandidates("net-a", { cwd });
    expect(fromDist[0]).to.equal(path.join(cwd, "deployments", "net-a.json"));
    expect(fromDist.slice(1)).to.deep.equal([path.join(ROOT, "deployments", "net-a.json")]);

    // the node, run from that folder with PARSEC_DEPLOYMENT=net-a, reads it
    const before = process.cwd();
    process.chdir(cwd);
    try {
      const c = loadConfig({ env: { ...env, PARSEC_DEPLOYMENT: "net-a" } });
      expect(c.chain.deploymentFile).to.equal(path.join(fs.realpathSync(cwd), "deployments", "net-a.json"));
      expect(c.chain.startBlock).to.equal(4242);
    } finally {
      process.chdir(before);
    }
  });

  it("takes an absolute or relative path as given (relative to the working directory)", () => {
    const cwd = tmp();
    const file = path.join(cwd, "conf", "my.json");
    put(file, { chainId: 1, ParsecChannels: CHANNELS, blockNumber: 7 });
    expect(readDeployment(file, { cwd: "/" }).file).to.equal(file);
    expect(readDeployment("conf/my.json", { cwd }).file).to.equal(file);
    expect(readDeployment("./conf/my.json", { cwd }).blockNumber).to.equal(7);
    // "x.json" is a file name, not a network name
    expect(deploymentCandidates("my.json", { cwd })).to.deep.equal([path.join(cwd, "my.json")]);
  });

  it("a missing deployment names every file tried and what to do", () => {
    const cwd = tmp();
    const project = tmp();
    let err: unknown;
    try {
      readDeployment("nowhere", { cwd, projectRoot: project });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DeploymentError);
    const msg = (err as Error).message;
    expect(msg).to.include(path.join(cwd, "deployments", "nowhere.json"));
    expect(msg).to.include(path.join(project, "deployments", "nowhere.json"));
    expect(msg).to.include("npx hardhat run scripts/deploy.ts --network nowhere");
    expect(msg).not.to.match(/dist[/\\]deployments/);

    // through the node's configuration: one problem, with the same paths
    expect(() => loadConfig({ env: { ...env, PARSEC_DEPLOYMENT: "nowhere" }, repoRoot: cwd })).to.throw(
      ConfigError,
      /chain\.deployment: no deployment "nowhere": tried [^;]*nowhere\.json/,
    );
  });

  it("rejects a file with a wrong field, naming the file", () => {
    const cwd = tmp();
    put(path.join(cwd, "deployments", "bad.json"), { chainId: 1, ParsecChannels: "0x12" });
    expect(() => readDeployment("bad", { cwd, projectRoot: null })).to.throw(
      DeploymentError,
      /bad\.json: ParsecChannels must be an address/,
    );
  });

  it("the node's start block is the deployment's block (blockNumber; startBlock of older files too)", () => {
    const cwd = tmp();
    const written = { chainId: 31337, ParsecChannels: CHANNELS, HashedTimelock: HTLC, blockNumber: 123 };
    writeDeployment(path.join(cwd, "deployments", "local.json"), written);
    const c = loadConfig({ env: { ...env, PARSEC_DEPLOYMENT: "local" }, repoRoot: cwd });
    expect(c.chain.startBlock).to.equal(123);
    expect(c.chain.channels).to.equal(CHANNELS);
    expect(c.chain.chainId).to.equal(31337n);
    expect(c.chain.deploymentFile).to.equal(path.join(cwd, "deployments", "local.json"));

    // an explicit start block wins
    const c2 = loadConfig({
      env: { ...env, PARSEC_DEPLOYMENT: "local", PARSEC_START_BLOCK: "5" },
      repoRoot: cwd,
    });
    expect(c2.chain.startBlock).to.equal(5);

    // a file that says startBlock (the node's old name) still reads
    put(path.join(cwd, "deployments", "old.json"), { chainId: 1, ParsecChannels: CHANNELS, startBlock: 99 });
    expect(
      loadConfig({ env: { ...env, PARSEC_DEPLOYMENT: "old" }, repoRoot: cwd }).chain.startBlock,
    ).to.equal(99);
  });

  it("the deploy task writes the field the node reads, where the node looks", () => {
    const cwd = tmp();
    const file = deploymentFile({
      config: { paths: { root: cwd } },
      network: { name: "sepolia" },
    } as never);
    expect(file).to.equal(path.join(cwd, "deployments", "sepolia.json"));
    writeDeployment(file, {
      chainId: 11155111,
      ParsecChannels: CHANNELS,
      HashedTimelock: HTLC,
      blockNumber: 77,
    });
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(json.blockNumber).to.equal(77);
    expect(json).not.to.have.property("startBlock");
    expect(parseDeployment(json).blockNumber).to.equal(77);
    const c = loadConfig({ env: { ...env, PARSEC_DEPLOYMENT: "sepolia" }, repoRoot: cwd });
    expect(c.chain.startBlock).to.equal(77);
  });

  it("the compiled node reads PARSEC_DEPLOYMENT=<name> from its working directory", async function () {
    this.timeout(180_000);
    const { buildRelayer } = await import("../../relayer/build");
    const entry = buildRelayer(); // dist/, as `npm run relayer:build`
    const cwd = tmp();
    put(path.join(cwd, "deployments", "prod-x.json"), {
      chainId: 31337,
      ParsecChannels: CHANNELS,
      HashedTimelock: HTLC,
      blockNumber: 4321,
    });
    const child = spawn(process.execPath, [entry], {
      cwd,
      env: {
        PATH: process.env.PATH ?? "",
        KAFKA_BROKERS: "127.0.0.1:1",
        PARSEC_RPC_URL: "http://127.0.0.1:1",
        PARSEC_DEPLOYMENT: "prod-x",
        PARSEC_STATE_DIR: path.join(cwd, "state"),
        PARSEC_HTTP_PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const starting = out.split("\n").find((l) => l.includes('"starting"'));
    expect(starting, out).to.be.a("string");
    const config = (JSON.parse(starting as string) as { config: { chain: Record<string, unknown> } }).config;
    expect(config.chain.startBlock).to.equal(4321);
    expect(config.chain.deploymentFile).to.equal(path.join(cwd, "deployments", "prod-x.json"));
    expect(config.chain.channels).to.equal(CHANNELS);
    expect(out).not.to.include("cannot read");
    expect(code).to.not.equal(2); // 2: a configuration error
  });
});
