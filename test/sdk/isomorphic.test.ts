import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import * as sdk from "../../sdk";
import { ReasonCode, codeOfReason, errorForReason, isParsecError } from "../../sdk";

const SDK = path.join(__dirname, "..", "..", "sdk");

/** Every module reachable from `file` through relative imports. */
function closure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = fs.readFileSync(file, "utf8");
  for (const m of text.matchAll(/from "(\.[^"]+)"/g)) {
    const target = path.resolve(path.dirname(file), m[1]);
    closure(fs.existsSync(target + ".ts") ? target + ".ts" : path.join(target, "index.ts"), seen);
  }
  return seen;
}

describe("sdk: packaging and errors", () => {
  it("the isomorphic entry point imports no Node built-ins, native addons or Avro", () => {
    const files = closure(path.join(SDK, "isomorphic.ts"));
    expect(files.size).to.be.greaterThan(10);
    for (const f of files) {
      const text = fs.readFileSync(f, "utf8");
      for (const m of text.matchAll(/from "([^".][^"]*)"/g)) {
        // Pure-JS packages that run in browsers: ethers, and the audited @noble primitives (the onion).
        const allowed = m[1] === "ethers" || /^@noble\/(ciphers|curves|hashes)\//.test(m[1]);
        expect(allowed, `${path.relative(SDK, f)} imports ${m[1]}`).to.equal(true);
      }
      expect(text).to.not.match(/require\(/);
    }
  });

  it("every error has a stable code, a numeric reason and an actionable message", () => {
    const errorClasses = Object.entries(sdk).filter(
      ([name, v]) =>
        typeof v === "function" && name.endsWith("Error") && v.prototype instanceof sdk.ParsecError,
    );
    expect(errorClasses.length).to.be.greaterThan(20);
    for (const name of [
      "BadSignature",
      "WrongDomain",
      "WrongChannel",
      "SeqGap",
      "Duplicate",
      "Equivocation",
      "BrokenHashPointer",
      "PaidTotalMismatch",
      "Malformed",
      "Overflow",
    ]) {
      expect(errorClasses.map(([n]) => n)).to.include(`${name}Error`);
      expect(ReasonCode).to.have.property(name);
    }
    const e = new sdk.SeqGapError("0xabc", 1, 4, 9);
    expect(e).to.be.instanceOf(Error);
    expect(isParsecError(e)).to.equal(true);
    expect(e.code).to.equal("SeqGap");
    expect(e.reason).to.equal(ReasonCode.SeqGap);
    expect(e.name).to.equal("SeqGapError");
    expect(e.message).to.match(/4…8 are missing; fetch them/);
    expect(codeOfReason(ReasonCode.Equivocation)).to.equal("Equivocation");
    expect(codeOfReason(0)).to.equal(undefined);
    expect(errorForReason(2, "worker").code).to.equal("BadSignature");
    expect(errorForReason(200, "worker").code).to.equal("Malformed");
  });
});
