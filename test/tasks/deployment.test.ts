// Defect 13: one reader and one type for the deployment file. The dapp, the tasks and the node parse a
// file with the SDK's one parser (sdk/src/deployment.ts), so they cannot disagree about it (the node used
// to read `startBlock` where the deploy task wrote `blockNumber`, and the dapp had a parser of its own).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import * as dapp from "../../client/src/deployment";
import * as node from "../../relayer/src/deployment";
import * as sdk from "../../sdk/src/deployment";
import { loadDeployment } from "../../tasks/lib/context";
import { loadConfig } from "../../relayer/src/config";

const CHANNELS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const HTLC = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const ROOT = path.resolve(__dirname, "..", "..");

describe("deployment file: one parser, one type (defect 13)", function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-deployment-"));
  const put = (name: string, value: unknown): string => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, JSON.stringify(value));
    return file;
  };
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("the dapp, the tasks and the node use the SDK's parser and error", () => {
    expect(node.parseDeployment).to.equal(sdk.parseDeployment);
    expect(node.DeploymentError).to.equal(sdk.DeploymentError);
    expect(dapp.DeploymentError).to.equal(sdk.DeploymentError);
  });

  it("reads a file the same way everywhere: blockNumber (or an older startBlock), checksummed addresses", () => {
    const raw = {
      chainId: 31337,
      ParsecChannels: CHANNELS.toLowerCase(),
      HashedTimelock: HTLC.toLowerCase(),
      startBlock: 42,
    };
    const file = put("old.json", raw);
    const expected = { chainId: 31337, ParsecChannels: CHANNELS, HashedTimelock: HTLC, blockNumber: 42 };
    expect(dapp.parseDeployment(raw)).to.deep.equal(expected);
    expect(sdk.parseDeployment(raw)).to.deep.equal(expected);
    expect(node.readDeployment(file)).to.deep.equal({ ...expected, file });
    expect(loadDeployment(hre, file)).to.deep.include(expected);
    const env = { KAFKA_BROKERS: "b:1", PARSEC_RPC_URL: "http://x:1", PARSEC_DEPLOYMENT: file };
    expect(loadConfig({ env }).chain.startBlock).to.equal(42);
  });

  it("what the deploy task writes reads back unchanged, and names the block blockNumber", () => {
    const file = path.join(tmp, "deployments", "w.json");
    const written = { chainId: 1, ParsecChannels: CHANNELS, HashedTimelock: HTLC, blockNumber: 7 } as const;
    node.writeDeployment(file, written);
    const text = fs.readFileSync(file, "utf8");
    expect(text).to.equal(sdk.serializeDeployment(written));
    expect(JSON.parse(text)).to.not.have.property("startBlock");
    expect(dapp.parseDeployment(JSON.parse(text))).to.deep.equal(written);
  });

  it("the node does without a HashedTimelock; the dapp and the tasks need one and say so", () => {
    const raw = { chainId: 1, ParsecChannels: CHANNELS, blockNumber: 3 };
    expect(sdk.parseDeployment(raw).HashedTimelock).to.equal(undefined);
    expect(() => dapp.parseDeployment(raw, "net-x")).to.throw(
      sdk.DeploymentError,
      /net-x: HashedTimelock must be an address, got nothing; fix the file or deploy with `npx hardhat run scripts\/deploy\.ts/,
    );
    expect(() => loadDeployment(hre, put("no-htlc.json", raw))).to.throw(/HashedTimelock must be an address/);
  });

  it("a wrong field names the source, the field and the value", () => {
    expect(() => sdk.parseDeployment({ chainId: -1, ParsecChannels: CHANNELS }, "f.json")).to.throw(
      /f\.json: chainId must be a non-negative integer, got -1/,
    );
    expect(() => sdk.parseDeployment({ chainId: 1, ParsecChannels: "0x12" }, "f.json")).to.throw(
      /f\.json: ParsecChannels must be an address, got "0x12"/,
    );
    expect(() => sdk.parseDeployment([], "f.json")).to.throw(/f\.json: must hold a JSON object/);
  });

  it("the parser the dapp bundles imports no Node built-in", () => {
    for (const file of ["sdk/src/deployment.ts", "client/src/deployment.ts"]) {
      const source = fs.readFileSync(path.join(ROOT, file), "utf8");
      expect(source, file).to.not.match(/from "node:|require\(|from "(fs|path|os|crypto)"/);
    }
  });
});
