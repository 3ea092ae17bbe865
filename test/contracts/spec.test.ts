// The specification names the whole contract interface: every function, event and error in the compiled
// ABIs of ParsecChannels (with SecretRegistry, PayoutVault and EIP712), ParsecEncoding and HashedTimelock
// must appear in docs/protocol.md as code: `name` or name( inside a code span or block (issue 9).
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import hre from "hardhat";

const SPEC = path.join(__dirname, "..", "..", "docs", "protocol.md");
const CONTRACTS = [
  "contracts/ParsecChannels.sol:ParsecChannels",
  "contracts/ParsecEncoding.sol:ParsecEncoding",
  "contracts/HashedTimelock.sol:HashedTimelock",
] as const;

interface AbiItem {
  type: string;
  name?: string;
}

/** The text of every inline code span and fenced code block of a Markdown document. */
export function codeOf(markdown: string): string[] {
  const out: string[] = [];
  const fence = /^```[^\n]*\n([\s\S]*?)^```/gm;
  for (const m of markdown.matchAll(fence)) out.push(m[1]);
  const prose = markdown.replace(fence, "");
  // Inline spans (single or double backticks); a span may wrap a line but not a paragraph.
  for (const m of prose.matchAll(/(`+)((?:(?!\1)[^\n]|\n(?!\n))+?)\1/g)) out.push(m[2].trim());
  return out;
}

/** The names of `names` that no code of `markdown` shows as `name` or `name(`. */
export function missingNames(markdown: string, names: Iterable<string>): string[] {
  const code = codeOf(markdown);
  const spans = new Set(code);
  const missing: string[] = [];
  for (const name of new Set(names)) {
    const call = new RegExp(`(^|[^A-Za-z0-9_$])${name.replace(/\$/g, "\\$")}\\(`);
    if (!spans.has(name) && !code.some((c) => call.test(c))) missing.push(name);
  }
  return missing.sort();
}

async function abiNames(kind: "function" | "event" | "error"): Promise<Map<string, string>> {
  const names = new Map<string, string>(); // name -> contract
  for (const fqn of CONTRACTS) {
    const { abi } = await hre.artifacts.readArtifact(fqn);
    for (const item of abi as AbiItem[]) {
      if (item.type === kind && item.name && !names.has(item.name)) names.set(item.name, fqn.split(":")[1]);
    }
  }
  return names;
}

describe("docs/protocol.md: the specification names the whole ABI", () => {
  const spec = readFileSync(SPEC, "utf8");

  for (const kind of ["function", "event", "error"] as const) {
    it(`names every ${kind} of ParsecChannels, ParsecEncoding and HashedTimelock`, async () => {
      const names = await abiNames(kind);
      expect(names.size, `no ${kind}s found in the ABIs`).to.be.greaterThan(0);
      const missing = missingNames(spec, names.keys()).map((n) => `${n} (${names.get(n)})`);
      expect(missing, `${kind}s missing from docs/protocol.md as code: ${missing.join(", ")}`).to.deep.equal(
        [],
      );
    });
  }

  it("the check fails for a name the specification does not show as code", () => {
    const doc =
      "Call `settle(params, …)` or `withdrawCredit`; settleAll( is prose.\n\n```\nclose(params)\n```\n";
    expect(
      missingNames(doc, ["settle", "withdrawCredit", "close", "settleAll", "with", "NoSuchError"]),
    ).to.deep.equal(["NoSuchError", "settleAll", "with"]);
    expect(missingNames(spec, ["NoSuchFunctionInTheSpec"])).to.deep.equal(["NoSuchFunctionInTheSpec"]);
  });
});
